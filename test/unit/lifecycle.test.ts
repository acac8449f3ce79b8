import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { revisionAnnotation } from "../../src/domain/pods.ts"
import { FakeCluster, fakeNode, podScripts } from "./support/FakeCluster.ts"
import {
  advanceUntil,
  eventsFor,
  namespace,
  operatorLayer,
  operatorServices,
  phaseIs,
  startOperator,
  statusOf,
  workload
} from "./support/harness.ts"

const nodes = (count: number, labels: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const cluster = yield* FakeCluster
    for (let i = 1; i <= count; i++) yield* cluster.apply("nodes", fakeNode(`node-${i}`, { labels }))
    return cluster
  })

const myWorkload = {
  replicas: 3,
  nodeNames: ["node-1", "node-2", "node-3"],
  image: "busybox:latest",
  command: ["sleep", "3600"],
  batchSize: 2,
  timeout: "120s"
}

describe("status", () => {
  it.effect("the seed manifest my-workload succeeds on its named nodes, with conditions and events", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(4)
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("my-workload", myWorkload))
      yield* advanceUntil(phaseIs("my-workload", "Succeeded"))
      const status = yield* statusOf("my-workload")
      assert.strictEqual(status?.progress, "3/3")
      assert.strictEqual(status?.observedGeneration, 1)
      assert.isString(status?.startTime)
      assert.isString(status?.completionTime)
      const conditions = Object.fromEntries((status?.conditions ?? []).map((c) => [c.type, c.status]))
      assert.deepStrictEqual(conditions, {
        Progressing: "False",
        Complete: "True",
        Failed: "False",
        InsufficientNodes: "False",
        Ready: "True",
        Reconciling: "False",
        Stalled: "False",
        Degraded: "False",
        Paused: "False",
        Waiting: "False"
      })
      assert.deepStrictEqual(
        status?.nodeStatus?.map((n) => [n.nodeName, n.phase, n.attempts, n.podName]),
        [
          ["node-1", "Succeeded", 1, "my-workload-node-1"],
          ["node-2", "Succeeded", 1, "my-workload-node-2"],
          ["node-3", "Succeeded", 1, "my-workload-node-3"]
        ]
      )
      const events = yield* eventsFor("my-workload")
      assert.include(events, "Started: deploying busybox:latest to 3 of 3 nodes, 2 at a time")
      assert.include(events, "Completed: all 3 nodes succeeded")
      assert.strictEqual(events.filter((e) => e.startsWith("NodeSucceeded")).length, 3)
      const workloadObject = yield* cluster.get("batchworkloads", namespace, "my-workload")
      assert.deepStrictEqual(workloadObject?.metadata.finalizers, ["batch.example.com/finalizer"])
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("folds one node's failure into status without stopping the others", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(3)
      yield* cluster.setPodBehaviour((pod) => pod.spec?.nodeName === "node-2" ? podScripts.fail() : podScripts.ready("5 seconds"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("mixed", { image: "busybox", batchSize: 3, maxRetries: 0 }))
      yield* advanceUntil(phaseIs("mixed", "Failed"))
      const status = yield* statusOf("mixed")
      assert.strictEqual(status?.succeededNodes, 2)
      assert.strictEqual(status?.failedNodes, 1)
      const failed = status?.conditions?.find((c) => c.type === "Failed")
      assert.strictEqual(failed?.status, "True")
      assert.match(failed?.message ?? "", /1 of 3 nodes failed: node-2: failed after 1 attempt: container exited with code 1/)
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("reports a named node that does not exist, and too few eligible nodes", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(2)
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("my-workload", myWorkload))
      yield* advanceUntil(phaseIs("my-workload", "Failed"))
      const status = yield* statusOf("my-workload")
      const node3 = status?.nodeStatus?.find((n) => n.nodeName === "node-3")
      assert.strictEqual(node3?.message, "node node-3 not found")
      const insufficient = status?.conditions?.find((c) => c.type === "InsufficientNodes")
      assert.strictEqual(insufficient?.status, "True")
      assert.match(insufficient?.message ?? "", /2 of 3 requested nodes are eligible: node node-3 not found/)
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("writes status far less often than pods change: 100 nodes cost a handful of writes", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(100)
      yield* cluster.setPodBehaviour(() => podScripts.ready("2 seconds"))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("wide", { image: "busybox", batchSize: 50 }))
      yield* advanceUntil(phaseIs("wide", "Succeeded"))
      // 100 nodes each go Pending -> Running -> Succeeded: hundreds of node updates, gathered into one write a second.
      assert.isAtMost(cluster.stats.statusWrites, 12)
      assert.isAtLeast(cluster.stats.statusWrites, 2)
      const writesWhenDone = cluster.stats.statusWrites
      yield* advanceUntil(Effect.succeed(false), "30 seconds").pipe(Effect.exit)
      assert.strictEqual(cluster.stats.statusWrites, writesWhenDone, "an idle workload writes nothing")
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("reports an undecodable spec in a condition and carries on with other workloads", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(1)
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("broken", { replicas: 0, timeout: "abc" }))
      yield* cluster.apply("batchworkloads", workload("fine", { image: "busybox" }))
      yield* advanceUntil(phaseIs("fine", "Succeeded"))
      const status = yield* statusOf("broken")
      const invalid = status?.conditions?.find((c) => c.type === "InvalidSpec")
      assert.strictEqual(invalid?.status, "True")
      assert.match(invalid?.message ?? "", /invalid duration/)
      assert.match(invalid?.message ?? "", /between 1 and 1000/)
      assert.strictEqual(status?.conditions?.find((c) => c.type === "Stalled")?.status, "True", "kstatus readers see it stalled")
    }).pipe(Effect.provide(operatorLayer)))
})

describe("changes", () => {
  it.effect("a new spec interrupts the run and replaces outdated pods in batches", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(4)
      yield* cluster.setPodBehaviour(() => podScripts.ready("10 seconds"))
      yield* startOperator
      const spec = { image: "busybox:1", batchSize: 1 }
      yield* cluster.apply("batchworkloads", workload("rolling", spec))
      yield* advanceUntil(Effect.map(statusOf("rolling"), (s) => s?.succeededNodes === 1))
      yield* cluster.apply("batchworkloads", workload("rolling", { ...spec, image: "busybox:2" }))
      yield* advanceUntil(Effect.map(statusOf("rolling"), (s) => s?.observedGeneration === 2 && s.phase === "Succeeded"))
      const pods = yield* cluster.list("pods")
      const revisions = new Set(pods.map((pod) => pod.metadata.annotations?.[revisionAnnotation]))
      assert.strictEqual(pods.length, 4)
      assert.strictEqual(revisions.size, 1, "every pod runs the new template")
      assert.isTrue(pods.every((pod) => JSON.stringify(pod.spec).includes("busybox:2")))
      // busybox:1 reached node-1 and node-2 at most before the change; node-3 and node-4 only ever got busybox:2.
      assert.isAtMost(cluster.stats.podCreates, 6)
      assert.strictEqual(cluster.stats.maxInFlight, 1)
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("lowering replicas removes pods, raising it adds them, without touching the rest", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(5)
      yield* startOperator
      const spec = { image: "busybox", replicas: 4, batchSize: 4 }
      yield* cluster.apply("batchworkloads", workload("scale", spec))
      yield* advanceUntil(phaseIs("scale", "Succeeded"))
      yield* cluster.apply("batchworkloads", workload("scale", { ...spec, replicas: 2 }))
      yield* advanceUntil(Effect.map(statusOf("scale"), (s) => s?.observedGeneration === 2 && s.phase === "Succeeded"))
      assert.deepStrictEqual((yield* cluster.list("pods")).map((p) => p.spec?.nodeName).sort(), ["node-1", "node-2"])
      yield* cluster.apply("batchworkloads", workload("scale", { ...spec, replicas: 5 }))
      yield* advanceUntil(Effect.map(statusOf("scale"), (s) => s?.observedGeneration === 3 && s.phase === "Succeeded"))
      assert.strictEqual((yield* cluster.list("pods")).length, 5)
      assert.strictEqual(cluster.stats.podCreates, 4 + 3, "node-1 and node-2 kept their pods")
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("the retry annotation reruns every node once, and is not acted on twice", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(3)
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("again", { image: "busybox", batchSize: 3 }))
      yield* advanceUntil(phaseIs("again", "Succeeded"))
      const firstUids = (yield* cluster.list("pods")).map((p) => p.metadata.uid)
      const current = yield* cluster.get("batchworkloads", namespace, "again")
      yield* cluster.apply("batchworkloads", {
        ...current!,
        metadata: { ...current!.metadata, annotations: { "batch.example.com/retry": "1" } }
      })
      yield* advanceUntil(Effect.map(statusOf("again"), (s) => s?.handledRetry === "1" && s.phase === "Succeeded"))
      const pods = yield* cluster.list("pods")
      assert.strictEqual(pods.length, 3)
      assert.isTrue(pods.every((p) => !firstUids.includes(p.metadata.uid)), "every pod was replaced")
      assert.strictEqual(cluster.stats.podCreates, 6)
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("a long-running workload gives a pod to a node that becomes eligible later", () =>
    Effect.gen(function*() {
      const edge = { type: "edge" }
      const cluster = yield* nodes(2, edge)
      yield* cluster.apply("nodes", fakeNode("late", { ready: false, labels: edge }))
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("follow", { image: "nginx", nodeSelector: edge, batchSize: 2 }))
      yield* advanceUntil(phaseIs("follow", "Succeeded"))
      assert.strictEqual((yield* statusOf("follow"))?.totalNodes, 2)
      yield* cluster.apply("nodes", fakeNode("late", { labels: edge }))
      yield* advanceUntil(Effect.map(statusOf("follow"), (s) => s?.totalNodes === 3 && s.phase === "Succeeded"))
      assert.strictEqual((yield* cluster.list("pods")).length, 3)
    }).pipe(Effect.provide(operatorLayer)))

  it.effect("deleting a workload deletes its pods, then removes the finalizer", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(3)
      yield* startOperator
      yield* cluster.apply("batchworkloads", workload("gone", { image: "busybox", batchSize: 3 }))
      yield* advanceUntil(phaseIs("gone", "Succeeded"))
      yield* cluster.remove("batchworkloads", namespace, "gone")
      yield* advanceUntil(Effect.map(cluster.get("batchworkloads", namespace, "gone"), (w) => w === undefined))
      assert.strictEqual((yield* cluster.list("pods")).length, 0)
    }).pipe(Effect.provide(operatorLayer)))
})

describe("restarts", () => {
  it.effect("an operator killed mid-run resumes from the cluster: no duplicate pods, no node run twice", () =>
    Effect.gen(function*() {
      const cluster = yield* nodes(6)
      yield* cluster.setPodBehaviour(() => podScripts.ready("10 seconds"))
      const first = yield* Effect.forkChild(Effect.scoped(startOperator.pipe(Effect.andThen(Effect.never))).pipe(Effect.provide(operatorServices)))
      yield* cluster.apply("batchworkloads", workload("resume", { image: "busybox", batchSize: 2 }))
      yield* advanceUntil(Effect.map(statusOf("resume"), (s) => (s?.succeededNodes ?? 0) >= 2))
      yield* Fiber.interrupt(first)
      const createdBeforeRestart = cluster.stats.podCreates
      assert.isBelow(createdBeforeRestart, 6)
      yield* Effect.forkChild(Effect.scoped(startOperator.pipe(Effect.andThen(Effect.never))).pipe(Effect.provide(operatorServices)))
      yield* advanceUntil(phaseIs("resume", "Succeeded"))
      assert.strictEqual(cluster.stats.podCreates, 6, "each node got exactly one pod across both operators")
      assert.strictEqual(cluster.stats.maxInFlight, 2)
      const status = yield* statusOf("resume")
      assert.isTrue(status?.nodeStatus?.every((n) => n.attempts === 1 && n.phase === "Succeeded"))
    }).pipe(Effect.provide(FakeCluster.layer)))
})
