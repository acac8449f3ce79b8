import type { BatchWorkloadStatus, Condition, NodeStatus, WorkloadPhase } from "../api/BatchWorkload.ts"

export const conditionTypes = {
  progressing: "Progressing",
  complete: "Complete",
  failed: "Failed",
  insufficientNodes: "InsufficientNodes",
  invalidSpec: "InvalidSpec"
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
  readonly desired: number
  readonly skipped: ReadonlyArray<string>
  readonly nodes: ReadonlyArray<NodeStatus>
  /** False while nodes are still being worked on. */
  readonly finished: boolean
  readonly startTime: string | undefined
  readonly previous: BatchWorkloadStatus | undefined
  readonly now: string
}

export const summarize = (input: StatusInput): BatchWorkloadStatus => {
  const count = (phase: WorkloadPhase) => input.nodes.filter((node) => node.phase === phase).length
  const succeeded = count("Succeeded")
  const failed = count("Failed")
  const running = count("Running")
  const pending = count("Pending")
  const total = input.nodes.length
  const eligible = input.nodes.filter((node) => !(node.phase === "Failed" && node.attempts === 0)).length

  const phase: WorkloadPhase = !input.finished
    ? "Running"
    : total === 0
    ? "Pending"
    : failed > 0
    ? "Failed"
    : succeeded === total
    ? "Succeeded"
    : "Running"

  const failures = input.nodes.filter((node) => node.phase === "Failed")
  const failureSummary = failures.slice(0, maxListedFailures).map((node) => `${node.nodeName}: ${node.message ?? "failed"}`)
    .join("; ") + (failures.length > maxListedFailures ? `; and ${failures.length - maxListedFailures} more` : "")
  const generation = input.generation
  const insufficient = eligible < input.desired

  const conditions = mergeConditions(input.previous?.conditions ?? [], [
    phase === "Running"
      ? {
        type: conditionTypes.progressing,
        status: "True",
        reason: "Deploying",
        message: `${succeeded + failed} of ${total} nodes done`,
        observedGeneration: generation
      }
      : {
        type: conditionTypes.progressing,
        status: "False",
        reason: phase === "Pending" ? "NoNodes" : "RunFinished",
        message: phase === "Pending"
          ? `no eligible nodes yet${input.skipped.length > 0 ? `: ${input.skipped.slice(0, maxListedFailures).join("; ")}` : ""}`
          : `all ${total} nodes done`,
        observedGeneration: generation
      },
    {
      type: conditionTypes.complete,
      status: phase === "Succeeded" ? "True" : "False",
      reason: phase === "Succeeded" ? "AllNodesSucceeded" : phase === "Failed" ? "NodesFailed" : "InProgress",
      message: phase === "Succeeded" ? `all ${total} nodes succeeded` : `${succeeded} of ${total} nodes succeeded`,
      observedGeneration: generation
    },
    {
      type: conditionTypes.failed,
      status: phase === "Failed" ? "True" : "False",
      reason: phase === "Failed" ? "NodesFailed" : "NoFailures",
      message: phase === "Failed" ? `${failed} of ${total} nodes failed: ${failureSummary}` : "no node has failed",
      observedGeneration: generation
    },
    {
      type: conditionTypes.insufficientNodes,
      status: insufficient ? "True" : "False",
      reason: insufficient ? "NotEnoughEligibleNodes" : "EnoughEligibleNodes",
      message: insufficient
        ? `${eligible} of ${input.desired} requested nodes are eligible${
          input.skipped.length > 0 ? `: ${input.skipped.slice(0, maxListedFailures).join("; ")}` : ""
        }`
        : `${eligible} eligible nodes for ${input.desired} requested`,
      observedGeneration: generation
    }
  ], input.now)

  const previousCompletion = input.previous?.phase === phase ? input.previous.completionTime : undefined
  const finishedAt = phase === "Succeeded" || phase === "Failed" ? previousCompletion ?? input.now : undefined
  return {
    phase,
    observedGeneration: generation,
    revision: input.revision,
    ...(input.handledRetry !== undefined ? { handledRetry: input.handledRetry } : {}),
    desiredNodes: input.desired,
    totalNodes: total,
    succeededNodes: succeeded,
    failedNodes: failed,
    runningNodes: running,
    pendingNodes: pending,
    progress: `${succeeded}/${total}`,
    ...(input.startTime !== undefined ? { startTime: input.startTime } : {}),
    ...(finishedAt !== undefined ? { completionTime: finishedAt } : {}),
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
    ...(previous?.conditions?.filter((c) => c.type !== conditionTypes.invalidSpec) ?? []),
    { type: conditionTypes.invalidSpec, status: "True", reason: "DecodeError", message, observedGeneration: generation }
  ], now)
})
