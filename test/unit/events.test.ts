import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import type { Event } from "../../src/api/core.ts"
import type { WorkloadRef } from "../../src/domain/pods.ts"
import { KubeClient } from "../../src/kube/KubeClient.ts"
import { defaultEventRecorderOptions, EventRecorder, makeEventCorrelator } from "../../src/services/EventRecorder.ts"
import { FakeCluster } from "./support/FakeCluster.ts"

const workload: WorkloadRef = { name: "big", namespace: "default", uid: "uid-big" }

/** The real recorder over the in-memory API server. */
const recorderLayer = EventRecorder.layer.pipe(Layer.provideMerge(FakeCluster.kubeClient), Layer.provideMerge(FakeCluster.layer))

const storedEvents = Effect.gen(function*() {
  const events = yield* (yield* FakeCluster).list("events")
  return events.filter((event) => event.involvedObject.name === workload.name)
})

const byReason = (events: ReadonlyArray<Event>, reason: string) => events.filter((event) => event.reason === reason)

const succeeded = (i: number) => `node node-${i}: pod is ready (attempt 1)`

/** Lets the writer catch up: yields and moves the clock on in small steps until `check` holds (at most a minute). */
const until = (check: (events: ReadonlyArray<Event>) => boolean) =>
  Effect.gen(function*() {
    for (let step = 0; step < 6_000; step++) {
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      if (check(yield* storedEvents)) return
      yield* TestClock.adjust("10 millis")
    }
    return yield* Effect.die(new Error(`events never reached the expected state: ${JSON.stringify(yield* storedEvents)}`))
  })

describe("event recorder (client-go's event correlator)", () => {
  it.effect("1,000 NodeSucceeded events with different messages become a handful of Events; the first 10 are written as they are", () =>
    Effect.gen(function*() {
      const recorder = yield* EventRecorder
      yield* recorder.record(workload, "Normal", "Started", "deploying busybox to 1000 nodes")
      for (let i = 1; i <= 1000; i++) yield* recorder.record(workload, "Normal", "NodeSucceeded", succeeded(i))
      yield* recorder.record(workload, "Normal", "Completed", "all 1000 nodes succeeded")
      yield* until((events) => byReason(events, "Completed").length === 1)
      const events = yield* storedEvents
      const nodeEvents = byReason(events, "NodeSucceeded")
      assert.isAtMost(events.length, 13, "a handful, not 1,002")
      const asTheyAre = nodeEvents.filter((event) => !event.message.startsWith("(combined"))
      assert.deepStrictEqual(asTheyAre.map((event) => event.message).sort(), Array.from({ length: 10 }, (_, i) => succeeded(i + 1)).sort())
      assert.isTrue(asTheyAre.every((event) => event.count === 1))
      const combined = nodeEvents.filter((event) => event.message.startsWith("(combined from similar events): "))
      assert.strictEqual(combined.length, 1)
      // The per-object rate limit (25 writes, then one per 5 minutes) stops the combined count at 15 for now.
      assert.strictEqual(combined[0]?.count, 15)
      assert.strictEqual(combined[0]?.message, `(combined from similar events): ${succeeded(25)}`)
      // A flood of node events does not crowd out the workload's own.
      assert.deepStrictEqual(byReason(events, "Started").map((event) => event.count), [1])
      assert.deepStrictEqual(byReason(events, "Completed").map((event) => event.message), ["all 1000 nodes succeeded"])
    }).pipe(Effect.provide(recorderLayer)))

  it.effect("an identical event repeated is one Event with count N and the latest lastTimestamp", () =>
    Effect.gen(function*() {
      const recorder = yield* EventRecorder
      for (let i = 0; i < 20; i++) {
        yield* recorder.record(workload, "Warning", "NodeRetrying", "node node-1: image pull failed; retrying in 10s")
        yield* TestClock.adjust("1 second")
      }
      yield* until((events) => events[0]?.count === 20)
      const events = yield* storedEvents
      assert.strictEqual(events.length, 1)
      assert.strictEqual(events[0]?.firstTimestamp, new Date(0).toISOString())
      assert.strictEqual(events[0]?.lastTimestamp, new Date(19_000).toISOString())
    }).pipe(Effect.provide(recorderLayer)))

  it.effect("repeats beyond the rate limit are still counted, and written once the bucket refills", () =>
    Effect.gen(function*() {
      const recorder = yield* EventRecorder
      for (let i = 0; i < 40; i++) yield* recorder.record(workload, "Warning", "NodeRetrying", "node node-1: timed out")
      yield* until((events) => events[0]?.count === 25)
      yield* TestClock.adjust("5 minutes")
      yield* recorder.record(workload, "Warning", "NodeRetrying", "node node-1: timed out")
      yield* until((events) => events[0]?.count === 41)
      assert.strictEqual((yield* storedEvents).length, 1)
    }).pipe(Effect.provide(recorderLayer)))

  it.effect("similar events more than 10 minutes apart are written as they are again", () =>
    Effect.gen(function*() {
      const recorder = yield* EventRecorder
      for (let i = 1; i <= 12; i++) yield* recorder.record(workload, "Normal", "NodeSucceeded", succeeded(i))
      yield* until((events) => events.length === 11)
      yield* TestClock.adjust("11 minutes")
      yield* recorder.record(workload, "Normal", "NodeSucceeded", succeeded(13))
      yield* until((events) => events.some((event) => event.message === succeeded(13)))
    }).pipe(Effect.provide(recorderLayer)))

  it.effect("a count update for an Event the API server has dropped recreates it", () =>
    Effect.gen(function*() {
      const recorder = yield* EventRecorder
      const cluster = yield* FakeCluster
      yield* recorder.record(workload, "Warning", "NodeFailed", "node node-1: failed after 4 attempts")
      yield* until((events) => events.length === 1)
      const first = (yield* storedEvents)[0]
      yield* cluster.remove("events", first?.metadata.namespace, first?.metadata.name ?? "")
      yield* recorder.record(workload, "Warning", "NodeFailed", "node node-1: failed after 4 attempts")
      yield* until((events) => events[0]?.count === 2)
      assert.strictEqual((yield* storedEvents)[0]?.metadata.name, first?.metadata.name)
    }).pipe(Effect.provide(recorderLayer)))

  it.effect("recording never waits for the API server: past 1,000 queued events it drops, with a log line", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const capture = Logger.layer([Logger.make((options) => logs.push(String(options.message)))])
      const cluster = yield* FakeCluster
      const stuck = Layer.succeed(KubeClient, KubeClient.of({ ...cluster.client, create: () => Effect.never }))
      yield* Effect.gen(function*() {
        const recorder = yield* EventRecorder
        for (let i = 1; i <= 1500; i++) yield* recorder.record(workload, "Normal", "NodeSucceeded", succeeded(i))
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      }).pipe(Effect.provide(EventRecorder.layer.pipe(Layer.provide(stuck))), Effect.provide(capture), Effect.scoped)
      const dropped = logs.filter((line) => line.includes("event queue full"))
      assert.isAtLeast(dropped.length, 1)
      assert.isAtMost(dropped.length, 5, "one line per hundred drops, not one per event")
      assert.match(dropped[0] ?? "", /event queue full \(1000\): dropped event NodeSucceeded/)
    }).pipe(Effect.provide(FakeCluster.layer)))

  it("keeps each of its caches to 4,096 entries however many objects it has seen", () => {
    const correlator = makeEventCorrelator(defaultEventRecorderOptions)
    for (let i = 0; i < 10_000; i++) {
      const event: Event = {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: `w${i}.1`, namespace: "default" },
        involvedObject: { apiVersion: "batch.example.com/v1alpha1", kind: "BatchWorkload", name: `w${i}`, namespace: "default", uid: `u${i}` },
        reason: "Started",
        message: "deploying",
        type: "Normal",
        source: { component: "batch-workload-operator" },
        reportingComponent: "batch.example.com/batch-workload-operator",
        reportingInstance: "test",
        firstTimestamp: new Date(0).toISOString(),
        lastTimestamp: new Date(0).toISOString(),
        count: 1
      }
      assert.strictEqual(correlator.correlate(event, i)._tag, "Create")
    }
    assert.deepStrictEqual(correlator.cacheSizes(), [4096, 4096, 4096])
    assert.strictEqual(Duration.toMinutes(defaultEventRecorderOptions.similarWindow), 10)
  })
})
