// `kubectl bwl status` and `plan` draw pure functions of a status (or a spec and nodes): fixed inputs, exact screens.
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { BatchWorkloadSpec } from "../../../src/api/BatchWorkload.ts"
import type { BatchWorkloadObject } from "../../../src/api/core.ts"
import { planView, renderPlan } from "../../../src/cli/planView.ts"
import { renderHistory, renderList, renderStatus, runOutcome, summaryLine, viewOf } from "../../../src/cli/render.ts"
import { fakeNode } from "../support/FakeCluster.ts"

const now = Date.parse("2026-12-01T12:00:00Z")
const ago = (seconds: number) => new Date(now - seconds * 1000).toISOString()

const workload = (status: Record<string, unknown>, more: Partial<BatchWorkloadObject["metadata"]> = {}): BatchWorkloadObject => ({
  metadata: { name: "agents", namespace: "team", generation: 2, ...more },
  spec: { image: "busybox", batchSize: 2, timeout: "1m", nodeSelector: { pool: "edge" } },
  status: { observedGeneration: 2, ...status }
})

const running = workload({
  phase: "Running",
  totalNodes: 5,
  succeededNodes: 2,
  failedNodes: 1,
  runningNodes: 1,
  pendingNodes: 1,
  progress: "2/5",
  nodeStatus: [
    { nodeName: "n1", phase: "Succeeded", attempts: 1, message: "pod is Ready" },
    { nodeName: "n2", phase: "Succeeded", attempts: 1, message: "pod is Ready" },
    { nodeName: "n3", phase: "Failed", attempts: 4, message: "failed after 4 attempts: ErrImagePull" },
    { nodeName: "n4", phase: "Running", attempts: 1, message: "attempt 1 of 4: container starting", lastTransitionTime: ago(12) },
    { nodeName: "n5", phase: "Pending", attempts: 0, message: "waiting for its batch" }
  ],
  conditions: [{ type: "Progressing", status: "True", reason: "Running", message: "2 of 5 nodes done", lastTransitionTime: ago(60) }]
})

describe("status screen", () => {
  it("shows the phase, a bar per outcome, the nodes in flight against the timeout, failures and conditions", () => {
    assert.deepStrictEqual(renderStatus(viewOf(running), now, { listLimit: 20 }), [
      "team/agents: Running · LongRunning · batchSize 2 · timeout 1m0s",
      "",
      "  succeeded  ████████████░░░░░░░░░░░░░░░░░░  2/5",
      "  failed     ██████░░░░░░░░░░░░░░░░░░░░░░░░  1/5",
      "  running    ██████░░░░░░░░░░░░░░░░░░░░░░░░  1/5",
      "  pending    ██████░░░░░░░░░░░░░░░░░░░░░░░░  1/5",
      "",
      "In flight (1 of batchSize 2):",
      "  n4  Running  12s / 1m0s  attempt 1 of 4: container starting",
      "",
      "Failed (1):",
      "  n3  attempts 4  failed after 4 attempts: ErrImagePull",
      "",
      "Conditions:",
      "  Progressing  True  Running  2 of 5 nodes done"
    ])
  })

  it("a node waiting out its backoff says when it retries", () => {
    const backoff = workload({
      phase: "Running",
      totalNodes: 1,
      pendingNodes: 1,
      nodeStatus: [{ nodeName: "n1", phase: "Pending", attempts: 1, message: "attempt 1 of 4 failed", nextAttemptTime: new Date(now + 8_000).toISOString() }]
    })
    assert.include(renderStatus(viewOf(backoff), now, { listLimit: 20 }), "  n1  Pending  retry in 8s  attempt 1 of 4 failed")
  })

  it("lists at most listLimit failed nodes and counts the rest", () => {
    const nodeStatus = Array.from({ length: 5 }, (_, i) => ({ nodeName: `n${i}`, phase: "Failed", attempts: 1, message: "boom" }))
    const lines = renderStatus(viewOf(workload({ phase: "Failed", totalNodes: 5, failedNodes: 5, nodeStatus })), now, { listLimit: 2 })
    assert.include(lines, "  … and 3 more (-o json lists every node)")
    assert.strictEqual(lines.filter((line) => line.includes("boom")).length, 2)
  })

  it("one plain line per state for a log, naming the nodes in flight", () => {
    assert.strictEqual(summaryLine(viewOf(running)), "team/agents Running succeeded 2/5 failed 1 running 1 pending 1 in-flight [n4]")
  })

  it("a list row per workload", () => {
    assert.deepStrictEqual(renderList([viewOf(running)]), [
      "NAMESPACE  NAME    PHASE    PROGRESS  FAILED  IN FLIGHT",
      "team       agents  Running  2/5       1       1"
    ])
  })
})

describe("when --watch ends", () => {
  it("0 for Succeeded, 1 for Failed or Degraded, and keeps watching otherwise", () => {
    assert.strictEqual(runOutcome(viewOf(workload({ phase: "Succeeded" }))), "Succeeded")
    assert.strictEqual(runOutcome(viewOf(workload({ phase: "Failed" }))), "Failed")
    assert.strictEqual(runOutcome(viewOf(workload({ phase: "Degraded" }))), "Failed")
    assert.strictEqual(runOutcome(viewOf(workload({ phase: "Paused" }))), undefined)
    assert.strictEqual(runOutcome(viewOf(running)), undefined)
  })

  it("never on a status the operator wrote for an older spec or before the latest retry", () => {
    assert.strictEqual(runOutcome(viewOf(workload({ phase: "Succeeded", observedGeneration: 1 }))), undefined)
    const retried = workload({ phase: "Succeeded", handledRetry: "1" }, { annotations: { "batch.example.com/retry": "2" } })
    assert.strictEqual(runOutcome(viewOf(retried)), undefined)
  })
})

describe("plan screen", () => {
  const spec = (fields: Record<string, unknown>) => Schema.decodeUnknownSync(BatchWorkloadSpec)({ image: "busybox", ...fields })
  const edge = { pool: "edge" }
  const nodes = [
    fakeNode("a", { labels: edge }),
    fakeNode("b", { labels: edge }),
    fakeNode("c", { labels: edge }),
    fakeNode("d", { labels: edge, ready: false }),
    fakeNode("e", { labels: edge, unschedulable: true }),
    fakeNode("f", { labels: edge, taints: [{ key: "gpu", effect: "NoSchedule" }] }),
    fakeNode("g", { labels: {} }),
    fakeNode("h", { labels: edge })
  ]

  it("the nodes in order and in batches, and every node left out with its reason", () => {
    const view = planView(spec({ nodeSelector: edge, replicas: 3, batchSize: 2 }), nodes)
    assert.deepStrictEqual(view.batches, [["a", "b"], ["c"]])
    assert.deepStrictEqual(view.excluded.map((e) => `${e.node}:${e.reason}`), [
      "d:NotReady",
      "e:cordoned",
      "f:taint not tolerated",
      "g:label mismatch",
      "h:beyond replicas"
    ])
    assert.deepStrictEqual(renderPlan("Plan for agents", view).slice(0, 3), [
      "Plan for agents: 3 of 3 nodes wanted, 2 at a time",
      "  batch 1: a, b",
      "  batch 2: c"
    ])
  })

  it("named nodes keep their order; a missing one is reported, not dropped", () => {
    const view = planView(spec({ nodeNames: ["c", "zz", "a", "b"], replicas: 3 }), nodes)
    assert.deepStrictEqual(view.batches, [["c"], ["a"]])
    assert.deepStrictEqual(view.excluded.map((e) => `${e.node}:${e.reason}`), ["zz:missing named node", "b:beyond replicas"])
  })

  it("nodes that already hold the workload's pod keep their place under replicas, as in the operator", () => {
    const view = planView(spec({ nodeSelector: edge, replicas: 1 }), nodes, new Set(["h"]))
    assert.deepStrictEqual(view.batches, [["h"]])
  })
})

describe("kubectl bwl history", () => {
  it("lists a scheduled workload's runs newest first, with outcome, trigger and counts, and the next tick", () => {
    const scheduled = viewOf(workload({
      phase: "Succeeded",
      executionId: "20261201-120000",
      nextScheduleTime: "2026-12-02T12:00:00Z",
      runHistory: [
        {
          executionId: "20261201-120000",
          trigger: "Schedule",
          startTime: ago(600),
          completionTime: ago(300),
          outcome: "Succeeded",
          totalNodes: 5,
          succeededNodes: 5,
          failedNodes: 0
        },
        { executionId: "manual-ab12c", trigger: "Manual", startTime: ago(90_000), outcome: "Replaced", totalNodes: 5, succeededNodes: 2, failedNodes: 1 }
      ]
    }))
    assert.deepStrictEqual(renderHistory(scheduled), [
      "batchworkload team/agents: 2 runs, newest first, next run at 2026-12-02T12:00:00Z",
      `20261201-120000  Succeeded  Schedule   started ${ago(600)}  finished ${ago(300)}  5/5 succeeded, 0 failed`,
      `manual-ab12c  Replaced   Manual     started ${ago(90_000)}  finished -  2/5 succeeded, 1 failed`
    ])
  })

  it("says so when there is no history, and shows the current run", () => {
    const lines = renderHistory(viewOf(running))
    assert.include(lines[0], "this workload has no run history")
    assert.include(lines[1], "current run: Running")
    assert.include(lines[1], "2/5 nodes succeeded")
  })
})
