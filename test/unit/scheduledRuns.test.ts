// Scheduled runs through the real reconciler over the in-memory cluster, on
// TestClock (which starts at 1970-01-01T00:00:00Z, so a `*/5 * * * *` schedule
// ticks at 00:05, 00:10, ...).
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import type { BatchWorkloadStatus } from "../../src/api/BatchWorkload.ts"
import { FakeCluster, fakeNode, podScripts } from "./support/FakeCluster.ts"
import { advanceUntil, eventsFor, namespace, operatorLayer, operatorServices, startOperator, statusOf, workload } from "./support/harness.ts"

const nodes = (count: number) =>
  Effect.gen(function*() {
    const cluster = yield* FakeCluster
    for (let i = 1; i <= count; i++) yield* cluster.apply("nodes", fakeNode(`node-${i}`))
    return cluster
  })

const everyFiveMinutes = { image: "busybox", mode: "RunToCompletion", batchSize: 2, schedule: "*/5 * * * *" }

const statusHolds = (name: string, check: (status: BatchWorkloadStatus) => boolean) =>
  Effect.map(statusOf(name), (status) => status !== undefined && check(status))

const historyOf = (status: BatchWorkloadStatus | undefined) =>
  (status?.runHistory ?? []).map((run) => `${run.executionId} ${run.trigger} ${run.outcome} ${run.succeededNodes}/${run.totalNodes}`)

/** Long enough for a few ticks, in steps coarse enough to get there quickly. */
const untilThen = <R>(check: Effect.Effect<boolean, never, R>) => advanceUntil(check, "30 minutes", "1 second")

const runOperator = Effect.forkChild(Effect.scoped(startOperator.pipe(Effect.andThen(Effect.never))).pipe(Effect.provide(operatorServices)))

describe("scheduled runs", () => {
  it.effect("waits for the first tick, then runs at each tick with a new execution id; the history keeps both runs", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(2)
      yield* cluster.setPodBehaviour(() => podScripts.complete("10 seconds"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("nightly", everyFiveMinutes))
      yield* untilThen(statusHolds("nightly", (s) => s.phase === "Waiting"))
      const waiting = yield* statusOf("nightly")
      assert.strictEqual(waiting?.nextScheduleTime, "1970-01-01T00:05:00.000Z")
      assert.include(waiting?.conditions?.find((c) => c.type === "Waiting")?.message ?? "", "the first run starts at 1970-01-01T00:05:00.000Z")
      assert.lengthOf(yield* cluster.list("pods"), 0, "nothing runs before the first tick")

      yield* untilThen(statusHolds("nightly", (s) => s.phase === "Succeeded" && s.runHistory?.length === 1))
      const first = yield* statusOf("nightly")
      assert.strictEqual(first?.executionId, "19700101-000500")
      assert.strictEqual(first?.lastScheduleTime, "1970-01-01T00:05:00.000Z")
      assert.strictEqual(first?.nextScheduleTime, "1970-01-01T00:10:00.000Z")
      const firstPods = (yield* cluster.list("pods")).map((pod) => pod.metadata.uid)

      yield* untilThen(statusHolds("nightly", (s) => s.phase === "Succeeded" && s.runHistory?.length === 2))
      const second = yield* statusOf("nightly")
      assert.deepStrictEqual(historyOf(second), ["19700101-001000 Schedule Succeeded 2/2", "19700101-000500 Schedule Succeeded 2/2"])
      assert.strictEqual(second?.runHistory?.[0]?.scheduledTime, "1970-01-01T00:10:00.000Z")
      const pods = yield* cluster.list("pods")
      assert.lengthOf(pods, 2)
      assert.isTrue(pods.every((pod) => !firstPods.includes(pod.metadata.uid)), "the new run replaced the last run's pods")
      const events = yield* eventsFor("nightly")
      assert.include(events, "RunScheduled: run 19700101-000500 started for the tick at 1970-01-01T00:05:00.000Z")
      assert.include(events, "RunScheduled: run 19700101-001000 started for the tick at 1970-01-01T00:10:00.000Z")
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("Forbid skips a tick while the run is still going (RunSkipped); the next tick after it ends runs", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(1)
      yield* cluster.setPodBehaviour(() => podScripts.complete("7 minutes"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("slow", { ...everyFiveMinutes, timeout: "1h" }))
      yield* untilThen(statusHolds("slow", (s) => s.lastScheduleTime === "1970-01-01T00:10:00.000Z"))
      const skipped = yield* statusOf("slow")
      assert.strictEqual(skipped?.phase, "Running")
      assert.deepStrictEqual(historyOf(skipped), ["19700101-000500 Schedule Running 0/1"])
      assert.include(
        yield* eventsFor("slow"),
        "RunSkipped: skipped the tick at 1970-01-01T00:10:00Z: run 19700101-000500 is still under way (concurrencyPolicy Forbid)"
      )
      yield* untilThen(statusHolds("slow", (s) => s.runHistory?.length === 2))
      assert.deepStrictEqual(historyOf(yield* statusOf("slow")), ["19700101-001500 Schedule Running 0/1", "19700101-000500 Schedule Succeeded 1/1"])
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("Replace ends the run under way at the next tick and starts a new one", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(1)
      yield* cluster.setPodBehaviour(() => podScripts.complete("7 minutes"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("replace", { ...everyFiveMinutes, timeout: "1h", concurrencyPolicy: "Replace" }))
      yield* untilThen(statusHolds("replace", (s) => s.runHistory?.length === 2))
      assert.deepStrictEqual(historyOf(yield* statusOf("replace")), ["19700101-001000 Schedule Running 0/1", "19700101-000500 Schedule Replaced 0/1"])
      assert.include(yield* eventsFor("replace"), "RunScheduled: run 19700101-001000 started for the tick at 1970-01-01T00:10:00.000Z, replacing run 19700101-000500")
      const pods = yield* cluster.list("pods")
      assert.lengthOf(pods, 1)
      assert.strictEqual(pods[0]?.metadata.annotations?.["batch.example.com/attempt"], "1")
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("runOnCreate runs once after its delay, then the schedule takes over", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(1)
      yield* cluster.setPodBehaviour(() => podScripts.complete("5 seconds"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("eager", { ...everyFiveMinutes, runOnCreate: true, runOnCreateDelay: "30s" }))
      yield* untilThen(statusHolds("eager", (s) => s.phase === "Waiting"))
      assert.strictEqual((yield* statusOf("eager"))?.conditions?.find((c) => c.type === "Waiting")?.message, "the first run starts at 1970-01-01T00:00:30.000Z")
      yield* untilThen(statusHolds("eager", (s) => s.runHistory?.length === 1 && s.phase === "Succeeded"))
      const created = yield* statusOf("eager")
      assert.deepStrictEqual(historyOf(created), ["create-19700101-000030 Create Succeeded 1/1"])
      assert.strictEqual(created?.runHistory?.[0]?.startTime, "1970-01-01T00:00:30.000Z")
      yield* untilThen(statusHolds("eager", (s) => s.runHistory?.length === 2 && s.phase === "Succeeded"))
      assert.deepStrictEqual(historyOf(yield* statusOf("eager")), ["19700101-000500 Schedule Succeeded 1/1", "create-19700101-000030 Create Succeeded 1/1"])
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("the retry annotation starts a run by hand, and runHistoryLimit prunes the history", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(1)
      yield* cluster.setPodBehaviour(() => podScripts.complete("5 seconds"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("byhand", { ...everyFiveMinutes, runHistoryLimit: 2 }))
      yield* untilThen(statusHolds("byhand", (s) => s.runHistory?.length === 2 && s.phase === "Succeeded"))
      const current = yield* cluster.get("batchworkloads", namespace, "byhand")
      yield* cluster.apply("batchworkloads", { ...current!, metadata: { ...current!.metadata, annotations: { "batch.example.com/retry": "1" } } })
      yield* untilThen(statusHolds("byhand", (s) => s.handledRetry === "1" && s.phase === "Succeeded"))
      const status = yield* statusOf("byhand")
      assert.lengthOf(status?.runHistory ?? [], 2)
      assert.strictEqual(status?.runHistory?.[0]?.trigger, "Manual")
      assert.match(status?.executionId ?? "", /^manual-[0-9a-f]{10}$/)
      assert.strictEqual(status?.runHistory?.[1]?.executionId, "19700101-001000")
      assert.strictEqual(status?.lastScheduleTime, "1970-01-01T00:10:00.000Z", "a run by hand does not move the schedule")
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("a tick missed while the operator was down is skipped past startingDeadlineSeconds; a restart keeps the history", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(1)
      yield* cluster.setPodBehaviour(() => podScripts.complete("5 seconds"))
      const first = yield* runOperator
      yield* cluster.apply("batchworkloads", workload("late", { ...everyFiveMinutes, startingDeadlineSeconds: 60 }))
      yield* untilThen(statusHolds("late", (s) => s.runHistory?.length === 1 && s.phase === "Succeeded"))
      yield* Fiber.interrupt(first)
      // Down from about 00:05:06 to 00:12:00: the 00:10 tick is two minutes late when the operator is back.
      yield* TestClock.setTime(Date.parse("1970-01-01T00:12:00Z"))
      yield* runOperator
      yield* untilThen(statusHolds("late", (s) => s.lastScheduleTime === "1970-01-01T00:10:00.000Z"))
      const status = yield* statusOf("late")
      assert.deepStrictEqual(historyOf(status), ["19700101-000500 Schedule Succeeded 1/1"], "no second run, the first still recorded")
      assert.strictEqual(status?.nextScheduleTime, "1970-01-01T00:15:00.000Z")
      assert.include(yield* eventsFor("late"), "RunSkipped: skipped the tick at 1970-01-01T00:10:00Z: more than startingDeadlineSeconds (60s) late")
      yield* untilThen(statusHolds("late", (s) => s.runHistory?.length === 2 && s.phase === "Succeeded"))
      assert.strictEqual((yield* statusOf("late"))?.executionId, "19700101-001500")
    }).pipe(Effect.provide(FakeCluster.layer)))
})
