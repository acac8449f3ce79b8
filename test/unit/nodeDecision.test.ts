// The node decision, case by case, in the manner of the DaemonSet controller's
// TestNodeShouldRunDaemonPod: each row is a node, a spec, and the two answers.
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { BatchWorkloadSpec } from "../../src/api/BatchWorkload.ts"
import type { Node } from "../../src/api/core.ts"
import { nodeShouldRun } from "../../src/domain/nodeDecision.ts"
import { fakeNode } from "./support/FakeCluster.ts"

const spec = (fields: Record<string, unknown> = {}) => Schema.decodeUnknownSync(BatchWorkloadSpec)({ image: "busybox", ...fields })

interface Row {
  readonly name: string
  readonly node: Node | undefined
  readonly spec?: Record<string, unknown>
  readonly shouldStart: boolean
  readonly shouldContinueRunning: boolean
  readonly departed?: boolean
  readonly reason?: RegExp
}

const unschedulableTaint = { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }
const notReadyNoExecute = { key: "node.kubernetes.io/not-ready", effect: "NoExecute" }
const unreachableNoExecute = { key: "node.kubernetes.io/unreachable", effect: "NoExecute" }
const diskPressure = { key: "node.kubernetes.io/disk-pressure", effect: "NoSchedule" }
const gpu = { key: "dedicated", value: "gpu", effect: "NoSchedule" }
const drain = { key: "maintenance", effect: "NoExecute" }

const rows: ReadonlyArray<Row> = [
  { name: "a Ready, untainted node runs", node: fakeNode("n"), shouldStart: true, shouldContinueRunning: true },
  {
    name: "a deleted node neither starts nor keeps its pod",
    node: undefined,
    shouldStart: false,
    shouldContinueRunning: false,
    departed: true,
    reason: /node n was deleted/
  },
  {
    name: "a node being deleted is treated as gone",
    node: { ...fakeNode("n"), metadata: { name: "n", deletionTimestamp: "2026-01-01T00:00:00Z" } },
    shouldStart: false,
    shouldContinueRunning: false,
    departed: true
  },
  {
    name: "a node whose labels no longer match loses its pod",
    node: fakeNode("n", { labels: { pool: "b" } }),
    spec: { nodeSelector: { pool: "a" } },
    shouldStart: false,
    shouldContinueRunning: false,
    departed: true,
    reason: /no longer matches the workload's nodeSelector/
  },
  {
    name: "a node dropped from nodeNames loses its pod",
    node: fakeNode("n"),
    spec: { nodeNames: ["m"] },
    shouldStart: false,
    shouldContinueRunning: false,
    departed: true,
    reason: /nodeNames/
  },
  {
    name: "a named node beyond replicas is not chosen",
    node: fakeNode("n"),
    spec: { nodeNames: ["m", "n"], replicas: 1 },
    shouldStart: false,
    shouldContinueRunning: false,
    departed: true
  },
  {
    name: "NotReady: no new attempt, the running pod stays",
    node: fakeNode("n", { ready: false }),
    shouldStart: false,
    shouldContinueRunning: true,
    reason: /node n is not Ready/
  },
  {
    name: "NotReady with the lifecycle controller's NoExecute taints: the pod stays",
    node: fakeNode("n", { ready: false, taints: [notReadyNoExecute, unreachableNoExecute] }),
    shouldStart: false,
    shouldContinueRunning: true
  },
  {
    name: "a lagging not-ready taint on a Ready node is not held against it",
    node: fakeNode("n", { taints: [notReadyNoExecute] }),
    shouldStart: true,
    shouldContinueRunning: true
  },
  {
    name: "cordoned by spec.unschedulable: no new attempt, the pod stays",
    node: fakeNode("n", { unschedulable: true }),
    shouldStart: false,
    shouldContinueRunning: true,
    reason: /cordoned/
  },
  {
    name: "cordoned by the unschedulable taint alone: no new attempt",
    node: fakeNode("n", { taints: [unschedulableTaint] }),
    shouldStart: false,
    shouldContinueRunning: true,
    reason: /cordoned/
  },
  {
    name: "includeUnschedulableNodes covers spec.unschedulable",
    node: fakeNode("n", { unschedulable: true, taints: [unschedulableTaint] }),
    spec: { includeUnschedulableNodes: true },
    shouldStart: true,
    shouldContinueRunning: true
  },
  {
    name: "includeUnschedulableNodes covers the unschedulable taint",
    node: fakeNode("n", { taints: [unschedulableTaint] }),
    spec: { includeUnschedulableNodes: true },
    shouldStart: true,
    shouldContinueRunning: true
  },
  {
    name: "a disk-pressure NoSchedule taint: no new attempt, the pod stays",
    node: fakeNode("n", { taints: [diskPressure] }),
    shouldStart: false,
    shouldContinueRunning: true,
    reason: /disk-pressure:NoSchedule/
  },
  {
    name: "an untolerated NoSchedule taint: no new attempt",
    node: fakeNode("n", { taints: [gpu] }),
    shouldStart: false,
    shouldContinueRunning: true,
    reason: /dedicated=gpu:NoSchedule/
  },
  {
    name: "a tolerated NoSchedule taint (Equal)",
    node: fakeNode("n", { taints: [gpu] }),
    spec: { tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }] },
    shouldStart: true,
    shouldContinueRunning: true
  },
  {
    name: "a toleration with another value does not tolerate",
    node: fakeNode("n", { taints: [gpu] }),
    spec: { tolerations: [{ key: "dedicated", operator: "Equal", value: "tpu" }] },
    shouldStart: false,
    shouldContinueRunning: true
  },
  {
    name: "an empty key with Exists tolerates everything",
    node: fakeNode("n", { taints: [gpu, drain] }),
    spec: { tolerations: [{ operator: "Exists" }] },
    shouldStart: true,
    shouldContinueRunning: true
  },
  {
    name: "an untolerated NoExecute taint evicts the running pod",
    node: fakeNode("n", { taints: [drain] }),
    shouldStart: false,
    shouldContinueRunning: false,
    departed: false,
    reason: /maintenance:NoExecute/
  },
  {
    name: "a NoSchedule toleration does not cover a NoExecute taint",
    node: fakeNode("n", { taints: [drain] }),
    spec: { tolerations: [{ key: "maintenance", operator: "Exists", effect: "NoSchedule" }] },
    shouldStart: false,
    shouldContinueRunning: false
  },
  {
    name: "a PreferNoSchedule taint is only a hint",
    node: fakeNode("n", { taints: [{ key: "soft", effect: "PreferNoSchedule" }] }),
    shouldStart: true,
    shouldContinueRunning: true
  }
]

describe("nodeShouldRun", () => {
  for (const row of rows) {
    it(row.name, () => {
      const decision = nodeShouldRun("n", row.node, spec(row.spec))
      assert.strictEqual(decision.shouldStart, row.shouldStart, "shouldStart")
      assert.strictEqual(decision.shouldContinueRunning, row.shouldContinueRunning, "shouldContinueRunning")
      assert.strictEqual(decision.departed, row.departed ?? false, "departed")
      if (row.reason !== undefined) assert.match(decision.reason ?? "", row.reason)
      if (row.shouldStart) assert.isUndefined(decision.reason)
    })
  }

  it("decides again for the same node object when the spec's rules change (decisions are remembered per node)", () => {
    const node = fakeNode("n", { labels: { zone: "a" }, taints: [gpu] })
    assert.isTrue(nodeShouldRun("n", node, spec({ nodeSelector: { zone: "a" }, tolerations: [{ key: "dedicated", operator: "Exists" }] })).shouldStart)
    assert.isTrue(nodeShouldRun("n", node, spec({ nodeSelector: { zone: "b" } })).departed, "another selector")
    assert.match(nodeShouldRun("n", node, spec({ nodeSelector: { zone: "a" } })).reason ?? "", /taint dedicated=gpu:NoSchedule/, "no toleration")
    assert.isTrue(nodeShouldRun("n", node, spec({ nodeNames: ["m", "n"], replicas: 1 })).departed, "beyond replicas of nodeNames")
  })
})

