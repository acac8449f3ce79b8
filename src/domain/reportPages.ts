// The read-only report pages, as pure functions: what the index and a run's
// page show (from the workload's status and what the report directory holds),
// and their HTML. The JSON form of a page is its model as it is.
import type { BatchWorkloadStatus } from "../api/BatchWorkload.ts"
import type { StoredResult } from "../api/Reports.ts"
import { metricPrefix } from "./reports.ts"

/** One run as the index lists it; what the status no longer says is left out. */
export interface RunRow {
  readonly executionId: string
  readonly href: string
  readonly outcome?: string
  readonly trigger?: string
  readonly startTime?: string
  readonly completionTime?: string
  readonly totalNodes?: number
  readonly succeededNodes?: number
  readonly failedNodes?: number
}

export interface WorkloadRow {
  readonly namespace: string
  readonly name: string
  /** The workload's phase; absent when it is gone (its reports go with its next reconcile). */
  readonly phase?: string
  readonly runs: ReadonlyArray<RunRow>
}

export interface NodeRow {
  readonly nodeName: string
  readonly phase: string
  readonly attempts: number
  readonly message?: string
}

export interface ResultRow {
  readonly nodeName: string
  readonly metric: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
  readonly receivedAt: string
}

export interface FileRow {
  readonly name: string
  readonly bytes: number
  readonly href: string
}

export interface RunPage {
  readonly namespace: string
  readonly name: string
  readonly run: RunRow
  /** Each node's outcome, which the status keeps for the current run only. */
  readonly nodes?: ReadonlyArray<NodeRow>
  readonly results: ReadonlyArray<ResultRow>
  readonly files: ReadonlyArray<FileRow>
}

const segment = encodeURIComponent

export const indexHref = "/reports"
export const runHref = (namespace: string, name: string, executionId: string) => `${indexHref}/${segment(namespace)}/${segment(name)}/${segment(executionId)}`
export const fileHref = (namespace: string, name: string, executionId: string, file: string) =>
  `${runHref(namespace, name, executionId)}/files/${segment(file)}`

/** The run the status is on: the execution id with a schedule, else the revision. */
const currentRunOf = (status: BatchWorkloadStatus | undefined) => status?.executionId ?? status?.revision

/** A run as the status knows it: its history entry, else the current run's own fields, else only its id. */
export const runRow = (namespace: string, name: string, status: BatchWorkloadStatus | undefined, executionId: string): RunRow => {
  const href = runHref(namespace, name, executionId)
  const recorded = status?.runHistory?.find((run) => run.executionId === executionId)
  if (recorded !== undefined) {
    const { scheduledTime: _scheduledTime, ...fields } = recorded
    return { ...fields, href }
  }
  if (status === undefined || currentRunOf(status) !== executionId) return { executionId, href }
  return {
    executionId,
    href,
    ...(status.phase !== undefined ? { outcome: status.phase } : {}),
    ...(status.startTime !== undefined ? { startTime: status.startTime } : {}),
    ...(status.completionTime !== undefined ? { completionTime: status.completionTime } : {}),
    ...(status.totalNodes !== undefined ? { totalNodes: status.totalNodes } : {}),
    ...(status.succeededNodes !== undefined ? { succeededNodes: status.succeededNodes } : {}),
    ...(status.failedNodes !== undefined ? { failedNodes: status.failedNodes } : {})
  }
}

/** The stored runs, newest first: in the history's order, then any the history does not name, by id. */
export const orderRuns = (status: BatchWorkloadStatus | undefined, stored: ReadonlyArray<string>): ReadonlyArray<string> => {
  const history = (status?.runHistory ?? []).map((run) => run.executionId).filter((id) => stored.includes(id))
  const others = stored.filter((id) => !history.includes(id)).sort((a, b) => b.localeCompare(a))
  return [...history, ...others]
}

export const workloadRow = (namespace: string, name: string, status: BatchWorkloadStatus | undefined, stored: ReadonlyArray<string>): WorkloadRow => ({
  namespace,
  name,
  ...(status?.phase !== undefined ? { phase: status.phase } : {}),
  runs: orderRuns(status, stored).map((executionId) => runRow(namespace, name, status, executionId))
})

/** The nodes' outcomes, when the run is the one the status is on. */
export const nodeRows = (status: BatchWorkloadStatus | undefined, executionId: string): ReadonlyArray<NodeRow> | undefined =>
  status !== undefined && currentRunOf(status) === executionId
    ? (status.nodeStatus ?? []).map((node) => ({
      nodeName: node.nodeName,
      phase: node.phase,
      attempts: node.attempts,
      ...(node.message !== undefined ? { message: node.message } : {})
    }))
    : undefined

/** One row per reported value, by node, under the metric name it is published as. */
export const resultRows = (results: ReadonlyArray<StoredResult>): ReadonlyArray<ResultRow> =>
  [...results].sort((a, b) => a.nodeName.localeCompare(b.nodeName)).flatMap((result) =>
    result.samples.map((sample) => ({
      nodeName: result.nodeName,
      metric: `${metricPrefix(result.reports, result.workload)}_${sample.suffix}`,
      labels: sample.labels,
      value: sample.value,
      receivedAt: result.receivedAt
    }))
  )

/** Text for HTML content and attribute values alike. */
export const escapeHtml = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("\"", "&quot;").replaceAll("'", "&#39;")

const style = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}" +
  "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#eee}.Failed{color:#b00}.Succeeded{color:#070}"

const page = (title: string, body: ReadonlyArray<string>) =>
  `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${style}</style></head>\n<body>\n${body.join("\n")}\n</body></html>\n`

const link = (href: string, text: string) => `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`
const cell = (text: string | number | undefined, className?: string) =>
  `<td${className !== undefined ? ` class="${escapeHtml(className)}"` : ""}>${text === undefined ? "" : escapeHtml(String(text))}</td>`
const table = (headings: ReadonlyArray<string>, rows: ReadonlyArray<string>) =>
  `<table>\n<tr>${headings.map((heading) => `<th>${escapeHtml(heading)}</th>`).join("")}</tr>\n${rows.map((row) => `<tr>${row}</tr>`).join("\n")}\n</table>`

const runCells = (run: RunRow) =>
  [cell(run.outcome, run.outcome), cell(run.trigger), cell(run.startTime), cell(run.completionTime), cell(run.succeededNodes), cell(run.failedNodes), cell(run.totalNodes)].join("")
const runHeadings = ["outcome", "trigger", "started", "ended", "succeeded", "failed", "nodes"]

export const renderIndex = (workloads: ReadonlyArray<WorkloadRow>): string =>
  page("Pod reports", [
    "<h1>Pod reports</h1>",
    `<p>${link(`${indexHref}?format=json`, "as JSON")}</p>`,
    ...(workloads.length === 0 ? ["<p>No reports are stored.</p>"] : []),
    ...workloads.flatMap((workload) => [
      `<h2>${escapeHtml(`${workload.namespace}/${workload.name}`)}</h2>`,
      `<p>phase: ${escapeHtml(workload.phase ?? "the workload is gone")}</p>`,
      table(["run", ...runHeadings], workload.runs.map((run) => `<td>${link(run.href, run.executionId)}</td>${runCells(run)}`))
    ])
  ])

const labelText = (labels: Readonly<Record<string, string>>) => Object.entries(labels).map(([key, value]) => `${key}=${value}`).join(", ")

export const renderRun = (run: RunPage): string =>
  page(`${run.namespace}/${run.name} ${run.run.executionId}`, [
    `<p>${link(indexHref, "all reports")} · ${link(`${run.run.href}?format=json`, "as JSON")}</p>`,
    `<h1>${escapeHtml(`${run.namespace}/${run.name}`)}: run ${escapeHtml(run.run.executionId)}</h1>`,
    table(runHeadings, [runCells(run.run)]),
    "<h2>Nodes</h2>",
    run.nodes === undefined
      ? "<p>The workload's status keeps each node's outcome for its current run only.</p>"
      : table(["node", "phase", "attempts", "message"], run.nodes.map((node) => [cell(node.nodeName), cell(node.phase, node.phase), cell(node.attempts), cell(node.message)].join(""))),
    "<h2>Results</h2>",
    run.results.length === 0
      ? "<p>No results were reported.</p>"
      : table(["node", "metric", "labels", "value", "received"], run.results.map((row) => [cell(row.nodeName), cell(row.metric), cell(labelText(row.labels)), cell(row.value), cell(row.receivedAt)].join(""))),
    "<h2>Files</h2>",
    run.files.length === 0
      ? "<p>No files were reported.</p>"
      : table(["file", "bytes"], run.files.map((file) => `<td>${link(file.href, file.name)}</td>${cell(file.bytes)}`))
  ])
