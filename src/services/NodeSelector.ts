import { Context, Effect, Layer } from "effect"
import type { Node } from "../api/core.ts"
import { Caches } from "./Caches.ts"

/** The nodes workloads choose from, from the node cache; `domain/nodeDecision.ts` judges each. */
export class NodeSelector extends Context.Service<NodeSelector, {
  /** Every node the cache holds, by name (a live view, not a copy). */
  readonly nodes: Effect.Effect<ReadonlyMap<string, Node>>
  /** Their names in order, kept by the cache until a node comes or goes. */
  readonly names: Effect.Effect<ReadonlyArray<string>>
  /** Counts the node cache's changes: the same count means the same nodes, so a plan may keep its node choice. */
  readonly version: Effect.Effect<number>
}>()("batch-workload-operator/NodeSelector") {
  static readonly layer = Layer.effect(
    NodeSelector,
    Effect.gen(function*() {
      const { nodes } = yield* Caches
      return NodeSelector.of({
        nodes: Effect.sync(() => nodes.store),
        names: Effect.sync(() => nodes.sortedKeys()),
        version: Effect.sync(() => nodes.version())
      })
    })
  )
}
