import { Duration, Effect, Metric, Stream } from "effect"
import { type BatchWorkloadObject, type Node, objectKey, type Pod } from "../api/core.ts"
import { kind } from "../api/BatchWorkload.ts"
import type { Change } from "../kube/Informer.ts"
import { Caches } from "../services/Caches.ts"
import { ReportStore } from "../services/ReportStore.ts"
import { reconcileErrors, reconcileSeconds, reconcileTotal, workloadsByPhase } from "./metrics.ts"
import { makeReconciler } from "./Reconciler.ts"
import { makeWorkQueue, type WorkQueue } from "./WorkQueue.ts"

const controllerName = "batchworkload"
const phases = ["Pending", "Running", "Succeeded", "Failed", "Degraded"] as const
/** Workloads are independent; a handful of workers keeps one slow reconcile from holding up the rest. */
const workers = 4

/**
 * Pod and node events reach a workload this long after the first of them: a
 * 1,000-node run sends thousands of pod events, each of which would otherwise
 * cost a full plan of every node. Events that come while a pass runs wait for
 * it and are folded into one more pass anyway, so the delay only has to gather
 * a burst; every millisecond of it is added to each node's turnaround.
 * Spec changes, deadlines and retries are not delayed. 100 ms rather than 50:
 * on a 2-core AMD machine it halved the passes of a 1,000-node run (160
 * instead of 250-310) and the makespan ratio to client-go went from 1.33x to
 * 1.19x (BENCHMARKS.md, session 14), the CPU saved outweighing the wait.
 */
const eventBatchDelay = Duration.millis(100)

const phaseOf = (workload: BatchWorkloadObject) => {
  const status = workload.status
  const phase = typeof status === "object" && status !== null && "phase" in status ? status.phase : undefined
  return phases.find((known) => known === phase) ?? "Pending"
}

/** Sets the per-phase gauge from the cache, which already reflects the operator's own status writes. */
const countPhases = (workloads: Iterable<BatchWorkloadObject>) => {
  const counts = new Map<string, number>(phases.map((phase) => [phase, 0]))
  for (const workload of workloads) counts.set(phaseOf(workload), (counts.get(phaseOf(workload)) ?? 0) + 1)
  return Effect.forEach(phases, (phase) => Metric.update(Metric.withAttributes(workloadsByPhase, { phase }), counts.get(phase) ?? 0), {
    discard: true
  })
}

/** Predicate, as controller-runtime's GenerationChanged and friends: our own status writes do not wake the workload. */
const workloadChangeMatters = (change: Change<BatchWorkloadObject>) => {
  if (change.type === "delete" || change.previous === undefined) return true
  const [before, after] = [change.previous.metadata, change.object.metadata]
  return before.generation !== after.generation || before.deletionTimestamp !== after.deletionTimestamp ||
    JSON.stringify(before.annotations) !== JSON.stringify(after.annotations) ||
    JSON.stringify(before.finalizers) !== JSON.stringify(after.finalizers)
}

const readyStatus = (node: Node) => node.status?.conditions?.find((c) => c.type === "Ready")?.status

/** Heartbeats rewrite nodes all the time; only labels, cordons, taints and readiness decide where pods go. */
const nodeChangeMatters = (change: Change<Node>) =>
  change.type === "delete" || change.previous === undefined ||
  JSON.stringify(change.previous.metadata.labels) !== JSON.stringify(change.object.metadata.labels) ||
  JSON.stringify(change.previous.spec) !== JSON.stringify(change.object.spec) ||
  readyStatus(change.previous) !== readyStatus(change.object) ||
  change.previous.metadata.deletionTimestamp !== change.object.metadata.deletionTimestamp

/** The workload a pod belongs to, by its controller owner reference. */
const ownerKey = (pod: Pod) => {
  const owner = pod.metadata.ownerReferences?.find((ref) => ref.controller === true && ref.kind === kind)
  return owner === undefined ? [] : [`${pod.metadata.namespace ?? ""}/${owner.name}`]
}

/** The workloads one change wakes: at once (a spec change), or after the event batch delay (pod and node events). */
interface Wakes {
  readonly keys: ReadonlyArray<string>
  readonly delayed: boolean
}

/** One queue call per workload per chunk of events: a burst of 100 pod events of one workload is one addAfter. */
const wakeAll = (queue: WorkQueue, batch: ReadonlyArray<Wakes>) =>
  Effect.suspend(() => {
    const atOnce = new Set<string>()
    const later = new Set<string>()
    for (const { delayed, keys } of batch) for (const key of keys) (delayed ? later : atOnce).add(key)
    // A workload woken at once reads every change so far; its delayed wake would add nothing.
    for (const key of atOnce) later.delete(key)
    return Effect.andThen(
      Effect.forEach(atOnce, queue.add, { discard: true }),
      Effect.forEach(later, (key) => queue.addAfter(key, eventBatchDelay), { discard: true })
    )
  })

/**
 * The controller: a Stream over the watch events of workloads, their pods and
 * the nodes feeds a keyed work queue (one reconcile per workload at a time,
 * repeated events coalesced, failures retried with backoff), and workers run
 * the level-based reconcile for each key. Returns only when interrupted.
 */
export const runController = Effect.gen(function*() {
  const caches = yield* Caches
  const reportStore = yield* ReportStore
  const queue = yield* makeWorkQueue({ baseDelay: Duration.millis(500), maxDelay: Duration.minutes(1) })
  const reconciler = yield* makeReconciler({ requeue: queue.addAfter })
  // Subscribe before the first enqueue, so no change between the two is missed.
  const workloadChanges = yield* caches.workloads.changes
  const podChanges = yield* caches.pods.changes
  const nodeChanges = yield* caches.nodes.changes
  yield* caches.synced

  const allWorkloads = () => [...caches.workloads.store.keys()]
  const now = (keys: ReadonlyArray<string>): Wakes => ({ keys, delayed: false })
  const soon = (keys: ReadonlyArray<string>): Wakes => ({ keys, delayed: true })
  // Each change maps to the workloads it wakes; the streams stay array-chunked (no stream or effect per event).
  const wakes = Stream.mergeAll([
    workloadChanges.pipe(
      Stream.tap(() => countPhases(caches.workloads.store.values())),
      Stream.filter(workloadChangeMatters),
      Stream.map((change) => now([objectKey(change.object.metadata)]))
    ),
    podChanges.pipe(Stream.map((change) => soon(ownerKey(change.object)))),
    nodeChanges.pipe(Stream.filter(nodeChangeMatters), Stream.map(() => soon(allWorkloads())))
  ], { concurrency: "unbounded" })
  yield* Effect.forkScoped(Stream.runForEachArray(wakes, (batch) => wakeAll(queue, batch)))

  yield* Effect.logInfo(`caches synced: ${caches.workloads.store.size} workloads, ${caches.nodes.store.size} nodes`)
  yield* countPhases(caches.workloads.store.values())
  // Reports stored by an earlier leader: published again, and those of workloads deleted meanwhile pruned by their reconcile.
  const reported = yield* reportStore.load
  yield* Effect.forEach(new Set([...allWorkloads(), ...reported]), queue.add, { discard: true })

  const reconcile = (key: string) =>
    reconciler.reconcile(key).pipe(
      Effect.tap((result) => caches.workloads.get(key) === undefined && result.requeueAfter === undefined ? queue.forget(key) : Effect.void),
      Effect.trackDuration(Metric.withAttributes(reconcileSeconds, { controller: controllerName }), (d) => Duration.toMillis(d) / 1000),
      Effect.tap(() => Metric.update(Metric.withAttributes(reconcileTotal, { controller: controllerName, result: "success" }), 1)),
      Effect.tapError((error) =>
        Effect.gen(function*() {
          yield* Metric.update(Metric.withAttributes(reconcileTotal, { controller: controllerName, result: "error" }), 1)
          yield* Metric.update(Metric.withAttributes(reconcileErrors, { controller: controllerName }), 1)
          yield* Effect.logWarning(`reconcile failed, will retry: ${error.message}`).pipe(Effect.annotateLogs({ workload: key }))
        })
      )
    )
  return yield* queue.run(workers, reconcile)
}).pipe(Effect.scoped)
