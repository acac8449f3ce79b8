import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { BatchWorkloadSpec } from "../../src/api/BatchWorkload.ts"
import { selectNodes } from "../../src/domain/nodeSelection.ts"
import { fakeNode } from "./support/FakeCluster.ts"

const spec = (fields: Record<string, unknown>) => Schema.decodeUnknownSync(BatchWorkloadSpec)({ image: "busybox", ...fields })
const names = (selection: ReturnType<typeof selectNodes>) => selection.targets.map((t) => `${t.nodeName}:${t._tag}`)

describe("node selection", () => {
  const edge = { region: "us-west", type: "edge" }
  const nodes = [
    fakeNode("c", { labels: edge }),
    fakeNode("a", { labels: edge }),
    fakeNode("b", { labels: { region: "us-west" } }),
    fakeNode("d", { labels: edge, ready: false }),
    fakeNode("e", { labels: edge, unschedulable: true }),
    fakeNode("f", { labels: edge, taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] }),
    fakeNode("g", { labels: edge, taints: [{ key: "soft", effect: "PreferNoSchedule" }] })
  ]

  it("keeps nodes whose labels all match, sorted by name, skipping unready, cordoned and tainted ones", () => {
    const selection = selectNodes(spec({ nodeSelector: edge }), nodes)
    assert.deepStrictEqual(names(selection), ["a:Eligible", "c:Eligible", "g:Eligible"])
    assert.strictEqual(selection.skipped.length, 3)
    assert.match(selection.skipped.join("\n"), /node d is not Ready/)
    assert.match(selection.skipped.join("\n"), /node e is cordoned/)
    assert.match(selection.skipped.join("\n"), /node f has taint dedicated=gpu:NoSchedule/)
  })

  it("takes at most replicas nodes, and reports how many were asked for", () => {
    const selection = selectNodes(spec({ nodeSelector: edge, replicas: 2 }), nodes)
    assert.deepStrictEqual(names(selection), ["a:Eligible", "c:Eligible"])
    assert.strictEqual(selection.desired, 2)
    const many = selectNodes(spec({ nodeSelector: edge, replicas: 10 }), nodes)
    assert.strictEqual(many.targets.length, 3)
    assert.strictEqual(many.desired, 10)
  })

  it("judges readiness by the Ready condition, not by a lagging not-ready taint", () => {
    const justReady = fakeNode("h", { taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoSchedule" }] })
    assert.deepStrictEqual(names(selectNodes(spec({ nodeNames: ["h"] }), [justReady])), ["h:Eligible"])
  })

  it("uses every eligible node without a selector", () => {
    assert.deepStrictEqual(names(selectNodes(spec({}), nodes)), ["a:Eligible", "b:Eligible", "c:Eligible", "g:Eligible"])
  })

  it("includes cordoned nodes and tolerated taints when the spec says so", () => {
    const selection = selectNodes(
      spec({
        nodeSelector: edge,
        includeUnschedulableNodes: true,
        tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }]
      }),
      nodes
    )
    assert.deepStrictEqual(names(selection), ["a:Eligible", "c:Eligible", "e:Eligible", "f:Eligible", "g:Eligible"])
  })

  it("nodeNames win over nodeSelector, keep their order, and report missing or unready nodes", () => {
    const selection = selectNodes(spec({ nodeSelector: { region: "nowhere" }, nodeNames: ["c", "missing", "d", "a"], replicas: 3 }), nodes)
    assert.deepStrictEqual(names(selection), ["c:Eligible", "missing:Unavailable", "d:Unavailable"])
    const reasons = selection.targets.flatMap((t) => t._tag === "Unavailable" ? [t.reason] : [])
    assert.deepStrictEqual(reasons, ["node missing not found", "node d is not Ready"])
  })
})
