import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { type LeaderElectionConfig, makeLeaderElector } from "../../src/controller/LeaderElection.ts"
import { parsePodRef } from "../../src/controller/LeaderLabel.ts"
import { KubeApiError, KubeClient, LeaderElectionKubeClient } from "../../src/kube/KubeClient.ts"
import { FakeCluster } from "./support/FakeCluster.ts"

const config = (identity: string): LeaderElectionConfig => ({
  leaseName: "batch-workload-operator",
  namespace: "operators",
  identity,
  leaseDuration: Duration.seconds(15),
  renewDeadline: Duration.seconds(10),
  retryPeriod: Duration.seconds(2)
})

/** A replica: its own view of the API server (which a test can cut off) and a log of when it acted. */
const replica = (identity: string, timeline: Array<string>) =>
  Effect.gen(function*() {
    const cluster = yield* FakeCluster
    let partitioned = false
    const unreachable = new KubeApiError({ reason: "Unavailable", message: "connection refused" })
    const client = KubeClient.of({
      ...cluster.client,
      get: (kind, namespace, name) => partitioned ? Effect.fail(unreachable) : cluster.client.get(kind, namespace, name),
      patch: (kind, namespace, name, patch, options) =>
        partitioned ? Effect.fail(unreachable) : cluster.client.patch(kind, namespace, name, patch, options)
    })
    const elector = yield* makeLeaderElector(config(identity)).pipe(Effect.provideService(LeaderElectionKubeClient, client))
    const work = Effect.gen(function*() {
      timeline.push(`${identity} starts`)
      yield* Effect.never
    }).pipe(Effect.onInterrupt(() => Effect.sync(() => timeline.push(`${identity} stops`))))
    const fiber = yield* Effect.forkChild(elector.runWhileLeader(work))
    return { fiber, partition: () => (partitioned = true) }
  })

const settle = (duration: Duration.Input) =>
  Effect.gen(function*() {
    const steps = Duration.toMillis(duration) / 500
    for (let i = 0; i < steps; i++) {
      yield* TestClock.adjust("500 millis")
      for (let j = 0; j < 5; j++) yield* Effect.yieldNow
    }
  })

describe("leader election", () => {
  it.effect("exactly one replica acts; a graceful shutdown hands over within one retry period", () =>
    Effect.gen(function*() {
      const timeline: Array<string> = []
      const a = yield* replica("a", timeline)
      yield* settle("1 second")
      const b = yield* replica("b", timeline)
      yield* settle("60 seconds")
      assert.deepStrictEqual(timeline, ["a starts"])
      yield* Fiber.interrupt(a.fiber)
      yield* settle("2 seconds")
      assert.deepStrictEqual(timeline, ["a starts", "a stops", "b starts"])
      const lease = yield* (yield* FakeCluster).get("leases", "operators", "batch-workload-operator")
      assert.strictEqual(lease?.spec?.holderIdentity, "b")
      assert.strictEqual(lease?.spec?.leaseTransitions, 1)
      yield* Fiber.interrupt(b.fiber)
    }).pipe(Effect.provide(FakeCluster.layer)))

  it.effect("a leader cut off from the API server stops acting before a standby takes over", () =>
    Effect.gen(function*() {
      const timeline: Array<string> = []
      const a = yield* replica("a", timeline)
      yield* settle("1 second")
      const b = yield* replica("b", timeline)
      yield* settle("10 seconds")
      a.partition()
      // The last renewal was at most one retry period (2s) before the cut; the deadline is 10s after it.
      yield* settle("7 seconds")
      assert.deepStrictEqual(timeline, ["a starts"], "still within the renew deadline")
      yield* settle("20 seconds")
      assert.deepStrictEqual(timeline, ["a starts", "a stops", "b starts"])
      yield* Fiber.interrupt(b.fiber)
      yield* Fiber.interrupt(a.fiber)
    }).pipe(Effect.provide(FakeCluster.layer)))
})

describe("--leader-label-pod", () => {
  const cases: ReadonlyArray<readonly [string, { namespace: string; name: string } | undefined]> = [
    ["batch-workload-operator-system/batch-workload-operator-7d9f-x2x", { namespace: "batch-workload-operator-system", name: "batch-workload-operator-7d9f-x2x" }],
    ["just-a-name", undefined],
    ["/name", undefined],
    ["namespace/", undefined],
    ["a/b/c", undefined]
  ]
  for (const [text, expected] of cases) {
    it(`reads "${text}" as ${expected === undefined ? "invalid" : `${expected.namespace} / ${expected.name}`}`, () => {
      assert.deepStrictEqual(parsePodRef(text), expected)
    })
  }
})
