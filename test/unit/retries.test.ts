import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { FakeCluster, fakeNode, podScripts } from "./support/FakeCluster.ts"
import { advanceUntil, eventsFor, noJitter, operatorLayer, phaseIs, startOperator, statusOf, workload } from "./support/harness.ts"

const oneNode = Effect.gen(function*() {
  const cluster = yield* FakeCluster
  yield* cluster.apply("nodes", fakeNode("node-1"))
  return cluster
})

describe("timeouts and retries", () => {
  it.effect("retries a failing node after exactly 10s, 20s, then the 25s cap, and fails it after maxRetries", () =>
    Effect.gen(function*() {
      const cluster = yield* oneNode
      yield* cluster.setPodBehaviour(() => podScripts.fail("1 second"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("flaky", {
        image: "busybox",
        maxRetries: 3,
        initialBackoff: "10s",
        maxBackoff: "25s",
        timeout: "5m"
      }))
      yield* advanceUntil(phaseIs("flaky", "Failed"))
      // Each pod fails 1.1s after it is created (Running at +0.1s, Failed at +1.1s); the next one follows after the backoff.
      const created = cluster.createdPods.map((pod) => pod.atMillis)
      assert.deepStrictEqual(cluster.createdPods.map((pod) => pod.attempt), ["1", "2", "3", "4"])
      const gaps = created.slice(1).map((at, i) => at - (created[i] ?? 0) - 1_100)
      assert.deepStrictEqual(gaps, [10_000, 20_000, 25_000])
      const status = yield* statusOf("flaky")
      const node = status?.nodeStatus?.[0]
      assert.strictEqual(node?.phase, "Failed")
      assert.strictEqual(node?.attempts, 4)
      assert.match(node?.message ?? "", /failed after 4 attempts: container exited with code 1 \(Error\): boom/)
      const events = yield* eventsFor("flaky")
      assert.include(events, "NodeRetrying: node node-1: attempt 1 of 4 failed: container exited with code 1 (Error): boom; retrying in 10s")
      assert.isTrue(events.some((e) => e.startsWith("NodeFailed: node node-1")))
      assert.isTrue(events.some((e) => e.startsWith("Failed: 1 of 1 nodes failed")))
    }).pipe(noJitter, Effect.provide(operatorLayer)))

  it.effect("times out a pod that never starts, as a typed failure in the node's status", () =>
    Effect.gen(function*() {
      const cluster = yield* oneNode
      yield* cluster.setPodBehaviour(() => podScripts.pending())
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("stuck", {
        image: "busybox",
        timeout: "30s",
        maxRetries: 1,
        initialBackoff: "5s"
      }))
      yield* advanceUntil(phaseIs("stuck", "Failed"))
      const [first, second] = cluster.createdPods.map((pod) => pod.atMillis)
      assert.strictEqual((second ?? 0) - (first ?? 0), 35_000, "30s timeout, then the 5s backoff")
      const node = (yield* statusOf("stuck"))?.nodeStatus?.[0]
      assert.strictEqual(node?.message, "failed after 2 attempts: attempt timed out after 30s")
      assert.isAtMost((yield* Clock.currentTimeMillis) - (first ?? 0), 65_000 + 1_000, "failed as soon as the second attempt timed out")
    }).pipe(noJitter, Effect.provide(operatorLayer)))

  it.effect("fails an image pull error at once instead of waiting for the timeout", () =>
    Effect.gen(function*() {
      const cluster = yield* oneNode
      yield* cluster.setPodBehaviour(() => podScripts.imagePullError("500 millis"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("typo", { image: "nosuch/image", timeout: "10m", maxRetries: 0 }))
      yield* advanceUntil(phaseIs("typo", "Failed"), "5 seconds")
      const node = (yield* statusOf("typo"))?.nodeStatus?.[0]
      assert.match(node?.message ?? "", /ErrImagePull: pull access denied for nosuch\/image/)
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("a node that fails once succeeds on its retry", () =>
    Effect.gen(function*() {
      const cluster = yield* oneNode
      yield* cluster.setPodBehaviour((pod) =>
        pod.metadata.annotations?.["batch.example.com/attempt"] === "1" ? podScripts.fail() : podScripts.ready()
      )
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("second-time", { image: "busybox", initialBackoff: "1s" }))
      yield* advanceUntil(phaseIs("second-time", "Succeeded"))
      const node = (yield* statusOf("second-time"))?.nodeStatus?.[0]
      assert.strictEqual(node?.attempts, 2)
      assert.strictEqual(node?.phase, "Succeeded")
      const pods = yield* cluster.list("pods")
      assert.strictEqual(pods.length, 1, "the retry replaced the failed pod")
    }).pipe(noJitter, Effect.provide(operatorLayer)))
})
