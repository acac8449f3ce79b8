// The run plan as a pure function: which nodes a run covers, what it creates and deletes, and
// what each node's entry says, from the spec, the nodes, the pods and the run's record.
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { BatchWorkloadSpec, type NodeStatus } from "../../src/api/BatchWorkload.ts"
import type { Node, Pod } from "../../src/api/core.ts"
import { chooseNodes, makeVerdictMemo, type Plan, type PlanInput, planWorkload } from "../../src/domain/plan.ts"
import { buildPod, podNodeName } from "../../src/domain/pods.ts"
import { parseRetryNodes } from "../../src/domain/retryNodes.ts"
import { fakeNode } from "./support/FakeCluster.ts"

const spec = (fields: Record<string, unknown>) => Schema.decodeUnknownSync(BatchWorkloadSpec)({ image: "busybox", ...fields })
const ref = { name: "w", namespace: "default", uid: "uid-w" }
const revision = "rev1"

const plan = (fields: Record<string, unknown>, nodes: ReadonlyArray<Node>, more: Partial<PlanInput> = {}) =>
  planWorkload({
    spec: spec(fields),
    revision,
    nodes: new Map(nodes.map((node) => [node.metadata.name, node])),
    pods: [],
    record: new Map(),
    nowMillis: 100_000,
    runStartedAtMillis: 0,
    retryDelayMillis: (retry) => retry * 10_000,
    podNameFor: (nodeName) => `w-${nodeName}`,
    ...more
  })

const entries = (result: ReturnType<typeof planWorkload>) => result.entries.map((e) => `${e.nodeName}:${e.phase}`)

/** A pod of this workload on `nodeName`, created at `createdAt`, with the given status. */
const pod = (
  nodeName: string,
  status: Pod["status"],
  options: { attempt?: number; createdAt?: number; rev?: string; retryNodes?: string } = {}
): Pod => {
  const target = { nodeName, podName: `w-${nodeName}`, attempt: options.attempt ?? 1, retryNodes: options.retryNodes }
  const built = buildPod(ref, spec({}), target, options.rev ?? revision)
  return {
    ...built,
    metadata: { ...built.metadata, uid: `pod-${nodeName}`, creationTimestamp: new Date(options.createdAt ?? 90_000).toISOString() },
    ...(status !== undefined ? { status } : {})
  }
}
const ready: Pod["status"] = { phase: "Running", conditions: [{ type: "Ready", status: "True" }] }
const running: Pod["status"] = { phase: "Running", conditions: [{ type: "Ready", status: "False" }] }
const failed: Pod["status"] = {
  phase: "Failed",
  containerStatuses: [{ name: "workload", state: { terminated: { exitCode: 1, finishedAt: new Date(95_000).toISOString() } } }]
}

describe("which nodes a run covers", () => {
  const edge = { region: "us-west", type: "edge" }
  const nodes = [
    fakeNode("c", { labels: edge }),
    fakeNode("a", { labels: edge }),
    fakeNode("b", { labels: { region: "us-west" } }),
    fakeNode("d", { labels: edge, ready: false }),
    fakeNode("e", { labels: edge, unschedulable: true }),
    fakeNode("f", { labels: edge, taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] }),
    fakeNode("g", { labels: edge, taints: [{ key: "soft", effect: "PreferNoSchedule" }] })
  ]

  it("nodes whose labels all match, by name, skipping unready, cordoned and tainted ones (with the reasons)", () => {
    const result = plan({ nodeSelector: edge, batchSize: 10 }, nodes)
    assert.deepStrictEqual(entries(result), ["a:Pending", "c:Pending", "g:Pending"])
    assert.deepStrictEqual(result.creates.map((c) => c.nodeName), ["a", "c", "g"])
    assert.match(result.skipped.join("\n"), /node d is not Ready/)
    assert.match(result.skipped.join("\n"), /node e is cordoned/)
    assert.match(result.skipped.join("\n"), /node f has taint dedicated=gpu:NoSchedule/)
  })

  it("at most replicas nodes, and how many were asked for", () => {
    assert.deepStrictEqual(entries(plan({ nodeSelector: edge, replicas: 2 }, nodes)), ["a:Pending", "c:Pending"])
    assert.strictEqual(plan({ nodeSelector: edge, replicas: 10 }, nodes).desired, 10)
  })

  it("every node without a selector; cordoned and tolerated ones when the spec says so", () => {
    assert.deepStrictEqual(entries(plan({}, nodes)), ["a:Pending", "b:Pending", "c:Pending", "g:Pending"])
    const widened = plan({
      nodeSelector: edge,
      includeUnschedulableNodes: true,
      tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }]
    }, nodes)
    assert.deepStrictEqual(entries(widened), ["a:Pending", "c:Pending", "e:Pending", "f:Pending", "g:Pending"])
  })

  it("nodeNames win over nodeSelector, keep their order, and report missing or unready nodes as Failed with 0 attempts", () => {
    const result = plan({ nodeSelector: { region: "nowhere" }, nodeNames: ["c", "missing", "d", "a"], replicas: 3 }, nodes)
    assert.deepStrictEqual(result.entries.map((e) => [e.nodeName, e.phase, e.attempts, e.message]), [
      ["c", "Pending", 1, "attempt 1 of 4: creating pod"],
      ["missing", "Failed", 0, "node missing not found"],
      ["d", "Failed", 0, "node d is not Ready"]
    ])
  })

  it("under replicas, a NotReady node that has the workload's pod keeps its place", () => {
    const result = plan({ nodeSelector: edge, replicas: 1 }, [fakeNode("a", { labels: edge }), fakeNode("z", { labels: edge, ready: false })], {
      pods: [pod("z", ready)]
    })
    assert.deepStrictEqual(entries(result), ["z:Succeeded"])
    assert.deepStrictEqual(result.creates, [])
  })
})

describe("what a run does next", () => {
  const three = [fakeNode("a"), fakeNode("b"), fakeNode("c")]

  it("hands out no more slots than batchSize, counting nodes already in flight", () => {
    const result = plan({ batchSize: 2 }, three, { pods: [pod("a", running)] })
    assert.deepStrictEqual(result.creates.map((c) => c.nodeName), ["b"])
    assert.deepStrictEqual(entries(result), ["a:Running", "b:Pending", "c:Pending"])
    assert.strictEqual(result.wakeAtMillis, 90_000 + 5 * 60_000, "woken when a's attempt would time out")
  })

  it("a timed-out attempt is a failure with a retry due after the backoff, counted from the timeout", () => {
    const result = plan({ timeout: "5s" }, [fakeNode("a")], { pods: [pod("a", running)] })
    const entry = result.entries[0]
    assert.strictEqual(entry?.phase, "Pending")
    assert.match(entry?.message ?? "", /attempt 1 of 4 failed: attempt timed out after 5s; retrying in 10s/)
    assert.strictEqual(entry?.nextAttemptTime, new Date(95_000 + 10_000).toISOString())
    assert.strictEqual(result.notices[0]?.reason, "NodeRetrying")
    assert.deepStrictEqual(result.deletes, [], "the failed pod stays until the retry replaces it")
  })

  it("a due retry first deletes the failed pod, then creates the next attempt once it is gone", () => {
    const waiting: NodeStatus = {
      nodeName: "a",
      phase: "Pending",
      attempts: 1,
      podName: "w-a",
      message: "attempt 1 of 4 failed: boom; retrying in 10s",
      nextAttemptTime: new Date(99_000).toISOString()
    }
    const record = new Map([["a", waiting]])
    const replacing = plan({}, [fakeNode("a")], { pods: [pod("a", failed)], record })
    assert.deepStrictEqual(replacing.deletes.map((d) => d.pod.metadata.name), ["w-a"])
    assert.deepStrictEqual(replacing.creates, [])
    const creating = plan({}, [fakeNode("a")], { record })
    assert.deepStrictEqual(creating.creates, [{ nodeName: "a", podName: "w-a", attempt: 2 }])
    assert.deepStrictEqual(creating.notices, [], "the failure was announced once, when it happened")
  })

  it("a pod still being created holds its node's slot and leaves the node's entry as it was, so a refused create costs no attempt", () => {
    // As the operator builds it: no uid, no creation time, no status until the API server has it.
    const creating = buildPod(ref, spec({}), { nodeName: "a", podName: "w-a", attempt: 2 }, revision)
    const waiting: NodeStatus = { nodeName: "a", phase: "Pending", attempts: 1, podName: "w-a", message: "attempt 1 of 4 failed: boom; retrying in 10s", nextAttemptTime: new Date(99_000).toISOString() }
    const inFlight = plan({ batchSize: 1 }, [fakeNode("a"), fakeNode("b")], { record: new Map([["a", waiting]]), creating: [creating] })
    assert.deepStrictEqual(inFlight.creates, [], "neither a again nor b: a's pod holds the only slot")
    assert.deepStrictEqual(inFlight.entries[0], waiting)
    assert.deepStrictEqual(inFlight.notices, [])
    // Its create was refused: the pod never existed, and the same attempt is planned again.
    const refused = plan({ batchSize: 1 }, [fakeNode("a"), fakeNode("b")], { record: new Map([["a", waiting]]) })
    assert.deepStrictEqual(refused.creates, [{ nodeName: "a", podName: "w-a", attempt: 2 }])
    const first = plan({ batchSize: 2 }, [fakeNode("a"), fakeNode("b")], { creating: [buildPod(ref, spec({}), { nodeName: "a", podName: "w-a", attempt: 1 }, revision)] })
    assert.deepStrictEqual(first.creates.map((c) => c.nodeName), ["b"])
    assert.deepStrictEqual(first.entries[0], { nodeName: "a", phase: "Pending", attempts: 0, podName: "w-a", message: "creating its pod" })
  })

  it("a due retry waits while the node cannot start a pod, keeping its slot", () => {
    const record = new Map([["a", { nodeName: "a", phase: "Pending" as const, attempts: 1, nextAttemptTime: new Date(0).toISOString() }]])
    const result = plan({ batchSize: 1 }, [fakeNode("a", { unschedulable: true }), fakeNode("b")], { record })
    assert.deepStrictEqual(result.creates, [])
    assert.match(result.entries[0]?.message ?? "", /waiting: node a is cordoned/)
  })

  it("a Ready pod frees its node's slot at once without minReadySeconds; with it, only once Ready has held that long (whole seconds rounded up)", () => {
    // Kubelets write the Ready transition to the second: 00:01:40Z, seen 300 ms later.
    const readySince: Pod["status"] = { phase: "Running", conditions: [{ type: "Ready", status: "True", lastTransitionTime: "1970-01-01T00:01:40Z" }] }
    const cases = [
      { minReadySeconds: 0, phase: "Succeeded", creates: ["b"] },
      { minReadySeconds: 2, phase: "Running", creates: [] }
    ]
    for (const { creates, minReadySeconds, phase } of cases) {
      const result = plan({ batchSize: 1, minReadySeconds }, [fakeNode("a"), fakeNode("b")], { pods: [pod("a", readySince)], nowMillis: 100_300 })
      assert.strictEqual(result.entries[0]?.phase, phase, `minReadySeconds ${minReadySeconds}`)
      assert.deepStrictEqual(result.creates.map((c) => c.nodeName), creates, `minReadySeconds ${minReadySeconds}`)
    }
    const soaking = plan({ batchSize: 1, minReadySeconds: 2 }, [fakeNode("a"), fakeNode("b")], { pods: [pod("a", readySince)], nowMillis: 100_300 })
    assert.strictEqual(soaking.wakeAtMillis, 100_999 + 2_000)
  })

  it("the last attempt's failure fails the node for good, keeping the pod for kubectl logs", () => {
    const result = plan({ maxRetries: 0 }, [fakeNode("a")], { pods: [pod("a", failed)] })
    assert.deepStrictEqual(result.entries.map((e) => [e.phase, e.message]), [["Failed", "failed after 1 attempt: container exited with code 1"]])
    assert.deepStrictEqual(result.deletes, [])
    assert.strictEqual(result.notices[0]?.reason, "NodeFailed")
  })

  it("an outdated pod that serves keeps serving until its node's turn; one still starting is deleted now", () => {
    const result = plan({ batchSize: 1 }, three, { pods: [pod("a", ready, { rev: "old" }), pod("b", running, { rev: "old" })] })
    assert.deepStrictEqual(result.deletes.map((d) => d.pod.metadata.name).sort(), ["w-a", "w-b"])
    assert.match(result.entries[0]?.message ?? "", /replacing the previous revision's pod/)
    assert.deepStrictEqual(result.creates, [])
  })
})

describe("why a node is left out (what kubectl bwl plan shows)", () => {
  const edge = { pool: "edge" }
  const nodes = new Map([
    fakeNode("a", { labels: edge }),
    fakeNode("b", { labels: edge }),
    fakeNode("c", { labels: {} }),
    fakeNode("d", { labels: edge, ready: false }),
    fakeNode("e", { labels: edge, unschedulable: true }),
    fakeNode("f", { labels: edge, taints: [{ key: "gpu", effect: "NoSchedule" }] }),
    fakeNode("g", { labels: edge, taints: [{ key: "drain", effect: "NoExecute" }] })
  ].map((node) => [node.metadata.name, node]))
  const rows: ReadonlyArray<{ name: string; fields: Record<string, unknown>; chosen: Array<string>; excluded: Array<string> }> = [
    {
      name: "by selector: label mismatch, NotReady, cordoned, tainted (NoSchedule and NoExecute), beyond replicas",
      fields: { nodeSelector: edge, replicas: 1 },
      chosen: ["a"],
      excluded: ["b:BeyondReplicas", "c:NotSelected", "d:NotReady", "e:Cordoned", "f:Tainted", "g:Tainted"]
    },
    {
      name: "by name: as named, a missing name, and names beyond replicas",
      fields: { nodeNames: ["b", "zz", "d", "a"], replicas: 3 },
      chosen: ["b"],
      excluded: ["zz:NotFound", "d:NotReady", "a:BeyondReplicas"]
    },
    { name: "tolerations and includeUnschedulableNodes let nodes in", fields: { nodeSelector: edge, includeUnschedulableNodes: true, tolerations: [{ operator: "Exists" }] }, chosen: ["a", "b", "e", "f", "g"], excluded: ["c:NotSelected", "d:NotReady"] }
  ]
  for (const row of rows) {
    it(row.name, () => {
      const choice = chooseNodes(spec(row.fields), nodes)
      assert.deepStrictEqual(choice.chosen.map((c) => c.nodeName), row.chosen)
      assert.deepStrictEqual(choice.excluded.map((e) => `${e.nodeName}:${e.exclusion}`), row.excluded)
    })
  }

  it("the operator's InsufficientNodes reasons are the exclusions of nodes it was asked for", () => {
    const result = plan({ nodeSelector: edge }, [...nodes.values()])
    assert.deepStrictEqual(result.skipped.length, 4)
    assert.notMatch(result.skipped.join("\n"), /node c /)
  })
})

describe("retry-nodes: a new attempt for some nodes only", () => {
  const three = [fakeNode("a"), fakeNode("b"), fakeNode("c")]
  const done: Pod["status"] = { phase: "Succeeded", containerStatuses: [{ name: "workload", state: { terminated: { exitCode: 0 } } }] }
  const failedFor = (nodeName: string): NodeStatus => ({ nodeName, phase: "Failed", attempts: 1, podName: `w-${nodeName}`, message: "failed after 1 attempt" })
  const succeededOn = (nodeName: string): NodeStatus => ({ nodeName, phase: "Succeeded", attempts: 1, podName: `w-${nodeName}`, message: "pod completed" })
  const fields = { mode: "RunToCompletion", maxRetries: 0, batchSize: 3 }
  const record = new Map([["a", succeededOn("a")], ["b", failedFor("b")], ["c", failedFor("c")]])
  const retry = (value: string, handled: boolean) => {
    const parsed = parseRetryNodes(value)
    return parsed !== undefined ? { ...parsed, handled } : undefined
  }

  it("parses token:node,node and ignores a value without a token or nodes", () => {
    assert.deepStrictEqual([...(parseRetryNodes("17:b, c")?.nodes ?? [])], ["b", "c"])
    assert.isUndefined(parseRetryNodes("b,c"))
    assert.isUndefined(parseRetryNodes("17:"))
    assert.isUndefined(parseRetryNodes(undefined))
  })

  const rows: ReadonlyArray<{ name: string; value: string; handled: boolean; pods: Array<Pod>; deletes: Array<string>; creates: Array<string>; phases: Array<string> }> = [
    {
      name: "a new value forgets the named nodes' attempts and replaces their failed pods; the others keep their record",
      value: "1:b,c",
      handled: false,
      pods: [pod("a", done), pod("b", failed), pod("c", failed)],
      deletes: ["w-b", "w-c"],
      creates: [],
      phases: ["a:Succeeded:1", "b:Pending:0", "c:Pending:0"]
    },
    {
      name: "once the old pods are gone, only the named nodes get attempt 1, marked with the value",
      value: "1:b",
      handled: true,
      pods: [pod("a", done)],
      deletes: [],
      creates: ["b:1:1:b"],
      phases: ["a:Succeeded:1", "b:Pending:1", "c:Failed:1"]
    },
    {
      name: "a pod that answers the value is the node's current attempt",
      value: "1:b",
      handled: true,
      pods: [pod("a", done), pod("b", done, { retryNodes: "1:b" }), pod("c", failed)],
      deletes: [],
      creates: [],
      phases: ["a:Succeeded:1", "b:Succeeded:1", "c:Failed:1"]
    },
    {
      name: "once handled, a retried attempt that fails stays failed: the value is acted on once",
      value: "1:c",
      handled: true,
      pods: [pod("a", done), pod("c", failed, { retryNodes: "1:c" })],
      deletes: [],
      creates: [],
      phases: ["a:Succeeded:1", "b:Failed:1", "c:Failed:1"]
    }
  ]
  for (const row of rows) {
    it(row.name, () => {
      // After a handled retry the record holds what the previous pass wrote for the named nodes.
      const given = row.handled && row.value === "1:b" ? new Map([...record].filter(([name]) => name !== "b")) : record
      const result = plan(fields, three, { pods: row.pods, record: given, retryNodes: retry(row.value, row.handled) })
      assert.deepStrictEqual(result.deletes.map((d) => d.pod.metadata.name), row.deletes)
      assert.deepStrictEqual(result.creates.map((c) => `${c.nodeName}:${c.attempt}:${c.retryNodes ?? ""}`), row.creates)
      assert.deepStrictEqual(result.entries.map((e) => `${e.nodeName}:${e.phase}:${e.attempts}`), row.phases)
    })
  }
})

describe("the verdict memo: the same plans, with last pass's objects for nodes that did not change", () => {
  /** A small deterministic generator, so every run of the test replays the same cluster history. */
  const generator = (seed: number) => {
    let state = seed
    return () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31
      return state / 2 ** 31
    }
  }
  const sameEntry = (a: NodeStatus, b: NodeStatus) =>
    a.phase === b.phase && a.attempts === b.attempts && a.podName === b.podName && a.message === b.message &&
    a.nextAttemptTime === b.nextAttemptTime
  const withStatus = (given: Pod, status: NonNullable<Pod["status"]>): Pod => ({ ...given, status })

  /**
   * A run over a cluster that changes under it: pods start, become Ready, fail, lose readiness or
   * are deleted; nodes are cordoned, go NotReady, leave and come back; the clock moves in uneven
   * steps past timeouts, soaks and backoffs. Each pass is planned twice, with the memo and
   * without, and the Reconciler's way of keeping an unchanged entry as the same object is copied.
   */
  const simulate = (fields: Record<string, unknown>, seed: number, fleet: { size: number; churn: number } = { size: 12, churn: 1 }) => {
    const random = generator(seed)
    const names = Array.from({ length: fleet.size }, (_, index) => `n${String(index).padStart(3, "0")}`)
    const nodes = new Map(names.map((name) => [name, fakeNode(name)]))
    const pods = new Map<string, Pod>()
    const memo = makeVerdictMemo()
    let record = new Map<string, NodeStatus>()
    let nowMillis = 100_000
    let recordEntries: ReadonlyArray<NodeStatus> = []
    let nodesVersion = 0
    let reused = 0
    let incremental = 0
    let previous: Plan | undefined
    /** Creates the cache does not show yet (the pass after they are made), and deletes it does not show yet. */
    let inFlight = new Map<string, Pod>()
    for (let step = 0; step < 40; step++) {
      const input: PlanInput = {
        spec: spec(fields),
        revision,
        nodes: new Map(nodes),
        nodeNames: [...nodes.keys()].sort(),
        nodesVersion,
        pods: [...pods.values()],
        creating: [...inFlight.values()],
        record,
        recordEntries,
        nowMillis,
        runStartedAtMillis: 100_000,
        retryDelayMillis: (retry) => retry * 3_000,
        podNameFor: (nodeName) => `w-${nodeName}`
      }
      const keptBefore = memo.last !== undefined
      const memoized = planWorkload({ ...input, memo })
      assert.deepStrictEqual(memoized, planWorkload(input), `seed ${seed}, pass ${step}`)
      if (keptBefore && memo.last !== undefined) incremental += 1
      const before = new Set(previous?.entries ?? [])
      reused += memoized.entries.filter((entry) => before.has(entry)).length
      previous = memoized

      // Now and then a pass is not acted on and its outcome not recorded (the API server refused the run's pod):
      // the next one plans from the same record, and announces again what it announced.
      if (random() < 0.1) {
        nowMillis += 500
        continue
      }
      recordEntries = memoized.entries.map((entry) => {
        const known = record.get(entry.nodeName)
        return known !== undefined && sameEntry(known, entry) ? known : entry
      })
      // Someone else's hand in the record now and then (the status edited, a message clipped): it is read as it is.
      if (random() < 0.2 && recordEntries.length > 0) {
        const at = Math.floor(random() * recordEntries.length)
        recordEntries = recordEntries.map((entry, index) => index === at ? { ...entry, message: `${entry.message ?? ""} (edited)` } : entry)
      }
      record = new Map(recordEntries.map((entry) => [entry.nodeName, entry]))
      // Some deletes take a pass to show; the full pass asks for them again meanwhile, and so must a pass over changes only.
      for (const { pod: gone } of memoized.deletes) if (random() < 0.7) pods.delete(podNodeName(gone))
      // A create lands in the cache the pass after it is made, or is refused (its node is judged again).
      for (const [nodeName, landing] of inFlight) if (random() < 0.9) pods.set(nodeName, landing)
      inFlight = new Map()
      for (const target of memoized.creates) {
        const created = buildPod(ref, input.spec, target, revision)
        inFlight.set(target.nodeName, {
          ...created,
          metadata: { ...created.metadata, uid: `pod-${target.nodeName}-${step}`, creationTimestamp: new Date(nowMillis).toISOString() },
          status: { phase: "Pending" }
        })
      }
      for (const [nodeName, current] of pods) {
        const roll = random() / fleet.churn
        const isReady = current.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true
        if (current.status?.phase === "Pending" && roll < 0.5) {
          const at = new Date(nowMillis).toISOString()
          pods.set(nodeName, withStatus(current, { phase: "Running", conditions: [{ type: "Ready", status: "True", lastTransitionTime: at }] }))
        } else if (current.status?.phase === "Pending" && roll < 0.6) pods.set(nodeName, withStatus(current, running))
        else if (current.status?.phase === "Pending" && roll < 0.7) pods.set(nodeName, withStatus(current, failed))
        else if (isReady && roll < 0.05) pods.set(nodeName, withStatus(current, running))
        else if (isReady && roll < 0.08) pods.delete(nodeName)
      }
      const roll = random() / fleet.churn
      const nodeName = names[Math.floor(random() * names.length)] ?? "n000"
      if (roll < 0.35) nodesVersion += 1
      if (roll < 0.08) nodes.set(nodeName, fakeNode(nodeName, { unschedulable: true }))
      else if (roll < 0.16) nodes.set(nodeName, fakeNode(nodeName, { ready: false }))
      else if (roll < 0.2) nodes.delete(nodeName)
      else if (roll < 0.35) nodes.set(nodeName, fakeNode(nodeName))
      nowMillis += 500 + Math.floor(random() * 6_000)
    }
    return { reused, incremental }
  }

  it("a node choice kept while the nodes are the same still follows which nodes hold the run", () => {
    const memo = makeVerdictMemo()
    const nodes = [fakeNode("a"), fakeNode("b"), fakeNode("c")]
    const first = plan({ replicas: 2, batchSize: 1 }, nodes, { memo, nodesVersion: 7 })
    assert.deepStrictEqual(entries(first), ["a:Pending", "b:Pending"])
    // Same nodes (same count), but c now holds a pod of the run (say, made before a restart): it keeps its place under replicas.
    const more = { pods: [pod("c", ready)], nodesVersion: 7 }
    const second = plan({ replicas: 2, batchSize: 1 }, nodes, { ...more, memo })
    assert.deepStrictEqual(second, plan({ replicas: 2, batchSize: 1 }, nodes, more))
    assert.deepStrictEqual(entries(second), ["a:Pending", "c:Succeeded"])
    assert.deepStrictEqual(second.deletes, [])
  })

  const specs = [
    { name: "LongRunning, with a soak", fields: { mode: "LongRunning", batchSize: 3, maxRetries: 2, timeout: "20s", minReadySeconds: 5 } },
    { name: "RunToCompletion", fields: { mode: "RunToCompletion", batchSize: 4, maxRetries: 1, timeout: "15s" } },
    { name: "a failure budget and a replicas limit", fields: { batchSize: 2, maxRetries: 1, timeout: "10s", replicas: 8, failurePolicy: { maxFailedNodes: 2, action: "Abort" }, activeDeadlineSeconds: 90 } }
  ]
  for (const { fields, name } of specs) {
    it(name, () => {
      let reused = 0
      for (let seed = 1; seed <= 15; seed++) reused += simulate(fields, seed).reused
      // Entries carried over as the same objects: the memo was used, not merely harmless.
      assert.isAbove(reused, 100)
    })
  }

  it("passes that judge only the nodes that changed plan what full passes plan, on a larger fleet that changes slowly", () => {
    let incremental = 0
    for (const { fields } of specs) {
      for (let seed = 1; seed <= 10; seed++) incremental += simulate(fields, seed, { size: 60, churn: 0.15 }).incremental
    }
    // Most passes of the specs without replicas went the incremental way: it was checked, not skipped.
    assert.isAbove(incremental, 200)
  })
})
