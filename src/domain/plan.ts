import { Duration } from "effect"
import type { BatchWorkloadSpec, NodeStatus } from "../api/BatchWorkload.ts"
import type { Node, Pod } from "../api/core.ts"
import { timeoutMessage } from "./errors.ts"
import { type NodeDecision, nodeDecider, type NodeExclusion } from "./nodeDecision.ts"
import { groupPods, makePodGrouping, type NodePods, noPods, type PodGrouping, type PodsByNode } from "./nodePods.ts"
import { classifyPod, podAttempt } from "./pods.ts"
import type { RetryNodes } from "./retryNodes.ts"
import { deadlineAt, isoAt, type StartGate, startGate } from "./rollout.ts"
import { makeWakeHeap, type WakeHeap } from "./wakeHeap.ts"
import type { WindowState } from "./window.ts"

/**
 * Everything one reconcile decides from: the spec, the cluster as the caches
 * show it, and the run's own record (the node entries of the status, for the
 * same revision). The same input always gives the same plan.
 */
export interface PlanInput {
  readonly spec: BatchWorkloadSpec
  readonly revision: string
  /** Every node the cache holds. */
  readonly nodes: ReadonlyMap<string, Node>
  /** Their names in order, when the caller keeps them so (the cache does); else sorted here. */
  readonly nodeNames?: ReadonlyArray<string> | undefined
  /**
   * The node cache's change count (`Informer.version`), when the caller has
   * one: with the memo, the same count lets a pass keep the last node choice.
   */
  readonly nodesVersion?: number | undefined
  /** The workload's own pods (by uid label). */
  readonly pods: ReadonlyArray<Pod>
  /**
   * Pods this process is creating that the cache does not show yet (client-go's
   * expectations). Each holds its node's batch slot, and its node is judged
   * again only once the pod shows or its create fails: a create the API server
   * refused is never counted as an attempt.
   */
  readonly creating?: ReadonlyArray<Pod> | undefined
  /** Node entries recorded for this run (same revision); empty for a new run. */
  readonly record: ReadonlyMap<string, NodeStatus>
  /**
   * The entries `record` was made from, in their order, when the caller has
   * them (the status's nodeStatus): with the memo, a pass compares them with
   * the last pass's, by identity, to find the few nodes whose entry changed.
   */
  readonly recordEntries?: ReadonlyArray<NodeStatus> | undefined
  readonly nowMillis: number
  /** When this run started (its status.startTime), for activeDeadlineSeconds. */
  readonly runStartedAtMillis: number
  /** The maintenance window's state now, with `spec.window`. */
  readonly window?: WindowState | undefined
  /** Delay before retry `n` (1-based), or undefined when none is left. */
  readonly retryDelayMillis: (retry: number) => number | undefined
  /** The pod name to use for a node: unique per workload and node. */
  readonly podNameFor: (nodeName: string) => string
  /**
   * The retry-nodes annotation, when set. Its nodes' pods must carry its value
   * (others are replaced); `handled` false means it is new, so their recorded
   * attempts are forgotten and they start again from attempt 1.
   */
  readonly retryNodes?: (RetryNodes & { readonly handled: boolean }) | undefined
  /**
   * The workload's verdicts from its earlier passes (see `VerdictMemo`): with
   * it, a pass judges again only the nodes whose node, pods or record entry
   * changed. The plan is the same with or without it.
   */
  readonly memo?: VerdictMemo | undefined
}

/** Something worth an Event or a log line: a node's outcome changed. */
export interface Notice {
  readonly type: "Normal" | "Warning"
  readonly reason: "NodeSucceeded" | "NodeRetrying" | "NodeFailed" | "NodeDegraded" | "NodeCancelled"
  readonly nodeName: string
  readonly message: string
  /** How long the attempt that just ended ran, for the attempt-duration histogram. */
  readonly attemptSeconds?: number
}

export interface Plan {
  readonly entries: ReadonlyArray<NodeStatus>
  readonly creates: ReadonlyArray<PodTarget>
  readonly deletes: ReadonlyArray<{ readonly pod: Pod; readonly reason: string }>
  /** The earliest moment something is due (a timeout, a retry) if nothing else happens first. */
  readonly wakeAtMillis: number | undefined
  readonly desired: number
  /** Why matching nodes were passed over, for the InsufficientNodes condition. */
  readonly skipped: ReadonlyArray<string>
  readonly notices: ReadonlyArray<Notice>
  /** Whether new attempts could start (paused, failure budget, deadline, window), for the status. */
  readonly gate: StartGate
}

/** A pod to create: for which node and attempt, and the retry-nodes value it answers (only on those nodes). */
export interface PodTarget {
  readonly nodeName: string
  readonly podName: string
  readonly attempt: number
  readonly retryNodes?: string
}

/** One node's share of the plan, before batch slots are handed out. */
interface Verdict {
  readonly entry: NodeStatus | undefined
  /** The node occupies a batch slot: an attempt is under way or waiting to be retried. */
  readonly active: boolean
  readonly deletes: ReadonlyArray<{ readonly pod: Pod; readonly reason: string }>
  readonly wakeAtMillis?: number
  readonly notices: ReadonlyArray<Notice>
  /** The node wants a pod for this attempt; `held` ones already own a slot. */
  readonly start?: { readonly attempt: number; readonly held: boolean; readonly replacing?: Pod }
  /** The pod of an attempt under way, which a run that ends stops. */
  readonly inFlight?: Pod
}

/** A node's verdict and everything it was judged from, compared by identity when the node comes up again. */
interface Judged {
  readonly decision: NodeDecision
  readonly entry: NodeStatus | undefined
  readonly current: Pod | undefined
  readonly creating: Pod | undefined
  readonly outdated: Pod | undefined
  readonly all: ReadonlyArray<Pod>
  readonly verdict: Verdict
  /** The pass that last judged the node (or reused its verdict): nodes not judged in the latest pass are not the run's any more. */
  pass: number
}

/**
 * One workload's verdicts from its last pass, by node. A 1,000-node run plans
 * hundreds of times, and between two passes only a few nodes change: the
 * caches replace the objects of nodes and pods that changed and keep the
 * others, and the record keeps an unchanged entry as the same object, so a
 * node whose inputs are all the same objects as last time gets last time's
 * verdict instead of a new one (no allocation for the rest of the fleet).
 * Reused only when that is what judging again would give: the spec, revision
 * and retry-nodes value are the same (`context`), the verdict announced
 * nothing (notices belong to one pass), and the clock has not reached its
 * `wakeAtMillis`, the one moment where time changes a verdict. The pods'
 * grouping by node is kept the same way (`PodGrouping`).
 */
export interface VerdictMemo {
  context: string
  /** Counts the passes, to tell the nodes judged in this one (`Judged.pass`) without a set of their names. */
  pass: number
  readonly byNode: Map<string, Judged>
  readonly pods: PodGrouping
  choice: KeptChoice | undefined
  /** What the last pass decided, node by node, when the next pass may judge only the nodes that changed (see `LastPass`). */
  last: LastPass | undefined
}

export const makeVerdictMemo = (): VerdictMemo => ({
  context: "",
  pass: 0,
  byNode: new Map(),
  pods: makePodGrouping(),
  choice: undefined,
  last: undefined
})

/**
 * The last node choice, and everything it read besides the spec: the node
 * cache's change count, and each node it asked whether it holds the run, with
 * the answer. `chooseNodes` is deterministic, so when the nodes are the same
 * and every answer it read is the same, choosing again would give this.
 */
interface KeptChoice {
  readonly nodesVersion: number
  /** Each node asked, with its answer, in the order asked. */
  readonly asked: ReadonlyArray<readonly [nodeName: string, holdsRun: boolean]>
  readonly choice: NodeChoice
}

/** Everything besides the node's own inputs that judgeNode reads. */
const judgeContext = (input: PlanInput) =>
  JSON.stringify([input.revision, input.spec, input.retryNodes?.value, input.retryNodes?.handled])

const sameInputs = (known: Judged, decision: NodeDecision, pods: NodePods, entry: NodeStatus | undefined) =>
  known.decision === decision && known.entry === entry && known.current === pods.current &&
  known.creating === pods.creating && known.outdated === pods.outdated && known.all.length === pods.all.length &&
  sameElements(known.all, pods.all)

const sameElements = <A>(a: ReadonlyArray<A>, b: ReadonlyArray<A>) => {
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false
  return true
}

const stillHolds = (verdict: Verdict, nowMillis: number) =>
  verdict.notices.length === 0 && (verdict.wakeAtMillis === undefined || nowMillis < verdict.wakeAtMillis)

/** judgeNode, through the memo: last pass's verdict when the node's inputs are the same objects. */
const judgeWith = (input: PlanInput, memo: VerdictMemo) =>
(nodeName: string, decision: NodeDecision, pods: NodePods, entry: NodeStatus | undefined): Verdict => {
  const known = memo.byNode.get(nodeName)
  if (known !== undefined && sameInputs(known, decision, pods, entry) && stillHolds(known.verdict, input.nowMillis)) {
    known.pass = memo.pass
    return known.verdict
  }
  const verdict = judgeNode(input, nodeName, decision, pods, entry)
  const { all, creating, current, outdated } = pods
  memo.byNode.set(nodeName, { decision, entry, current, creating, outdated, all, verdict, pass: memo.pass })
  return verdict
}

const judgedThisPass = (memo: VerdictMemo, nodeName: string) => memo.byNode.get(nodeName)?.pass === memo.pass

/** Opens the memo for this pass (a fresh one for a caller without): verdicts are forgotten when what every verdict depends on changed. */
const memoFor = (input: PlanInput) => {
  const memo = input.memo ?? makeVerdictMemo()
  const context = judgeContext(input)
  if (memo.context !== context) {
    memo.byNode.clear()
    memo.choice = undefined
    memo.last = undefined
    memo.context = context
  }
  memo.pass += 1
  return memo
}

/** Nodes the run no longer judges leave the memo, so it never holds more than the run's nodes. */
const pruneMemo = (memo: VerdictMemo, judged: number) => {
  if (memo.byNode.size <= judged) return
  for (const [nodeName, known] of memo.byNode) if (known.pass !== memo.pass) memo.byNode.delete(nodeName)
}

const creationMillis = (pod: Pod) => Date.parse(pod.metadata.creationTimestamp ?? "") || 0

/** When the pod's container stopped, as its kubelet reported: backoff counts from the failure, not from when it was noticed. */
const finishedMillis = (pod: Pod) => {
  const finishedAt = pod.status?.containerStatuses?.find((c) => c.state?.terminated?.finishedAt !== undefined)?.state?.terminated?.finishedAt
  const millis = finishedAt !== undefined ? Date.parse(finishedAt) : Number.NaN
  return Number.isNaN(millis) ? undefined : millis
}

/**
 * When the pod reached success: its Ready condition's transition, or its
 * container's finish. Kubelets write these to the second; the end of that
 * second is taken, so a soak is never shorter than asked.
 */
const succeededSinceMillis = (pod: Pod) => {
  const readySince = pod.status?.conditions?.find((c) => c.type === "Ready" && c.status === "True")?.lastTransitionTime
  const millis = Date.parse(readySince ?? "")
  return Number.isNaN(millis) ? finishedMillis(pod) : millis + (readySince?.includes(".") ? 0 : 999)
}

/** Messages get a reason appended while a node waits; a message carried over from the record drops the old one first. */
const suffixes = ["; waiting: ", "; held: ", "; not retried: "]
const baseMessage = (message: string) => suffixes.reduce((text, suffix) => text.split(suffix)[0] ?? text, message)
const formatSeconds = (millis: number) => `${Math.round(millis / 100) / 10}s`
const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`

const isSettledFor = (spec: BatchWorkloadSpec, entry: NodeStatus | undefined) =>
  spec.mode === "RunToCompletion" && entry !== undefined &&
  (entry.phase === "Succeeded" || (entry.phase === "Failed" && entry.attempts > 0))

/** Decides what one node needs now; slots for new attempts are handed out afterwards, in node order. */
const judgeNode = (
  input: PlanInput,
  nodeName: string,
  decision: NodeDecision,
  pods: Readonly<NodePods>,
  entry: NodeStatus | undefined
): Verdict => {
  const { nowMillis, spec } = input
  const maxAttempts = spec.maxRetries + 1
  const label = (attempt: number) => `attempt ${attempt} of ${maxAttempts}`
  const podName = pods.current?.metadata.name ?? pods.outdated?.metadata.name ?? entry?.podName ?? input.podNameFor(nodeName)
  const none: Verdict = { entry, active: false, deletes: [], notices: [] }

  if (isSettledFor(spec, entry)) return none
  if (pods.creating !== undefined && pods.current === undefined) {
    // Judged again once the pod shows (or its create fails); until then the record stays as it was.
    return { ...none, entry: entry ?? { nodeName, phase: "Pending", attempts: 0, podName, message: "creating its pod" }, active: true }
  }

  if (decision.departed) {
    const deletes = pods.all.filter((pod) => pod.metadata.deletionTimestamp === undefined)
      .map((pod) => ({ pod, reason: decision.reason ?? "node departed" }))
    const wasUnderWay = entry !== undefined && (entry.phase === "Pending" || entry.phase === "Running")
    if (!wasUnderWay) return { ...none, entry: entry?.phase === "Cancelled" ? entry : undefined, deletes }
    const message = `cancelled: ${decision.reason ?? "node departed"}`
    return {
      entry: { nodeName, phase: "Cancelled", attempts: entry.attempts, ...(entry.podName ? { podName: entry.podName } : {}), message },
      active: false,
      deletes,
      notices: [{ type: "Warning", reason: "NodeCancelled", nodeName, message: `node ${nodeName}: ${message}` }]
    }
  }

  /** An attempt ended in failure: wait out the backoff and retry, or give up when none are left. */
  const attemptFailed = (
    attempt: number,
    reason: string,
    failedPod: Pod | undefined,
    extraDeletes: Verdict["deletes"] = [],
    failedAtMillis = nowMillis
  ): Verdict => {
    const attemptSeconds = failedPod !== undefined ? Math.max(0, nowMillis - creationMillis(failedPod)) / 1000 : undefined
    const timing = attemptSeconds !== undefined ? { attemptSeconds } : {}
    if (attempt >= maxAttempts) {
      const message = `failed after ${plural(attempt, "attempt")}: ${reason}`
      const notices: Array<Notice> = entry?.phase === "Failed" && entry.attempts === attempt
        ? []
        : [{ type: "Warning", reason: "NodeFailed", nodeName, message: `node ${nodeName}: ${message}`, ...timing }]
      return { entry: { nodeName, phase: "Failed", attempts: attempt, podName, message }, active: false, deletes: extraDeletes, notices }
    }
    const known = entry?.attempts === attempt && entry.nextAttemptTime !== undefined ? Date.parse(entry.nextAttemptTime) : undefined
    const delay = input.retryDelayMillis(attempt) ?? 0
    const nextAttemptAt = known ?? failedAtMillis + delay
    const message = known !== undefined && entry?.message !== undefined
      ? baseMessage(entry.message)
      : `${label(attempt)} failed: ${reason}; retrying in ${formatSeconds(delay)}`
    const notices: Array<Notice> = known !== undefined
      ? []
      : [{ type: "Warning", reason: "NodeRetrying", nodeName, message: `node ${nodeName}: ${message}`, ...timing }]
    const waiting: NodeStatus = { nodeName, phase: "Pending", attempts: attempt, podName, message, nextAttemptTime: isoAt(nextAttemptAt) }
    if (nowMillis < nextAttemptAt) return { entry: waiting, active: true, deletes: extraDeletes, wakeAtMillis: nextAttemptAt, notices }
    if (!decision.shouldStart) {
      return { entry: { ...waiting, message: `${message}; waiting: ${decision.reason ?? "node cannot start a pod"}` }, active: true, deletes: extraDeletes, notices }
    }
    // The retry is due. The failed pod holds the node's pod name, so it goes first; the next pass creates the new one.
    const stillThere = failedPod !== undefined && failedPod.metadata.deletionTimestamp === undefined &&
      !extraDeletes.some((d) => d.pod.metadata.uid === failedPod.metadata.uid)
    if (stillThere) {
      return { entry: waiting, active: true, deletes: [...extraDeletes, { pod: failedPod, reason: `retrying ${nodeName}` }], notices }
    }
    if (pods.terminating || extraDeletes.length > 0) return { entry: waiting, active: true, deletes: extraDeletes, notices }
    return { entry: waiting, active: true, deletes: extraDeletes, notices, start: { attempt: attempt + 1, held: true } }
  }

  const current = pods.current
  if (current !== undefined) {
    const attempt = podAttempt(current)
    if (!decision.shouldContinueRunning) {
      return attemptFailed(attempt, `evicted: ${decision.reason ?? "node no longer runs the pod"}`, current, [{ pod: current, reason: decision.reason ?? "evicted" }])
    }
    const outcome = classifyPod(current, spec.mode)
    const servedBefore = spec.mode === "LongRunning" && entry?.attempts === attempt &&
      (entry.phase === "Succeeded" || entry.phase === "Degraded")
    if (outcome._tag === "Succeeded") {
      // Soak time: the node is done only once success has held for minReadySeconds; until then it keeps its slot.
      // Without one it is done at once (the whole-second rounding below would hold every node up to a second).
      const soaks = spec.minReadySeconds > 0 && !servedBefore
      const soakedAt = soaks ? (succeededSinceMillis(current) ?? nowMillis) + spec.minReadySeconds * 1000 : nowMillis
      if (nowMillis < soakedAt) {
        return {
          entry: {
            nodeName,
            phase: "Running",
            attempts: attempt,
            podName,
            message: `${spec.mode === "LongRunning" ? "pod is Ready" : "pod completed"}; done at ${isoAt(soakedAt)} (minReadySeconds ${spec.minReadySeconds})`
          },
          active: true,
          deletes: [],
          wakeAtMillis: soakedAt,
          notices: []
        }
      }
      const message = spec.mode === "LongRunning" ? "pod is Ready" : "pod completed"
      const notices: Array<Notice> = servedBefore ? [] : [{
        type: "Normal",
        reason: "NodeSucceeded",
        nodeName,
        message: `node ${nodeName}: ${message} (attempt ${attempt})`,
        attemptSeconds: Math.max(0, nowMillis - creationMillis(current)) / 1000
      }]
      return { ...none, entry: { nodeName, phase: "Succeeded", attempts: attempt, podName, message }, notices }
    }
    if (outcome._tag === "Failed") return attemptFailed(attempt, outcome.reason, current, [], Math.min(nowMillis, finishedMillis(current) ?? nowMillis))
    if (servedBefore) {
      const message = `pod lost readiness: ${outcome.message}`
      const notices: Array<Notice> = entry.phase === "Degraded"
        ? []
        : [{ type: "Warning", reason: "NodeDegraded", nodeName, message: `node ${nodeName}: ${message}` }]
      return { ...none, entry: { nodeName, phase: "Degraded", attempts: attempt, podName, message }, notices }
    }
    const timeoutMillis = Duration.toMillis(spec.timeout)
    const deadline = creationMillis(current) + timeoutMillis
    if (nowMillis >= deadline) return attemptFailed(attempt, timeoutMessage(timeoutMillis), current, [], deadline)
    return {
      entry: { nodeName, phase: outcome.running ? "Running" : "Pending", attempts: attempt, podName, message: `${label(attempt)}: ${outcome.message}` },
      active: true,
      deletes: [],
      wakeAtMillis: deadline,
      notices: [],
      inFlight: current
    }
  }

  const attemptsSoFar = entry?.phase === "Cancelled" ? entry.attempts : entry?.attempts ?? 0
  // Failed for good stays failed, whatever becomes of its pod.
  if (entry?.phase === "Failed" && entry.attempts > 0) return none
  if (pods.terminating) {
    // A retry keeps its backoff while the failed pod goes away.
    if (entry?.nextAttemptTime !== undefined && entry.phase === "Pending") return attemptFailed(entry.attempts, "", undefined)
    return {
      entry: { nodeName, phase: "Pending", attempts: attemptsSoFar, podName, message: "waiting for the previous pod to terminate" },
      active: true,
      deletes: [],
      notices: []
    }
  }
  if (pods.outdated !== undefined) {
    const serving = classifyPod(pods.outdated, spec.mode)._tag === "Succeeded"
    const waiting: NodeStatus = { nodeName, phase: "Pending", attempts: 0, podName, message: "waiting for its batch" }
    // A pod of an older revision that is serving keeps serving until its node's turn; one still starting goes now.
    if (!serving) return { ...none, entry: waiting, deletes: [{ pod: pods.outdated, reason: "outdated and not serving" }] }
    return { ...none, entry: waiting, start: { attempt: 1, held: false, replacing: pods.outdated } }
  }
  if (entry !== undefined && entry.attempts > 0 && entry.phase !== "Cancelled") {
    if (entry.nextAttemptTime !== undefined) return attemptFailed(entry.attempts, "", undefined)
    if (spec.mode === "LongRunning" && (entry.phase === "Succeeded" || entry.phase === "Degraded") && decision.shouldContinueRunning) {
      // A serving pod that someone deleted (a drain, a mistake) is replaced like a DaemonSet's, not held against the node.
      return {
        ...none,
        entry: { nodeName, phase: "Pending", attempts: entry.attempts, podName, message: "the pod disappeared; replacing it" },
        start: { attempt: entry.attempts + 1, held: false }
      }
    }
    const gone = decision.shouldContinueRunning ? "the pod was deleted" : `evicted: ${decision.reason ?? ""}`
    return attemptFailed(entry.attempts, gone, undefined)
  }
  return {
    ...none,
    entry: { nodeName, phase: "Pending", attempts: attemptsSoFar, message: decision.shouldStart ? "waiting for its batch" : `waiting: ${decision.reason ?? ""}` },
    start: { attempt: attemptsSoFar + 1, held: false }
  }
}

/** A node that would start an attempt while the run is held says so, and why. */
const holdEntry = (entry: NodeStatus, why: string): NodeStatus => ({
  ...entry,
  message: entry.attempts > 0 && entry.message !== undefined ? `${baseMessage(entry.message)}; held: ${why}` : `held: ${why}`
})

const isUnderWay = (entry: NodeStatus | undefined) => entry !== undefined && (entry.phase === "Pending" || entry.phase === "Running")

/**
 * A run that ended early: past its deadline, every node not done fails and
 * attempts under way are stopped; aborted by the failure budget, attempts
 * under way finish, and nodes not started (or due a retry) are skipped.
 */
const endRun = (gate: Extract<StartGate, { _tag: "Ended" }>, nodeName: string, verdict: Verdict): Verdict => {
  const entry = verdict.entry
  if (!isUnderWay(entry) || entry === undefined) return verdict
  const { nextAttemptTime: _dropped, ...rest } = entry
  if (gate.reason === "DeadlineExceeded") {
    const message = `DeadlineExceeded: ${gate.message}`
    return {
      entry: { ...rest, phase: "Failed", message },
      active: false,
      deletes: [...verdict.deletes, ...(verdict.inFlight !== undefined ? [{ pod: verdict.inFlight, reason: "deadline exceeded" }] : [])],
      notices: [{ type: "Warning", reason: "NodeFailed", nodeName, message: `node ${nodeName}: ${message}` }]
    }
  }
  if (verdict.start === undefined) return verdict
  return {
    entry: entry.attempts > 0
      ? { ...rest, phase: "Failed", message: `${baseMessage(entry.message ?? "")}; not retried: ${gate.message}` }
      : { ...rest, phase: "Skipped", message: `skipped: ${gate.message}` },
    active: false,
    deletes: verdict.deletes,
    notices: verdict.notices
  }
}

/** A node the run leaves out, and why. */
export interface Exclusion {
  readonly nodeName: string
  readonly exclusion: NodeExclusion
  readonly reason: string
}

/** The nodes a run covers, in the order they are worked on, and the ones it leaves out. */
export interface NodeChoice {
  readonly chosen: ReadonlyArray<{ readonly nodeName: string; readonly decision: NodeDecision }>
  /** Named nodes (`nodeNames`) that cannot run: each gets a Failed entry with 0 attempts. */
  readonly unavailable: ReadonlyArray<Exclusion>
  /** Nodes the spec picks that cannot start a pod, for the InsufficientNodes condition. */
  readonly skipped: ReadonlyArray<Exclusion>
  /** Every node left out, `unavailable` and `skipped` included, in node order (named nodes: as named). */
  readonly excluded: ReadonlyArray<Exclusion>
  readonly desired: number
}

const excludedBy = (nodeName: string, decision: NodeDecision): Exclusion => ({
  nodeName,
  exclusion: decision.exclusion ?? "NotReady",
  reason: decision.reason ?? `node ${nodeName} is not eligible`
})
const beyondReplicas = (nodeName: string, replicas: number): Exclusion => ({
  nodeName,
  exclusion: "BeyondReplicas",
  reason: `node ${nodeName} is beyond the workload's replicas (${replicas})`
})

/**
 * Which nodes the run covers, in the order they are worked on, with the
 * decision for each, and why every other node is left out. `hasPod` says a
 * node already holds the run (a pod, or a recorded attempt): those keep their
 * place under `replicas`. `kubectl bwl plan` calls this too, so what it shows
 * is what the operator does.
 */
export const chooseNodes = (
  spec: BatchWorkloadSpec,
  nodes: ReadonlyMap<string, Node>,
  committed: (nodeName: string) => boolean = () => false,
  sortedNames: ReadonlyArray<string> = [...nodes.keys()].sort()
): NodeChoice => {
  const decider = nodeDecider(spec)
  const decide = (nodeName: string) => decider(nodeName, nodes.get(nodeName))
  const chosen: Array<NodeChoice["chosen"][number]> = []
  const unavailable: Array<Exclusion> = []
  const skipped: Array<Exclusion> = []
  const excluded: Array<Exclusion> = []

  if (spec.nodeNames !== undefined) {
    const names = spec.nodeNames.slice(0, spec.replicas ?? spec.nodeNames.length)
    for (const nodeName of names) {
      const decision = decide(nodeName)
      if (committed(nodeName) || decision.shouldStart) chosen.push({ nodeName, decision })
      else {
        const exclusion: Exclusion = nodes.has(nodeName)
          ? excludedBy(nodeName, decision)
          : { nodeName, exclusion: "NotFound", reason: `node ${nodeName} not found` }
        unavailable.push(exclusion)
        skipped.push(exclusion)
        excluded.push(exclusion)
      }
    }
    for (const nodeName of spec.nodeNames.slice(names.length)) excluded.push(beyondReplicas(nodeName, names.length))
    return { chosen, unavailable, skipped, excluded, desired: names.length }
  }

  if (spec.replicas === undefined) {
    // Every matching node runs: one pass over the fleet, in node order, with nothing to rank.
    for (let index = 0; index < sortedNames.length; index++) {
      const nodeName = sortedNames[index]
      if (nodeName === undefined) continue
      const decision = decide(nodeName)
      if (decision.departed) excluded.push(excludedBy(nodeName, decision))
      else if (decision.shouldStart || committed(nodeName)) chosen.push({ nodeName, decision })
      else {
        const exclusion = excludedBy(nodeName, decision)
        skipped.push(exclusion)
        excluded.push(exclusion)
      }
    }
    return { chosen, unavailable, skipped, excluded, desired: chosen.length }
  }

  const matching: Array<string> = []
  for (let index = 0; index < sortedNames.length; index++) {
    const nodeName = sortedNames[index]
    if (nodeName === undefined) continue
    const decision = decide(nodeName)
    if (decision.departed) excluded.push(excludedBy(nodeName, decision))
    else matching.push(nodeName)
  }
  const limit = spec.replicas
  const kept = new Set(matching.filter(committed).slice(0, limit))
  for (const nodeName of matching) {
    if (kept.has(nodeName)) continue
    const decision = decide(nodeName)
    if (!decision.shouldStart) {
      skipped.push(excludedBy(nodeName, decision))
      excluded.push(excludedBy(nodeName, decision))
    } else if (kept.size < limit) kept.add(nodeName)
    else excluded.push(beyondReplicas(nodeName, limit))
  }
  for (const nodeName of matching) if (kept.has(nodeName)) chosen.push({ nodeName, decision: decide(nodeName) })
  excluded.sort((a, b) => a.nodeName < b.nodeName ? -1 : a.nodeName > b.nodeName ? 1 : 0)
  return { chosen, unavailable, skipped, excluded, desired: limit }
}

const sameAnswers = (kept: KeptChoice, committed: (nodeName: string) => boolean) => {
  for (let index = 0; index < kept.asked.length; index++) {
    const asked = kept.asked[index]
    if (asked !== undefined && committed(asked[0]) !== asked[1]) return false
  }
  return true
}

/** chooseNodes, or the memo's last choice when it would choose the same (see `KeptChoice`). */
const chooseWith = (input: PlanInput, memo: VerdictMemo, committed: (nodeName: string) => boolean): NodeChoice => {
  const version = input.nodesVersion
  const kept = memo.choice
  if (version !== undefined && kept?.nodesVersion === version && sameAnswers(kept, committed)) return kept.choice
  const asked: Array<readonly [string, boolean]> = []
  const recorded = (nodeName: string) => {
    const holdsRun = committed(nodeName)
    asked.push([nodeName, holdsRun])
    return holdsRun
  }
  const choice = chooseNodes(input.spec, input.nodes, recorded, input.nodeNames)
  memo.choice = version !== undefined ? { nodesVersion: version, asked, choice } : undefined
  return choice
}

/** A new retry-nodes value: its nodes' entries are dropped from the record, so their run starts over. */
const forgetRetriedNodes = (input: PlanInput): PlanInput => {
  const retry = input.retryNodes
  if (retry === undefined || retry.handled) return input
  return { ...input, record: new Map([...input.record].filter(([nodeName]) => !retry.nodes.has(nodeName))) }
}

/**
 * Nodes with a pod or a record entry that the run no longer covers (deleted,
 * unselected, beyond replicas), by name: their attempts are cancelled.
 */
const departedNodes = (input: PlanInput, memo: VerdictMemo, byNode: PodsByNode, unavailable: ReadonlyArray<Exclusion>) => {
  const named = new Set(unavailable.map((exclusion) => exclusion.nodeName))
  const covered = (nodeName: string) => judgedThisPass(memo, nodeName) || named.has(nodeName)
  const departed = new Set<string>()
  const consider = (nodeName: string) => {
    if (!covered(nodeName)) departed.add(nodeName)
  }
  input.record.forEach((_, nodeName) => consider(nodeName))
  byNode.forEachNodeName(consider)
  return [...departed].sort()
}

/** Pushes without a spread call: most verdicts have nothing to add, and a pass makes thousands of them. */
const append = <A>(target: Array<A>, items: ReadonlyArray<A>) => {
  for (let index = 0; index < items.length; index++) target.push(items[index] as A)
}

/** The earliest moment a verdict, the gate or the run's deadline is due; nothing of the verdicts once the run has ended. */
const earliestWake = (
  input: PlanInput,
  gate: StartGate,
  verdicts: ReadonlyArray<Verdict>,
  departed: ReadonlyArray<Verdict>
) => {
  let earliest = Infinity
  const consider = (millis: number | undefined) => {
    if (millis !== undefined && millis < earliest) earliest = millis
  }
  if (gate._tag !== "Ended") {
    for (let index = 0; index < verdicts.length; index++) consider(verdicts[index]?.wakeAtMillis)
    for (let index = 0; index < departed.length; index++) consider(departed[index]?.wakeAtMillis)
    consider(deadlineAt(input.spec, input.runStartedAtMillis))
  }
  if (gate._tag === "Held") consider(gate.untilMillis)
  return earliest === Infinity ? undefined : earliest
}

/**
 * What a pass decided, node by node, kept so that the next pass can judge
 * only the nodes whose inputs changed (`fastPass`). Kept only after a pass
 * whose outcome is a plain list in node order: every node of the node choice
 * has an entry, no node departed, none is named as unavailable, and new
 * attempts may start (the gate is open). Anything else is planned in full.
 */
interface LastPass {
  readonly choice: NodeChoice
  /** Each chosen node's place in `choice.chosen`. */
  readonly indexOf: ReadonlyMap<string, number>
  /** The verdicts, by place. */
  readonly verdicts: Array<Verdict>
  /** The plan's entries, by place. */
  entries: ReadonlyArray<NodeStatus>
  recordEntries: ReadonlyArray<NodeStatus>
  creating: ReadonlyMap<string, Pod>
  /** Places to judge again next pass whatever changes: granted a slot or announcing something in this one. */
  touched: ReadonlyArray<number>
  failedNodes: number
  active: number
  /** Places whose verdict asks for a new attempt that needs a free slot, on a node that may start one. */
  readonly waiting: SortedPlaces
  /** Places whose verdict starts an attempt that holds its slot already (a retry that is due). */
  readonly holding: SortedPlaces
  /** Places whose verdict deletes pods: a full pass would ask again for these deletes every pass until they show. */
  readonly deleting: SortedPlaces
  readonly wakes: WakeHeap
}

/** A sorted set of places (small integers), walked in order. */
interface SortedPlaces {
  readonly items: Array<number>
}

const placeOf = (places: SortedPlaces, place: number) => {
  let low = 0
  let high = places.items.length
  while (low < high) {
    const middle = (low + high) >> 1
    if ((places.items[middle] ?? Infinity) < place) low = middle + 1
    else high = middle
  }
  return low
}

const setPlace = (places: SortedPlaces, place: number, member: boolean) => {
  const at = placeOf(places, place)
  const present = places.items[at] === place
  if (member && !present) places.items.splice(at, 0, place)
  else if (!member && present) places.items.splice(at, 1)
}

const isFailedForGood = (verdict: Verdict) => verdict.entry?.phase === "Failed" && verdict.entry.attempts > 0
const waitsForSlot = (verdict: Verdict, decision: NodeDecision) => verdict.start !== undefined && !verdict.start.held && decision.shouldStart
const holdsSlot = (verdict: Verdict, decision: NodeDecision) => verdict.start !== undefined && verdict.start.held && decision.shouldStart

/** Whether the next pass may be planned from this one's outcome: the things `LastPass` leaves out cannot arise between two passes alone. */
const incrementalApplies = (input: PlanInput) =>
  input.recordEntries !== undefined && input.nodesVersion !== undefined && input.nodeNames !== undefined &&
  input.spec.nodeNames === undefined && input.spec.replicas === undefined &&
  (input.retryNodes === undefined || input.retryNodes.handled)

/** The grant of a slot to a node whose verdict starts an attempt: its pod to create (or the old revision's to delete), and its entry. */
const grantSlot = (
  input: PlanInput,
  nodeName: string,
  verdict: Verdict,
  start: NonNullable<Verdict["start"]>,
  creates: Array<PodTarget>,
  deletes: Array<Plan["deletes"][number]>
): NodeStatus => {
  const podName = start.replacing?.metadata.name ?? verdict.entry?.podName ?? input.podNameFor(nodeName)
  if (start.replacing !== undefined) {
    deletes.push({ pod: start.replacing, reason: "replaced by the new revision" })
    return { nodeName, phase: "Pending", attempts: 0, podName, message: "replacing the previous revision's pod" }
  }
  const retryNodes = input.retryNodes?.nodes.has(nodeName) === true ? { retryNodes: input.retryNodes.value } : {}
  creates.push({ nodeName, podName, attempt: start.attempt, ...retryNodes })
  return { nodeName, phase: "Pending", attempts: start.attempt, podName, message: `attempt ${start.attempt} of ${input.spec.maxRetries + 1}: creating pod` }
}

/** Keeps this full pass's outcome for the next pass, when it is the plain kind `LastPass` holds. */
const keepLastPass = (
  input: PlanInput,
  memo: VerdictMemo,
  choice: NodeChoice,
  byNode: PodsByNode,
  verdicts: Array<Verdict>,
  plan: Plan,
  departed: number,
  granted: ReadonlyArray<number>
) => {
  memo.last = undefined
  const plain = incrementalApplies(input) && plan.gate._tag === "Open" && departed === 0 && choice.unavailable.length === 0 &&
    plan.entries.length === choice.chosen.length
  if (!plain) return
  const indexOf = new Map<string, number>()
  const waiting: SortedPlaces = { items: [] }
  const holding: SortedPlaces = { items: [] }
  const deleting: SortedPlaces = { items: [] }
  const touched = [...granted]
  let failedNodes = 0
  let active = 0
  for (let index = 0; index < choice.chosen.length; index++) {
    const chosen = choice.chosen[index]
    const verdict = verdicts[index]
    if (chosen === undefined || verdict === undefined) return
    indexOf.set(chosen.nodeName, index)
    if (waitsForSlot(verdict, chosen.decision)) waiting.items.push(index)
    if (holdsSlot(verdict, chosen.decision)) holding.items.push(index)
    if (verdict.deletes.length > 0) deleting.items.push(index)
    if (verdict.notices.length > 0) touched.push(index)
    if (isFailedForGood(verdict)) failedNodes += 1
    if (verdict.active) active += 1
  }
  memo.last = {
    choice,
    indexOf,
    verdicts,
    entries: plan.entries,
    recordEntries: input.recordEntries ?? [],
    creating: byNode.creating,
    touched,
    failedNodes,
    active,
    waiting,
    holding,
    deleting,
    wakes: makeWakeHeap(verdicts.length, (index) => verdicts[index]?.wakeAtMillis)
  }
}

/**
 * The places of the nodes whose inputs changed since the last pass: their
 * pods, their pod being created, or their record entry (all found by
 * identity, without reading the objects of the rest of the fleet), and the
 * ones the last pass touched. Undefined when a change reaches beyond the
 * node choice (a pod or an entry on a node the run does not cover), which
 * a full pass handles.
 */
const changedPlaces = (input: PlanInput, last: LastPass, byNode: PodsByNode): Set<number> | undefined => {
  if (byNode.changed === "all") return undefined
  const places = new Set<number>(last.touched)
  let beyond = false
  const mark = (nodeName: string) => {
    const place = last.indexOf.get(nodeName)
    if (place === undefined) beyond = true
    else places.add(place)
  }
  byNode.changed.forEach(mark)
  const entries = input.recordEntries ?? []
  const before = last.recordEntries
  if (entries.length !== before.length) return undefined
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index]
    const old = before[index]
    if (entry === old) continue
    if (entry !== undefined) mark(entry.nodeName)
    if (old !== undefined) mark(old.nodeName)
  }
  const creating = byNode.creating
  creating.forEach((pod, nodeName) => {
    if (last.creating.get(nodeName) !== pod) mark(nodeName)
  })
  last.creating.forEach((_, nodeName) => {
    if (!creating.has(nodeName)) mark(nodeName)
  })
  last.creating = creating
  return beyond ? undefined : places
}

/**
 * A pass that judges only the nodes whose inputs changed since the last one
 * and takes the rest of the fleet's outcome from it as it stands: the same
 * plan as a full pass (the verdict memo would give those nodes their last
 * verdicts anyway), at a cost that follows the changes instead of the
 * fleet. Undefined, with nothing kept, when a full pass is needed: the node
 * choice changed, something fell due, many nodes changed, or the outcome
 * is not the plain kind `LastPass` holds.
 */
const fastPass = (input: PlanInput, memo: VerdictMemo, choice: NodeChoice, byNode: PodsByNode): Plan | undefined => {
  const last = memo.last
  memo.last = undefined
  if (last === undefined || last.choice !== choice || !incrementalApplies(input)) return undefined
  if (last.wakes.earliest() <= input.nowMillis) return undefined
  const changed = changedPlaces(input, last, byNode)
  if (changed === undefined || changed.size > choice.chosen.length / 4) return undefined

  const judge = judgeWith(input, memo)
  const places = [...changed].sort((a, b) => a - b)
  for (let index = 0; index < places.length; index++) {
    const place = places[index] ?? 0
    const chosen = choice.chosen[place]
    const before = last.verdicts[place]
    if (chosen === undefined || before === undefined) return undefined
    const verdict = judge(chosen.nodeName, chosen.decision, byNode.get(chosen.nodeName) ?? noPods, input.record.get(chosen.nodeName))
    if (verdict.entry === undefined) return undefined
    last.verdicts[place] = verdict
    last.failedNodes += (isFailedForGood(verdict) ? 1 : 0) - (isFailedForGood(before) ? 1 : 0)
    last.active += (verdict.active ? 1 : 0) - (before.active ? 1 : 0)
    setPlace(last.waiting, place, waitsForSlot(verdict, chosen.decision))
    setPlace(last.holding, place, holdsSlot(verdict, chosen.decision))
    setPlace(last.deleting, place, verdict.deletes.length > 0)
    if (verdict.wakeAtMillis !== undefined) last.wakes.push(verdict.wakeAtMillis, place)
  }
  const gate = startGate({
    spec: input.spec,
    failedNodes: last.failedNodes,
    totalNodes: last.verdicts.length,
    runStartedAtMillis: input.runStartedAtMillis,
    nowMillis: input.nowMillis,
    window: input.window
  })
  if (gate._tag !== "Open") return undefined

  const free = Math.max(0, input.spec.batchSize - last.active)
  const grantedPlaces = new Set<number>([...last.holding.items, ...last.waiting.items.slice(0, free)])
  const visits = [...new Set([...places, ...last.deleting.items, ...grantedPlaces])].sort((a, b) => a - b)
  const entries = last.entries.slice()
  const creates: Array<PodTarget> = []
  const deletes: Array<Plan["deletes"][number]> = []
  const notices: Array<Notice> = []
  const touched: Array<number> = []
  for (let index = 0; index < visits.length; index++) {
    const place = visits[index] ?? 0
    const verdict = last.verdicts[place]
    const chosen = choice.chosen[place]
    if (verdict === undefined || chosen === undefined) return undefined
    append(deletes, verdict.deletes)
    append(notices, verdict.notices)
    if (verdict.notices.length > 0) touched.push(place)
    const start = verdict.start
    if (grantedPlaces.has(place) && start !== undefined) {
      entries[place] = grantSlot(input, chosen.nodeName, verdict, start, creates, deletes)
      touched.push(place)
    } else if (verdict.entry !== undefined) entries[place] = verdict.entry
  }
  last.entries = entries
  last.recordEntries = input.recordEntries ?? []
  last.touched = touched
  memo.last = last
  const deadline = deadlineAt(input.spec, input.runStartedAtMillis) ?? Infinity
  const wake = Math.min(last.wakes.earliest(), deadline)
  return {
    entries,
    creates,
    deletes,
    wakeAtMillis: wake === Infinity ? undefined : wake,
    desired: choice.desired,
    skipped: choice.skipped.map((exclusion) => exclusion.reason),
    notices,
    gate
  }
}

/**
 * Decides, for every node, what the run has left to do there now: which
 * pods to create (never more than `batchSize` nodes in flight), which to
 * delete, and what each node's status entry says. Read from the cluster and
 * the run's record alone, so a restarted operator plans exactly the same.
 *
 * With the memo, most passes are a `fastPass` over the few nodes that
 * changed. The full pass's loops over the fleet (here, in chooseNodes and in
 * nodePods.ts) index arrays and walk maps with forEach rather than for-of:
 * V8's middle tier (Maglev), where these functions run much of the time,
 * allocates an iterator result for every for-of step, which at 5,000 nodes
 * was 1.3 MB of garbage a pass (BENCHMARKS.md, session 13).
 */
export const planWorkload = (given: PlanInput): Plan => {
  const input = forgetRetriedNodes(given)
  const memo = memoFor(input)
  const byNode = groupPods(memo.pods, input.pods, input.creating ?? [], input.revision, input.retryNodes)
  const committed = (nodeName: string) => {
    const entry = input.record.get(nodeName)
    return byNode.has(nodeName) ||
      (entry !== undefined && entry.phase !== "Cancelled" && (entry.attempts > 0 || isSettledFor(input.spec, entry)))
  }
  const choice = chooseWith(input, memo, committed)
  return fastPass(input, memo, choice, byNode) ?? fullPass(input, memo, choice, byNode)
}

/** Every node judged (through the memo), slots handed out in node order, departed nodes cancelled. */
const fullPass = (input: PlanInput, memo: VerdictMemo, choice: NodeChoice, byNode: PodsByNode): Plan => {
  const { chosen, desired, skipped, unavailable } = choice
  const judge = judgeWith(input, memo)
  const verdicts: Array<Verdict> = []
  for (let index = 0; index < chosen.length; index++) {
    const node = chosen[index]
    if (node !== undefined) verdicts.push(judge(node.nodeName, node.decision, byNode.get(node.nodeName) ?? noPods, input.record.get(node.nodeName)))
  }
  const decide = nodeDecider(input.spec)
  const departed = departedNodes(input, memo, byNode, unavailable).map((nodeName) => {
    const own = decide(nodeName, input.nodes.get(nodeName))
    const decision: NodeDecision = own.departed
      ? own
      : {
        ...own,
        departed: true,
        shouldStart: false,
        shouldContinueRunning: false,
        reason: own.reason ?? `node ${nodeName} is beyond the workload's replicas`
      }
    return judge(nodeName, decision, byNode.get(nodeName) ?? noPods, input.record.get(nodeName))
  })
  pruneMemo(memo, chosen.length + departed.length)

  let failedNodes = 0
  let active = 0
  for (let index = 0; index < verdicts.length; index++) {
    const verdict = verdicts[index]
    if (verdict === undefined) continue
    if (isFailedForGood(verdict)) failedNodes += 1
    if (verdict.active) active += 1
  }
  const gate = startGate({
    spec: input.spec,
    failedNodes,
    totalNodes: verdicts.length,
    runStartedAtMillis: input.runStartedAtMillis,
    nowMillis: input.nowMillis,
    window: input.window
  })
  let free = input.spec.batchSize - active
  const creates: Array<Plan["creates"][number]> = []
  const deletes: Array<Plan["deletes"][number]> = []
  const entries: Array<NodeStatus> = []
  const notices: Array<Notice> = []
  const granted: Array<number> = []
  for (let index = 0; index < chosen.length; index++) {
    // One verdict per chosen node, in the same order.
    const node = chosen[index]
    const verdict = verdicts[index]
    if (node === undefined || verdict === undefined) continue
    const { decision, nodeName } = node
    if (gate._tag === "Ended") {
      const ended = endRun(gate, nodeName, verdict)
      append(deletes, ended.deletes)
      append(notices, ended.notices)
      if (ended.entry !== undefined) entries.push(ended.entry)
      continue
    }
    append(deletes, verdict.deletes)
    append(notices, verdict.notices)
    const start = verdict.start
    if (start !== undefined && gate._tag === "Held" && verdict.entry !== undefined) {
      entries.push(holdEntry(verdict.entry, gate.message))
      continue
    }
    const isGranted = start !== undefined && decision.shouldStart && (start.held || free > 0)
    if (!isGranted || start === undefined) {
      if (verdict.entry !== undefined) entries.push(verdict.entry)
      continue
    }
    if (!start.held) free -= 1
    granted.push(index)
    entries.push(grantSlot(input, nodeName, verdict, start, creates, deletes))
  }
  for (const { nodeName, reason } of unavailable) entries.push({ nodeName, phase: "Failed", attempts: 0, message: reason })
  for (const verdict of departed) {
    append(deletes, verdict.deletes)
    if (verdict.entry !== undefined) entries.push(verdict.entry)
  }

  // Named nodes are reported in the order they were named.
  const order = new Map((input.spec.nodeNames ?? []).map((name, index) => [name, index]))
  if (order.size > 0) entries.sort((a, b) => (order.get(a.nodeName) ?? order.size) - (order.get(b.nodeName) ?? order.size))

  for (const verdict of departed) append(notices, verdict.notices)

  const plan: Plan = {
    entries,
    creates,
    deletes,
    wakeAtMillis: earliestWake(input, gate, verdicts, departed),
    desired,
    skipped: skipped.map((exclusion) => exclusion.reason),
    notices,
    gate
  }
  keepLastPass(input, memo, choice, byNode, verdicts, plan, departed.length, granted)
  return plan
}
