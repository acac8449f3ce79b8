// Pod reports (spec.reports), as pure functions: the environment a reporting
// pod gets (bakito/batch-job-controller's names and URL shapes, so existing
// job scripts work unchanged), who may report, and what a report body means.
import { Result } from "effect"
import type { Gauge, Reports } from "../api/Reports.ts"
import { reservedLabels } from "../api/Reports.ts"

/** Where pods reach the operator's callback server. */
export interface CallbackEndpoint {
  /** The callback Service's DNS name (CALLBACK_SERVICE_NAME). */
  readonly host: string
  readonly port: number
  /** The audience of the pods' projected service-account token, which the operator checks. */
  readonly audience: string
}

export const callbackTokenDirectory = "/var/run/secrets/batch.example.com/callback"
export const callbackTokenVolume = "batch-workload-operator-callback-token"
/** The shortest expiry the API server allows for a projected token; the kubelet renews it at 80%. */
export const callbackTokenSeconds = 600

/** `/report/<node>/<executionID>/<kind>`, as bakito's callback server routes it. */
export const reportPath = (nodeName: string, executionId: string, kind: "result" | "file" | "event") =>
  `/report/${encodeURIComponent(nodeName)}/${encodeURIComponent(executionId)}/${kind}`

/** The environment of every container of a reporting pod. */
export const reportEnv = (endpoint: CallbackEndpoint, namespace: string, nodeName: string, executionId: string) => {
  const base = `http://${endpoint.host}:${endpoint.port}`
  return [
    { name: "NAMESPACE", value: namespace },
    { name: "NODE_NAME", value: nodeName },
    { name: "EXECUTION_ID", value: executionId },
    { name: "CALLBACK_SERVICE_NAME", value: endpoint.host },
    { name: "CALLBACK_SERVICE_PORT", value: String(endpoint.port) },
    { name: "CALLBACK_SERVICE_RESULT_URL", value: base + reportPath(nodeName, executionId, "result") },
    { name: "CALLBACK_SERVICE_FILE_URL", value: base + reportPath(nodeName, executionId, "file") },
    { name: "CALLBACK_SERVICE_EVENT_URL", value: base + reportPath(nodeName, executionId, "event") },
    // Not in bakito's set (it had no authentication): where the token to send as `Authorization: Bearer` is.
    { name: "CALLBACK_SERVICE_TOKEN_FILE", value: `${callbackTokenDirectory}/token` }
  ]
}

export const reportEnvNames: ReadonlySet<string> = new Set(reportEnv({ host: "", port: 0, audience: "" }, "", "", "").map((e) => e.name))

/** The metric name prefix: the declared one, else `bwl_` and the workload's name as a metric name. */
export const metricPrefix = (reports: Reports, workloadName: string) =>
  reports.prefix ?? `bwl_${workloadName.replace(/[^a-zA-Z0-9_]/g, "_")}`

/** One reported value of one gauge. */
export interface Sample {
  readonly suffix: string
  readonly value: number
  readonly labels: Readonly<Record<string, string>>
}

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const sameKeys = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.length === b.length && [...a].sort().every((key, i) => key === [...b].sort()[i])

const parseSample = (gauge: Gauge, entry: unknown, where: string): Result.Result<Sample, string> => {
  if (!isRecord(entry)) return Result.fail(`${where}: expected {"value": <number>, "labels": {...}}`)
  const value = entry["value"]
  if (typeof value !== "number" || !Number.isFinite(value)) return Result.fail(`${where}.value: expected a number`)
  const labels = entry["labels"] ?? {}
  if (!isRecord(labels) || !Object.values(labels).every((v) => typeof v === "string")) return Result.fail(`${where}.labels: expected an object of strings`)
  const declared = gauge.labels ?? []
  if (!sameKeys(Object.keys(labels), declared)) {
    return Result.fail(`${where}.labels: expected exactly [${declared.join(", ")}], got [${Object.keys(labels).join(", ")}]`)
  }
  const strings = Object.fromEntries(Object.entries(labels).flatMap(([key, v]) => typeof v === "string" ? [[key, v]] : []))
  return Result.succeed({ suffix: gauge.suffix, value, labels: strings })
}

/**
 * A result body (`{"<suffix>": [{"value": 2.5, "labels": {...}}, ...]}`) checked
 * against the declared gauges: every suffix declared, every value a number,
 * every entry with exactly the declared labels. All or nothing.
 */
export const parseResults = (reports: Reports, body: unknown): Result.Result<ReadonlyArray<Sample>, string> => {
  if (!isRecord(body) || Object.keys(body).length === 0) return Result.fail("expected a non-empty object of gauge suffixes to lists of results")
  const samples: Array<Sample> = []
  for (const [suffix, entries] of Object.entries(body)) {
    const gauge = reports.gauges.find((g) => g.suffix === suffix)
    if (gauge === undefined) return Result.fail(`${suffix}: not a gauge of this workload (declared: ${reports.gauges.map((g) => g.suffix).join(", ")})`)
    if (!Array.isArray(entries)) return Result.fail(`${suffix}: expected a list of results`)
    for (const [index, entry] of entries.entries()) {
      const parsed = parseSample(gauge, entry, `${suffix}[${index}]`)
      if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
      samples.push(parsed.success)
    }
  }
  return Result.succeed(samples)
}

export interface ReportedEvent {
  readonly type: "Normal" | "Warning"
  readonly reason: string
  readonly message: string
}

const upperCamelCase = /^[A-Z][A-Za-z0-9]*$/u

/** Go's `%s`/`%d`/`%v` verbs filled from `args` in order, as bakito's `Eventf`; `%%` is a percent sign. */
const format = (message: string, args: ReadonlyArray<string>) => {
  let next = 0
  return message.replace(/%[sdvq%]/g, (verb) => verb === "%%" ? "%" : args[next++] ?? `%!${verb.slice(1)}(MISSING)`)
}

/** An event body: `{"warning": true, "reason": "TestReason", "message": "test message: %s", "args": ["a"]}`. */
export const parseEvent = (body: unknown): Result.Result<ReportedEvent, string> => {
  if (!isRecord(body)) return Result.fail("expected an object with reason and message")
  const { args = [], message, reason, warning = false } = body
  if (typeof reason !== "string" || !upperCamelCase.test(reason)) return Result.fail("reason: expected UpperCamelCase, such as TestReason")
  if (typeof message !== "string" || message === "") return Result.fail("message: expected a non-empty string")
  if (typeof warning !== "boolean") return Result.fail("warning: expected true or false")
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) return Result.fail("args: expected a list of strings")
  return Result.succeed({ type: warning ? "Warning" : "Normal", reason, message: format(message, args) })
}

/** What a TokenReview said about the caller: the pod its token is bound to. */
export interface Caller {
  readonly namespace: string
  readonly podName: string
  readonly podUid: string
}

/** The pod (as the cache has it) and its workload that a report names. */
export interface ReportTarget {
  readonly pod: { readonly uid: string | undefined; readonly nodeName: string; readonly executionId: string | undefined } | undefined
  /** The workload's current run, if it reports at all. */
  readonly currentExecutionId: string | undefined
  readonly reports: Reports | undefined
}

/**
 * May this caller report for this node and run? Only a pod of the workload's
 * current run, on that node, for itself: the token's bound pod uid must be the
 * cached pod's, and the URL's node and run its own.
 */
export const authorizeReport = (caller: Caller, target: ReportTarget, nodeName: string, executionId: string): string | undefined => {
  const { pod } = target
  if (pod === undefined || pod.uid !== caller.podUid) return `pod ${caller.namespace}/${caller.podName} is not a pod of a BatchWorkload`
  if (target.reports === undefined) return `the workload of pod ${caller.podName} does not take reports`
  if (pod.nodeName !== nodeName) return `pod ${caller.podName} runs on ${pod.nodeName}, not ${nodeName}`
  if (pod.executionId !== executionId) return `pod ${caller.podName} belongs to run ${pod.executionId ?? "none"}, not ${executionId}`
  if (target.currentExecutionId !== executionId) return `run ${executionId} is not the workload's current run (${target.currentExecutionId ?? "none"})`
  return undefined
}

/** The labels of a sample as the operator publishes it. */
export const seriesLabels = (
  namespace: string,
  workload: string,
  nodeName: string,
  executionId: string,
  sample: Sample
): Readonly<Record<string, string>> => ({
  namespace,
  workload,
  node: nodeName,
  executionID: executionId,
  ...sample.labels
})

export const reservedLabelNames: ReadonlyArray<string> = reservedLabels

/** One published gauge value. */
export interface Series {
  readonly name: string
  readonly help: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const escapeLabel = (value: string) => value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll("\"", "\\\"")
const escapeHelp = (value: string) => value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")

/** Prometheus text exposition (0.0.4) of the series, one HELP and TYPE per metric name. */
export const renderSeries = (series: ReadonlyArray<Series>): string => {
  const byName = new Map<string, Array<Series>>()
  for (const entry of series) byName.set(entry.name, [...(byName.get(entry.name) ?? []), entry])
  return [...byName.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, entries]) => {
    const lines = entries.map((entry) => {
      const labels = Object.entries(entry.labels).map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(",")
      return `${name}{${labels}} ${entry.value}`
    })
    return [`# HELP ${name} ${escapeHelp(entries[0]?.help ?? "")}`, `# TYPE ${name} gauge`, ...lines].join("\n") + "\n"
  }).join("")
}

/** The file name a pod asked for: the `name` query parameter, else Content-Disposition's filename. */
export const requestedFileName = (query: string | undefined, contentDisposition: string | undefined): string | undefined => {
  if (query !== undefined && query !== "") return query
  const disposition = contentDisposition ?? ""
  const name = /filename="([^"]*)"/i.exec(disposition)?.[1] ?? /filename=([^;\s]+)/i.exec(disposition)?.[1]
  return name === undefined || name === "" ? undefined : name
}

/** One path segment: not empty, no separators, not `.` or `..`, no NUL, at most 200 characters. */
export const isPlainName = (name: string) => name !== "" && !/[/\\\0]/.test(name) && name !== "." && name !== ".." && name.length <= 200

/**
 * A stored name is a plain file name: no separators, no `.` or `..`, no NUL,
 * so it cannot leave its run's directory (the store checks the resolved path too).
 */
export const safeFileName = (name: string): Result.Result<string, string> =>
  !isPlainName(name)
    ? Result.fail(`file name ${JSON.stringify(name)} must be a plain name of at most 200 characters, without / or \\`)
    : Result.succeed(name)

/** Every stored file name starts with the node's, as bakito's do, so one run's directory holds every node's files. */
export const storedFileName = (nodeName: string, name: string) => `${nodeName}-${name}`
