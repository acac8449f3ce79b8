import { Clock, type Cron, Duration, Effect, Metric, Option, Result, Schema } from "effect"
import {
  type BatchWorkloadSpec,
  BatchWorkloadSpec as SpecSchema,
  type BatchWorkloadStatus,
  BatchWorkloadStatus as StatusSchema,
  finalizer,
  type NodeStatus,
  retryAnnotation,
  retryNodesAnnotation
} from "../api/BatchWorkload.ts"
import type { BatchWorkloadObject } from "../api/core.ts"
import { makeVerdictMemo, type Notice, type Plan, planWorkload, type VerdictMemo } from "../domain/plan.ts"
import { buildPod, podName, type Reporting, revision as podRevisionOf, uniquePodName, workloadImage, workloadRef, type WorkloadRef } from "../domain/pods.ts"
import { alreadyRejected, podRejectedReason, podRejectedStatus, type PreflightTarget, preflightRetryMillis, preflightTarget } from "../domain/preflight.ts"
import { parseRetryNodes } from "../domain/retryNodes.ts"
import { isoAt } from "../domain/rollout.ts"
import {
  awaitingFirstRunStatus,
  decideRun,
  isRunActive,
  markReplaced,
  type RunOrigin,
  runOnCreateAt,
  runRecordOf,
  type RunSkip,
  type RunStart,
  scheduleOf,
  withRun
} from "../domain/schedule.ts"
import { invalidSpecStatus, type StatusInput, summarize } from "../domain/status.ts"
import { windowState } from "../domain/window.ts"
import { type KubeApiError, KubeClient } from "../kube/KubeClient.ts"
import { Caches } from "../services/Caches.ts"
import { EventRecorder } from "../services/EventRecorder.ts"
import { NodeSelector } from "../services/NodeSelector.ts"
import { PodDeployer } from "../services/PodDeployer.ts"
import { Callback, ReportStore } from "../services/ReportStore.ts"
import { nodeAttemptSeconds, nodeOutcomes, nodeRetries, statusWrites } from "./metrics.ts"
import { retryDelays } from "./retryPolicy.ts"
import { statusBytesPerSecond, StatusFlushInterval } from "./StatusFlush.ts"
import { makePodCreations } from "./PodCreations.ts"
import { makeStatusWriter } from "./StatusWriter.ts"
import type { ReconcileResult } from "./WorkQueue.ts"

const decodeStatus = Schema.decodeUnknownOption(StatusSchema)
const decodeSpec = Schema.decodeUnknownEffect(SpecSchema)

/** Pods on a dead node can stay Terminating for a long time; past this, garbage collection through the owner reference finishes. */
const releaseAfterMillis = 60_000
const maxMessageLength = 512

/**
 * What the reconciler remembers of a workload between passes. None of it is
 * the truth (that is the workload, its pods and its status in the cluster);
 * it is the status this process computed and has not yet seen come back
 * through the cache, so a write held back by the flush interval, or not yet
 * echoed by the watch, is not mistaken for a stale one.
 */
interface Memory {
  readonly key: string
  readonly uid: string
  /** The latest status computed for the workload, written or not. */
  record: BatchWorkloadStatus | undefined
  /** The resourceVersion our last status write was based on, and the one it produced. */
  writtenFrom: string | undefined
  writtenAs: string | undefined
  writtenJson: string
  /** The top-level fields of the status last written, which a later write must remove if it leaves them out. */
  writtenFields: ReadonlyArray<string>
  /** The last pass's verdicts, so the next one judges only the nodes that changed (a cache: the plan is the same without it). */
  readonly verdicts: VerdictMemo
  /** The node entries of the record by node, and the entries they were taken from (a cache, like `verdicts`). */
  recorded: { entries: ReadonlyArray<NodeStatus>; readonly byNode: Map<string, NodeStatus> }
  /** The last pass's plan entries and the status entries stamped from them, place by place (a cache, like `verdicts`). */
  stamped: { readonly planned: ReadonlyArray<NodeStatus>; readonly entries: ReadonlyArray<NodeStatus> }
}

const done: ReconcileResult = {}

/** The run's node entries by node, built by a loop: a pass runs hundreds of times on a 1,000-node run. */
const entriesByNode = (entries: ReadonlyArray<NodeStatus>) => {
  const record = new Map<string, NodeStatus>()
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index]
    if (entry !== undefined) record.set(entry.nodeName, entry)
  }
  return record
}

/**
 * The run's node entries by node. Pass after pass the entries list the same
 * nodes in the same order, a few of them changed: then last pass's map takes
 * the changed entries in place, found by identity (no new map of 5,000 nodes
 * per pass, and the unchanged entries are not read), with the same result
 * as building it anew.
 */
const nodeRecordOf = (memory: Memory, entries: ReadonlyArray<NodeStatus>) => {
  const known = memory.recorded
  if (known.entries === entries) return known.byNode
  const rebuilt = () => {
    memory.recorded = { entries, byNode: entriesByNode(entries) }
    return memory.recorded.byNode
  }
  if (known.entries.length !== entries.length) return rebuilt()
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index]
    const old = known.entries[index]
    if (entry === old) continue
    if (entry === undefined || old === undefined || entry.nodeName !== old.nodeName) return rebuilt()
    known.byNode.set(entry.nodeName, entry)
  }
  known.entries = entries
  return known.byNode
}

const after = (millis: number): ReconcileResult => ({ requeueAfter: Duration.millis(Math.max(0, millis)) })
const sooner = (a: ReconcileResult, b: ReconcileResult): ReconcileResult =>
  a.requeueAfter === undefined ? b : b.requeueAfter === undefined ? a : Duration.isLessThan(a.requeueAfter, b.requeueAfter) ? a : b

/** The runs whose reports are kept: those in the history with a schedule, else the current revision's. */
const reportedRuns = (status: BatchWorkloadStatus | undefined): ReadonlySet<string> =>
  new Set(status?.runHistory !== undefined ? status.runHistory.map((run) => run.executionId) : status?.revision !== undefined ? [status.revision] : [])

/** An RFC 3339 time from the cluster in epoch millis, or undefined when absent or unreadable. */
const millisOf = (time: string | undefined) => {
  const millis = Date.parse(time ?? "")
  return Number.isNaN(millis) ? undefined : millis
}

const isFinal = (phase: BatchWorkloadStatus["phase"]) => phase === "Succeeded" || phase === "Failed" || phase === "Degraded"

/** Fields the new status leaves out are removed explicitly: a merge patch would keep, say, the last run's completionTime. */
const withRemovals = (next: BatchWorkloadStatus, fieldsBefore: Iterable<string>) => {
  const removals = Object.fromEntries([...new Set(fieldsBefore)].filter((key) => !(key in next)).map((key) => [key, null]))
  return { ...removals, ...next }
}

const fieldsOf = (status: unknown) => typeof status === "object" && status !== null ? Object.keys(status) : []

const clip = (entry: NodeStatus): NodeStatus =>
  entry.message !== undefined && entry.message.length > maxMessageLength ? { ...entry, message: entry.message.slice(0, maxMessageLength) } : entry

const unchanged = (entry: NodeStatus, before: NodeStatus) =>
  entry.phase === before.phase && entry.attempts === before.attempts && entry.podName === before.podName &&
  entry.message === before.message && entry.nextAttemptTime === before.nextAttemptTime

/** Keeps a node entry's lastTransitionTime while its phase stays the same; an entry that did not change is the recorded one, not a copy. */
const stampEntry = (entry: NodeStatus, record: ReadonlyMap<string, NodeStatus>, now: string) => {
  const before = record.get(entry.nodeName)
  if (before !== undefined && before.lastTransitionTime !== undefined && unchanged(entry, before)) return before
  const since = before?.phase === entry.phase && before.lastTransitionTime !== undefined ? before.lastTransitionTime : now
  return clip({ ...entry, lastTransitionTime: since })
}

/**
 * The pass's entries, stamped. When the record is what the last pass
 * stamped, a plan entry that is the same object at the same place as last
 * pass's gets last pass's stamped entry without being read (stamping it
 * again would give an equal one): a 5,000-node pass reads only the entries
 * that changed.
 */
const stampTransitions = (
  memory: Memory,
  entries: ReadonlyArray<NodeStatus>,
  record: ReadonlyMap<string, NodeStatus>,
  recordEntries: ReadonlyArray<NodeStatus> | undefined,
  now: string
) => {
  const last = memory.stamped
  const reusable = recordEntries === last.entries && entries.length === last.planned.length
  const stamped: Array<NodeStatus> = []
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index]
    if (entry === undefined) continue
    const kept = reusable && entry === last.planned[index] ? last.entries[index] : undefined
    stamped.push(kept ?? stampEntry(entry, record, now))
  }
  memory.stamped = { planned: entries, entries: stamped }
  return stamped
}

/**
 * The level-based reconcile of one workload: read the workload, its nodes
 * and its pods from the caches, plan (a pure function), act (create and
 * delete pods, `batchSize` at a time), write the status, and say when to
 * look again. Nothing it needs survives only in this process.
 */
export interface ReconcilerOptions {
  /** Plans the workload again after this long: how a failed pod create, which no pass waits for, is retried. */
  readonly requeue: (key: string, after: Duration.Duration) => Effect.Effect<void>
}

export const makeReconciler = (options: ReconcilerOptions) => Effect.gen(function*() {
  const caches = yield* Caches
  const kube = yield* KubeClient
  const selector = yield* NodeSelector
  const deployer = yield* PodDeployer
  const events = yield* EventRecorder
  const reportStore = yield* ReportStore
  const callback = yield* Callback
  const flushInterval = yield* StatusFlushInterval
  const memories = new Map<string, Memory>()
  const creations = yield* makePodCreations({
    create: deployer.create,
    onFailure: (key, error, retryAfter) =>
      Effect.logWarning(`creating a pod failed, will plan again in ${Duration.format(retryAfter)}: ${error.message}`).pipe(
        Effect.annotateLogs({ workload: key }),
        Effect.andThen(options.requeue(key, retryAfter))
      )
  })

  const memoryOf = (key: string, workload: BatchWorkloadObject): Memory => {
    const uid = workload.metadata.uid ?? ""
    const known = memories.get(key)
    if (known !== undefined && known.uid === uid) return known
    const fresh: Memory = {
      key,
      uid,
      record: undefined,
      writtenFrom: undefined,
      writtenAs: undefined,
      writtenJson: "",
      writtenFields: [],
      verdicts: makeVerdictMemo(),
      recorded: { entries: [], byNode: new Map() },
      stamped: { planned: [], entries: [] }
    }
    memories.set(key, fresh)
    return fresh
  }

  /** The status as it stands: ours if the cache has not caught up with it yet, else the cluster's. */
  const recordOf = (memory: Memory, workload: BatchWorkloadObject) => {
    if (memory.record !== undefined) return memory.record
    const stored = decodeStatus(workload.status)
    return Option.getOrUndefined(stored)
  }

  /** The resourceVersion a write must be based on: the cache's, unless it still shows the version our last write replaced. */
  const baseVersionOf = (memory: Memory, workload: BatchWorkloadObject) =>
    memory.writtenAs !== undefined && workload.metadata.resourceVersion === memory.writtenFrom
      ? memory.writtenAs
      : workload.metadata.resourceVersion

  const patchWorkload = (workload: BatchWorkloadObject, patch: object, subresource?: "status") =>
    kube.patch("batchworkloads", workload.metadata.namespace, workload.metadata.name, patch, subresource ? { subresource } : undefined)

  /**
   * Writes the newest status computed for the workload, based on the newest
   * resourceVersion known (a conflict is retried by the writer against the
   * cache's next version); a workload that is gone or replaced is left alone.
   */
  const writeNewestStatus = (key: string) =>
    Effect.gen(function*() {
      const memory = memories.get(key)
      const workload = caches.workloads.get(key)
      const status = memory?.record
      if (memory === undefined || status === undefined || workload === undefined || workload.metadata.uid !== memory.uid) return 0
      const json = JSON.stringify(status)
      if (json === memory.writtenJson) return 0
      const resourceVersion = baseVersionOf(memory, workload)
      const fieldsBefore = [...memory.writtenFields, ...fieldsOf(workload.status)]
      const written = yield* patchWorkload(workload, { metadata: { resourceVersion }, status: withRemovals(status, fieldsBefore) }, "status")
      yield* Metric.update(statusWrites, 1)
      memory.writtenFrom = resourceVersion
      memory.writtenAs = written.metadata.resourceVersion
      memory.writtenJson = json
      memory.writtenFields = Object.keys(status)
      return json.length
    }).pipe(Effect.catchIf((error: KubeApiError) => error.reason === "NotFound", () => Effect.succeed(0)))

  const statusWriter = yield* makeStatusWriter({
    interval: flushInterval,
    bytesPerSecond: statusBytesPerSecond,
    write: writeNewestStatus,
    onError: (key, error) => Effect.logWarning(`status write failed, will retry: ${error.message}`).pipe(Effect.annotateLogs({ workload: key }))
  })

  /**
   * Records the status as this pass's decision and hands it to the workload's
   * status writer: written at once if urgent, else with the progress of the
   * next flush interval. The pass goes on without waiting for the write.
   */
  const flushStatus = (memory: Memory, status: BatchWorkloadStatus, urgent: boolean) =>
    Effect.suspend(() => {
      memory.record = status
      // Whether it differs from what was written is left to the writer: comparing costs a serialization, once per write there, not once per pass.
      return statusWriter.request(memory.key, urgent)
    })

  const forgetWorkload = (key: string) =>
    Effect.suspend(() => {
      memories.delete(key)
      creations.forget(key)
      return statusWriter.forget(key)
    })

  const recordNotice = (ref: WorkloadRef, notice: Notice) =>
    Effect.gen(function*() {
      yield* events.record(ref, notice.type, notice.reason, notice.message)
      const result = notice.reason === "NodeSucceeded" ? "success" : "failure"
      if (notice.attemptSeconds !== undefined) yield* Metric.update(Metric.withAttributes(nodeAttemptSeconds, { result }), notice.attemptSeconds)
      if (notice.reason === "NodeRetrying") yield* Metric.update(nodeRetries, 1)
      if (notice.reason === "NodeSucceeded") yield* Metric.update(Metric.withAttributes(nodeOutcomes, { outcome: "succeeded" }), 1)
      if (notice.reason === "NodeFailed") {
        yield* Metric.update(Metric.withAttributes(nodeOutcomes, { outcome: "failed" }), 1)
        yield* Effect.logInfo(notice.message).pipe(Effect.annotateLogs({ node: notice.nodeName }))
      }
    })

  /** An Event when the run is paused, or waits for its window, or its deadline passes: the moments `kubectl describe` should explain. */
  const announceConditions = (ref: WorkloadRef, before: BatchWorkloadStatus | undefined, now: BatchWorkloadStatus) =>
    Effect.forEach(["Paused", "Waiting", "Failed"], (type) => {
      const next = now.conditions?.find((c) => c.type === type)
      const prior = before?.conditions?.find((c) => c.type === type)
      const changed = next?.status === "True" && (prior?.status !== "True" || prior.reason !== next.reason)
      const worthSaying = next?.reason === "FailureBudgetExceeded" || next?.reason === "DeadlineExceeded" ||
        next?.reason === "Paused" || next?.reason === "OutsideWindow"
      return changed && worthSaying && next !== undefined
        ? events.record(ref, next.reason === "Paused" || next.reason === "OutsideWindow" ? "Normal" : "Warning", next.reason, next.message)
        : Effect.void
    }, { discard: true })

  /** The run's Started, Completed and Failed events and log lines, from the phase it had before this pass and has now. */
  const announceRun = (ref: WorkloadRef, spec: BatchWorkloadSpec, before: BatchWorkloadStatus | undefined, now: BatchWorkloadStatus) =>
    Effect.gen(function*() {
      const newRun = before?.revision !== now.revision
      const counts = { revision: now.revision, nodes: now.totalNodes, succeeded: now.succeededNodes, failed: now.failedNodes }
      if (now.phase === "Running" && (newRun || before?.phase !== "Running")) {
        const open = (now.pendingNodes ?? 0) + (now.runningNodes ?? 0)
        yield* events.record(ref, "Normal", "Started", `deploying ${workloadImage(spec)} to ${open} of ${now.totalNodes} nodes, ${spec.batchSize} at a time`)
        yield* Effect.logInfo("run started").pipe(Effect.annotateLogs(counts))
      }
      yield* announceConditions(ref, before, now)
      if (isFinal(now.phase) && (newRun || before?.phase !== now.phase)) {
        if (now.phase === "Succeeded") yield* events.record(ref, "Normal", "Completed", `all ${now.totalNodes} nodes succeeded`)
        if (now.phase === "Failed") {
          const failed = now.conditions?.find((c) => c.type === "Failed")
          yield* events.record(ref, "Warning", "Failed", failed?.message ?? "nodes failed")
        }
        yield* Effect.logInfo(`run ended: ${now.phase}`).pipe(Effect.annotateLogs(counts))
      }
    })

  /** ttlSecondsAfterFinished: a finished RunToCompletion run's pods go this long after it ended; the status stays as the record. */
  const cleanUpFinished = (ref: WorkloadRef, spec: BatchWorkloadSpec, status: BatchWorkloadStatus) =>
    Effect.gen(function*() {
      const finishedAt = Date.parse(status.completionTime ?? "")
      if (spec.ttlSecondsAfterFinished === undefined || Number.isNaN(finishedAt)) return done
      const due = finishedAt + spec.ttlSecondsAfterFinished * 1000 - (yield* Clock.currentTimeMillis)
      if (due > 0) return after(due)
      const pods = (yield* deployer.podsOf(ref.uid)).filter((pod) => pod.metadata.deletionTimestamp === undefined)
      if (pods.length === 0) return done
      yield* Effect.forEach(pods, deployer.remove, { concurrency: 20, discard: true })
      yield* Effect.logInfo(`deleted ${pods.length} pods ${spec.ttlSecondsAfterFinished}s after the run finished (ttlSecondsAfterFinished)`)
      return done
    })

  /** With spec.reports, the pods of a run carry its execution id (the revision, for a workload without a schedule). */
  const reportingFor = (spec: BatchWorkloadSpec, executionId: string): Reporting | undefined =>
    spec.reports !== undefined ? { endpoint: callback, executionId } : undefined

  /**
   * Deletes first (a deleted pod frees its node's name), waiting for them;
   * then starts the creates and returns without waiting, so the next pass can
   * fill a slot that frees meanwhile. The batch holds: never more than
   * batchSize nodes in flight, because the plan hands out only free slots and
   * counts a pod being created as its node's pod.
   */
  const act = (key: string, ref: WorkloadRef, spec: BatchWorkloadSpec, revision: string, plan: Plan, reporting: Reporting | undefined) =>
    Effect.gen(function*() {
      yield* Effect.forEach(plan.deletes, ({ pod }) => deployer.remove(pod), { concurrency: spec.batchSize, discard: true })
      const creates = plan.creates.map((target) => ({
        pod: buildPod(ref, spec, target, revision, reporting),
        fallbackName: uniquePodName(ref.name, target.nodeName, ref.uid)
      }))
      yield* creations.start(key, creates)
    })

  /**
   * A server-side dry-run create of the run's first pod, under a name of its
   * own (the real one may still be held by the pod it replaces). Returns the
   * API server's message if it refuses the pod, e.g. Pod Security admission.
   */
  const preflight = (ref: WorkloadRef, spec: BatchWorkloadSpec, target: PreflightTarget, revision: string, reporting: Reporting | undefined) => {
    const pod = buildPod(ref, spec, target, revision, reporting)
    const probe = { ...pod, metadata: { ...pod.metadata, name: uniquePodName(ref.name, target.nodeName, `${ref.uid}/preflight`) } }
    return kube.create("pods", probe, { dryRun: true }).pipe(
      Effect.as(undefined),
      Effect.catchIf((error: KubeApiError) => error.reason === "AlreadyExists", () => Effect.succeed(undefined)),
      Effect.catchIf((error: KubeApiError) => error.reason === "Forbidden" || error.reason === "Invalid", (error) => Effect.succeed(error.message))
    )
  }

  /** The run's pod is refused: nothing is created or deleted, the status says why (one Event), and the check is repeated. */
  const reportRejected = (
    memory: Memory,
    workload: BatchWorkloadObject,
    input: StatusInput,
    plan: Plan,
    message: string,
    nowMillis: number,
    decorate: (status: BatchWorkloadStatus) => BatchWorkloadStatus
  ) =>
    Effect.gen(function*() {
      const ref = workloadRef(workload.metadata)
      const status = decorate(podRejectedStatus(input, plan, message))
      if (!alreadyRejected(input.previous, message)) {
        yield* events.record(ref, "Warning", podRejectedReason, message)
        yield* Effect.logInfo(`the API server refused the run's pod: ${message}`)
      }
      yield* flushStatus(memory, status, true)
      // Nothing in the cluster that could change the answer (a namespace label, a new service account) wakes this workload.
      return after(preflightRetryMillis(input.previous, nowMillis))
    })

  /** What one pass over a run is given: the run's revision, and what the schedule adds to its status. */
  interface RunPass {
    readonly memory: Memory
    readonly workload: BatchWorkloadObject
    readonly spec: BatchWorkloadSpec
    readonly previous: BatchWorkloadStatus | undefined
    readonly revision: string
    /** The run's id in its pods' reports: the execution id with a schedule, else the revision. */
    readonly executionId: string
    readonly handledRetry: string | undefined
    /** Adds the schedule's fields to the status computed for the run. */
    readonly decorate: (status: BatchWorkloadStatus) => BatchWorkloadStatus
    /**
     * The schedule's Events, said before the status is written: the write
     * records the decision (in memory at once), so a write that fails and is
     * retried must not be the only chance to say it.
     */
    readonly announce: Effect.Effect<void>
  }

  /** Plans the run from the cluster and its record, acts on the plan, writes the status, and says when to look again. */
  const runPass = (pass: RunPass) =>
    Effect.gen(function*() {
      const { decorate, memory, previous, revision, spec, workload } = pass
      const ref = workloadRef(workload.metadata)
      const generation = workload.metadata.generation ?? 0
      const retryNodes = parseRetryNodes(workload.metadata.annotations?.[retryNodesAnnotation])
      const retryNodesHandled = retryNodes === undefined || previous?.handledRetryNodes === retryNodes.value
      const nowMillis = yield* Clock.currentTimeMillis
      const startedAt = previous?.revision === revision ? Date.parse(previous.startTime ?? "") : Number.NaN
      const runStartedAtMillis = Number.isNaN(startedAt) ? nowMillis : startedAt
      const recordEntries = previous?.revision === revision ? previous.nodeStatus ?? [] : undefined
      const record = recordEntries !== undefined ? nodeRecordOf(memory, recordEntries) : new Map<string, NodeStatus>()
      const delays = yield* retryDelays(spec)
      const pods = yield* deployer.podsOf(ref.uid)
      const plan = planWorkload({
        spec,
        revision,
        nodes: yield* selector.nodes,
        nodeNames: yield* selector.names,
        nodesVersion: yield* selector.version,
        pods,
        creating: creations.unseen(memory.key, pods),
        record,
        recordEntries,
        nowMillis,
        runStartedAtMillis,
        window: spec.window !== undefined ? windowState(spec.window, nowMillis) : undefined,
        retryDelayMillis: (retry) => delays[retry - 1],
        podNameFor: (nodeName) => {
          const plain = podName(ref.name, nodeName)
          return deployer.nameIsFree(ref.namespace, plain, ref.uid) ? plain : uniquePodName(ref.name, nodeName, ref.uid)
        },
        retryNodes: retryNodes !== undefined ? { ...retryNodes, handled: retryNodesHandled } : undefined,
        memo: memory.verdicts
      })
      const statusInput: StatusInput = {
        generation,
        revision,
        handledRetry: pass.handledRetry,
        handledRetryNodes: retryNodes?.value ?? previous?.handledRetryNodes,
        desired: plan.desired,
        skipped: plan.skipped,
        nodes: stampTransitions(memory, plan.entries, record, recordEntries, isoAt(nowMillis)),
        previous,
        now: isoAt(nowMillis),
        gate: plan.gate
      }
      const reporting = reportingFor(spec, pass.executionId)
      const target = preflightTarget(plan, record, revision)
      const refusal = target !== undefined ? yield* preflight(ref, spec, target, revision, reporting) : undefined
      yield* pass.announce
      if (refusal !== undefined) return yield* reportRejected(memory, workload, statusInput, plan, refusal, nowMillis, decorate)

      // Pods first: if a delete fails, the record is not advanced and the next pass plans from the same truth;
      // a refused create leaves its node's entry as it was (PlanInput.creating) and comes back through options.requeue.
      yield* act(memory.key, ref, spec, revision, plan, reporting)

      const status = decorate(summarize(statusInput))
      yield* Effect.forEach(plan.notices, (notice) => recordNotice(ref, notice), { discard: true })
      yield* announceRun(ref, spec, previous, status)
      const urgent = status.phase !== previous?.phase || previous?.revision !== revision
      yield* flushStatus(memory, status, urgent)
      // A deleted pod (a retry, a replaced revision) frees its node's name: plan again at once rather than wait for its event.
      const wake = plan.deletes.length > 0 ? after(0) : plan.wakeAtMillis !== undefined ? after(plan.wakeAtMillis - nowMillis) : done
      // Anything created or deleted comes back through the pod watch; a deadline comes back here.
      const finished = spec.mode === "RunToCompletion" && (status.phase === "Succeeded" || status.phase === "Failed")
      return sooner(wake, finished ? yield* cleanUpFinished(ref, spec, status) : done)
    })

  /** RunScheduled and RunSkipped. */
  const announceSchedule = (ref: WorkloadRef, action: RunStart | RunSkip | undefined) =>
    Effect.gen(function*() {
      if (action === undefined) return
      if (action._tag === "Skip") {
        yield* events.record(ref, "Warning", "RunSkipped", action.message)
        return yield* Effect.logInfo(action.message)
      }
      const why = action.trigger === "Manual" ? "by the retry annotation" : action.trigger === "Create" ? "on create (runOnCreate)" : `for the tick at ${isoAt(action.scheduledAtMillis)}`
      const message = `run ${action.executionId} started ${why}${action.replaces !== undefined ? `, replacing run ${action.replaces}` : ""}`
      yield* events.record(ref, "Normal", "RunScheduled", message)
      yield* Effect.logInfo(message)
    })

  /**
   * A workload with a schedule: decide whether a run starts (or a tick is
   * skipped), then run the current one like any RunToCompletion run, under a
   * revision that includes its execution id, so a new run replaces the last
   * one's pods just as the retry annotation does.
   */
  const syncScheduled = (key: string, workload: BatchWorkloadObject, spec: BatchWorkloadSpec, cron: Cron.Cron) =>
    Effect.gen(function*() {
      const ref = workloadRef(workload.metadata)
      const memory = memoryOf(key, workload)
      const previous = recordOf(memory, workload)
      const generation = workload.metadata.generation ?? 0
      const retryToken = workload.metadata.annotations?.[retryAnnotation] ?? ""
      const nowMillis = yield* Clock.currentTimeMillis
      const now = isoAt(nowMillis)
      const createdAtMillis = millisOf(workload.metadata.creationTimestamp) ?? nowMillis
      const current = previous?.executionId
      const decision = decideRun({
        cron,
        createdAtMillis,
        lastScheduleMillis: millisOf(previous?.lastScheduleTime),
        startingDeadlineSeconds: spec.startingDeadlineSeconds,
        concurrencyPolicy: spec.concurrencyPolicy,
        runOnCreateAtMillis: runOnCreateAt(spec, createdAtMillis),
        currentRun: current !== undefined ? { executionId: current, active: isRunActive(previous?.phase) } : undefined,
        pendingRetry: retryToken !== "" && retryToken !== previous?.handledRetry ? retryToken : undefined,
        nowMillis
      })
      const started = decision.action?._tag === "Start" ? decision.action : undefined
      const wake = after(decision.wakeAtMillis - nowMillis)
      const scheduleFields = {
        ...(decision.lastScheduleMillis !== undefined ? { lastScheduleTime: isoAt(decision.lastScheduleMillis) } : {}),
        nextScheduleTime: isoAt(decision.nextScheduleMillis)
      }
      const executionId = started?.executionId ?? current
      if (executionId === undefined) {
        const status = { ...awaitingFirstRunStatus(previous, generation, decision.wakeAtMillis, now), ...scheduleFields }
        yield* announceSchedule(ref, decision.action)
        yield* flushStatus(memory, status, true)
        return wake
      }

      const history = started?.replaces !== undefined ? markReplaced(previous?.runHistory ?? [], started.replaces, now) : previous?.runHistory ?? []
      const origin: RunOrigin = started !== undefined
        ? { executionId, trigger: started.trigger, scheduledTime: isoAt(started.scheduledAtMillis) }
        : history.find((entry) => entry.executionId === executionId) ?? { executionId, trigger: "Schedule" }
      const handledRetry = started?.trigger === "Manual" ? retryToken : previous?.handledRetry
      const decorate = (status: BatchWorkloadStatus): BatchWorkloadStatus => ({
        ...status,
        ...(handledRetry !== undefined ? { handledRetry } : {}),
        executionId,
        ...scheduleFields,
        runHistory: withRun(history, runRecordOf(origin, status, now), spec.runHistoryLimit)
      })

      // The run is over: nothing happens until the next tick, whatever the spec says now (the next run uses it).
      if (started === undefined && previous !== undefined && isFinal(previous.phase)) {
        yield* announceSchedule(ref, decision.action)
        yield* flushStatus(memory, decorate({ ...previous, observedGeneration: generation }), true)
        return sooner(wake, yield* cleanUpFinished(ref, spec, previous))
      }
      const revision = podRevisionOf(spec, executionId)
      const announce = announceSchedule(ref, decision.action)
      const result = yield* runPass({ memory, workload, spec, previous, revision, executionId, handledRetry, decorate, announce })
      return sooner(result, wake)
    })

  const sync = (key: string, workload: BatchWorkloadObject, spec: BatchWorkloadSpec) =>
    Effect.gen(function*() {
      const ref = workloadRef(workload.metadata)
      const memory = memoryOf(key, workload)
      const previous = recordOf(memory, workload)
      const retryToken = workload.metadata.annotations?.[retryAnnotation] ?? ""
      const revision = podRevisionOf(spec, retryToken)
      const generation = workload.metadata.generation ?? 0
      const retryNodes = parseRetryNodes(workload.metadata.annotations?.[retryNodesAnnotation])
      const retryNodesHandled = retryNodes === undefined || previous?.handledRetryNodes === retryNodes.value
      const settled = spec.mode === "RunToCompletion" && previous?.revision === revision && retryNodesHandled &&
        previous.observedGeneration === generation && (previous.phase === "Succeeded" || previous.phase === "Failed")
      // A finished job-style run is over until the spec or the retry annotation changes; a status write may still be owed.
      if (settled) {
        yield* flushStatus(memory, previous, true)
        return yield* cleanUpFinished(ref, spec, previous)
      }
      const handledRetry = retryToken === "" ? previous?.handledRetry : retryToken
      return yield* runPass({ memory, workload, spec, previous, revision, executionId: revision, handledRetry, decorate: (status) => status, announce: Effect.void })
    })

  const removeFinalizer = (workload: BatchWorkloadObject) =>
    patchWorkload(workload, {
      metadata: {
        finalizers: (workload.metadata.finalizers ?? []).filter((name) => name !== finalizer),
        resourceVersion: workload.metadata.resourceVersion
      }
    })

  /** Deletion: delete the pods, then release the workload; a minute at most, however long pods take to terminate. */
  const finalize = (key: string, workload: BatchWorkloadObject) =>
    Effect.gen(function*() {
      if (!workload.metadata.finalizers?.includes(finalizer)) return done
      // A create still in flight would leave its pod behind: let it land first, then delete it with the rest.
      // Its end wakes this workload (the new pod's event, or a failed create's requeue); the delay is only a backstop.
      if (creations.inFlight(key) > 0) return after(1_000)
      const uid = workload.metadata.uid ?? ""
      const live = (yield* deployer.podsOf(uid)).filter((pod) => pod.metadata.deletionTimestamp === undefined)
      yield* Effect.forEach(live, deployer.remove, { concurrency: 20, discard: true })
      const remaining = yield* deployer.podsOf(uid)
      const waited = (yield* Clock.currentTimeMillis) - (Date.parse(workload.metadata.deletionTimestamp ?? "") || 0)
      if (remaining.length > 0 && waited < releaseAfterMillis) return after(Math.min(5_000, releaseAfterMillis - waited))
      // Already gone (another pass released it, or the API server finished the deletion): nothing left to release.
      yield* removeFinalizer(workload).pipe(Effect.catchIf((error: KubeApiError) => error.reason === "NotFound", () => Effect.void))
      yield* forgetWorkload(key)
      yield* Effect.logInfo(`released the workload${remaining.length > 0 ? ` with ${remaining.length} pods still terminating` : ""}`)
      return done
    })

  const reportInvalidSpec = (key: string, workload: BatchWorkloadObject, message: string) =>
    Effect.gen(function*() {
      const memory = memoryOf(key, workload)
      const previous = recordOf(memory, workload)
      const generation = workload.metadata.generation ?? 0
      const alreadyReported = previous?.observedGeneration === generation &&
        previous.conditions?.some((c) => c.type === "InvalidSpec" && c.message === message && c.status === "True")
      if (alreadyReported) return done
      const status = invalidSpecStatus(previous, generation, message, isoAt(yield* Clock.currentTimeMillis))
      yield* flushStatus(memory, status, true)
      yield* events.record(workloadRef(workload.metadata), "Warning", "InvalidSpec", message)
      return done
    })

  return {
    reconcile: (key: string): Effect.Effect<ReconcileResult, KubeApiError> =>
      Effect.gen(function*() {
        const workload = caches.workloads.get(key)
        if (workload === undefined) {
          yield* forgetWorkload(key)
          yield* reportStore.retain(key, new Set())
          return done
        }
        if (workload.metadata.deletionTimestamp !== undefined) return yield* finalize(key, workload)
        if (!workload.metadata.finalizers?.includes(finalizer)) {
          // The update comes back through the watch and brings the workload here again.
          yield* patchWorkload(workload, {
            metadata: { finalizers: [...(workload.metadata.finalizers ?? []), finalizer], resourceVersion: workload.metadata.resourceVersion }
          })
          return done
        }
        const decoded = yield* Effect.result(decodeSpec(workload.spec, { errors: "all" }))
        if (decoded._tag === "Failure") {
          return yield* reportInvalidSpec(key, workload, `spec is invalid: ${decoded.failure.message.replaceAll("\n", " ")}`)
        }
        const spec = decoded.success
        const schedule = scheduleOf(spec)
        if (schedule !== undefined && Result.isFailure(schedule)) return yield* reportInvalidSpec(key, workload, `spec is invalid: ${schedule.failure}`)
        const result = schedule === undefined ? yield* sync(key, workload, spec) : yield* syncScheduled(key, workload, spec, schedule.success)
        // Reports of runs that left the history (or of a workload that stopped reporting) leave /metrics and the report directory.
        yield* reportStore.retain(key, spec.reports !== undefined ? reportedRuns(memories.get(key)?.record) : new Set())
        return result
      }).pipe(
        Effect.withSpan("BatchWorkload.reconcile", { attributes: { "workload.key": key } }),
        Effect.annotateLogs({ workload: key })
      )
  }
})
