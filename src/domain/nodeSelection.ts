import type { BatchWorkloadSpec } from "../api/BatchWorkload.ts"
import type { Node, Taint } from "../api/core.ts"
import { describeTaint, readinessTaintKeys, tolerates } from "./nodeDecision.ts"

/** Why a node cannot take a pod now; `undefined` when it can. */
export const ineligibilityReason = (node: Node, spec: BatchWorkloadSpec): string | undefined => {
  const ready = node.status?.conditions?.find((condition) => condition.type === "Ready")
  if (ready?.status !== "True") return `node ${node.metadata.name} is not Ready${ready?.message ? `: ${ready.message}` : ""}`
  if (node.spec?.unschedulable === true && !spec.includeUnschedulableNodes) {
    return `node ${node.metadata.name} is cordoned (set includeUnschedulableNodes to use it)`
  }
  const taint = node.spec?.taints?.find((taint) => blocksPods(taint) && !tolerates(spec.tolerations ?? [], taint))
  if (taint) return `node ${node.metadata.name} has taint ${describeTaint(taint)} that the workload does not tolerate`
  return undefined
}

// PreferNoSchedule is a hint to the scheduler, which these pods bypass; the other two effects keep or evict pods.
const blocksPods = (taint: Taint) =>
  (taint.effect === "NoSchedule" || taint.effect === "NoExecute") && !readinessTaintKeys.has(taint.key)

const matchesSelector = (node: Node, selector: Readonly<Record<string, string>>) =>
  Object.entries(selector).every(([key, value]) => node.metadata.labels?.[key] === value)

/** A node the workload should run on, or a named node it cannot run on, with the reason. */
export type NodeTarget =
  | { readonly _tag: "Eligible"; readonly nodeName: string }
  | { readonly _tag: "Unavailable"; readonly nodeName: string; readonly reason: string }

export interface NodeSelection {
  readonly targets: ReadonlyArray<NodeTarget>
  /** How many nodes the spec asks for. */
  readonly desired: number
  /** Why matching nodes were passed over, for the InsufficientNodes condition. */
  readonly skipped: ReadonlyArray<string>
}

/**
 * Chooses the nodes, deterministically: explicit `nodeNames` in the order
 * given (each reported, even when it cannot be used), otherwise every node
 * matching `nodeSelector` (or every node) that is eligible, sorted by name,
 * up to `replicas`.
 */
export const selectNodes = (spec: BatchWorkloadSpec, nodes: Iterable<Node>): NodeSelection => {
  const byName = new Map<string, Node>()
  for (const node of nodes) byName.set(node.metadata.name, node)

  if (spec.nodeNames !== undefined) {
    const names = spec.nodeNames.slice(0, spec.replicas ?? spec.nodeNames.length)
    const targets = names.map((nodeName): NodeTarget => {
      const node = byName.get(nodeName)
      const reason = node === undefined ? `node ${nodeName} not found` : ineligibilityReason(node, spec)
      return reason === undefined ? { _tag: "Eligible", nodeName } : { _tag: "Unavailable", nodeName, reason }
    })
    return {
      targets,
      desired: names.length,
      skipped: targets.flatMap((target) => target._tag === "Unavailable" ? [target.reason] : [])
    }
  }

  const candidates = [...byName.values()]
    .filter((node) => matchesSelector(node, spec.nodeSelector ?? {}))
    .sort((a, b) => a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0)
  const eligible: Array<NodeTarget> = []
  const skipped: Array<string> = []
  for (const node of candidates) {
    const reason = ineligibilityReason(node, spec)
    if (reason !== undefined) skipped.push(reason)
    else if (eligible.length < (spec.replicas ?? Infinity)) eligible.push({ _tag: "Eligible", nodeName: node.metadata.name })
  }
  return { targets: eligible, desired: spec.replicas ?? eligible.length, skipped }
}
