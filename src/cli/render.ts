import { Duration, Option, Schema } from "effect"
import {
  BatchWorkloadSpec,
  type BatchWorkloadStatus,
  BatchWorkloadStatus as StatusSchema,
  type NodeStatus,
  retryAnnotation
} from "../api/BatchWorkload.ts"
import { formatGoDuration } from "../api/GoDuration.ts"
import type { BatchWorkloadObject } from "../api/core.ts"

/**
 * What `kubectl bwl status` shows, decoded once from the stored object. The
 * render functions below are pure functions of this view and the time, so the
 * same status always draws the same screen (and is tested so).
 */
export interface WorkloadView {
  readonly name: string
  readonly namespace: string
  readonly generation: number
  /** `undefined` when the stored spec does not decode (the status then has InvalidSpec). */
  readonly spec: BatchWorkloadSpec | undefined
  readonly status: BatchWorkloadStatus
  /** The status describes the spec and retry annotation the object has now (not a run it replaced). */
  readonly current: boolean
}

const decodeSpec = Schema.decodeUnknownOption(BatchWorkloadSpec)
const decodeStatus = Schema.decodeUnknownOption(StatusSchema)

export const viewOf = (object: BatchWorkloadObject): WorkloadView => {
  const status = Option.getOrElse(decodeStatus(object.status ?? {}), (): BatchWorkloadStatus => ({}))
  const generation = object.metadata.generation ?? 0
  const retry = object.metadata.annotations?.[retryAnnotation]
  return {
    name: object.metadata.name,
    namespace: object.metadata.namespace ?? "",
    generation,
    spec: Option.getOrUndefined(decodeSpec(object.spec ?? {})),
    status,
    current: status.observedGeneration === generation && (retry === undefined || retry === status.handledRetry)
  }
}

/** The run is over: `--watch` exits, 0 only when every node succeeded. */
export const runOutcome = (view: WorkloadView): "Succeeded" | "Failed" | undefined => {
  if (!view.current) return undefined
  const phase = view.status.phase
  if (phase === "Succeeded") return "Succeeded"
  return phase === "Failed" || phase === "Degraded" ? "Failed" : undefined
}

/** An attempt is under way or waits out its backoff: the node holds one of the batch's slots. */
export const isInFlight = (entry: NodeStatus) => entry.phase === "Running" || (entry.phase === "Pending" && entry.attempts > 0)

const barWidth = 30
const bar = (count: number, total: number) => {
  const filled = total > 0 ? Math.round((count / total) * barWidth) : 0
  return "█".repeat(filled) + "░".repeat(barWidth - filled)
}

/** Seconds and minutes as a person reads them: `45s`, `2m05s`, `1h02m`. */
export const formatElapsed = (millis: number) => {
  const seconds = Math.max(0, Math.floor(millis / 1000))
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`
}

const since = (iso: string | undefined, nowMillis: number) => {
  const at = Date.parse(iso ?? "")
  return Number.isNaN(at) ? undefined : nowMillis - at
}

const table = (rows: ReadonlyArray<ReadonlyArray<string>>, indent = "  ") => {
  const widths = rows.reduce<Array<number>>(
    (acc, row) => row.map((cell, i) => Math.max(acc[i] ?? 0, cell.length)),
    []
  )
  return rows.map((row) => indent + row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd())
}

export interface RenderOptions {
  /** At most this many failed nodes are listed (the rest are counted); `-o json` has them all. */
  readonly listLimit: number
}

const inFlightRows = (view: WorkloadView, inFlight: ReadonlyArray<NodeStatus>, nowMillis: number) => {
  const timeout = view.spec !== undefined ? formatGoDuration(Duration.toMillis(view.spec.timeout)) : "?"
  return inFlight.map((entry) => {
    const retryIn = since(entry.nextAttemptTime, nowMillis)
    const clock = retryIn !== undefined && retryIn < 0
      ? `retry in ${formatElapsed(-retryIn)}`
      : `${formatElapsed(since(entry.lastTransitionTime, nowMillis) ?? 0)} / ${timeout}`
    return [entry.nodeName, entry.phase, clock, entry.message ?? ""]
  })
}

/** The full screen of `kubectl bwl status NAME`, one string per line. */
export const renderStatus = (view: WorkloadView, nowMillis: number, options: RenderOptions): ReadonlyArray<string> => {
  const { spec, status } = view
  const nodes = status.nodeStatus ?? []
  const inFlight: Array<NodeStatus> = []
  const failed: Array<NodeStatus> = []
  for (const entry of nodes) {
    if (isInFlight(entry)) inFlight.push(entry)
    else if (entry.phase === "Failed") failed.push(entry)
  }
  const total = status.totalNodes ?? nodes.length
  const lines: Array<string> = []
  const settings = spec !== undefined
    ? ` · ${spec.mode} · batchSize ${spec.batchSize} · timeout ${formatGoDuration(Duration.toMillis(spec.timeout))}${spec.paused ? " · paused" : ""}`
    : ""
  lines.push(`${view.namespace}/${view.name}: ${status.phase ?? "Unknown"}${settings}`)
  if (!view.current) lines.push("  (the operator has not yet reported on the latest spec or retry)")
  lines.push("")
  const outcomes: ReadonlyArray<[string, number]> = [
    ["succeeded", status.succeededNodes ?? 0],
    ["failed", status.failedNodes ?? 0],
    ["running", status.runningNodes ?? 0],
    ["pending", status.pendingNodes ?? 0]
  ]
  lines.push(...table(outcomes.map(([label, count]) => [label, bar(count, total), `${count}/${total}`])))
  lines.push("")
  const slots = spec !== undefined ? ` of batchSize ${spec.batchSize}` : ""
  lines.push(inFlight.length > 0 ? `In flight (${inFlight.length}${slots}):` : "In flight: none")
  lines.push(...table(inFlightRows(view, inFlight, nowMillis)))
  if (failed.length > 0) {
    lines.push("", `Failed (${failed.length}):`)
    lines.push(...table(failed.slice(0, options.listLimit).map((entry) => [entry.nodeName, `attempts ${entry.attempts}`, entry.message ?? ""])))
    if (failed.length > options.listLimit) lines.push(`  … and ${failed.length - options.listLimit} more (-o json lists every node)`)
  }
  const conditions = status.conditions ?? []
  if (conditions.length > 0) {
    lines.push("", "Conditions:")
    lines.push(...table(conditions.map((c) => [c.type, c.status, c.reason, c.message])))
  }
  return lines
}

/** One line per change, for `--watch` when stdout is not a terminal (a log, a CI job). */
export const summaryLine = (view: WorkloadView): string => {
  const { status } = view
  const total = status.totalNodes ?? status.nodeStatus?.length ?? 0
  const inFlight = (status.nodeStatus ?? []).filter(isInFlight).map((entry) => entry.nodeName)
  const counts = `succeeded ${status.succeededNodes ?? 0}/${total} failed ${status.failedNodes ?? 0} running ${status.runningNodes ?? 0} pending ${
    status.pendingNodes ?? 0
  }`
  return `${view.namespace}/${view.name} ${status.phase ?? "Unknown"} ${counts} in-flight [${inFlight.join(",")}]${view.current ? "" : " (stale)"}`
}

/** `kubectl bwl status` with no name: one row per workload. */
export const renderList = (views: ReadonlyArray<WorkloadView>): ReadonlyArray<string> =>
  views.length === 0 ? ["No BatchWorkloads found."] : table([
    ["NAMESPACE", "NAME", "PHASE", "PROGRESS", "FAILED", "IN FLIGHT"],
    ...views.map((view) => [
      view.namespace,
      view.name,
      view.status.phase ?? "",
      view.status.progress ?? "",
      String(view.status.failedNodes ?? 0),
      String((view.status.nodeStatus ?? []).filter(isInFlight).length)
    ])
  ], "")

/**
 * `kubectl bwl history`: the runs a scheduled workload's status keeps, newest
 * first, one line each; without a schedule there is only the current run.
 */
export const renderHistory = (view: WorkloadView): ReadonlyArray<string> => {
  const runs = view.status.runHistory ?? []
  const title = `batchworkload ${view.namespace}/${view.name}`
  if (runs.length === 0) {
    const { status } = view
    return [
      `${title}: this workload has no run history (it has no schedule; the status records only the current run)`,
      `current run: ${status.phase ?? "not started"}, revision ${status.revision ?? "-"}, started ${status.startTime ?? "-"}, finished ${
        status.completionTime ?? "-"
      }, ${status.progress ?? "0/0"} nodes succeeded`
    ]
  }
  const next = view.status.nextScheduleTime !== undefined ? `, next run at ${view.status.nextScheduleTime}` : ""
  return [
    `${title}: ${runs.length} run${runs.length === 1 ? "" : "s"}, newest first${next}`,
    ...runs.map((run) =>
      `${run.executionId}  ${run.outcome.padEnd(9)}  ${run.trigger.padEnd(9)}  started ${run.startTime}  finished ${run.completionTime ?? "-"}  ` +
      `${run.succeededNodes}/${run.totalNodes} succeeded, ${run.failedNodes} failed`
    )
  ]
}
