import type { Pod } from "../api/core.ts"
import { podNodeName, podRetryNodes, podRevision } from "./pods.ts"
import type { RetryNodes } from "./retryNodes.ts"

/** A node's pods of this workload: of this revision, of an older one, and whether any is terminating. */
export interface NodePods {
  readonly current: Pod | undefined
  /** A pod of this node being created, not in the cache yet. */
  readonly creating: Pod | undefined
  readonly outdated: Pod | undefined
  readonly terminating: boolean
  /** Every pod of the node, in the order the workload's pods were given. */
  readonly all: ReadonlyArray<Pod>
}

export const noPods: NodePods = { current: undefined, creating: undefined, outdated: undefined, terminating: false, all: [] }

/** The workload's pods by node, for one pass. */
export interface PodsByNode {
  readonly get: (nodeName: string) => NodePods | undefined
  readonly has: (nodeName: string) => boolean
  /** Calls `f` with every node that has a pod, or a pod being created (a callback: no iterator result per node). */
  readonly forEachNodeName: (f: (nodeName: string) => void) => void
  /**
   * The nodes whose pods (not counting pods being created) differ from the
   * listing the grouping was last brought up to date with; every node, when
   * the grouping started over (a new revision or retry-nodes value).
   */
  readonly changed: ReadonlySet<string> | "all"
  /** The pods being created, by node. */
  readonly creating: ReadonlyMap<string, Pod>
}

/**
 * The grouping of a workload's pods by node, kept from one pass to the next.
 * Between two passes of a 5,000-node run only a few pods change, and the
 * pod cache lists a workload's pods in a stable order (a changed pod keeps
 * its place, a new one comes last), so a pass finds the nodes whose pods
 * changed by walking the two listings side by side, and groups again only
 * those: no map or object per node is made for the rest of the fleet.
 */
export interface PodGrouping {
  /** The listing the grouping was made from. */
  pods: ReadonlyArray<Pod>
  /** What classifying a pod depends on besides the pod: the revision and the retry-nodes value. */
  context: string
  readonly byNode: Map<string, NodePods>
}

export const makePodGrouping = (): PodGrouping => ({ pods: [], context: "", byNode: new Map() })

/** On a node named by retry-nodes, a pod made before that retry is outdated like one of an older revision. */
const answersRetry = (pod: Pod, nodeName: string, retryNodes: RetryNodes | undefined) =>
  retryNodes === undefined || !retryNodes.nodes.has(nodeName) || podRetryNodes(pod) === retryNodes.value

/** One node's pods, classified; the last pod of a kind in listing order is the one that counts. */
const classify = (all: ReadonlyArray<Pod>, nodeName: string, revision: string, retryNodes: RetryNodes | undefined): NodePods => {
  let current: Pod | undefined
  let outdated: Pod | undefined
  let terminating = false
  for (const pod of all) {
    if (pod.metadata.deletionTimestamp !== undefined) terminating = true
    else if (podRevision(pod) === revision && answersRetry(pod, nodeName, retryNodes)) current = pod
    else outdated = pod
  }
  return { current, creating: undefined, outdated, terminating, all }
}

/**
 * The nodes whose pods differ between two listings. Right for listings in
 * any order (a pod out of place only marks more nodes); marks no more than
 * the changed nodes when pods that stay keep their order and new ones come
 * after them, as the cache's index lists them.
 */
const changedNodes = (before: ReadonlyArray<Pod>, after: ReadonlyArray<Pod>) => {
  const changed = new Set<string>()
  let next = 0
  for (let index = 0; index < after.length; index++) {
    const pod = after[index]
    if (pod === undefined) continue
    // The same object in the same place, as nearly every pod of a pass is: nothing of it is read.
    if (before[next] === pod) {
      next += 1
      continue
    }
    let old = before[next]
    // A pod of the old listing that is not this one's is gone (or out of place, which costs only a regrouping).
    while (old !== undefined && old.metadata.name !== pod.metadata.name) {
      changed.add(podNodeName(old))
      old = before[++next]
    }
    if (old === undefined) changed.add(podNodeName(pod))
    else {
      next += 1
      if (old !== pod) {
        changed.add(podNodeName(old))
        changed.add(podNodeName(pod))
      }
    }
  }
  for (let index = next; index < before.length; index++) {
    const gone = before[index]
    if (gone !== undefined) changed.add(podNodeName(gone))
  }
  return changed
}

/** Regroups the nodes whose pods changed since the grouping was made (all of them when the context changed), and says which. */
const update = (grouping: PodGrouping, pods: ReadonlyArray<Pod>, revision: string, retryNodes: RetryNodes | undefined): PodsByNode["changed"] => {
  const context = `${revision}\u0000${retryNodes?.value ?? ""}`
  const startsOver = grouping.context !== context
  if (startsOver) {
    grouping.byNode.clear()
    grouping.pods = []
    grouping.context = context
  }
  const changed = changedNodes(grouping.pods, pods)
  grouping.pods = pods
  if (changed.size === 0) return startsOver ? "all" : changed
  const regrouped = new Map<string, Array<Pod>>()
  for (let index = 0; index < pods.length; index++) {
    const pod = pods[index]
    if (pod === undefined) continue
    const nodeName = podNodeName(pod)
    if (!changed.has(nodeName)) continue
    const all = regrouped.get(nodeName)
    if (all === undefined) regrouped.set(nodeName, [pod])
    else all.push(pod)
  }
  for (const nodeName of changed) {
    const all = regrouped.get(nodeName)
    if (all === undefined) grouping.byNode.delete(nodeName)
    else grouping.byNode.set(nodeName, classify(all, nodeName, revision, retryNodes))
  }
  return startsOver ? "all" : changed
}

/**
 * The workload's pods by node for this pass: the grouping brought up to date
 * with `pods`, and each pod being created (client-go's expectations) on its
 * node, which counts as having a pod.
 */
export const groupPods = (
  grouping: PodGrouping,
  pods: ReadonlyArray<Pod>,
  creating: ReadonlyArray<Pod>,
  revision: string,
  retryNodes: RetryNodes | undefined
): PodsByNode => {
  const changed = update(grouping, pods, revision, retryNodes)
  const creatingOn = new Map<string, Pod>()
  for (const pod of creating) creatingOn.set(podNodeName(pod), pod)
  const byNode = grouping.byNode
  if (creatingOn.size === 0) {
    return { get: (nodeName) => byNode.get(nodeName), has: (nodeName) => byNode.has(nodeName), forEachNodeName: (f) => byNode.forEach((_, nodeName) => f(nodeName)), changed, creating: creatingOn }
  }
  return {
    changed,
    creating: creatingOn,
    get: (nodeName) => {
      const pod = creatingOn.get(nodeName)
      const known = byNode.get(nodeName)
      return pod === undefined ? known : { ...(known ?? noPods), creating: pod }
    },
    has: (nodeName) => byNode.has(nodeName) || creatingOn.has(nodeName),
    forEachNodeName: (f) => {
      byNode.forEach((_, nodeName) => f(nodeName))
      creatingOn.forEach((_, nodeName) => {
        if (!byNode.has(nodeName)) f(nodeName)
      })
    }
  }
}
