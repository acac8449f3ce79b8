// What the operator does when the cluster changes under a run: nodes deleted, NotReady, cordoned
// or tainted, pods losing readiness or deleted by hand, foreground deletion, pod names that read
// alike. Everything is observed through the API server, as a user would.
import type * as k8s from "@kubernetes/client-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  bringNodeBack,
  deleteNodes,
  type FakeNodeSpec,
  fateAnnotations,
  freezePod,
  makeNodeUnreachable,
  nodeReadyStatus,
  patchNode,
  patchNodeLabels,
  podReadyStatus,
  setPodReady
} from "../controlplane/index.ts"
import {
  conditionStatus,
  consistently,
  core,
  cp,
  createNodes,
  eventually,
  nodeEntry,
  type OperatorProcess,
  podsOfWorkloadUid,
  recordPodDeletions,
  recordPods,
  sleep,
  startOperator,
  useNamespace,
  workloadApi
} from "./support/operator.ts"

const namespace = useNamespace("cluster-changes")
const workloads = workloadApi(namespace)
const suite = `cc-${process.pid}`
const groupLabel = "cluster-changes.example.com/group"
/** Labels that select one test's nodes and nothing else in the cluster. */
const group = (name: string) => ({ [groupLabel]: `${suite}-${name}` })
let operator: OperatorProcess

const created = new Set<string>()
const nodes = async (specs: ReadonlyArray<FakeNodeSpec>) => {
  for (const spec of specs) created.add(spec.name)
  await createNodes(specs)
}

beforeAll(() => {
  operator = startOperator(namespace)
})
afterAll(async () => {
  expect(await operator.stop()).toBe(0)
  await deleteNodes(cp.kubeconfigPath, [...created])
})

const uidOf = async (name: string) => {
  const uid = (await workloads.get(name)).metadata.uid
  if (uid === undefined) throw new Error(`workload ${name} has no uid`)
  return uid
}

/** The one pod the workload has on `nodeName` (fails unless there is exactly one). */
const onlyPod = async (uid: string, nodeName: string): Promise<k8s.V1Pod> => {
  const pods = await podsOfWorkloadUid(namespace, uid, nodeName)
  expect(pods.map((pod) => pod.metadata?.name), `pods on ${nodeName}`).toHaveLength(1)
  return pods[0] as k8s.V1Pod
}

/** Resolves once the workload's pods on `nodeName` are gone or being deleted. */
const podsDeleting = (uid: string, nodeName: string, timeoutMs: number) =>
  eventually(`pods on ${nodeName} deleted`, async () => {
    const pods = await podsOfWorkloadUid(namespace, uid, nodeName)
    return pods.every((pod) => pod.metadata?.deletionTimestamp !== undefined) ? true : undefined
  }, timeoutMs)

const notFound = (error: unknown) => typeof error === "object" && error !== null && "code" in error && error.code === 404

describe("nodes that go away", () => {
  it("cancels nodes deleted or deselected before their turn and one deleted while its pod starts; the run does not wait for them", async () => {
    const labels = group("deleted")
    const [first, second, third, fourth, fifth] = [1, 2, 3, 4, 5].map((i) => `${suite}-del-${i}`) as [string, string, string, string, string]
    await nodes([first, second, third, fourth, fifth].map((name) => ({ name, labels })))
    const recorder = await recordPods(namespace)
    // 15 s to Ready, one node at a time, and a 5-minute timeout: waiting out an attempt on a
    // deleted node (up to 4 x 5 min) would take far longer than this test may run.
    await workloads.create("deleted", {
      nodeSelector: labels,
      image: "nginx",
      batchSize: 1,
      timeout: "5m",
      podAnnotations: fateAnnotations("ready", { delayMs: 15_000 })
    })
    const uid = await uidOf("deleted")
    await eventually("the first node's pod, not Ready yet", async () => {
      const pods = await podsOfWorkloadUid(namespace, uid, first)
      return pods.length === 1 && podReadyStatus(pods[0] as k8s.V1Pod) !== "True" ? true : undefined
    })
    const running = await workloads.waitFor("deleted", "all five nodes listed, the third and fifth waiting", (s) =>
      s.nodeStatus?.length === 5 && nodeEntry(s, third)?.phase === "Pending" && nodeEntry(s, fifth)?.phase === "Pending")
    expect(running.phase).toBe("Running")
    expect(await podsOfWorkloadUid(namespace, uid, third)).toHaveLength(0)

    await deleteNodes(cp.kubeconfigPath, [first, third])
    await patchNodeLabels(cp.kubeconfigPath, fifth, { [groupLabel]: null })

    // Pod garbage collection leaves pods of a vanished node alone for 40 s: within 30 s, only the operator deletes it.
    await podsDeleting(uid, first, 30_000)
    const cancelled = await workloads.waitFor("deleted", "the deleted and the deselected nodes Cancelled", (s) =>
      [first, third, fifth].every((node) => nodeEntry(s, node)?.phase === "Cancelled"), 30_000)
    expect(nodeEntry(cancelled, first)?.message).toMatch(/deleted/)
    expect(nodeEntry(cancelled, third)?.message).toMatch(/deleted/)
    expect(nodeEntry(cancelled, fifth)?.message).toMatch(/no longer/)

    const status = await workloads.waitFor("deleted", "Succeeded on the two nodes left", (s) => s.phase === "Succeeded", 120_000)
    expect(nodeEntry(status, second)?.phase).toBe("Succeeded")
    expect(nodeEntry(status, fourth)?.phase).toBe("Succeeded")
    for (const node of [first, third, fifth]) expect(nodeEntry(status, node)?.phase, node).toBe("Cancelled")
    expect(status.totalNodes).toBe(2)
    expect(status.succeededNodes).toBe(2)
    await eventually("the deleted running node's pod gone", async () =>
      (await podsOfWorkloadUid(namespace, uid, first)).length === 0 ? true : undefined, 90_000)
    recorder.stop()
    expect(recorder.lives().filter((life) => life.node === third || life.node === fifth)).toEqual([])
    // kstatus conditions: Reconciling while the run went on, Ready once it succeeded.
    expect(conditionStatus(running, "Reconciling")).toBe("True")
    expect(conditionStatus(running, "Ready")).toBe("False")
    expect(conditionStatus(status, "Reconciling")).not.toBe("True")
    expect(conditionStatus(status, "Ready")).toBe("True")
    await workloads.remove("deleted")
  }, 240_000)
})

describe("nodes that stop being schedulable", () => {
  it("keeps a Ready pod through a long NotReady spell of its node: Degraded meanwhile, Succeeded again after", async () => {
    const labels = group("outage")
    const node = `${suite}-outage`
    await nodes([{ name: node, labels }])
    // A timeout shorter than the outage: a pod that had been Ready must not time out when it loses readiness.
    await workloads.create("outage", {
      nodeSelector: labels,
      image: "nginx",
      timeout: "20s",
      maxRetries: 1,
      initialBackoff: "1s",
      podAnnotations: fateAnnotations("ready", { delayMs: 300 })
    })
    const before = await workloads.waitFor("outage", "Succeeded", (s) => s.phase === "Succeeded")
    const attempts = nodeEntry(before, node)?.attempts
    expect(attempts).toBe(1)
    const uid = await uidOf("outage")
    const pod = await onlyPod(uid, node)
    const podName = pod.metadata?.name ?? ""

    // kwok keeps playing the kubelet for the pods of a node whose Lease it lost and would report
    // the pod Ready again over kube-controller-manager's Ready=False: freeze it, as a dead kubelet would.
    await freezePod(cp.kubeconfigPath, namespace, podName)
    const down = await makeNodeUnreachable(cp.kubeconfigPath, node)
    expect(nodeReadyStatus(down)).not.toBe("True")
    await eventually("kube-controller-manager marks the pod not Ready", async () =>
      podReadyStatus(await core.readNamespacedPod({ name: podName, namespace })) === "False" ? true : undefined, 30_000)

    const degraded = await workloads.waitFor("outage", "Degraded", (s) =>
      s.phase === "Degraded" && nodeEntry(s, node)?.phase === "Degraded", 60_000)
    expect(nodeEntry(degraded, node)?.attempts).toBe(attempts)
    expect(nodeEntry(degraded, node)?.message).toMatch(/ready|readiness/i)
    expect(conditionStatus(degraded, "Degraded")).toBe("True")
    expect(conditionStatus(degraded, "Ready")).toBe("False")

    // The node stays NotReady for longer than the workload's timeout: the pod stays, no attempt
    // is spent, and the entry never claims Succeeded while the pod is not Ready.
    await consistently("pod kept and the node Degraded while it is NotReady", async () => {
      const status = (await workloads.get("outage")).status
      const pods = await podsOfWorkloadUid(namespace, uid)
      expect(nodeReadyStatus(await core.readNode({ name: node }))).not.toBe("True")
      expect(pods.map((p) => [p.metadata?.uid, p.metadata?.deletionTimestamp])).toEqual([[pod.metadata?.uid, undefined]])
      expect(nodeEntry(status, node)).toMatchObject({ phase: "Degraded", attempts })
      expect(status?.phase).toBe("Degraded")
      return true
    }, 40_000)

    await bringNodeBack(cp.kubeconfigPath, node)
    // The returning kubelet reports the pod Ready (kwok does not always do it by itself).
    await setPodReady(cp.kubeconfigPath, namespace, podName, true)
    const after = await workloads.waitFor("outage", "Succeeded again", (s) =>
      s.phase === "Succeeded" && nodeEntry(s, node)?.phase === "Succeeded", 60_000)
    expect(nodeEntry(after, node)?.attempts).toBe(attempts)
    expect(conditionStatus(after, "Ready")).toBe("True")
    expect(conditionStatus(after, "Degraded")).not.toBe("True")
    expect((await onlyPod(uid, node)).metadata?.uid).toBe(pod.metadata?.uid)
    await workloads.remove("outage")
  }, 300_000)

  it("a cordon keeps the pod already running; a node cordoned before its turn gets none unless includeUnschedulableNodes", async () => {
    const labels = group("cordon")
    const [first, second, third] = [1, 2, 3].map((i) => `${suite}-cordon-${i}`) as [string, string, string]
    await nodes([first, second, third].map((name) => ({ name, labels })))
    const recorder = await recordPods(namespace)
    await workloads.create("cordoned", {
      nodeSelector: labels,
      image: "nginx",
      batchSize: 1,
      podAnnotations: fateAnnotations("ready", { delayMs: 10_000 })
    })
    const uid = await uidOf("cordoned")
    await eventually("the first node's pod, not Ready yet", async () => {
      const pods = await podsOfWorkloadUid(namespace, uid, first)
      return pods.length === 1 && podReadyStatus(pods[0] as k8s.V1Pod) !== "True" ? true : undefined
    })
    const firstPod = await onlyPod(uid, first)
    expect(await podsOfWorkloadUid(namespace, uid, third)).toHaveLength(0)

    for (const node of [first, third]) {
      const cordoned = await cp.kubectl(["cordon", node])
      expect(cordoned.code, cordoned.stderr).toBe(0)
    }
    // kube-controller-manager follows a cordon with the node.kubernetes.io/unschedulable taint.
    await eventually("cordon taints", async () => {
      const tainted = await Promise.all([first, third].map(async (name) =>
        (await core.readNode({ name })).spec?.taints?.some((taint) => taint.key === "node.kubernetes.io/unschedulable") === true))
      return tainted.every(Boolean) ? true : undefined
    }, 30_000)

    const status = await workloads.waitFor("cordoned", "Succeeded on the nodes it could use", (s) => s.phase === "Succeeded", 120_000)
    expect(nodeEntry(status, first)?.phase).toBe("Succeeded")
    expect(nodeEntry(status, second)?.phase).toBe("Succeeded")
    expect(nodeEntry(status, third)?.phase).not.toBe("Succeeded")
    await consistently("the cordoned node's pod kept, nothing on the node cordoned before its turn", async () => {
      const pods = await podsOfWorkloadUid(namespace, uid)
      expect(pods.filter((pod) => pod.spec?.nodeName === first).map((pod) => [pod.metadata?.uid, pod.metadata?.deletionTimestamp]))
        .toEqual([[firstPod.metadata?.uid, undefined]])
      expect(pods.filter((pod) => pod.spec?.nodeName === third)).toEqual([])
      return true
    }, 5_000)
    recorder.stop()
    expect(recorder.lives().filter((life) => life.node === third)).toEqual([])

    await workloads.create("cordoned-too", {
      nodeSelector: labels,
      includeUnschedulableNodes: true,
      image: "nginx",
      batchSize: 3,
      podAnnotations: fateAnnotations("ready", { delayMs: 300 })
    })
    const too = await workloads.waitFor("cordoned-too", "Succeeded on all three nodes", (s) => s.phase === "Succeeded" && s.totalNodes === 3)
    for (const node of [first, second, third]) expect(nodeEntry(too, node)?.phase, node).toBe("Succeeded")
    await onlyPod(await uidOf("cordoned-too"), third)
    await workloads.remove("cordoned")
    await workloads.remove("cordoned-too")
  })

  it("records an attempt evicted by an untolerated NoExecute taint as failed, naming the taint", async () => {
    const labels = group("taint")
    const [tainted, untouched] = [`${suite}-taint-1`, `${suite}-taint-2`]
    await nodes([tainted, untouched].map((name) => ({ name, labels })))
    await workloads.create("evicted", {
      nodeSelector: labels,
      image: "nginx",
      batchSize: 2,
      maxRetries: 0,
      podAnnotations: fateAnnotations("ready", { delayMs: 300 })
    })
    await workloads.waitFor("evicted", "Succeeded", (s) => s.phase === "Succeeded")
    const uid = await uidOf("evicted")
    const kept = await onlyPod(uid, untouched)
    await onlyPod(uid, tainted)

    const node = await core.readNode({ name: tainted })
    await patchNode(cp.kubeconfigPath, tainted, {
      spec: { taints: [...(node.spec?.taints ?? []), { key: "example.com/evict", value: "now", effect: "NoExecute" }] }
    })
    await podsDeleting(uid, tainted, 60_000)
    const status = await workloads.waitFor("evicted", "Failed", (s) => s.phase === "Failed", 60_000)
    expect(nodeEntry(status, tainted)).toMatchObject({ phase: "Failed", attempts: 1 })
    expect(nodeEntry(status, tainted)?.message).toMatch(/example\.com\/evict/)
    expect(nodeEntry(status, untouched)?.phase).toBe("Succeeded")
    expect(conditionStatus(status, "Stalled")).toBe("True")
    expect(conditionStatus(status, "Ready")).toBe("False")
    expect((await onlyPod(uid, untouched)).metadata?.uid).toBe(kept.metadata?.uid)
    await workloads.remove("evicted")
  })
})

describe("pods that change", () => {
  it("a Ready pod that loses readiness makes the workload Degraded, is not replaced, and Succeeded again once Ready", async () => {
    const labels = group("flaky")
    const node = `${suite}-flaky`
    await nodes([{ name: node, labels }])
    await workloads.create("flaky", { nodeSelector: labels, image: "nginx", podAnnotations: fateAnnotations("ready", { delayMs: 300 }) })
    const ready = await workloads.waitFor("flaky", "Succeeded", (s) => s.phase === "Succeeded")
    expect(nodeEntry(ready, node)).toMatchObject({ phase: "Succeeded", attempts: 1 })
    const uid = await uidOf("flaky")
    const pod = await onlyPod(uid, node)
    const podName = pod.metadata?.name ?? ""

    // A failing readiness probe. freezePod first: kwok would otherwise report the pod Ready again at once.
    await freezePod(cp.kubeconfigPath, namespace, podName)
    await setPodReady(cp.kubeconfigPath, namespace, podName, false)
    const degraded = await workloads.waitFor("flaky", "Degraded", (s) => s.phase === "Degraded" && nodeEntry(s, node)?.phase === "Degraded", 60_000)
    expect(nodeEntry(degraded, node)?.attempts).toBe(1)
    expect(nodeEntry(degraded, node)?.message).toMatch(/ready|readiness/i)
    expect(conditionStatus(degraded, "Degraded")).toBe("True")
    expect(conditionStatus(degraded, "Ready")).toBe("False")
    await consistently("pod kept, entry Degraded while the pod is not Ready", async () => {
      const status = (await workloads.get("flaky")).status
      const pods = await podsOfWorkloadUid(namespace, uid)
      expect(pods.map((p) => [p.metadata?.uid, p.metadata?.deletionTimestamp, podReadyStatus(p)])).toEqual([[pod.metadata?.uid, undefined, "False"]])
      expect(nodeEntry(status, node)).toMatchObject({ phase: "Degraded", attempts: 1 })
      return true
    }, 5_000)

    await setPodReady(cp.kubeconfigPath, namespace, podName, true)
    const after = await workloads.waitFor("flaky", "Succeeded again", (s) => s.phase === "Succeeded" && nodeEntry(s, node)?.phase === "Succeeded", 60_000)
    expect(nodeEntry(after, node)?.attempts).toBe(1)
    expect(conditionStatus(after, "Ready")).toBe("True")
    expect(conditionStatus(after, "Degraded")).not.toBe("True")
    expect((await onlyPod(uid, node)).metadata?.uid).toBe(pod.metadata?.uid)
    // kstatus: `kubectl wait --for=condition=Ready` works for a LongRunning workload.
    const waited = await cp.kubectl(["-n", namespace, "wait", "--for=condition=Ready", "bwl/flaky", "--timeout=30s"])
    expect(waited.code, waited.stderr).toBe(0)
    await workloads.remove("flaky")
  })

  it("never runs a RunToCompletion node again once it succeeded, even when its pod is deleted by hand", async () => {
    const labels = group("job")
    const node = `${suite}-job`
    await nodes([{ name: node, labels }])
    await workloads.create("job", {
      nodeSelector: labels,
      image: "busybox",
      mode: "RunToCompletion",
      podAnnotations: fateAnnotations("complete", { delayMs: 300 })
    })
    const done = await workloads.waitFor("job", "Succeeded", (s) => s.phase === "Succeeded")
    expect(nodeEntry(done, node)).toMatchObject({ phase: "Succeeded", attempts: 1 })
    const uid = await uidOf("job")
    const pod = await onlyPod(uid, node)
    await core.deleteNamespacedPod({ name: pod.metadata?.name ?? "", namespace })
    await eventually("the pod gone", async () => (await podsOfWorkloadUid(namespace, uid)).length === 0 ? true : undefined, 30_000)
    // The one sleep in this file: "no new pod appears" has no event to wait for. The operator reacts
    // to a pod deletion within a second or two, so 5 s is ample time for a wrong new pod to show up.
    await sleep(5_000)
    expect(await podsOfWorkloadUid(namespace, uid)).toEqual([])
    const after = (await workloads.get("job")).status
    expect(after?.phase).toBe("Succeeded")
    expect(nodeEntry(after, node)).toMatchObject({ phase: "Succeeded", attempts: 1 })
    await workloads.remove("job")
  })

  it("gives workloads whose pod names would read alike a pod each, and deletes neither (cw on x-<node> and cw-x on <node>)", async () => {
    // `cw` on node `x-cc-N` and `cw-x` on node `cc-N` both read `cw-x-cc-N` as <workload>-<node>.
    const [nodeOfCw, nodeOfCwX] = [`x-${suite}`, suite]
    await nodes([{ name: nodeOfCw }, { name: nodeOfCwX }])
    const deletions = await recordPodDeletions(namespace)
    // Different images, so the two pods cannot pass for one another.
    await workloads.create("cw", { nodeNames: [nodeOfCw], image: "nginx:1", podAnnotations: fateAnnotations("ready", { delayMs: 300 }) })
    await workloads.create("cw-x", { nodeNames: [nodeOfCwX], image: "nginx:2", podAnnotations: fateAnnotations("ready", { delayMs: 300 }) })
    const cw = await workloads.waitFor("cw", "Succeeded", (s) => s.phase === "Succeeded")
    const cwX = await workloads.waitFor("cw-x", "Succeeded", (s) => s.phase === "Succeeded")
    expect(nodeEntry(cw, nodeOfCw)?.phase).toBe("Succeeded")
    expect(nodeEntry(cwX, nodeOfCwX)?.phase).toBe("Succeeded")
    const [uidCw, uidCwX] = [await uidOf("cw"), await uidOf("cw-x")]
    const podCw = await onlyPod(uidCw, nodeOfCw)
    const podCwX = await onlyPod(uidCwX, nodeOfCwX)
    expect(podCw.metadata?.name).not.toBe(podCwX.metadata?.name)
    expect(podCw.spec?.containers[0]?.image).toBe("nginx:1")
    expect(podCwX.spec?.containers[0]?.image).toBe("nginx:2")
    await consistently("both pods stay, both workloads Succeeded", async () => {
      expect((await podsOfWorkloadUid(namespace, uidCw)).map((p) => p.metadata?.uid)).toEqual([podCw.metadata?.uid])
      expect((await podsOfWorkloadUid(namespace, uidCwX)).map((p) => p.metadata?.uid)).toEqual([podCwX.metadata?.uid])
      expect((await workloads.get("cw")).status?.phase).toBe("Succeeded")
      expect((await workloads.get("cw-x")).status?.phase).toBe("Succeeded")
      return true
    }, 5_000)
    deletions.stop()
    expect(deletions.deleted().filter((pod) => pod.node === nodeOfCw || pod.node === nodeOfCwX)).toEqual([])
    await workloads.remove("cw")
    await workloads.remove("cw-x")
  })
})

describe("deletion", () => {
  it("foreground deletion completes: the workload and its pods are gone", async () => {
    const labels = group("foreground")
    const node = `${suite}-foreground`
    await nodes([{ name: node, labels }])
    await workloads.create("foreground", { nodeSelector: labels, image: "nginx", podAnnotations: fateAnnotations("ready", { delayMs: 300 }) })
    await workloads.waitFor("foreground", "Succeeded", (s) => s.phase === "Succeeded")
    const uid = await uidOf("foreground")
    await onlyPod(uid, node)
    const deleted = await cp.kubectl(["-n", namespace, "delete", "bwl", "foreground", "--cascade=foreground", "--wait=false"])
    expect(deleted.code, deleted.stderr).toBe(0)
    await eventually("the workload gone", async () => {
      try {
        await workloads.get("foreground")
        return undefined
      } catch (error) {
        if (notFound(error)) return true
        throw error
      }
    }, 60_000)
    await eventually("its pods gone", async () => (await podsOfWorkloadUid(namespace, uid)).length === 0 ? true : undefined, 10_000)
  })
})
