// Runs the operator as users do (its real entry point, as a child process) against the test
// control plane, plus the small helpers the integration tests share.
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as path from "node:path"
import * as k8s from "@kubernetes/client-node"
import { afterAll, beforeAll } from "vitest"
import type { BatchWorkloadStatus } from "../../../src/api/BatchWorkload.ts"
import { boundPodToken, createFakeNodes, type FakeNodeSpec, repoRoot } from "../../controlplane/index.ts"
import { eventually, getTestControlPlane, sleep } from "../../controlplane/testing.ts"

export { eventually, sleep }

export const cp = getTestControlPlane()
export const kc = cp.kubeConfig()
export const core = kc.makeApiClient(k8s.CoreV1Api)
export const custom = kc.makeApiClient(k8s.CustomObjectsApi)

const group = "batch.example.com"
const version = "v1alpha1"
const plural = "batchworkloads"

export interface OperatorProcess {
  readonly output: () => string
  /** Sends the signal and resolves with the exit code. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

const running = new Set<ChildProcess>()

/** Builds dist/operator.mjs, the bundle the image runs (scripts/bundle.sh), and returns its path. */
export const buildOperatorBundle = (): string => {
  execFileSync("sh", [path.join(repoRoot, "scripts", "bundle.sh")], { stdio: "inherit" })
  return path.join(repoRoot, "dist", "operator.mjs")
}

/**
 * Starts `node src/main.ts` (or `program`, e.g. the bundle) serving one namespace, with the
 * control plane's kubeconfig. Its HTTP servers are off unless `ports` asks for them.
 */
export const startOperator = (
  namespace: string,
  extraArgs: ReadonlyArray<string> = [],
  env: Record<string, string> = {},
  ports: { readonly metrics?: number; readonly health?: number; readonly callback?: number } = {},
  program: string = path.join(repoRoot, "src", "main.ts")
): OperatorProcess => {
  const child = spawn(
    process.execPath,
    [
      program,
      "--namespace",
      namespace,
      "--metrics-port",
      String(ports.metrics ?? 0),
      "--health-port",
      String(ports.health ?? 0),
      "--callback-port",
      String(ports.callback ?? 0),
      ...extraArgs
    ],
    { env: { ...process.env, KUBECONFIG: cp.kubeconfigPath, ...env }, stdio: ["ignore", "pipe", "pipe"] }
  )
  running.add(child)
  let output = ""
  child.stdout?.on("data", (chunk) => (output += String(chunk)))
  child.stderr?.on("data", (chunk) => (output += String(chunk)))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => {
    running.delete(child)
    resolve(code)
  }))
  return {
    output: () => output,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null) child.kill(signal)
      return exited
    }
  }
}

process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL")
})

/** Installs the CRD once per file and gives the file its own namespace, deleted at the end. */
export const useNamespace = (prefix: string) => {
  const namespace = `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e6)}`
  beforeAll(async () => {
    const applied = await cp.kubectl(["apply", "-f", path.join(repoRoot, "manifests", "crd.yaml")])
    if (applied.code !== 0) throw new Error(`installing the CRD failed: ${applied.stderr}`)
    await cp.kubectl(["wait", "--for=condition=Established", "--timeout=60s", `crd/${plural}.${group}`])
    await core.createNamespace({ body: { metadata: { name: namespace } } })
    // Until the namespace's default ServiceAccount exists, the API server refuses pods there.
    await eventually("default ServiceAccount", () => core.readNamespacedServiceAccount({ name: "default", namespace }))
  })
  afterAll(async () => {
    await core.deleteNamespace({ name: namespace }).catch(() => undefined)
  })
  return namespace
}

/** Fake nodes whose names and labels are unique to the calling file, so files never share nodes. */
export const createNodes = (nodes: ReadonlyArray<FakeNodeSpec>) => createFakeNodes(cp.kubeconfigPath, nodes)

export const ensureNodes = async (nodes: ReadonlyArray<FakeNodeSpec>) => {
  const existing = new Set((await core.listNode()).items.map((node) => node.metadata?.name))
  const missing = nodes.filter((node) => !existing.has(node.name))
  if (missing.length > 0) await createNodes(missing)
}

export interface Workload {
  readonly metadata: { readonly name: string; readonly uid?: string; readonly generation?: number; readonly finalizers?: ReadonlyArray<string>; readonly annotations?: Record<string, string> }
  readonly spec: Record<string, unknown>
  readonly status?: BatchWorkloadStatus
}

export const workloadApi = (namespace: string) => ({
  create: (name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) =>
    custom.createNamespacedCustomObject({
      group,
      version,
      namespace,
      plural,
      body: { apiVersion: `${group}/${version}`, kind: "BatchWorkload", metadata: { name, ...(annotations ? { annotations } : {}) }, spec }
    }),
  get: async (name: string): Promise<Workload> => custom.getNamespacedCustomObject({ group, version, namespace, plural, name }),
  patch: (name: string, body: object) =>
    custom.patchNamespacedCustomObject(
      { group, version, namespace, plural, name, body },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch)
    ),
  remove: (name: string) => custom.deleteNamespacedCustomObject({ group, version, namespace, plural, name }),
  /** Waits until the workload's status satisfies `predicate` and returns it; on timeout the error shows the last status. */
  waitFor: function(name: string, what: string, predicate: (status: BatchWorkloadStatus, workload: Workload) => boolean, timeoutMs = 90_000) {
    let last: BatchWorkloadStatus | undefined
    return eventually(`${name}: ${what}`, async () => {
      const workload = await this.get(name)
      last = workload.status
      return workload.status !== undefined && predicate(workload.status, workload) ? workload.status : undefined
    }, timeoutMs).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\nlast status: ${JSON.stringify(last)}\npods in the cluster:\n${await describePods(namespace)}`)
    })
  }
})

export const podsOf = async (namespace: string) => (await core.listNamespacedPod({ namespace })).items

/** One line per pod as the API server has it, so a failed wait tells a stuck operator from stuck pods. */
const describePods = async (namespace: string) => {
  const pods = await podsOf(namespace).catch(() => [])
  return pods.map((pod) => {
    const ready = pod.status?.conditions?.find((c) => c.type === "Ready")?.status ?? "-"
    return `${pod.metadata?.name} node=${pod.spec?.nodeName} phase=${pod.status?.phase} ready=${ready} rv=${pod.metadata?.resourceVersion} deleting=${pod.metadata?.deletionTimestamp !== undefined}`
  }).join("\n")
}

/** One pod's life as seen through a watch: when it appeared, when it stopped being in flight, how it ended. */
export interface PodLife {
  readonly name: string
  readonly uid: string
  readonly node: string
  readonly createdAt: number
  settledAt?: number
}

const settled = (pod: k8s.V1Pod) =>
  pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed" ||
  pod.status?.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") === true ||
  pod.status?.containerStatuses?.some((c) => c.state?.waiting?.reason === "ErrImagePull" || c.state?.waiting?.reason === "ImagePullBackOff") === true

/** Records every pod of the namespace from the API server's point of view, to measure concurrency independently of the operator. */
export const recordPods = async (namespace: string) => {
  const lives = new Map<string, PodLife>()
  const controller = await new k8s.Watch(kc).watch(
    `/api/v1/namespaces/${namespace}/pods`,
    {},
    (type, pod: k8s.V1Pod) => {
      const uid = pod.metadata?.uid ?? ""
      const life = lives.get(uid) ?? { name: pod.metadata?.name ?? "", uid, node: pod.spec?.nodeName ?? "", createdAt: Date.now() }
      lives.set(uid, life)
      if (life.settledAt === undefined && (type === "DELETED" || settled(pod) || pod.metadata?.deletionTimestamp !== undefined)) {
        life.settledAt = Date.now()
      }
    },
    () => undefined
  )
  return {
    lives: () => [...lives.values()],
    /** The most pods that were ever in flight (created, not yet Ready, finished or deleted) at the same moment. */
    maxInFlight: () => {
      const edges = [...lives.values()].flatMap((life) => [
        { at: life.createdAt, delta: 1 },
        { at: life.settledAt ?? Number.POSITIVE_INFINITY, delta: -1 }
      ]).sort((a, b) => a.at - b.at || a.delta - b.delta)
      let current = 0
      let max = 0
      for (const edge of edges) {
        current += edge.delta
        max = Math.max(max, current)
      }
      return max
    },
    stop: () => controller.abort()
  }
}

/** The status ("True", "False", "Unknown") of one of the workload's conditions, if it has it. */
export const conditionStatus = (status: BatchWorkloadStatus | undefined, type: string) =>
  status?.conditions?.find((condition) => condition.type === type)?.status

/** The workload's status entry for one node, if it has one. */
export const nodeEntry = (status: BatchWorkloadStatus | undefined, nodeName: string) =>
  status?.nodeStatus?.find((entry) => entry.nodeName === nodeName)

/** The workload's pods (by its uid label, so pod names do not matter), optionally only those bound to `nodeName`. */
export const podsOfWorkloadUid = async (namespace: string, uid: string, nodeName?: string) =>
  (await core.listNamespacedPod({ namespace, labelSelector: `batch.example.com/workload-uid=${uid}` })).items
    .filter((pod) => nodeName === undefined || pod.spec?.nodeName === nodeName)

/**
 * The opposite of `eventually`: checks `check` every 500 ms for `durationMs` and fails at the first
 * check that throws or returns false. For promises of the form "X does not happen".
 */
export const consistently = async (what: string, check: () => Promise<boolean>, durationMs: number): Promise<void> => {
  const until = Date.now() + durationMs
  for (;;) {
    let ok: boolean
    try {
      ok = await check()
    } catch (error) {
      throw new Error(`${what}: check failed: ${String(error)}`)
    }
    if (!ok) throw new Error(`${what}: no longer true`)
    if (Date.now() >= until) return
    await sleep(500)
  }
}

/** Every pod of the namespace that gets deleted (deletion requested or gone), as seen through a watch. */
export const recordPodDeletions = async (namespace: string) => {
  const deleted = new Map<string, { readonly name: string; readonly uid: string; readonly node: string }>()
  const controller = await new k8s.Watch(kc).watch(
    `/api/v1/namespaces/${namespace}/pods`,
    {},
    (type, pod: k8s.V1Pod) => {
      if (type === "DELETED" || pod.metadata?.deletionTimestamp !== undefined) {
        const uid = pod.metadata?.uid ?? ""
        deleted.set(uid, { name: pod.metadata?.name ?? "", uid, node: pod.spec?.nodeName ?? "" })
      }
    },
    () => undefined
  )
  return {
    deleted: () => [...deleted.values()],
    stop: () => controller.abort()
  }
}

/**
 * A token as the kubelet would mount it in a reporting pod: for the namespace's default
 * ServiceAccount, bound to the pod, for `audience`. Tests play the pod with it (kwok runs no containers).
 */
export const podToken = (namespace: string, pod: { readonly name: string; readonly uid: string }, audience: string) =>
  boundPodToken({ kubeconfig: cp.kubeconfigPath, kubectlPath: cp.kubectlPath }, { namespace, ...pod }, audience)

/** An env entry of a container, as a Deployment's pod template has it. */
export interface EnvEntry {
  readonly name: string
  readonly value?: string | undefined
  readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } | undefined } | undefined
}

/**
 * A container's environment as the kubelet gives it: fieldRef values from `fields` (by field
 * path), and $(VAR) references to variables defined before them expanded.
 */
export const kubeletEnv = (entries: ReadonlyArray<EnvEntry>, fields: Record<string, string>): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const entry of entries) {
    const fieldPath = entry.valueFrom?.fieldRef?.fieldPath
    const value = entry.value?.replace(/\$\((\w+)\)/g, (reference, name: string) => env[name] ?? reference) ??
      (fieldPath !== undefined ? fields[fieldPath] : undefined)
    if (value !== undefined) env[entry.name] = value
  }
  return env
}

/**
 * The operator's own pod as its Deployment's template makes it, bound to `nodeName` (kwok plays
 * it; the operator itself runs as a test process and labels this pod when it leads).
 */
export const createOwnPod = async (namespace: string, name: string, podSpec: object, nodeName: string) => {
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name, namespace }, spec: { ...podSpec, nodeName } }
  const created = await cp.kubectl(["create", "-f", "-"], JSON.stringify(pod))
  if (created.code !== 0) throw new Error(`creating pod ${namespace}/${name}: ${created.stderr}`)
  return async () => (await core.readNamespacedPod({ name, namespace })).metadata?.labels?.["batch.example.com/leader"]
}
