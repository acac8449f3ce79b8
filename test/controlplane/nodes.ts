// Fake nodes for the test control plane.
//
// A Ready fake node is a plain v1.Node annotated kwok.x-k8s.io/node=fake: kwok manages it
// (marks it Ready, heartbeats, renews its lease) and plays the kubelet for pods bound to it.
//
// A NotReady node (ready: false) is created WITHOUT that annotation, so no kwok "kubelet" runs
// for it, and its status is patched to Ready=False (reason KubeletNotReady). Like a node whose
// kubelet died: pods bound to it stay Pending, and after ~50 s kube-controller-manager's node
// lifecycle controller turns its Ready condition to Unknown and taints it not-ready/unreachable.
// setNodeReady(name, true) adds the annotation; kwok then makes the node Ready.
import * as k8s from "@kubernetes/client-node"

export const kwokNodeAnnotation = "kwok.x-k8s.io/node"

export interface FakeNodeSpec {
  readonly name: string
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
  /** Default true. false: NotReady, not managed by kwok (see above). */
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

const mergePatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)
const jsonPatch = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch)

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

const isNotFound = (e: unknown): boolean => e instanceof k8s.ApiException && e.code === 404

export const nodeReadyStatus = (node: k8s.V1Node): string | undefined =>
  node.status?.conditions?.find((c) => c.type === "Ready")?.status

export const fakeNodeManifest = (spec: FakeNodeSpec): k8s.V1Node => {
  const resources = { cpu: spec.cpu ?? "32", memory: spec.memory ?? "256Gi", pods: spec.pods ?? "110" }
  const managed = spec.ready ?? true
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
        ...(managed ? { [kwokNodeAnnotation]: "fake" } : {}),
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

/**
 * ready=true: hands the node to kwok (adds kwok.x-k8s.io/node=fake) and waits for Ready=True.
 * ready=false: takes it away from kwok (removes the annotation), patches Ready=False and waits.
 */
export const setNodeReady = async (kubeconfig: KubeconfigLike, name: string, ready: boolean, timeoutMs = 30_000): Promise<k8s.V1Node> => {
  const kc = loadKubeConfig(kubeconfig)
  const core = kc.makeApiClient(k8s.CoreV1Api)
  if (ready) {
    await core.patchNode({ name, body: { metadata: { annotations: { [kwokNodeAnnotation]: "fake" } } } }, mergePatch)
  } else {
    const node = await core.readNode({ name })
    if (node.metadata?.annotations?.[kwokNodeAnnotation] !== undefined) {
      await core.patchNode({ name, body: [{ op: "remove", path: `/metadata/annotations/${kwokNodeAnnotation.replace("/", "~1")}` }] }, jsonPatch)
    }
    // Give kwok a moment to drop the node before writing the NotReady status, so that a
    // heartbeat already in flight cannot overwrite it.
    await sleep(500)
    await core.patchNodeStatus({ name, body: { status: { conditions: notReadyConditions() } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.StrategicMergePatch))
  }
  return waitForNodeReady(kc, name, ready, timeoutMs)
}
