import type { BatchWorkloadSpec } from "../api/BatchWorkload.ts"
import type { Pod } from "../api/core.ts"
import { timeoutMessage } from "./errors.ts"
import type { NodeSelection } from "./nodeSelection.ts"
import { classifyPod, podAttempt, podName, podNodeName, podRevision } from "./pods.ts"

/** Where a node stands when a run starts, read from the cluster alone so a restarted operator resumes exactly. */
export type NodeStart =
  | { readonly _tag: "Unavailable"; readonly nodeName: string; readonly reason: string }
  | { readonly _tag: "Succeeded"; readonly nodeName: string; readonly podName: string; readonly attempts: number }
  | {
    readonly _tag: "Exhausted"
    readonly nodeName: string
    readonly podName: string
    readonly attempts: number
    readonly reason: string
  }
  /** The current revision's pod is still working on attempt `attempt`; wait for it rather than replace it. */
  | {
    readonly _tag: "InProgress"
    readonly nodeName: string
    readonly podName: string
    readonly attempt: number
    readonly startedAtMillis: number
  }
  /** Needs a new pod for attempt `attemptsUsed + 1` (replacing any pod of the same name). */
  | {
    readonly _tag: "NeedsPod"
    readonly nodeName: string
    readonly podName: string
    readonly attemptsUsed: number
    readonly lastFailure: string | undefined
  }

export interface RunPlan {
  readonly nodes: ReadonlyArray<NodeStart>
  /** Pods on nodes the workload no longer targets, and outdated pods that never got going. */
  readonly podsToRemove: ReadonlyArray<Pod>
}

export const isSettled = (start: NodeStart) =>
  start._tag === "Succeeded" || start._tag === "Exhausted" || start._tag === "Unavailable"

const creationMillis = (pod: Pod) => Date.parse(pod.metadata.creationTimestamp ?? "") || 0

/** Decides, for every target node, what the run has left to do there. */
export const planRun = (input: {
  readonly spec: BatchWorkloadSpec
  readonly workloadName: string
  readonly revision: string
  readonly selection: NodeSelection
  readonly pods: ReadonlyArray<Pod>
  readonly nowMillis: number
  readonly timeoutMillis: number
}): RunPlan => {
  const podByNode = new Map<string, Pod>()
  for (const pod of input.pods) podByNode.set(podNodeName(pod), pod)
  const maxAttempts = input.spec.maxRetries + 1
  const abandoned: Array<Pod> = []

  const nodes = input.selection.targets.map((target): NodeStart => {
    const name = podName(input.workloadName, target.nodeName)
    if (target._tag === "Unavailable") return { _tag: "Unavailable", nodeName: target.nodeName, reason: target.reason }
    const pod = podByNode.get(target.nodeName)
    const current = pod !== undefined && podRevision(pod) === input.revision && pod.metadata.deletionTimestamp === undefined
    if (pod === undefined || !current) {
      // An outdated pod that is serving keeps serving until its node's turn; one still starting is abandoned now.
      const keepUntilReplaced = pod !== undefined && pod.metadata.deletionTimestamp === undefined &&
        classifyPod(pod, input.spec.mode)._tag === "Succeeded"
      if (pod !== undefined && !keepUntilReplaced) abandoned.push(pod)
      return {
        _tag: "NeedsPod",
        nodeName: target.nodeName,
        podName: name,
        attemptsUsed: 0,
        lastFailure: undefined
      }
    }
    const attempt = podAttempt(pod)
    const outcome = classifyPod(pod, input.spec.mode)
    if (outcome._tag === "Succeeded") return { _tag: "Succeeded", nodeName: target.nodeName, podName: name, attempts: attempt }
    const startedAtMillis = creationMillis(pod)
    const failure = outcome._tag === "Failed"
      ? outcome.reason
      : input.nowMillis - startedAtMillis >= input.timeoutMillis
      ? timeoutMessage(input.timeoutMillis)
      : undefined
    if (failure === undefined) {
      return { _tag: "InProgress", nodeName: target.nodeName, podName: name, attempt, startedAtMillis }
    }
    return attempt >= maxAttempts
      ? { _tag: "Exhausted", nodeName: target.nodeName, podName: name, attempts: attempt, reason: failure }
      : { _tag: "NeedsPod", nodeName: target.nodeName, podName: name, attemptsUsed: attempt, lastFailure: failure }
  })

  const targeted = new Set(input.selection.targets.map((target) => target.nodeName))
  return { nodes, podsToRemove: [...abandoned, ...input.pods.filter((pod) => !targeted.has(podNodeName(pod)))] }
}
