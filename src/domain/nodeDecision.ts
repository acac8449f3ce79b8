import type { BatchWorkloadSpec, Toleration } from "../api/BatchWorkload.ts"
import type { Node, Taint } from "../api/core.ts"
import { podTolerations } from "./pods.ts"

/**
 * The two questions the DaemonSet controller asks of every node
 * (`NodeShouldRunDaemonPod`): may a new attempt start here, and may a pod
 * that is already here keep running. They differ on purpose: a node that is
 * NotReady, cordoned or tainted NoSchedule gets no new pod, but the pod it
 * has is left alone; only a deleted or deselected node, or an untolerated
 * NoExecute taint, takes a running pod away.
 */
export interface NodeDecision {
  readonly shouldStart: boolean
  readonly shouldContinueRunning: boolean
  /** Why not (the first reason that applies), for the node's status. */
  readonly reason?: string
  /** The same reason as a kind, for callers that group or explain exclusions (`kubectl bwl plan`). */
  readonly exclusion?: NodeExclusion
  /** The node is gone or no longer chosen by the spec: its attempt is cancelled rather than failed. */
  readonly departed: boolean
}

/**
 * Why a node is left out of a run. `NotFound`: it does not exist (a missing
 * named node, or one deleted); `NotSelected`: its labels do not match the
 * nodeSelector (or it is not among the nodeNames); `BeyondReplicas`: eligible,
 * but `replicas` nodes were already chosen (decided by the plan, not here).
 */
export type NodeExclusion = "NotFound" | "Deleting" | "NotSelected" | "NotReady" | "Cordoned" | "Tainted" | "BeyondReplicas"

const run: NodeDecision = { shouldStart: true, shouldContinueRunning: true, departed: false }
const holdNew = (exclusion: NodeExclusion, reason: string): NodeDecision => ({
  shouldStart: false,
  shouldContinueRunning: true,
  reason,
  exclusion,
  departed: false
})
const evict = (reason: string): NodeDecision => ({ shouldStart: false, shouldContinueRunning: false, reason, exclusion: "Tainted", departed: false })
const departed = (exclusion: NodeExclusion, reason: string): NodeDecision => ({
  shouldStart: false,
  shouldContinueRunning: false,
  reason,
  exclusion,
  departed: true
})

export const unschedulableTaintKey = "node.kubernetes.io/unschedulable"

/**
 * The node lifecycle controller's readiness taints repeat the Ready
 * condition, which is judged directly; they lag behind it, and the pods
 * tolerate them (as DaemonSet pods do), so a NotReady blip never evicts.
 */
export const readinessTaintKeys: ReadonlySet<string> = new Set(["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"])

export const describeTaint = (taint: Taint) => `${taint.key}${taint.value ? `=${taint.value}` : ""}:${taint.effect}`

/** The scheduler's toleration matching rules (k8s.io/api/core/v1 Toleration.ToleratesTaint). */
export const tolerates = (tolerations: ReadonlyArray<Toleration>, taint: Taint) =>
  tolerations.some((toleration) => {
    if (toleration.effect !== undefined && toleration.effect !== taint.effect) return false
    if (toleration.key === undefined || toleration.key === "") return toleration.operator === "Exists"
    if (toleration.key !== taint.key) return false
    return toleration.operator === "Exists" || (toleration.value ?? "") === (taint.value ?? "")
  })

/** What of the spec a node decision reads, prepared once per plan rather than once per node. */
interface NodeRules {
  /** With nodeNames: the names within replicas. */
  readonly named: ReadonlySet<string> | undefined
  readonly selector: ReadonlyArray<readonly [string, string]>
  readonly tolerations: ReadonlyArray<Toleration>
  readonly includeUnschedulableNodes: boolean
  /** The rules as one comparable value, to tell whether a remembered decision still holds. */
  readonly key: string
}

const rulesOf = (spec: BatchWorkloadSpec): NodeRules => {
  const named = spec.nodeNames?.slice(0, spec.replicas ?? spec.nodeNames.length)
  const selector = Object.entries(spec.nodeSelector ?? {})
  const tolerations = podTolerations(spec)
  const includeUnschedulableNodes = spec.includeUnschedulableNodes === true
  return {
    named: named !== undefined ? new Set(named) : undefined,
    selector,
    tolerations,
    includeUnschedulableNodes,
    key: JSON.stringify([named, selector, tolerations, includeUnschedulableNodes])
  }
}

/** Whether the spec picks this node at all: by name, else by labels (no selector: every node). */
const isSelected = (node: Node, rules: NodeRules) =>
  rules.named !== undefined
    ? rules.named.has(node.metadata.name)
    : rules.selector.every(([key, value]) => node.metadata.labels?.[key] === value)

const isCordoned = (node: Node) =>
  node.spec?.unschedulable === true || (node.spec?.taints ?? []).some((taint) => taint.key === unschedulableTaintKey)

const untolerated = (node: Node, rules: NodeRules, effect: string) =>
  (node.spec?.taints ?? []).find((taint) =>
    taint.effect === effect && !readinessTaintKeys.has(taint.key) && taint.key !== unschedulableTaintKey &&
    !tolerates(rules.tolerations, taint)
  )

const decide = (nodeName: string, node: Node, rules: NodeRules): NodeDecision => {
  if (node.metadata.deletionTimestamp !== undefined) return departed("Deleting", `node ${nodeName} is being deleted`)
  if (!isSelected(node, rules)) {
    return departed("NotSelected", `node ${nodeName} no longer matches the workload's ${rules.named !== undefined ? "nodeNames" : "nodeSelector"}`)
  }
  const noExecute = untolerated(node, rules, "NoExecute")
  if (noExecute !== undefined) {
    return evict(`node ${nodeName} has taint ${describeTaint(noExecute)} that the workload does not tolerate`)
  }
  const ready = node.status?.conditions?.find((condition) => condition.type === "Ready")
  if (ready?.status !== "True") return holdNew("NotReady", `node ${nodeName} is not Ready${ready?.message ? `: ${ready.message}` : ""}`)
  if (isCordoned(node) && !rules.includeUnschedulableNodes) {
    return holdNew("Cordoned", `node ${nodeName} is cordoned (set includeUnschedulableNodes to use it)`)
  }
  const noSchedule = untolerated(node, rules, "NoSchedule")
  if (noSchedule !== undefined) {
    return holdNew("Tainted", `node ${nodeName} has taint ${describeTaint(noSchedule)} that the workload does not tolerate`)
  }
  return run
}

/**
 * Decisions remembered per node object. The caches replace a node's object
 * whenever it changes, so a decision is taken again only for a node that
 * changed, or for a spec whose rules changed: a 5,000-node plan does not
 * re-match 5,000 label sets on every pass. Pure all the same: the same node
 * and rules always give the same decision.
 */
const remembered = new WeakMap<Node, { readonly key: string; readonly decision: NodeDecision }>()

/** `nodeShouldRun` for one spec: its rules prepared once, for the many nodes of one plan. */
export const nodeDecider = (spec: BatchWorkloadSpec) => {
  const rules = rulesOf(spec)
  return (nodeName: string, node: Node | undefined): NodeDecision => {
    if (node === undefined) return departed("NotFound", `node ${nodeName} was deleted`)
    const known = remembered.get(node)
    if (known !== undefined && known.key === rules.key) return known.decision
    const decision = decide(nodeName, node, rules)
    remembered.set(node, { key: rules.key, decision })
    return decision
  }
}

/** Answers both questions for one node; `undefined` means the node does not exist (any more). */
export const nodeShouldRun = (nodeName: string, node: Node | undefined, spec: BatchWorkloadSpec): NodeDecision =>
  nodeDecider(spec)(nodeName, node)
