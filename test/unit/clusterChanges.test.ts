// The cluster moving under a run: nodes deleted, cordoned, tainted, pods losing readiness or
// deleted by hand, names that collide, and writes that conflict. On the in-memory cluster and
// TestClock; test/integration/clusterChanges.test.ts shows the same against a real API server.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { PodStatus } from "../../src/api/core.ts"
import { FakeCluster, fakeNode, podScripts } from "./support/FakeCluster.ts"
import { advanceUntil, namespace, noJitter, operatorLayer, phaseIs, startOperator, statusOf, workload } from "./support/harness.ts"

const nodes = (names: ReadonlyArray<string>, labels: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const cluster = yield* FakeCluster
    for (const name of names) yield* cluster.apply("nodes", fakeNode(name, { labels }))
    return cluster
  })

const entryOf = (workloadName: string, nodeName: string) =>
  Effect.map(statusOf(workloadName), (status) => status?.nodeStatus?.find((node) => node.nodeName === nodeName))

const podOn = (nodeName: string) =>
  Effect.gen(function*() {
    const cluster = yield* FakeCluster
    return (yield* cluster.list("pods")).find((pod) => pod.spec?.nodeName === nodeName)
  })

const readyStatus = (ready: boolean): PodStatus => ({
  phase: "Running",
  conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
  containerStatuses: [{ name: "workload", ready, state: { running: {} } }]
})

describe("nodes that go away", () => {
  it.effect("a node deleted before its turn and one deleted under its pod are cancelled, and the run ends without them", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(["n1", "n2", "n3", "n4"])
      yield* cluster.setPodBehaviour(() => podScripts.ready("20 seconds"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox", batchSize: 1, timeout: "10m" }))
      yield* advanceUntil(Effect.map(podOn("n1"), (pod) => pod !== undefined))
      yield* cluster.remove("nodes", undefined, "n1")
      yield* cluster.remove("nodes", undefined, "n3")
      yield* advanceUntil(phaseIs("w", "Succeeded"), "2 minutes")
      const status = yield* statusOf("w")
      assert.deepStrictEqual(
        status?.nodeStatus?.map((n) => [n.nodeName, n.phase]),
        [["n2", "Succeeded"], ["n4", "Succeeded"], ["n1", "Cancelled"], ["n3", "Cancelled"]]
      )
      assert.match((yield* entryOf("w", "n1"))?.message ?? "", /node n1 was deleted/)
      assert.strictEqual(status?.totalNodes, 2)
      assert.strictEqual(status?.progress, "2/2")
      assert.isUndefined(yield* podOn("n1"), "the pod on the deleted node was deleted")
      assert.isUndefined(yield* podOn("n3"), "the node deleted before its turn never got a pod")
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("an untolerated NoExecute taint evicts the pod and fails the attempt, naming the taint", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(["n1"])
      yield* cluster.setPodBehaviour(() => podScripts.ready("1 second"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox", maxRetries: 0 }))
      yield* advanceUntil(phaseIs("w", "Succeeded"))
      yield* cluster.apply("nodes", fakeNode("n1", { taints: [{ key: "maintenance", effect: "NoExecute" }] }))
      yield* advanceUntil(phaseIs("w", "Failed"))
      const entry = yield* entryOf("w", "n1")
      assert.match(entry?.message ?? "", /failed after 1 attempt: evicted: node n1 has taint maintenance:NoExecute/)
      assert.isUndefined(yield* podOn("n1"))
    }).pipe(Effect.provide(operatorLayer)))
})

describe("nodes that cannot take new pods", () => {
  it.effect("NotReady, cordoned or NoSchedule-tainted: the running pod is kept; a node not yet started is left out", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(["n1", "n2", "n3", "n4"])
      yield* cluster.setPodBehaviour(() => podScripts.ready("5 seconds"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox", batchSize: 1, timeout: "1m" }))
      yield* advanceUntil(Effect.map(podOn("n1"), (pod) => pod !== undefined))
      const first = yield* podOn("n1")
      yield* cluster.apply("nodes", fakeNode("n1", { ready: false }))
      yield* cluster.apply("nodes", fakeNode("n3", { unschedulable: true }))
      yield* cluster.apply("nodes", fakeNode("n4", { taints: [{ key: "node.kubernetes.io/disk-pressure", effect: "NoSchedule" }] }))
      yield* advanceUntil(phaseIs("w", "Succeeded"))
      assert.strictEqual((yield* podOn("n1"))?.metadata.uid, first?.metadata.uid, "the pod on the NotReady node was kept")
      const status = yield* statusOf("w")
      // Nodes the run had planned for but could not start are reported, and do not hold the run up.
      assert.deepStrictEqual(status?.nodeStatus?.map((n) => [n.nodeName, n.phase, n.attempts]), [
        ["n1", "Succeeded", 1],
        ["n2", "Succeeded", 1],
        ["n3", "Cancelled", 0],
        ["n4", "Cancelled", 0]
      ])
      assert.match((yield* entryOf("w", "n3"))?.message ?? "", /node n3 is cordoned/)
      assert.match((yield* entryOf("w", "n4"))?.message ?? "", /disk-pressure:NoSchedule/)
      assert.isUndefined(yield* podOn("n3"))
      assert.isUndefined(yield* podOn("n4"))
      assert.strictEqual(cluster.stats.podCreates, 2)
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("includeUnschedulableNodes covers a node cordoned only by the unschedulable taint", () =>
    Effect.gen(function*() {
      const cluster = yield* FakeCluster
      yield* cluster.apply("nodes", fakeNode("n1", { taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }] }))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("skips", { image: "busybox" }))
      yield* cluster.apply("batchworkloads", workload("takes", { image: "busybox", includeUnschedulableNodes: true }))
      yield* advanceUntil(phaseIs("takes", "Succeeded"))
      assert.strictEqual((yield* statusOf("skips"))?.phase, "Pending")
      assert.strictEqual((yield* cluster.list("pods")).length, 1)
    }).pipe(Effect.provide(operatorLayer)))
})

describe("pods", () => {
  it.effect("a LongRunning pod that loses readiness makes the node Degraded, is kept, and recovers", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(["n1", "n2"])
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox", batchSize: 2, timeout: "30s" }))
      yield* advanceUntil(phaseIs("w", "Succeeded"))
      const pod = yield* podOn("n1")
      yield* cluster.setPodStatus(namespace, pod?.metadata.name ?? "", readyStatus(false))
      yield* advanceUntil(phaseIs("w", "Degraded"))
      const degraded = yield* statusOf("w")
      assert.strictEqual(degraded?.nodeStatus?.[0]?.phase, "Degraded")
      assert.strictEqual(degraded?.conditions?.find((c) => c.type === "Ready")?.status, "False")
      assert.strictEqual(degraded?.conditions?.find((c) => c.type === "Degraded")?.status, "True")
      // Far past the attempt timeout: losing readiness after success is not a timed-out attempt.
      yield* advanceUntil(Effect.succeed(false), "2 minutes").pipe(Effect.exit)
      assert.strictEqual((yield* podOn("n1"))?.metadata.uid, pod?.metadata.uid)
      assert.strictEqual((yield* entryOf("w", "n1"))?.attempts, 1)
      yield* cluster.setPodStatus(namespace, pod?.metadata.name ?? "", readyStatus(true))
      yield* advanceUntil(phaseIs("w", "Succeeded"))
      assert.strictEqual((yield* statusOf("w"))?.conditions?.find((c) => c.type === "Ready")?.status, "True")
      assert.strictEqual(cluster.stats.podCreates, 2)
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("a RunToCompletion node that succeeded is not run again when its pod is deleted by hand", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(["n1"])
      yield* cluster.setPodBehaviour(() => podScripts.complete())
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("job", { image: "busybox", mode: "RunToCompletion" }))
      yield* advanceUntil(phaseIs("job", "Succeeded"))
      const pod = yield* podOn("n1")
      yield* cluster.remove("pods", namespace, pod?.metadata.name ?? "")
      yield* advanceUntil(Effect.succeed(false), "1 minute").pipe(Effect.exit)
      assert.strictEqual(cluster.stats.podCreates, 1)
      assert.strictEqual((yield* entryOf("job", "n1"))?.phase, "Succeeded")
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("two workloads whose plain pod names collide each get their own pod", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(["edge-worker-1", "worker-1"])
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("agent", { image: "busybox", nodeNames: ["edge-worker-1"] }))
      yield* advanceUntil(phaseIs("agent", "Succeeded"))
      yield* cluster.apply("batchworkloads", workload("agent-edge", { image: "busybox", nodeNames: ["worker-1"] }))
      yield* advanceUntil(phaseIs("agent-edge", "Succeeded"))
      const pods = yield* cluster.list("pods")
      assert.strictEqual(pods.length, 2)
      assert.strictEqual(cluster.stats.podCreates, 2, "neither pod was deleted and made again")
      assert.strictEqual((yield* podOn("edge-worker-1"))?.metadata.name, "agent-edge-worker-1")
      assert.match((yield* podOn("worker-1"))?.metadata.name ?? "", /^agent-edge-worker-1-[0-9a-f]{5}$/)
    }).pipe(Effect.provide(operatorLayer)))
})

describe("runs", () => {
  it.effect("a new run clears the previous run's completionTime until it completes", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(["n1"])
      yield* cluster.setPodBehaviour(() => podScripts.ready("10 seconds"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox" }))
      yield* advanceUntil(phaseIs("w", "Succeeded"))
      assert.isString((yield* statusOf("w"))?.completionTime)
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox" }, { "batch.example.com/retry": "1" }))
      yield* advanceUntil(phaseIs("w", "Running"))
      assert.isUndefined((yield* statusOf("w"))?.completionTime)
      yield* advanceUntil(phaseIs("w", "Succeeded"))
    }).pipe(noJitter, Effect.provide(operatorLayer)))

  it.effect("a finalizer patch that conflicts with another writer is retried against the fresh object", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(["n1"])
      yield* cluster.interfere(3)
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("w", { image: "busybox" }))
      yield* advanceUntil(phaseIs("w", "Succeeded"))
      const object = yield* cluster.get("batchworkloads", namespace, "w")
      assert.deepStrictEqual(object?.metadata.finalizers, ["batch.example.com/finalizer"])
    }).pipe(Effect.provide(operatorLayer)))
})
