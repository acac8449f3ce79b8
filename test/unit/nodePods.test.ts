// The pods-by-node grouping a workload keeps between passes: whatever the listings look like, it
// gives what grouping each listing from scratch gives, and it regroups only the nodes that changed.
import { assert, describe, it } from "@effect/vitest"
import type { Pod } from "../../src/api/core.ts"
import { groupPods, makePodGrouping, type PodsByNode } from "../../src/domain/nodePods.ts"
import { revisionAnnotation } from "../../src/domain/pods.ts"
import { parseRetryNodes } from "../../src/domain/retryNodes.ts"

const pod = (name: string, nodeName: string, fields: { revision?: string; deleting?: boolean; version?: number } = {}): Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name,
    namespace: "default",
    resourceVersion: String(fields.version ?? 1),
    annotations: { [revisionAnnotation]: fields.revision ?? "r1" },
    ...(fields.deleting === true ? { deletionTimestamp: "2026-12-04T00:00:00Z" } : {})
  },
  spec: { nodeName, containers: [] }
})

const nodeNamesOf = (pods: PodsByNode) => {
  const names: Array<string> = []
  pods.forEachNodeName((nodeName) => names.push(nodeName))
  return names.sort()
}

const view = (pods: PodsByNode, nodeNames: ReadonlyArray<string>) =>
  nodeNames.map((nodeName) => {
    const node = pods.get(nodeName)
    return node === undefined ? `${nodeName}: none` : [
      nodeName,
      `current=${node.current?.metadata.name ?? "-"}`,
      `outdated=${node.outdated?.metadata.name ?? "-"}`,
      `creating=${node.creating?.metadata.name ?? "-"}`,
      `terminating=${node.terminating}`,
      `all=${node.all.map((p) => `${p.metadata.name}@${p.metadata.resourceVersion}`).join(",")}`
    ].join(" ")
  })

describe("grouping a workload's pods by node", () => {
  it("classifies a node's pods: this revision, an older one, terminating, being created", () => {
    const pods = [pod("a1", "a"), pod("a0", "a", { revision: "r0" }), pod("b1", "b", { deleting: true }), pod("c0", "c", { revision: "r0" })]
    const grouped = groupPods(makePodGrouping(), pods, [pod("d1", "d")], "r1", undefined)
    assert.deepStrictEqual(view(grouped, ["a", "b", "c", "d", "e"]), [
      "a current=a1 outdated=a0 creating=- terminating=false all=a1@1,a0@1",
      "b current=- outdated=- creating=- terminating=true all=b1@1",
      "c current=- outdated=c0 creating=- terminating=false all=c0@1",
      "d current=- outdated=- creating=d1 terminating=false all=",
      "e: none"
    ])
    assert.deepStrictEqual(nodeNamesOf(grouped), ["a", "b", "c", "d"])
  })

  it("a pod made before a retry of its node is outdated there", () => {
    const retry = parseRetryNodes("t1:a")
    const grouped = groupPods(makePodGrouping(), [pod("a1", "a"), pod("b1", "b")], [], "r1", retry)
    assert.strictEqual(grouped.get("a")?.outdated?.metadata.name, "a1")
    assert.strictEqual(grouped.get("b")?.current?.metadata.name, "b1")
  })

  it("kept between listings, it gives what a fresh grouping gives, in any order, and keeps unchanged nodes' objects", () => {
    let state = 7
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31
      return state / 2 ** 31
    }
    const nodeNames = Array.from({ length: 20 }, (_, index) => `n${index}`)
    const kept = makePodGrouping()
    let listing: Array<Pod> = []
    let reusedNodes = 0
    let previousRevision = "r1"
    for (let step = 0; step < 300; step++) {
      const next = [...listing]
      const roll = random()
      const at = Math.floor(random() * (next.length + 1))
      const nodeName = nodeNames[Math.floor(random() * nodeNames.length)] ?? "n0"
      if (roll < 0.3) next.push(pod(`p${step}`, nodeName, { revision: random() < 0.8 ? "r1" : "r0" }))
      else if (roll < 0.5 && next.length > 0) next.splice(at % next.length, 1)
      else if (roll < 0.8 && next.length > 0) {
        const changed = next[at % next.length]
        if (changed !== undefined) {
          next[at % next.length] = pod(changed.metadata.name, changed.spec?.nodeName ?? "", {
            version: step,
            deleting: random() < 0.3
          })
        }
      } else if (roll < 0.9) next.reverse() // out of the cache's order: costs a regrouping, never a wrong one
      const revision = step < 150 ? "r1" : "r0"
      const before = new Map(nodeNames.map((name) => [name, kept.byNode.get(name)]))
      const viewBefore = view(groupPods(makePodGrouping(), listing, [], previousRevision, undefined), nodeNames)
      const grouped = groupPods(kept, next, [], revision, undefined)
      const fresh = groupPods(makePodGrouping(), next, [], revision, undefined)
      assert.deepStrictEqual(view(grouped, nodeNames), view(fresh, nodeNames), `step ${step}`)
      // Every node whose pods differ is named as changed: a pass judges only those again.
      const differing = nodeNames.filter((name, index) => view(grouped, [name])[0] !== viewBefore[index])
      if (grouped.changed !== "all") for (const name of differing) assert.isTrue(grouped.changed.has(name), `step ${step}: ${name}`)
      assert.deepStrictEqual(nodeNamesOf(grouped), nodeNamesOf(fresh), `step ${step}`)
      reusedNodes += nodeNames.filter((name) => before.get(name) !== undefined && before.get(name) === kept.byNode.get(name)).length
      listing = next
      previousRevision = revision
    }
    // Most nodes keep last listing's object: the grouping is reused, not merely harmless.
    assert.isAbove(reusedNodes, 1_000)
  })
})
