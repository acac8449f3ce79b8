// Rollout control: the start gate as a table, then each control end to end on the fake cluster.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { BatchWorkloadSpec } from "../../src/api/BatchWorkload.ts"
import { failureBudget, type GateInput, startGate } from "../../src/domain/rollout.ts"
import { FakeCluster, fakeNode, podScripts } from "./support/FakeCluster.ts"
import { advanceUntil, eventsFor, namespace, operatorLayer, phaseIs, startOperator, statusOf, workload } from "./support/harness.ts"

const spec = (fields: Record<string, unknown> = {}) => Schema.decodeUnknownSync(BatchWorkloadSpec)({ image: "busybox", ...fields })

describe("startGate", () => {
  const base: Omit<GateInput, "spec"> = { failedNodes: 0, totalNodes: 10, runStartedAtMillis: 0, nowMillis: 60_000 }
  const rows: ReadonlyArray<readonly [string, Record<string, unknown>, Partial<GateInput>, string]> = [
    ["no controls: open", {}, {}, "Open"],
    ["no failurePolicy: failures never stop the run (as before the field existed)", {}, { failedNodes: 9 }, "Open"],
    ["Continue: failures never stop the run", { failurePolicy: { action: "Continue" } }, { failedNodes: 9 }, "Open"],
    ["an empty failurePolicy pauses at the first failure", { failurePolicy: {} }, { failedNodes: 1 }, "Held:FailureBudgetExceeded"],
    ["below the budget: open", { failurePolicy: { maxFailedNodes: 2 } }, { failedNodes: 1 }, "Open"],
    ["budget reached: paused", { failurePolicy: { maxFailedNodes: 2 } }, { failedNodes: 2 }, "Held:FailureBudgetExceeded"],
    ["budget reached with Abort: ended", { failurePolicy: { maxFailedNodes: 2, action: "Abort" } }, { failedNodes: 2 }, "Ended:FailureBudgetExceeded"],
    ["a percentage of the run's nodes, rounded down", { failurePolicy: { maxFailedNodes: "25%" } }, { failedNodes: 2 }, "Held:FailureBudgetExceeded"],
    ["a percentage not yet reached", { failurePolicy: { maxFailedNodes: "25%" } }, { failedNodes: 1, totalNodes: 8 }, "Open"],
    ["spec.paused", { paused: true }, {}, "Held:Paused"],
    ["deadline not reached", { activeDeadlineSeconds: 61 }, {}, "Open"],
    ["deadline reached", { activeDeadlineSeconds: 60 }, {}, "Ended:DeadlineExceeded"],
    ["the deadline wins over a pause", { activeDeadlineSeconds: 60, paused: true }, {}, "Ended:DeadlineExceeded"],
    ["a closed window holds the run until it opens", {}, { window: { open: false, opensAtMillis: 90_000 } }, "Held:OutsideWindow"],
    ["an open window", {}, { window: { open: true, closesAtMillis: 90_000 } }, "Open"]
  ]
  for (const [name, fields, input, expected] of rows) {
    it(name, () => {
      const gate = startGate({ ...base, ...input, spec: spec(fields) })
      assert.strictEqual(gate._tag === "Open" ? "Open" : `${gate._tag}:${gate.reason}`, expected)
    })
  }

  it("percentages round down, as a DaemonSet's maxUnavailable", () => {
    assert.strictEqual(failureBudget({ maxFailedNodes: "10%", action: "Pause" }, 15), 1)
    assert.strictEqual(failureBudget({ maxFailedNodes: "100%", action: "Pause" }, 15), 15)
  })
})

const nodes = (count: number) =>
  Effect.gen(function*() {
    const cluster = yield* FakeCluster
    for (let i = 1; i <= count; i++) yield* cluster.apply("nodes", fakeNode(`n${i}`))
    return cluster
  })

const phases = (name: string) => Effect.map(statusOf(name), (status) => status?.nodeStatus?.map((n) => `${n.nodeName}:${n.phase}`))

describe("rollout control on a cluster", () => {
  it.effect("a bad image with maxFailedNodes 2 and Pause stops after exactly two failed nodes; a fixed image resumes", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(5)
      yield* cluster.setPodBehaviour((pod) => JSON.stringify(pod.spec).includes("bad:1") ? podScripts.imagePullError() : podScripts.ready())
      yield* startOperator
      const failing = { image: "bad:1", maxRetries: 0, failurePolicy: { maxFailedNodes: 2, action: "Pause" } }
      yield* cluster.apply("batchworkloads", workload("w", failing))
      yield* advanceUntil(phaseIs("w", "Paused"))
      yield* advanceUntil(Effect.succeed(false), "1 minute").pipe(Effect.exit)
      assert.strictEqual(cluster.stats.podCreates, 2, "no third pod")
      const paused = (yield* statusOf("w"))?.conditions?.find((c) => c.type === "Paused")
      assert.strictEqual(paused?.status, "True")
      assert.strictEqual(paused?.reason, "FailureBudgetExceeded")
      assert.isTrue((yield* eventsFor("w")).some((e) => e.startsWith("FailureBudgetExceeded:")))
      yield* cluster.apply("batchworkloads", workload("w", { ...failing, image: "good:1" }))
      yield* advanceUntil(phaseIs("w", "Succeeded"))
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("Abort ends the run Failed and skips the nodes not started", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(4)
      yield* cluster.setPodBehaviour(() => podScripts.fail())
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox", maxRetries: 0, failurePolicy: { maxFailedNodes: 1, action: "Abort" } }))
      yield* advanceUntil(phaseIs("w", "Failed"))
      assert.deepStrictEqual(yield* phases("w"), ["n1:Failed", "n2:Skipped", "n3:Skipped", "n4:Skipped"])
      assert.strictEqual((yield* statusOf("w"))?.conditions?.find((c) => c.type === "Failed")?.reason, "FailureBudgetExceeded")
      assert.strictEqual(cluster.stats.podCreates, 1)
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("spec.paused mid-run lets running pods finish and starts nothing new; unpausing resumes", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(4)
      yield* cluster.setPodBehaviour(() => podScripts.ready("10 seconds"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox", batchSize: 2 }))
      yield* advanceUntil(Effect.map(cluster.list("pods"), (pods) => pods.length === 2))
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox", batchSize: 2, paused: true }))
      yield* advanceUntil(phaseIs("w", "Paused"))
      yield* advanceUntil(Effect.map(statusOf("w"), (s) => s?.succeededNodes === 2))
      yield* advanceUntil(Effect.succeed(false), "1 minute").pipe(Effect.exit)
      assert.strictEqual(cluster.stats.podCreates, 2)
      assert.match((yield* statusOf("w"))?.nodeStatus?.[2]?.message ?? "", /held: spec.paused is true/)
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox", batchSize: 2, paused: false }))
      yield* advanceUntil(phaseIs("w", "Succeeded"))
      assert.strictEqual(cluster.stats.podCreates, 4)
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("minReadySeconds holds the next batch until the previous has been Ready that long", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(2)
      yield* cluster.setPodBehaviour(() => podScripts.ready("1 second"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox", batchSize: 1, minReadySeconds: 30 }))
      yield* advanceUntil(phaseIs("w", "Succeeded"), "5 minutes")
      const [first, second] = cluster.createdPods.map((pod) => pod.atMillis)
      // Ready 1.1 s after creation, then 30 s of soak before the second node may start.
      assert.strictEqual((second ?? 0) - (first ?? 0), 31_100)
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("activeDeadlineSeconds stops running attempts and fails the nodes not done", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(3)
      yield* cluster.setPodBehaviour((pod) => pod.spec?.nodeName === "n1" ? podScripts.ready() : podScripts.pending())
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox", batchSize: 2, timeout: "10m", activeDeadlineSeconds: 60 }))
      yield* advanceUntil(phaseIs("w", "Failed"), "2 minutes")
      assert.deepStrictEqual(yield* phases("w"), ["n1:Succeeded", "n2:Failed", "n3:Failed"])
      const status = yield* statusOf("w")
      assert.match(status?.nodeStatus?.[1]?.message ?? "", /^DeadlineExceeded: the run exceeded activeDeadlineSeconds \(60s\)/)
      assert.strictEqual(status?.conditions?.find((c) => c.type === "Failed")?.reason, "DeadlineExceeded")
      const pods = yield* cluster.list("pods")
      assert.deepStrictEqual(pods.map((pod) => pod.spec?.nodeName), ["n1"], "the attempt under way was stopped")
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("ttlSecondsAfterFinished deletes a finished job's pods and keeps its status", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(2)
      yield* cluster.setPodBehaviour(() => podScripts.complete())
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("job", { image: "busybox", mode: "RunToCompletion", batchSize: 2, ttlSecondsAfterFinished: 30 }))
      yield* advanceUntil(phaseIs("job", "Succeeded"))
      assert.strictEqual((yield* cluster.list("pods")).length, 2)
      yield* advanceUntil(Effect.map(cluster.list("pods"), (pods) => pods.length === 0), "1 minute")
      const status = yield* statusOf("job")
      assert.strictEqual(status?.phase, "Succeeded")
      assert.deepStrictEqual(status?.nodeStatus?.map((n) => [n.podName, n.attempts, n.phase]), [
        ["job-n1", 1, "Succeeded"],
        ["job-n2", 1, "Succeeded"]
      ])
      assert.isString(status?.completionTime)
      assert.strictEqual(namespace, "default")
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("a closed maintenance window holds the run (Waiting, with the opening time); it starts when the window opens", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(2)
      yield* startOperator
      // The TestClock starts at 1970-01-01T00:00Z, a Thursday.
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox", batchSize: 2, window: { startTime: "00:10", endTime: "00:20" } }))
      yield* advanceUntil(phaseIs("w", "Waiting"))
      const waiting = (yield* statusOf("w"))?.conditions?.find((c) => c.type === "Waiting")
      assert.strictEqual(waiting?.status, "True")
      assert.match(waiting?.message ?? "", /opens at 1970-01-01T00:10:00.000Z/)
      yield* advanceUntil(Effect.succeed(false), "9 minutes").pipe(Effect.exit)
      assert.strictEqual(cluster.stats.podCreates, 0)
      yield* advanceUntil(phaseIs("w", "Succeeded"), "2 minutes")
      assert.strictEqual(cluster.createdPods[0]?.atMillis, 10 * 60_000, "the first pod at the opening minute")
    }).pipe(Effect.provide(operatorLayer)))
})
