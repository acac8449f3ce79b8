import type { BatchWorkloadSpec } from "../api/BatchWorkload.ts"
import type { Node } from "../api/core.ts"
import type { NodeExclusion } from "../domain/nodeDecision.ts"
import { chooseNodes } from "../domain/plan.ts"

/** What `kubectl bwl plan` reports: the operator's own node choice (`chooseNodes`), cut into batches. */
export interface PlanView {
  readonly batchSize: number
  readonly desired: number
  /** The nodes in the order the run takes them, `batchSize` at a time. */
  readonly batches: ReadonlyArray<ReadonlyArray<string>>
  readonly excluded: ReadonlyArray<{ readonly node: string; readonly reason: string; readonly message: string }>
}

/** The words a person reads for each exclusion kind. */
export const exclusionLabels: Record<NodeExclusion, string> = {
  NotFound: "missing named node",
  Deleting: "being deleted",
  NotSelected: "label mismatch",
  NotReady: "NotReady",
  Cordoned: "cordoned",
  Tainted: "taint not tolerated",
  BeyondReplicas: "beyond replicas"
}

const inBatches = (names: ReadonlyArray<string>, size: number) =>
  Array.from({ length: Math.ceil(names.length / size) }, (_, i) => names.slice(i * size, (i + 1) * size))

/**
 * The plan for a run of `spec` on these nodes. `hasPod` names nodes already
 * holding the workload's pod, which keep their place under `replicas` as
 * they do in the operator.
 */
export const planView = (spec: BatchWorkloadSpec, nodes: ReadonlyArray<Node>, hasPod: ReadonlySet<string> = new Set()): PlanView => {
  const choice = chooseNodes(spec, new Map(nodes.map((node) => [node.metadata.name, node])), (name) => hasPod.has(name))
  return {
    batchSize: spec.batchSize,
    desired: choice.desired,
    batches: inBatches(choice.chosen.map((c) => c.nodeName), spec.batchSize),
    excluded: choice.excluded.map((e) => ({ node: e.nodeName, reason: exclusionLabels[e.exclusion], message: e.reason }))
  }
}

export const renderPlan = (title: string, plan: PlanView): ReadonlyArray<string> => {
  const count = plan.batches.reduce((sum, batch) => sum + batch.length, 0)
  const lines = [`${title}: ${count} of ${plan.desired} nodes wanted, ${plan.batchSize} at a time`]
  if (count === 0) lines.push("  no node would run")
  plan.batches.forEach((batch, i) => lines.push(`  batch ${i + 1}: ${batch.join(", ")}`))
  if (plan.excluded.length > 0) {
    lines.push("", `Left out (${plan.excluded.length}):`)
    const width = Math.max(...plan.excluded.map((e) => e.node.length))
    const reasonWidth = Math.max(...plan.excluded.map((e) => e.reason.length))
    for (const e of plan.excluded) lines.push(`  ${e.node.padEnd(width)}  ${e.reason.padEnd(reasonWidth)}  ${e.message}`)
  }
  return lines
}
