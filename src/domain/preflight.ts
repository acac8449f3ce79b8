import type { BatchWorkloadStatus, NodeStatus } from "../api/BatchWorkload.ts"
import type { Pod } from "../api/core.ts"
import type { Plan } from "./plan.ts"
import { podNodeName, podRevision } from "./pods.ts"
import { conditionTypes, mergeConditions, type StatusInput, summarize } from "./status.ts"

/**
 * Before a run starts its first pod, the operator asks the API server to
 * create that pod with a server-side dry run: a namespace that refuses it
 * (Pod Security, a quota, a missing service account) would otherwise fail
 * every node's attempts one by one.
 */
export const podRejectedReason = "PodRejected"

const minRetryMillis = 5_000
const maxRetryMillis = 60_000

export interface PreflightTarget {
  readonly nodeName: string
  readonly podName: string
  readonly attempt: number
}

/**
 * The pod to check, while no attempt of this run has started: the first the
 * plan creates, or the first of a previous revision it deletes to replace
 * (so a refused new template does not take the old pods away). Undefined:
 * nothing to check.
 */
export const preflightTarget = (plan: Plan, record: ReadonlyMap<string, NodeStatus>, revision: string): PreflightTarget | undefined => {
  for (const entry of record.values()) if (entry.attempts > 0) return undefined
  const create = plan.creates[0]
  if (create !== undefined) return create
  const replaced: Pod | undefined = plan.deletes.find(({ pod }) => podRevision(pod) !== revision)?.pod
  return replaced !== undefined ? { nodeName: podNodeName(replaced), podName: replaced.metadata.name, attempt: 1 } : undefined
}

const rejectedSince = (previous: BatchWorkloadStatus | undefined) =>
  previous?.conditions?.find((c) => c.type === conditionTypes.stalled && c.status === "True" && c.reason === podRejectedReason)
    ?.lastTransitionTime

/** Whether the status already reports this refusal, so it gets one Event and not one per check. */
export const alreadyRejected = (previous: BatchWorkloadStatus | undefined, message: string) =>
  previous?.conditions?.some((c) => c.type === conditionTypes.stalled && c.reason === podRejectedReason && c.message === message) ?? false

/** When to check again: as long as it has been refused so far (so the waits double), from 5 s up to a minute. */
export const preflightRetryMillis = (previous: BatchWorkloadStatus | undefined, nowMillis: number) => {
  const since = Date.parse(rejectedSince(previous) ?? "")
  const refusedFor = Number.isNaN(since) ? 0 : nowMillis - since
  return Math.min(maxRetryMillis, Math.max(minRetryMillis, refusedFor))
}

const since = (entry: NodeStatus) => entry.lastTransitionTime !== undefined ? { lastTransitionTime: entry.lastTransitionTime } : {}

/**
 * The status while the API server refuses the run's pod: nothing started, so
 * no node has an attempt; Stalled (kstatus) with reason PodRejected and the
 * server's message.
 */
export const podRejectedStatus = (input: StatusInput, plan: Plan, message: string): BatchWorkloadStatus => {
  const planned = new Set([...plan.creates.map((create) => create.nodeName), ...plan.deletes.map(({ pod }) => podNodeName(pod))])
  const nodes = input.nodes.map((entry): NodeStatus =>
    planned.has(entry.nodeName)
      ? { nodeName: entry.nodeName, phase: "Pending", attempts: 0, message: `not started: the API server refused the pod: ${message}`, ...since(entry) }
      : entry
  )
  const summary = summarize({ ...input, nodes })
  const observedGeneration = input.generation
  const refused = (type: string, status: "True" | "False") =>
    ({ type, status, reason: podRejectedReason, message, observedGeneration })
  const replaced = new Set<string>([conditionTypes.stalled, conditionTypes.progressing, conditionTypes.ready, conditionTypes.reconciling])
  return {
    ...summary,
    phase: "Pending",
    conditions: mergeConditions(input.previous?.conditions ?? [], [
      ...(summary.conditions ?? []).filter((c) => !replaced.has(c.type)),
      refused(conditionTypes.stalled, "True"),
      refused(conditionTypes.progressing, "False"),
      refused(conditionTypes.ready, "False"),
      refused(conditionTypes.reconciling, "False")
    ], input.now)
  }
}
