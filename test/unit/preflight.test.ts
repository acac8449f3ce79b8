// Preflight: a server-side dry run of the run's first pod, so a namespace that refuses it does not burn attempts node by node.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { BatchWorkloadStatus, NodeStatus } from "../../src/api/BatchWorkload.ts"
import type { Pod } from "../../src/api/core.ts"
import type { Plan } from "../../src/domain/plan.ts"
import { preflightRetryMillis, preflightTarget } from "../../src/domain/preflight.ts"
import { FakeCluster, fakeNode } from "./support/FakeCluster.ts"
import { advanceUntil, eventsFor, operatorLayer, phaseIs, startOperator, statusOf, workload } from "./support/harness.ts"

const plan = (fields: Partial<Plan>): Plan => ({
  entries: [],
  creates: [],
  deletes: [],
  wakeAtMillis: undefined,
  desired: 1,
  skipped: [],
  notices: [],
  gate: { _tag: "Open" },
  ...fields
})
const entry = (nodeName: string, attempts: number): NodeStatus => ({ nodeName, phase: "Pending", attempts })
const oldPod: Pod = {
  metadata: { name: "w-n2", namespace: "default", annotations: { "batch.example.com/revision": "old", "batch.example.com/node": "n2" } },
  spec: { nodeName: "n2" }
}
const create = { nodeName: "n1", podName: "w-n1", attempt: 1 }

describe("preflightTarget", () => {
  const rows: ReadonlyArray<readonly [string, Plan, ReadonlyArray<NodeStatus>, string, string | undefined]> = [
    ["a new run's first create", plan({ creates: [create] }), [], "new", "n1"],
    ["nothing to start: nothing to check", plan({}), [], "new", undefined],
    ["an attempt of this run already started: the run is under way", plan({ creates: [create] }), [entry("n3", 1)], "new", undefined],
    ["entries waiting for their batch do not count as started", plan({ creates: [create] }), [entry("n3", 0)], "new", "n1"],
    ["a new revision replacing old pods is checked before the first is deleted", plan({ deletes: [{ pod: oldPod, reason: "replaced" }] }), [], "new", "n2"],
    ["deleting a pod of the current revision is no start", plan({ deletes: [{ pod: oldPod, reason: "deselected" }] }), [], "old", undefined]
  ]
  for (const [name, input, record, revision, expected] of rows) {
    it(name, () => {
      const target = preflightTarget(input, new Map(record.map((e) => [e.nodeName, e])), revision)
      assert.strictEqual(target?.nodeName, expected)
    })
  }
})

describe("preflightRetryMillis", () => {
  const rejected = (since: string): BatchWorkloadStatus => ({
    conditions: [{ type: "Stalled", status: "True", reason: "PodRejected", message: "no", lastTransitionTime: since }]
  })
  const rows: ReadonlyArray<readonly [string, BatchWorkloadStatus | undefined, number, number]> = [
    ["first refusal: 5 s", undefined, 60_000, 5_000],
    ["refused for 20 s: wait 20 s more (the waits double)", rejected("1970-01-01T00:00:40.000Z"), 60_000, 20_000],
    ["refused for ten minutes: capped at a minute", rejected("1970-01-01T00:00:00.000Z"), 600_000, 60_000]
  ]
  for (const [name, previous, nowMillis, expected] of rows) it(name, () => assert.strictEqual(preflightRetryMillis(previous, nowMillis), expected))
})

describe("a namespace that refuses the pod", () => {
  it.effect("stalls the workload with PodRejected and one Event, creates no pod, counts no attempt, and runs once the namespace admits it", () =>
    Effect.gen(function*() {
      const cluster = yield* FakeCluster
      for (const name of ["n1", "n2", "n3"]) yield* cluster.apply("nodes", fakeNode(name))
      const refusal = 'pods "x" is forbidden: violates PodSecurity "restricted:latest": privileged'
      yield* cluster.setPodAdmission(() => refusal)
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox", batchSize: 3 }))
      const stalled = Effect.map(statusOf("w"), (s) => s?.conditions?.some((c) => c.type === "Stalled" && c.status === "True" && c.reason === "PodRejected") ?? false)
      yield* advanceUntil(stalled, "1 minute")
      // Several more checks, with backoff, change nothing.
      yield* advanceUntil(Effect.succeed(false), "3 minutes", "1 second").pipe(Effect.exit)
      const status = yield* statusOf("w")
      assert.strictEqual(status?.conditions?.find((c) => c.type === "Stalled")?.message, refusal)
      assert.strictEqual(status?.phase, "Pending")
      assert.deepStrictEqual(status?.nodeStatus?.map((n) => [n.nodeName, n.phase, n.attempts]), [["n1", "Pending", 0], ["n2", "Pending", 0], ["n3", "Pending", 0]])
      assert.strictEqual(cluster.stats.podCreates, 0)
      // Checked with backoff (5 s, 5 s, 10 s, 20 s, 40 s, 60 s…), not on every pass.
      const checks = cluster.stats.dryRunCreates
      assert.isAtLeast(checks, 4)
      assert.isAtMost(checks, 12)
      assert.deepStrictEqual((yield* eventsFor("w")).filter((e) => e.startsWith("PodRejected")), [`PodRejected: ${refusal}`])

      yield* cluster.setPodAdmission(() => undefined)
      yield* advanceUntil(phaseIs("w", "Succeeded"), "70 seconds")
      assert.strictEqual(cluster.stats.podCreates, 3)
      assert.deepStrictEqual((yield* statusOf("w"))?.nodeStatus?.map((n) => n.attempts), [1, 1, 1])
    }).pipe(Effect.provide(operatorLayer)))
})
