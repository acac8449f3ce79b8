import { Clock, Context, Duration, Effect, Metric, Queue, Schedule, type Scope } from "effect"
import type { BatchWorkloadStatus, NodePhase, NodeStatus } from "../api/BatchWorkload.ts"
import type { WorkloadRef } from "../domain/pods.ts"
import { type StatusInput, summarize } from "../domain/status.ts"
import { KubeClient } from "../kube/KubeClient.ts"
import { statusWrites } from "./metrics.ts"

/** How long node updates gather before one status write carries them all. */
export const StatusFlushInterval = Context.Reference<Duration.Duration>("batch-workload-operator/StatusFlushInterval", {
  defaultValue: () => Duration.seconds(1)
})

export interface NodeUpdate {
  readonly phase: NodePhase
  readonly attempts?: number
  readonly podName?: string
  readonly message?: string
}

export interface StatusBoard {
  readonly setNode: (nodeName: string, update: NodeUpdate) => Effect.Effect<void>
  /** Writes the final status of the run at once and returns it. */
  readonly finish: Effect.Effect<BatchWorkloadStatus>
}

const maxMessageLength = 512

const isoNow = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis).toISOString())

/**
 * Collects per-node progress for one run and writes the workload's status
 * through the status subresource: at most once per flush interval, only when
 * the status differs from what was last written, so a 1,000-node run costs a
 * write per interval rather than one per pod event.
 */
export const makeStatusBoard = (init: {
  readonly workload: WorkloadRef
  readonly current: BatchWorkloadStatus | undefined
  readonly nodes: ReadonlyArray<NodeStatus>
  readonly base: Omit<StatusInput, "nodes" | "finished" | "previous" | "now">
}): Effect.Effect<StatusBoard, never, KubeClient | Scope.Scope> =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    const interval = yield* StatusFlushInterval
    const nodes = new Map(init.nodes.map((node) => [node.nodeName, node]))
    let written = init.current
    let writtenJson = JSON.stringify(init.current ?? {})
    const wakeUp = yield* Queue.sliding<void>(1)

    const write = (finished: boolean) =>
      Effect.gen(function*() {
        const status = summarize({ ...init.base, nodes: [...nodes.values()], finished, previous: written, now: yield* isoNow })
        const json = JSON.stringify(status)
        if (json === writtenJson) return status
        yield* kube.patch("batchworkloads", init.workload.namespace, init.workload.name, { status }, { subresource: "status" })
          .pipe(
            Effect.tap(() => Metric.update(statusWrites, 1)),
            Effect.retry({ schedule: Schedule.exponential("100 millis"), times: 4, while: (error) => error.retryable }),
            Effect.catch((error) =>
              error.reason === "NotFound"
                ? Effect.void // the workload is gone; nothing left to report on
                : Effect.logWarning(`could not write status: ${error.message}`)
            )
          )
        written = status
        writtenJson = json
        return status
      })

    yield* Effect.forkScoped(Effect.forever(
      Queue.take(wakeUp).pipe(Effect.andThen(Effect.sleep(interval)), Effect.andThen(write(false)))
    ))

    return {
      setNode: (nodeName, update) =>
        Effect.gen(function*() {
          const before = nodes.get(nodeName)
          const message = update.message?.slice(0, maxMessageLength)
          const next: NodeStatus = {
            nodeName,
            phase: update.phase,
            attempts: update.attempts ?? before?.attempts ?? 0,
            ...(update.podName ?? before?.podName ? { podName: update.podName ?? before?.podName ?? "" } : {}),
            ...(message !== undefined ? { message } : {}),
            ...(before?.phase === update.phase && before.lastTransitionTime !== undefined
              ? { lastTransitionTime: before.lastTransitionTime }
              : { lastTransitionTime: yield* isoNow })
          }
          nodes.set(nodeName, next)
          Queue.offerUnsafe(wakeUp, undefined)
        }),
      finish: write(true)
    } satisfies StatusBoard
  })
