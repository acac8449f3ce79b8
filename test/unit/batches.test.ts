import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { advanceUntil, namespace, operatorLayer, phaseIs, startOperator, statusOf, workload } from "./support/harness.ts"
import { FakeCluster, fakeNode, podScripts } from "./support/FakeCluster.ts"

const edge = { region: "us-west", type: "edge" }

describe("batches", () => {
  it.effect("the seed manifest test-workload succeeds on 5 matching nodes, never more than batchSize in flight", () =>
    Effect.gen(function*() {
      const cluster = yield* FakeCluster
      for (let i = 1; i <= 7; i++) yield* cluster.apply("nodes", fakeNode(`edge-${i}`, { labels: edge }))
      yield* cluster.apply("nodes", fakeNode("core-1", { labels: { region: "us-east" } }))
      yield* cluster.setPodBehaviour(() => podScripts.ready("3 seconds"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("test-workload", {
        replicas: 5,
        nodeSelector: edge,
        image: "nginx:latest",
        command: ["nginx", "-g", "daemon off;"],
        batchSize: 2,
        timeout: "60s"
      }))
      yield* advanceUntil(phaseIs("test-workload", "Succeeded"))
      const status = yield* statusOf("test-workload")
      assert.strictEqual(status?.succeededNodes, 5)
      assert.strictEqual(status?.totalNodes, 5)
      assert.deepStrictEqual(status?.nodeStatus?.map((n) => n.nodeName), ["edge-1", "edge-2", "edge-3", "edge-4", "edge-5"])
      assert.strictEqual(cluster.stats.maxInFlight, 2)
      const pods = yield* cluster.list("pods")
      assert.strictEqual(pods.length, 5)
      assert.isTrue(pods.every((pod) => pod.metadata.namespace === namespace))
    }).pipe(Effect.provide(operatorLayer)))
})
