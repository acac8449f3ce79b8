// Fake nodes for the test control plane.
//
// A Ready fake node is a plain v1.Node annotated kwok.x-k8s.io/node=fake: kwok manages it
// (marks it Ready, heartbeats, renews its Lease in kube-node-lease) and plays the kubelet for
// pods bound to it.
//
// kwok manages a node only while it holds the node's Lease. Every "kubelet down" helper here
// works by giving that Lease to another holder (harnessLeaseHolder) with a long duration: kwok
// then leaves the node and its pods alone (read-only), as if its kubelet had died. Removing
// the kwok annotation is NOT enough: kwok 0.7 keeps renewing the Lease and heartbeating.
//
// A NotReady node (ready: false) is created with the annotation but with its Lease already
// taken, and its status is patched to Ready=False (reason KubeletNotReady). Pods bound to it
// stay Pending, and after its grace period kube-controller-manager's node lifecycle controller
// turns its Ready condition to Unknown and taints it unreachable. setNodeReady(name, true)
// deletes the Lease; kwok then creates its own and makes the node Ready.
//
// makeNodeUnreachable / bringNodeBack play a real outage of a Ready node: the Lease is taken
// and kube-controller-manager, seeing neither Lease renewals nor status heartbeats, marks the
// node Ready=Unknown (and its pods Ready=False) after its grace period. setPodReady plays the
// kubelet reporting a pod's readiness (kwok may or may not do it again after an outage), and
// freezePod keeps kwok from undoing it on a node kwok manages.
import * as k8s from "@kubernetes/client-node"
import { fateAnnotation } from "./fates.ts"

export const kwokNodeAnnotation = "kwok.x-k8s.io/node"
/** Where node Leases live. */
export const nodeLeaseNamespace = "kube-node-lease"
/** The holderIdentity the harness puts on a node Lease to take it away from kwok. */
export const harnessLeaseHolder = "bwo-test-harness"
/** leaseDurationSeconds of a taken Lease: a day, so kwok never considers it expired during a test. */
const takenLeaseDurationSeconds = 86_400

export interface FakeNodeSpec {
  readonly name: string
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
  /** Default true. false: NotReady, its Lease held by the harness so kwok leaves it alone (see above). */
  readonly ready?: boolean
  readonly unschedulable?: boolean
  readonly taints?: ReadonlyArray<k8s.V1Taint>
  /** Allocatable = capacity. Defaults: cpu "32", memory "256Gi", pods "110". */
  readonly cpu?: string
  readonly memory?: string
  readonly pods?: string
}

export type KubeconfigLike = string | k8s.KubeConfig

export const loadKubeConfig = (kubeconfig: KubeconfigLike): k8s.KubeConfig => {
  if (typeof kubeconfig !== "string") return kubeconfig
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(kubeconfig)
  return kc
}

const coreApi = (kubeconfig: KubeconfigLike): k8s.CoreV1Api => loadKubeConfig(kubeconfig).makeApiClient(k8s.CoreV1Api)
const coordinationApi = (kubeconfig: KubeconfigLike): k8s.CoordinationV1Api =>
  loadKubeConfig(kubeconfig).makeApiClient(k8s.CoordinationV1Api)

const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)
const strategicMergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch)

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

const isNotFound = (e: unknown): boolean => e instanceof k8s.ApiException && e.code === 404
const isConflict = (e: unknown): boolean => e instanceof k8s.ApiException && e.code === 409

export const nodeReadyStatus = (node: k8s.V1Node): string | undefined =>
  node.status?.conditions?.find((c) => c.type === "Ready")?.status

export const fakeNodeManifest = (spec: FakeNodeSpec): k8s.V1Node => {
  const resources = { cpu: spec.cpu ?? "32", memory: spec.memory ?? "256Gi", pods: spec.pods ?? "110" }
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: spec.name,
      labels: {
        "kubernetes.io/hostname": spec.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        type: "kwok",
        ...spec.labels
      },
      annotations: {
        "node.alpha.kubernetes.io/ttl": "0",
        // Also on a `ready: false` node, whose Lease the harness holds: kwok takes on a node only
        // when it first sees it with the annotation (an annotation added later goes unnoticed).
        [kwokNodeAnnotation]: "fake",
        ...spec.annotations
      }
    },
    spec: {
      ...(spec.unschedulable ? { unschedulable: true } : {}),
      ...(spec.taints ? { taints: [...spec.taints] } : {})
    },
    status: { allocatable: resources, capacity: resources }
  }
}

const notReadyConditions = (): Array<k8s.V1NodeCondition> => {
  const now = new Date()
  return [
    {
      type: "Ready",
      status: "False",
      reason: "KubeletNotReady",
      message: "fake node created NotReady by the test harness (no kwok kubelet)",
      lastHeartbeatTime: now,
      lastTransitionTime: now
    }
  ]
}

/** Waits until the node's Ready condition is "True" (ready) or anything else (not ready). */
export const waitForNodeReady = async (
  kubeconfig: KubeconfigLike,
  name: string,
  ready: boolean,
  timeoutMs = 30_000
): Promise<k8s.V1Node> => {
  const core = coreApi(kubeconfig)
  const deadline = Date.now() + timeoutMs
  let last: string | undefined
  for (;;) {
    const node = await core.readNode({ name })
    last = nodeReadyStatus(node)
    if (ready ? last === "True" : last !== undefined && last !== "True") return node
    if (Date.now() > deadline) {
      throw new Error(`node ${name} did not become ${ready ? "Ready" : "NotReady"} within ${timeoutMs} ms (Ready=${last ?? "absent"}); is kwok running?`)
    }
    await sleep(200)
  }
}

/**
 * Creates the nodes and (unless `wait: false`) waits until each Ready one is Ready=True and
 * each `ready: false` one is Ready=False. Returns the nodes as last read.
 */
export const createFakeNodes = async (
  kubeconfig: KubeconfigLike,
  nodes: ReadonlyArray<FakeNodeSpec>,
  options: { readonly wait?: boolean; readonly timeoutMs?: number } = {}
): Promise<Array<k8s.V1Node>> => {
  const kc = loadKubeConfig(kubeconfig)
  const core = kc.makeApiClient(k8s.CoreV1Api)
  for (const spec of nodes) {
    // The Lease first, so kwok never holds it, not even for a moment.
    if (spec.ready === false) await takeNodeLease(kc, spec.name)
    await core.createNode({ body: fakeNodeManifest(spec) })
    if (spec.ready === false) {
      await core.patchNodeStatus({ name: spec.name, body: { status: { conditions: notReadyConditions() } } }, mergePatch)
    }
  }
  if (options.wait === false) return Promise.all(nodes.map((n) => core.readNode({ name: n.name })))
  return Promise.all(nodes.map((n) => waitForNodeReady(kc, n.name, n.ready ?? true, options.timeoutMs)))
}

/** Deletes the nodes (missing ones are ignored) and waits until they are gone. */
export const deleteNodes = async (kubeconfig: KubeconfigLike, names: ReadonlyArray<string>, timeoutMs = 30_000): Promise<void> => {
  const core = coreApi(kubeconfig)
  for (const name of names) {
    try {
      await core.deleteNode({ name })
    } catch (e) {
      if (!isNotFound(e)) throw e
    }
    // kwok's Leases are owned by their node and garbage-collected; one the harness took may not be.
    await releaseNodeLease(kubeconfig, name)
  }
  const deadline = Date.now() + timeoutMs
  for (const name of names) {
    for (;;) {
      try {
        await core.readNode({ name })
      } catch (e) {
        if (isNotFound(e)) break
        throw e
      }
      if (Date.now() > deadline) throw new Error(`node ${name} still exists ${timeoutMs} ms after deletion`)
      await sleep(200)
    }
  }
}

/** Sets (string) or removes (null) labels on a node. */
export const patchNodeLabels = async (
  kubeconfig: KubeconfigLike,
  name: string,
  labels: Readonly<Record<string, string | null>>
): Promise<k8s.V1Node> => coreApi(kubeconfig).patchNode({ name, body: { metadata: { labels } } }, mergePatch)

/** A JSON merge patch on a node (e.g. `{ spec: { unschedulable: true } }`, `{ spec: { taints: [...] } }`). */
export const patchNode = async (kubeconfig: KubeconfigLike, name: string, patch: object): Promise<k8s.V1Node> =>
  coreApi(kubeconfig).patchNode({ name, body: patch }, mergePatch)

/** A MicroTime (six fractional digits, as the API server wants for Lease renewTime). */
const microTimeNow = (): k8s.V1MicroTime => new k8s.V1MicroTime()

/**
 * Takes the node's Lease (kube-node-lease/<name>) away from kwok: holderIdentity
 * `harnessLeaseHolder`, a day's leaseDurationSeconds and a fresh renewTime (creating the Lease
 * if there is none). kwok then stops managing the node and its pods. kube-controller-manager
 * counts that renewTime as one last heartbeat; with nothing after it, it marks the node
 * NotReady once its grace period has passed (unless the node's status is still heartbeated:
 * see cutOffNode).
 */
export const takeNodeLease = async (kubeconfig: KubeconfigLike, name: string): Promise<k8s.V1Lease> => {
  const coordination = coordinationApi(kubeconfig)
  const spec: k8s.V1LeaseSpec = {
    holderIdentity: harnessLeaseHolder,
    leaseDurationSeconds: takenLeaseDurationSeconds,
    renewTime: microTimeNow()
  }
  for (let attempt = 0; ; attempt++) {
    try {
      return await coordination.patchNamespacedLease({ name, namespace: nodeLeaseNamespace, body: { spec } }, mergePatch)
    } catch (e) {
      if (!isNotFound(e)) throw e
    }
    try {
      return await coordination.createNamespacedLease({
        namespace: nodeLeaseNamespace,
        body: { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace: nodeLeaseNamespace }, spec }
      })
    } catch (e) {
      // kwok created it in between: patch that one.
      if (!isConflict(e) || attempt >= 3) throw e
    }
  }
}

/** Deletes the node's Lease (a missing one is fine). kwok, if it manages the node, creates a new one within ~10 s and takes the node back. */
export const releaseNodeLease = async (kubeconfig: KubeconfigLike, name: string): Promise<void> => {
  try {
    await coordinationApi(kubeconfig).deleteNamespacedLease({ name, namespace: nodeLeaseNamespace })
  } catch (e) {
    if (!isNotFound(e)) throw e
  }
}

/**
 * The node's kubelet stops talking, as far as the control plane can tell: takes its Lease from
 * kwok (takeNodeLease) and clears its deprecated status.phase (a real kubelet never sets it;
 * kwok's repeating heartbeat stage selects on it), so neither Lease renewals nor status
 * heartbeats arrive any more. Does not wait: see makeNodeUnreachable.
 */
export const cutOffNode = async (kubeconfig: KubeconfigLike, name: string): Promise<void> => {
  const core = coreApi(kubeconfig)
  await takeNodeLease(kubeconfig, name)
  await core.patchNodeStatus({ name, body: { status: { phase: null } } }, mergePatch)
}

/**
 * The longest a node-heartbeat stage kwok scheduled before a cut can still be pending: that
 * stage's delay plus its jitter in kwok-stages.yaml (20 s + 25 s). kwok 0.7 plays a scheduled
 * stage even on a node it no longer holds the Lease of (the read-only check is made when an event
 * arrives, not when the delay runs out), so that one heartbeat sets Ready=True after the cut.
 */
const kwokHeartbeatMaxDelayMs = 45_000

/**
 * Waits out the one heartbeat kwok may still have scheduled for a node cut off at `cutAt`
 * (kwokHeartbeatMaxDelayMs, plus a second for its write to land).
 */
const waitOutPendingHeartbeat = (cutAt: number): Promise<void> => sleep(Math.max(0, cutAt + kwokHeartbeatMaxDelayMs + 1_000 - Date.now()))

/**
 * A real outage of a Ready node: cutOffNode, then waits until kube-controller-manager's node
 * lifecycle controller has marked the node NotReady (Ready=Unknown, "Kubelet stopped posting
 * node status"; it also marks the node's pods Ready=False and taints the node unreachable) and
 * no heartbeat kwok scheduled before the cut can undo it any more. A heartbeat that lands after
 * KCM's mark makes the node Ready again until KCM's grace period (20 s here, see controlPlane.ts)
 * plus up to a monitor period (5 s) have passed once more: so this waits for NotReady, then until
 * that heartbeat's latest moment (45 s after the cut), then for NotReady again. 46-70 s.
 * Throws unless the node's Ready condition really is not True at the end.
 */
export const makeNodeUnreachable = async (kubeconfig: KubeconfigLike, name: string, timeoutMs = 180_000): Promise<k8s.V1Node> => {
  const kc = loadKubeConfig(kubeconfig)
  const cutAt = Date.now()
  await cutOffNode(kc, name)
  await waitForNodeReady(kc, name, false, timeoutMs)
  await waitOutPendingHeartbeat(cutAt)
  const node = await waitForNodeReady(kc, name, false, Math.max(1_000, cutAt + timeoutMs - Date.now()))
  const ready = nodeReadyStatus(node)
  if (ready === undefined || ready === "True") throw new Error(`node ${name} is still Ready (Ready=${ready ?? "absent"}) after cutOffNode`)
  return node
}

/**
 * The node's kubelet comes back: deletes the Lease the harness took and waits until kwok has
 * made the node Ready again (kwok retries a Lease it does not hold every ~10 s; measured: Ready
 * 1.5-9 s after). Only for nodes created with the kwok annotation (all of createFakeNodes'): kwok
 * does not notice an annotation added later (it is added here anyway, for a clearer picture).
 * Whether kwok reports the node's pods Ready again is not guaranteed: use setPodReady for that.
 */
export const bringNodeBack = async (kubeconfig: KubeconfigLike, name: string, timeoutMs = 60_000): Promise<k8s.V1Node> => {
  const kc = loadKubeConfig(kubeconfig)
  const core = kc.makeApiClient(k8s.CoreV1Api)
  const node = await core.readNode({ name })
  if (node.metadata?.annotations?.[kwokNodeAnnotation] !== "fake") {
    await core.patchNode({ name, body: { metadata: { annotations: { [kwokNodeAnnotation]: "fake" } } } }, mergePatch)
  }
  await releaseNodeLease(kc, name)
  return waitForNodeReady(kc, name, true, timeoutMs)
}

/**
 * ready=true: bringNodeBack (kwok takes the node again) and waits for Ready=True.
 * ready=false: takes the node from kwok (cutOffNode) and patches Ready=False (KubeletNotReady)
 * at once, without waiting for kube-controller-manager, and once more after the last heartbeat
 * kwok may have scheduled before the cut (see makeNodeUnreachable): ~46 s.
 */
export const setNodeReady = async (kubeconfig: KubeconfigLike, name: string, ready: boolean, timeoutMs = 30_000): Promise<k8s.V1Node> => {
  const kc = loadKubeConfig(kubeconfig)
  if (ready) return bringNodeBack(kc, name, timeoutMs)
  const cutAt = Date.now()
  await cutOffNode(kc, name)
  const markNotReady = () => coreApi(kc).patchNodeStatus({ name, body: { status: { conditions: notReadyConditions() } } }, strategicMergePatch)
  // A kwok write already in flight could still land just after the Lease changed hands.
  await sleep(500)
  await markNotReady()
  await waitForNodeReady(kc, name, false, timeoutMs)
  // A heartbeat kwok scheduled before the cut would set Ready=True again: mark it once more after.
  await waitOutPendingHeartbeat(cutAt)
  await markNotReady()
  return waitForNodeReady(kc, name, false, timeoutMs)
}

/**
 * Stops kwok from playing this pod any further: sets its fate annotation to "pending", which no
 * stage in kwok-stages.yaml matches, so the pod keeps the status it has (Running and Ready, say)
 * and nothing kwok does undoes a later setPodReady. Needed to make a pod on a healthy node lose
 * readiness: kwok answers Ready=False on a running "ready" pod with Ready=True again after the
 * pod's delay (measured: under a second).
 */
export const freezePod = async (kubeconfig: KubeconfigLike, namespace: string, name: string): Promise<k8s.V1Pod> =>
  coreApi(kubeconfig).patchNamespacedPod(
    { name, namespace, body: { metadata: { annotations: { [fateAnnotation]: "pending" } } } },
    mergePatch
  )

/** The pod's Ready condition ("True", "False", ...), if any. */
export const podReadyStatus = (pod: k8s.V1Pod): string | undefined =>
  pod.status?.conditions?.find((c) => c.type === "Ready")?.status

/**
 * Plays the kubelet reporting a pod's readiness: sets the pod's Ready and ContainersReady
 * conditions (and each container status' `ready`) through the pod's status subresource. The
 * conditions are merged by type (strategic merge), so the other conditions survive; container
 * statuses are an atomic list, so they are sent whole, as read, with only `ready` changed (the
 * read's resourceVersion guards against a concurrent status write; a conflict is retried).
 *
 * On a node kwok manages, kwok answers a Ready=False on a running "ready" pod with Ready=True
 * again after the pod's delay: freezePod first, or use it on a node that is cut off.
 */
export const setPodReady = async (
  kubeconfig: KubeconfigLike,
  namespace: string,
  name: string,
  ready: boolean,
  reason = ready ? undefined : "ReadinessProbeFailed"
): Promise<k8s.V1Pod> => {
  const core = coreApi(kubeconfig)
  for (let attempt = 0; ; attempt++) {
    const pod = await core.readNamespacedPod({ name, namespace })
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z")
    const status = ready ? "True" : "False"
    const condition = (type: string) => {
      const before = pod.status?.conditions?.find((c) => c.type === type)
      return {
        type,
        status,
        // Kept when the status does not change, as a kubelet does.
        lastTransitionTime: before?.status === status && before.lastTransitionTime !== undefined ? before.lastTransitionTime : now,
        // null removes a reason/message left by whoever set the condition before (strategic merge).
        reason: reason ?? null,
        message: ready ? null : `set by the test harness: ${reason ?? "not ready"}`
      }
    }
    const body = {
      metadata: { resourceVersion: pod.metadata?.resourceVersion },
      status: {
        conditions: [condition("Ready"), condition("ContainersReady")],
        ...(pod.status?.containerStatuses !== undefined
          ? { containerStatuses: pod.status.containerStatuses.map((c) => ({ ...c, ready })) }
          : {})
      }
    }
    try {
      return await core.patchNamespacedPodStatus({ name, namespace, body }, strategicMergePatch)
    } catch (e) {
      if (!isConflict(e) || attempt >= 5) throw e
    }
  }
}
