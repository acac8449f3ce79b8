import { Context, Effect, Layer, PubSub, Queue, Schedule, type Scope } from "effect"
import type { WorkloadMode } from "../api/BatchWorkload.ts"
import type { Pod } from "../api/core.ts"
import { AttemptFailed } from "../domain/errors.ts"
import { attemptAnnotation, classifyPod, revisionAnnotation, workloadUidLabel } from "../domain/pods.ts"
import type { Change } from "../kube/Informer.ts"
import { type KubeApiError, KubeClient } from "../kube/KubeClient.ts"
import { Caches } from "./Caches.ts"

const podKey = (namespace: string, name: string) => `${namespace}/${name}`

/** Creates, replaces and removes the workload's pods, and waits on them through the pod cache. */
export class PodDeployer extends Context.Service<PodDeployer, {
  readonly podsOf: (workloadUid: string) => Effect.Effect<ReadonlyArray<Pod>>
  /** Creates the pod, first removing any pod of the same name (an earlier attempt or revision) and waiting for it to go. */
  readonly deploy: (pod: Pod) => Effect.Effect<void, AttemptFailed>
  /** Waits until the pod succeeds (per `mode`) or fails; `onRunning` runs once when its container starts. */
  readonly awaitOutcome: (
    namespace: string,
    name: string,
    mode: WorkloadMode,
    onRunning: Effect.Effect<void>
  ) => Effect.Effect<void, AttemptFailed>
  /** Deletes the pod and waits until the cache no longer shows it. */
  readonly remove: (pod: Pod) => Effect.Effect<void, KubeApiError>
}>()("batch-workload-operator/PodDeployer") {
  static readonly layer = Layer.effect(
    PodDeployer,
    Effect.gen(function*() {
      const kube = yield* KubeClient
      const { pods } = yield* Caches

      // One subscription to the pod cache, fanned out by pod so each waiter wakes only for its own pod.
      const waiters = new Map<string, Set<Queue.Queue<Change<Pod>>>>()
      const subscription = yield* pods.subscribe
      yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
        const change = yield* PubSub.take(subscription)
        const key = podKey(change.object.metadata.namespace ?? "", change.object.metadata.name)
        for (const queue of waiters.get(key) ?? []) Queue.offerUnsafe(queue, change)
      })))

      const changesOf = (key: string): Effect.Effect<Queue.Queue<Change<Pod>>, never, Scope.Scope> =>
        Effect.acquireRelease(
          Effect.gen(function*() {
            const queue = yield* Queue.unbounded<Change<Pod>>()
            const set = waiters.get(key) ?? new Set()
            set.add(queue)
            waiters.set(key, set)
            return queue
          }),
          (queue) =>
            Effect.sync(() => {
              const set = waiters.get(key)
              set?.delete(queue)
              if (set?.size === 0) waiters.delete(key)
            })
        )

      /** Waits until `key` is absent from the cache, or holds a pod other than the one with `uid`. */
      const awaitGone = (key: string, uid: string | undefined) =>
        Effect.scoped(Effect.gen(function*() {
          const changes = yield* changesOf(key)
          while (pods.get(key) !== undefined && (uid === undefined || pods.get(key)?.metadata.uid === uid)) {
            yield* Queue.take(changes)
          }
        }))

      const remove = (pod: Pod) =>
        Effect.gen(function*() {
          const namespace = pod.metadata.namespace ?? ""
          const uid = pod.metadata.uid
          if (pod.metadata.deletionTimestamp === undefined) {
            yield* kube.remove("pods", namespace, pod.metadata.name, { uid }).pipe(
              Effect.catchIf((error) => error.reason === "NotFound" || error.reason === "Conflict", () => Effect.void)
            )
          }
          yield* awaitGone(podKey(namespace, pod.metadata.name), uid)
        })

      const sameAttempt = (a: Pod, b: Pod) =>
        a.metadata.annotations?.[revisionAnnotation] === b.metadata.annotations?.[revisionAnnotation] &&
        a.metadata.annotations?.[attemptAnnotation] === b.metadata.annotations?.[attemptAnnotation]

      const cannot = (what: string) => (error: KubeApiError) => new AttemptFailed({ reason: `cannot ${what}: ${error.message}` })

      const deploy = (pod: Pod, triesLeft = 2): Effect.Effect<void, AttemptFailed> =>
        Effect.gen(function*() {
          const key = podKey(pod.metadata.namespace ?? "", pod.metadata.name)
          const existing = pods.get(key)
          if (existing !== undefined) {
            if (sameAttempt(existing, pod) && existing.metadata.deletionTimestamp === undefined) return
            yield* remove(existing).pipe(Effect.mapError(cannot("remove the previous pod")))
          }
          yield* kube.create("pods", pod).pipe(
            // A busy or briefly unreachable API server is not the pod's fault: try again before spending an attempt.
            Effect.retry({ schedule: Schedule.exponential("200 millis"), times: 3, while: (error) => error.retryable }),
            Effect.asVoid,
            Effect.catchIf(
              (error) => error.reason === "AlreadyExists" && triesLeft > 0,
              // The cache has not caught up with a pod of that name yet: wait for it, then decide again.
              () =>
                Effect.scoped(Effect.gen(function*() {
                  const changes = yield* changesOf(key)
                  while (pods.get(key) === undefined) yield* Queue.take(changes)
                })).pipe(Effect.andThen(deploy(pod, triesLeft - 1)))
            ),
            Effect.mapError((error) => error instanceof AttemptFailed ? error : cannot("create the pod")(error))
          )
        })

      const awaitOutcome = (namespace: string, name: string, mode: WorkloadMode, onRunning: Effect.Effect<void>) =>
        Effect.scoped(Effect.gen(function*() {
          const key = podKey(namespace, name)
          const changes = yield* changesOf(key)
          let pod = pods.get(key)
          let reportedRunning = false
          while (true) {
            if (pod !== undefined) {
              const outcome = classifyPod(pod, mode)
              if (outcome._tag === "Succeeded") return
              if (outcome._tag === "Failed") return yield* new AttemptFailed({ reason: outcome.reason })
              if (outcome.running && !reportedRunning) {
                reportedRunning = true
                yield* onRunning
              }
            }
            const change = yield* Queue.take(changes)
            if (change.type === "delete") {
              if (pod === undefined || change.object.metadata.uid === pod.metadata.uid) {
                return yield* new AttemptFailed({ reason: "the pod was deleted before it finished" })
              }
            } else {
              pod = change.object
            }
          }
        }))

      return PodDeployer.of({
        podsOf: (workloadUid) =>
          Effect.sync(() => pods.list().filter((pod) => pod.metadata.labels?.[workloadUidLabel] === workloadUid)),
        deploy: (pod) => deploy(pod),
        awaitOutcome,
        remove
      })
    })
  )
}
