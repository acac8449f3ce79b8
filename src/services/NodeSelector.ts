import { Context, Effect, Layer, type PubSub, type Scope } from "effect"
import type { BatchWorkloadSpec } from "../api/BatchWorkload.ts"
import type { Node } from "../api/core.ts"
import { type NodeSelection, selectNodes } from "../domain/nodeSelection.ts"
import type { Change } from "../kube/Informer.ts"
import { Caches } from "./Caches.ts"

/** Picks the nodes a workload runs on, from the node cache. */
export class NodeSelector extends Context.Service<NodeSelector, {
  readonly select: (spec: BatchWorkloadSpec) => Effect.Effect<NodeSelection>
  /** Node changes from now on, for workloads that follow nodes coming and going. */
  readonly changes: Effect.Effect<PubSub.Subscription<Change<Node>>, never, Scope.Scope>
}>()("batch-workload-operator/NodeSelector") {
  static readonly layer = Layer.effect(
    NodeSelector,
    Effect.gen(function*() {
      const { nodes } = yield* Caches
      return NodeSelector.of({
        select: (spec) => Effect.sync(() => selectNodes(spec, nodes.list())),
        changes: nodes.subscribe
      })
    })
  )
}

