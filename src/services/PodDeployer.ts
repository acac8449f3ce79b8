import { Context, Effect, Layer, Schedule } from "effect"
import type { Pod } from "../api/core.ts"
import { workloadUidLabel } from "../domain/pods.ts"
import { KubeApiError, KubeClient } from "../kube/KubeClient.ts"
import { Caches } from "./Caches.ts"

const podKey = (namespace: string, name: string) => `${namespace}/${name}`

/** How long a create or delete may take to show in the pod cache before the reconcile gives up and is retried. */
const observeTimeoutMillis = 30_000

const notObserved = (what: string, pod: Pod) =>
  new KubeApiError({ reason: "Unavailable", message: `the pod cache did not see ${what} ${pod.metadata.name} within 30s` })

/**
 * Creates and deletes the workload's pods. Each call returns only once the
 * pod cache has seen its effect (client-go's "expectations", done by
 * waiting), so the next plan never mistakes its own write for a missing pod
 * and never starts more than `batchSize` nodes.
 */
export class PodDeployer extends Context.Service<PodDeployer, {
  readonly podsOf: (workloadUid: string) => Effect.Effect<ReadonlyArray<Pod>>
  /** Whether `name` in `namespace` is free for this workload: absent, or already one of its own pods. */
  readonly nameIsFree: (namespace: string, name: string, workloadUid: string) => boolean
  /** Creates the pod; if its name is taken by a pod that is not the workload's, creates it as `fallbackName`. */
  readonly create: (pod: Pod, fallbackName: string) => Effect.Effect<void, KubeApiError>
  /** Deletes exactly this pod (by uid, so never another workload's pod of the same name). */
  readonly remove: (pod: Pod) => Effect.Effect<void, KubeApiError>
}>()("batch-workload-operator/PodDeployer") {
  static readonly layer = Layer.effect(
    PodDeployer,
    Effect.gen(function*() {
      const kube = yield* KubeClient
      const { pods } = yield* Caches

      const ownerOf = (pod: Pod | undefined) => pod?.metadata.labels?.[workloadUidLabel]

      const createOnce = (pod: Pod) =>
        kube.create("pods", pod).pipe(
          // A busy or briefly unreachable API server is not the pod's fault: try again before failing the reconcile.
          Effect.retry({ schedule: Schedule.exponential("200 millis"), times: 3, while: (error) => error.retryable })
        )

      const awaitSeen = (pod: Pod) =>
        Effect.gen(function*() {
          const key = podKey(pod.metadata.namespace ?? "", pod.metadata.name)
          const uid = ownerOf(pod)
          const seen = yield* pods.awaitObject(key, (cached) => cached !== undefined && ownerOf(cached) === uid, observeTimeoutMillis)
          if (!seen) return yield* notObserved("the new pod", pod)
        })

      /** AlreadyExists is either our own pod the cache has not shown yet, or another's pod holding the name. */
      const create = (pod: Pod, fallbackName: string) =>
        Effect.gen(function*() {
          const first = yield* Effect.result(createOnce(pod))
          if (first._tag === "Success") return yield* awaitSeen(first.success)
          if (first.failure.reason !== "AlreadyExists") return yield* first.failure
          const key = podKey(pod.metadata.namespace ?? "", pod.metadata.name)
          yield* pods.awaitObject(key, (cached) => cached !== undefined, 2_000)
          if (ownerOf(pods.get(key)) === ownerOf(pod) || pod.metadata.name === fallbackName) return
          const renamed: Pod = { ...pod, metadata: { ...pod.metadata, name: fallbackName } }
          yield* createOnce(renamed).pipe(Effect.catchIf((error) => error.reason === "AlreadyExists", () => Effect.void))
          yield* awaitSeen(renamed)
        })

      const remove = (pod: Pod) =>
        Effect.gen(function*() {
          const namespace = pod.metadata.namespace ?? ""
          const uid = pod.metadata.uid
          yield* kube.remove("pods", namespace, pod.metadata.name, { uid }).pipe(
            // Already gone, or the name now belongs to another pod (uid precondition): nothing of ours to delete.
            Effect.catchIf((error) => error.reason === "NotFound" || error.reason === "Conflict", () => Effect.void)
          )
          const seen = yield* pods.awaitObject(
            podKey(namespace, pod.metadata.name),
            (cached) => cached === undefined || cached.metadata.uid !== uid || cached.metadata.deletionTimestamp !== undefined,
            observeTimeoutMillis
          )
          if (!seen) return yield* notObserved("the deletion of", pod)
        })

      return PodDeployer.of({
        podsOf: (workloadUid) => Effect.sync(() => pods.indexed(workloadUid)),
        nameIsFree: (namespace, name, workloadUid) => {
          const existing = pods.get(podKey(namespace, name))
          return existing === undefined || ownerOf(existing) === workloadUid
        },
        create,
        remove
      })
    })
  )
}
