import { Context, Effect, Layer } from "effect"
import type { BatchWorkloadObject, Node, Pod } from "../api/core.ts"
import { managedByLabel, managerName, workloadUidLabel } from "../domain/pods.ts"
import { sameNodeContent, trimNode, trimPod, trimWorkload } from "../domain/trim.ts"
import { type Informer, makeInformer } from "../kube/Informer.ts"

/** Which namespaces the operator serves; `undefined` means all of them. */
export const WatchNamespace = Context.Reference<string | undefined>("batch-workload-operator/WatchNamespace", {
  defaultValue: () => undefined
})

/**
 * The operator's view of the cluster: workloads, nodes, and the pods it manages,
 * each kept current by one watch and trimmed to what the operator reads.
 * Everything reads from here instead of asking the API server, so a
 * 1,000-node run costs no per-pod polling and no LIST after start-up.
 */
export class Caches extends Context.Service<Caches, {
  readonly workloads: Informer<BatchWorkloadObject>
  readonly nodes: Informer<Node>
  /** Indexed by the workload-uid label: `pods.indexed(uid)` is one workload's pods. */
  readonly pods: Informer<Pod>
  readonly synced: Effect.Effect<void>
  /** Why an informer stopped for good, if one did. */
  readonly failure: () => string | undefined
}>()("batch-workload-operator/Caches") {
  static readonly layer = Layer.effect(
    Caches,
    Effect.gen(function*() {
      const namespace = yield* WatchNamespace
      const workloads = yield* makeInformer("batchworkloads", { namespace, transform: trimWorkload })
      const nodes = yield* makeInformer("nodes", { transform: trimNode, sameContent: sameNodeContent })
      const pods = yield* makeInformer("pods", {
        namespace,
        labelSelector: `${managedByLabel}=${managerName}`,
        transform: trimPod,
        indexBy: (pod) => pod.metadata.labels?.[workloadUidLabel]
      })
      return Caches.of({
        workloads,
        nodes,
        pods,
        synced: Effect.all([workloads.synced, nodes.synced, pods.synced], { discard: true }),
        failure: () => workloads.failure() ?? nodes.failure() ?? pods.failure()
      })
    })
  )
}
