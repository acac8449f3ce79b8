import type { BatchWorkloadStatus, Condition, NodeStatus, WorkloadPhase } from "../api/BatchWorkload.ts"
import type { StartGate } from "./rollout.ts"

export const conditionTypes = {
  progressing: "Progressing",
  complete: "Complete",
  failed: "Failed",
  insufficientNodes: "InsufficientNodes",
  invalidSpec: "InvalidSpec",
  // kstatus (Flux, Argo CD, `kubectl wait --for=condition=Ready`) reads these three.
  ready: "Ready",
  reconciling: "Reconciling",
  stalled: "Stalled",
  degraded: "Degraded",
  paused: "Paused",
  waiting: "Waiting"
} as const

/** Keeps a condition's lastTransitionTime unless its status actually flips, as `meta.SetStatusCondition` does. */
export const mergeConditions = (
  previous: ReadonlyArray<Condition>,
  next: ReadonlyArray<Omit<Condition, "lastTransitionTime">>,
  now: string
): Array<Condition> =>
  next.map((condition) => {
    const before = previous.find((c) => c.type === condition.type)
    return {
      ...condition,
      lastTransitionTime: before !== undefined && before.status === condition.status ? before.lastTransitionTime : now
    }
  })

const maxListedFailures = 3

/** Everything the status is computed from; the same inputs always give the same status. */
export interface StatusInput {
  readonly generation: number
  readonly revision: string
  readonly handledRetry: string | undefined
  readonly handledRetryNodes?: string | undefined
  readonly desired: number
  readonly skipped: ReadonlyArray<string>
  readonly nodes: ReadonlyArray<NodeStatus>
  /** The status as last recorded; a different revision there means this is a new run. */
  readonly previous: BatchWorkloadStatus | undefined
  readonly now: string
  /** Whether new attempts may start; a held run reads Paused or Waiting. */
  readonly gate: StartGate
}

const finalPhases: ReadonlySet<WorkloadPhase> = new Set(["Succeeded", "Failed", "Degraded"])

/**
 * How many nodes are in each phase, how many failed without an attempt
 * (named nodes that cannot run), and the first few failed and degraded
 * nodes with their total: one loop over a fleet, asked on every pass.
 */
const tally = (nodes: ReadonlyArray<NodeStatus>) => {
  const byPhase: Record<NodeStatus["phase"], number> = { Pending: 0, Running: 0, Succeeded: 0, Failed: 0, Degraded: 0, Cancelled: 0, Skipped: 0 }
  let unavailable = 0
  const failures: Array<string> = []
  const degradations: Array<string> = []
  for (let index = 0; index < nodes.length; index++) {
    const node = nodes[index]
    if (node === undefined) continue
    byPhase[node.phase] += 1
    if (node.phase === "Failed") {
      if (node.attempts === 0) unavailable += 1
      if (failures.length < maxListedFailures) failures.push(`${node.nodeName}: ${node.message ?? "failed"}`)
    }
    if (node.phase === "Degraded" && degradations.length < maxListedFailures) degradations.push(`${node.nodeName}: ${node.message ?? "degraded"}`)
  }
  return { count: (phase: NodeStatus["phase"]) => byPhase[phase], unavailable, failures, degradations }
}

/** The workload's phase from its nodes: running while any node is, then failed, degraded or succeeded. */
const phaseOf = (count: (phase: NodeStatus["phase"]) => number, nodes: number): WorkloadPhase =>
  count("Pending") + count("Running") > 0
    ? "Running"
    : nodes === count("Cancelled")
    ? "Pending"
    : count("Failed") > 0
    ? "Failed"
    : count("Degraded") > 0
    ? "Degraded"
    : "Succeeded"

/** The first few reasons, and how many more there are. */
const listed = (reasons: ReadonlyArray<string>, total = reasons.length) =>
  reasons.slice(0, maxListedFailures).join("; ") + (total > maxListedFailures ? `; and ${total - maxListedFailures} more` : "")

export const summarize = (input: StatusInput): BatchWorkloadStatus => {
  const { count, degradations, failures, unavailable } = tally(input.nodes)
  const succeeded = count("Succeeded")
  const failed = count("Failed")
  const degraded = count("Degraded")
  const total = input.nodes.length - count("Cancelled")
  const eligible = total - unavailable
  const gate = input.gate
  const fromNodes = phaseOf(count, input.nodes.length)
  const phase: WorkloadPhase = fromNodes === "Running" && gate._tag === "Held"
    ? gate.reason === "OutsideWindow" ? "Waiting" : "Paused"
    : fromNodes
  const heldFor = (reasons: ReadonlyArray<string>) => gate._tag === "Held" && reasons.includes(gate.reason)

  const failureSummary = listed(failures, failed)
  const degradedSummary = listed(degradations, degraded)
  const observedGeneration = input.generation
  const insufficient = eligible < input.desired
  const condition = (type: string, holds: boolean, reason: string, message: string) =>
    ({ type, status: holds ? "True" as const : "False" as const, reason, message, observedGeneration })

  const conditions = mergeConditions(input.previous?.conditions ?? [], [
    phase === "Running"
      ? condition(conditionTypes.progressing, true, "Deploying", `${total - count("Pending") - count("Running")} of ${total} nodes done`)
      : condition(
        conditionTypes.progressing,
        false,
        phase === "Pending" ? "NoNodes" : "RunFinished",
        phase === "Pending"
          ? `no eligible nodes yet${input.skipped.length > 0 ? `: ${listed(input.skipped)}` : ""}`
          : `all ${total} nodes done`
      ),
    condition(
      conditionTypes.complete,
      phase === "Succeeded",
      phase === "Succeeded" ? "AllNodesSucceeded" : phase === "Failed" ? "NodesFailed" : "InProgress",
      phase === "Succeeded" ? `all ${total} nodes succeeded` : `${succeeded} of ${total} nodes succeeded`
    ),
    condition(
      conditionTypes.failed,
      phase === "Failed",
      phase === "Failed" ? gate._tag === "Ended" ? gate.reason : "NodesFailed" : "NoFailures",
      phase === "Failed"
        ? `${gate._tag === "Ended" ? `${gate.message}; ` : ""}${failed} of ${total} nodes failed: ${failureSummary}`
        : "no node has failed"
    ),
    condition(
      conditionTypes.insufficientNodes,
      insufficient,
      insufficient ? "NotEnoughEligibleNodes" : "EnoughEligibleNodes",
      insufficient
        ? `${eligible} of ${input.desired} requested nodes are eligible${input.skipped.length > 0 ? `: ${listed(input.skipped)}` : ""}`
        : `${eligible} eligible nodes for ${input.desired} requested`
    ),
    condition(
      conditionTypes.ready,
      phase === "Succeeded",
      phase === "Succeeded" ? "AllNodesSucceeded" : phase === "Degraded" ? "NodesDegraded" : phase === "Failed" ? "NodesFailed" : "InProgress",
      phase === "Succeeded" ? `all ${total} nodes ${succeeded === total ? "succeeded" : "done"}` : `${succeeded} of ${total} nodes succeeded`
    ),
    condition(
      conditionTypes.reconciling,
      phase === "Running" || phase === "Pending" || phase === "Waiting",
      phase === "Running" ? "Deploying" : phase === "Pending" ? "NoNodes" : "RunFinished",
      phase === "Running" ? `${succeeded + failed} of ${total} nodes done` : phase === "Pending" ? "waiting for eligible nodes" : "nothing left to do"
    ),
    condition(
      conditionTypes.stalled,
      phase === "Failed" || heldFor(["FailureBudgetExceeded"]),
      phase === "Failed" ? "NodesFailed" : heldFor(["FailureBudgetExceeded"]) ? "FailureBudgetExceeded" : "NoFailures",
      phase === "Failed"
        ? `${failed} of ${total} nodes failed: ${failureSummary}`
        : gate._tag === "Held" && gate.reason === "FailureBudgetExceeded"
        ? gate.message
        : "no node has failed"
    ),
    condition(
      conditionTypes.paused,
      heldFor(["Paused", "FailureBudgetExceeded"]),
      gate._tag === "Held" && gate.reason !== "OutsideWindow" ? gate.reason : "NotPaused",
      gate._tag === "Held" && gate.reason !== "OutsideWindow" ? gate.message : "new attempts may start"
    ),
    condition(
      conditionTypes.waiting,
      heldFor(["OutsideWindow"]),
      heldFor(["OutsideWindow"]) ? "OutsideWindow" : "NotWaiting",
      gate._tag === "Held" && gate.reason === "OutsideWindow" ? gate.message : "not waiting for a maintenance window"
    ),
    condition(
      conditionTypes.degraded,
      degraded > 0,
      degraded > 0 ? "PodsNotReady" : "AllPodsHealthy",
      degraded > 0 ? `${degraded} of ${total} nodes lost readiness: ${degradedSummary}` : "no node has lost readiness"
    )
  ], input.now)

  const sameRun = input.previous?.revision === input.revision
  const previousCompletion = sameRun && finalPhases.has(input.previous?.phase ?? "Pending") ? input.previous?.completionTime : undefined
  const completionTime = finalPhases.has(phase) ? previousCompletion ?? input.now : undefined
  const startTime = sameRun ? input.previous?.startTime ?? input.now : input.now
  return {
    phase,
    observedGeneration,
    revision: input.revision,
    ...(input.handledRetry !== undefined ? { handledRetry: input.handledRetry } : {}),
    ...(input.handledRetryNodes !== undefined ? { handledRetryNodes: input.handledRetryNodes } : {}),
    desiredNodes: input.desired,
    totalNodes: total,
    succeededNodes: succeeded,
    failedNodes: failed,
    runningNodes: count("Running"),
    pendingNodes: count("Pending"),
    progress: `${succeeded}/${total}`,
    startTime,
    ...(completionTime !== undefined ? { completionTime } : {}),
    nodeStatus: input.nodes,
    conditions
  }
}

/** The status of a workload whose spec the operator cannot decode: it says why and touches nothing else. */
export const invalidSpecStatus = (
  previous: BatchWorkloadStatus | undefined,
  generation: number,
  message: string,
  now: string
): BatchWorkloadStatus => ({
  ...previous,
  phase: "Failed",
  observedGeneration: generation,
  conditions: mergeConditions(previous?.conditions ?? [], [
    ...(previous?.conditions?.filter((c) => !replacedWhenInvalid.has(c.type)) ?? []),
    { type: conditionTypes.invalidSpec, status: "True", reason: "DecodeError", message, observedGeneration: generation },
    { type: conditionTypes.stalled, status: "True", reason: "InvalidSpec", message, observedGeneration: generation },
    { type: conditionTypes.ready, status: "False", reason: "InvalidSpec", message, observedGeneration: generation }
  ], now)
})

const replacedWhenInvalid: ReadonlySet<string> = new Set([conditionTypes.invalidSpec, conditionTypes.stalled, conditionTypes.ready])
