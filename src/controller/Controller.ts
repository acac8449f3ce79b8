import { Effect, FiberMap, Metric, PubSub } from "effect"
import { type BatchWorkloadObject, objectKey } from "../api/core.ts"
import { Caches } from "../services/Caches.ts"
import { workloadsByPhase } from "./metrics.ts"
import { reconcileWorkload, runKey } from "./WorkloadReconciler.ts"

const phases = ["Pending", "Running", "Succeeded", "Failed"] as const

const phaseOf = (workload: BatchWorkloadObject) => {
  const status = workload.status
  const phase = typeof status === "object" && status !== null && "phase" in status ? status.phase : undefined
  return phases.find((known) => known === phase) ?? "Pending"
}

/** Sets the per-phase gauge from the cache, which already reflects the operator's own status writes. */
const countPhases = (workloads: ReadonlyArray<BatchWorkloadObject>) =>
  Effect.forEach(phases, (phase) =>
    Metric.update(
      Metric.withAttributes(workloadsByPhase, { phase }),
      workloads.filter((workload) => phaseOf(workload) === phase).length
    ), { discard: true })

/**
 * Runs one reconciler fiber per workload. A change to a workload's run key
 * (spec generation, retry token, deletion) interrupts its fiber and starts a
 * fresh one; every other change, such as the operator's own status writes, is
 * left to the running fiber. Returns only when interrupted.
 */
export const runController = Effect.gen(function*() {
  const caches = yield* Caches
  const changes = yield* caches.workloads.subscribe
  yield* caches.synced
  const fibers = yield* FiberMap.make<string>()
  const startedWith = new Map<string, string>()

  const dispatch = (workload: BatchWorkloadObject) =>
    Effect.gen(function*() {
      const key = objectKey(workload.metadata)
      const next = runKey(workload)
      if (startedWith.get(key) === next) return
      startedWith.set(key, next)
      // Wait for the old run to stop before the new one plans, so they never act on the same pods at once.
      yield* FiberMap.remove(fibers, key)
      yield* FiberMap.run(fibers, key, reconcileWorkload(key))
    })

  yield* Effect.logInfo(`caches synced: ${caches.workloads.list().length} workloads, ${caches.nodes.list().length} nodes`)
  yield* Effect.forEach(caches.workloads.list(), dispatch, { discard: true })
  yield* countPhases(caches.workloads.list())
  while (true) {
    const change = yield* PubSub.take(changes)
    yield* countPhases(caches.workloads.list())
    if (change.type === "upsert") {
      yield* dispatch(change.object)
    } else {
      const key = objectKey(change.object.metadata)
      startedWith.delete(key)
      yield* FiberMap.remove(fibers, key)
    }
  }
}).pipe(Effect.scoped)
