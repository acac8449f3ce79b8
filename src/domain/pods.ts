import { createHash } from "node:crypto"
import { apiVersion, type BatchWorkloadSpec, group, kind, type WorkloadMode } from "../api/BatchWorkload.ts"
import type { ObjectMeta, Pod } from "../api/core.ts"

export const managedByLabel = "app.kubernetes.io/managed-by"
export const managerName = "batch-workload-operator"
export const workloadLabel = `${group}/workload`
export const workloadUidLabel = `${group}/workload-uid`
export const nodeLabel = `${group}/node`
export const nodeAnnotation = `${group}/node`
export const attemptAnnotation = `${group}/attempt`
export const revisionAnnotation = `${group}/revision`
export const containerName = "workload"

const shortHash = (text: string, length: number) => createHash("sha256").update(text).digest("hex").slice(0, length)

const maxNameLength = 63

/**
 * A label value (at most 63 characters) that still shows the original: the
 * value itself when it fits, else a prefix plus a hash of the whole.
 */
export const labelValue = (value: string) => {
  if (value.length <= maxNameLength) return value
  const prefix = value.slice(0, maxNameLength - 11).replace(/[^A-Za-z0-9]+$/, "")
  return `${prefix}-${shortHash(value, 10)}`
}

/**
 * One deterministic pod name per (workload, node), so a restarted operator
 * finds the pods it made and the API server refuses a duplicate. Kept to 63
 * characters so it is also a valid hostname; long names keep a readable
 * prefix and gain a hash of both parts.
 */
export const podName = (workloadName: string, nodeName: string) => withHash(`${workloadName}-${nodeName}`, `${workloadName}/${nodeName}`)

/**
 * The name used when the plain one is taken by another workload's pod
 * (`agent` on `edge-worker-1` and `agent-edge` on `worker-1` both read
 * `agent-edge-worker-1`): the workload's uid makes it unique per workload and node.
 */
export const uniquePodName = (workloadName: string, nodeName: string, workloadUid: string) =>
  withHash(`${workloadName}-${nodeName}-${shortHash(workloadUid, 5)}`, `${workloadName}/${nodeName}/${workloadUid}`)

const withHash = (name: string, identity: string) => {
  const plain = name.toLowerCase().replace(/[^a-z0-9.-]/g, "-")
  if (plain.length <= maxNameLength) return plain
  const hash = shortHash(identity, 10)
  const prefix = plain.slice(0, maxNameLength - hash.length - 1).replace(/[^a-z0-9]+$/, "")
  return `${prefix}-${hash}`
}

/** The container and pod settings a spec asks for; a change here is what makes pods outdated. */
const podTemplate = (spec: BatchWorkloadSpec, mode: WorkloadMode) => ({
  podLabels: spec.podLabels ?? {},
  podAnnotations: spec.podAnnotations ?? {},
  tolerations: spec.tolerations ?? [],
  restartPolicy: mode === "LongRunning" ? "Always" : "Never",
  container: {
    name: containerName,
    image: spec.image,
    ...(spec.imagePullPolicy !== undefined ? { imagePullPolicy: spec.imagePullPolicy } : {}),
    ...(spec.command !== undefined ? { command: spec.command } : {}),
    ...(spec.args !== undefined ? { args: spec.args } : {}),
    ...(spec.env !== undefined ? { env: spec.env } : {}),
    ...(spec.resources !== undefined ? { resources: spec.resources } : {}),
    // Safe defaults that still let images like nginx (root, binding :80) run.
    securityContext: { allowPrivilegeEscalation: false, seccompProfile: { type: "RuntimeDefault" } }
  }
})

const canonicalJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  if (typeof value === "object" && value !== null) {
    return `{${
      Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonicalJson(Reflect.get(value, key))}`).join(",")
    }}`
  }
  return JSON.stringify(value)
}

/**
 * Identifies what the nodes are run with: the pod template plus the retry
 * token. A pod carrying another revision is outdated and gets replaced.
 */
export const revision = (spec: BatchWorkloadSpec, retryToken: string) =>
  shortHash(canonicalJson({ template: podTemplate(spec, spec.mode), retryToken }), 10)

export interface WorkloadRef {
  readonly name: string
  readonly namespace: string
  readonly uid: string
}

export const workloadRef = (metadata: ObjectMeta): WorkloadRef => ({
  name: metadata.name,
  namespace: metadata.namespace ?? "default",
  uid: metadata.uid ?? ""
})

/**
 * As DaemonSet pods do, tolerate the node lifecycle controller's readiness
 * taints without a time limit: a NotReady blip must not evict a pod that
 * the operator itself would keep.
 */
const readinessTolerations = [
  { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
  { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" }
]

/** The pod for one attempt on one node. */
export const buildPod = (
  workload: WorkloadRef,
  spec: BatchWorkloadSpec,
  target: { readonly nodeName: string; readonly podName: string; readonly attempt: number },
  podRevision: string
): Pod => {
  const template = podTemplate(spec, spec.mode)
  const { attempt, nodeName } = target
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: target.podName,
      namespace: workload.namespace,
      labels: {
        ...template.podLabels,
        [managedByLabel]: managerName,
        [workloadLabel]: labelValue(workload.name),
        [workloadUidLabel]: workload.uid,
        [nodeLabel]: labelValue(nodeName)
      },
      annotations: {
        ...template.podAnnotations,
        [nodeAnnotation]: nodeName,
        [attemptAnnotation]: String(attempt),
        [revisionAnnotation]: podRevision
      },
      ownerReferences: [{
        apiVersion,
        kind,
        name: workload.name,
        uid: workload.uid,
        controller: true,
        blockOwnerDeletion: true
      }]
    },
    spec: {
      nodeName,
      restartPolicy: template.restartPolicy,
      tolerations: [...template.tolerations, ...readinessTolerations],
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: { seccompProfile: { type: "RuntimeDefault" } },
      containers: [template.container]
    }
  }
}

export const podAttempt = (pod: Pod) => Number(pod.metadata.annotations?.[attemptAnnotation] ?? "1") || 1
export const podRevision = (pod: Pod) => pod.metadata.annotations?.[revisionAnnotation]
export const podNodeName = (pod: Pod) => pod.spec?.nodeName ?? pod.metadata.annotations?.[nodeAnnotation] ?? ""

/** Where one attempt stands, judged from its pod alone. */
export type PodOutcome =
  | { readonly _tag: "Succeeded" }
  | { readonly _tag: "Failed"; readonly reason: string }
  | { readonly _tag: "InProgress"; readonly running: boolean; readonly message: string }

// Waiting reasons a kubelet reports for a container that will not start without someone changing something.
const hopelessWaitingReasons = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  "CrashLoopBackOff",
  "CreateContainerConfigError",
  "CreateContainerError",
  "RunContainerError"
])

const describeState = (state: { readonly reason?: string; readonly message?: string }, fallback: string) =>
  [state.reason ?? fallback, state.message].filter((part) => part !== undefined && part !== "").join(": ")

export const classifyPod = (pod: Pod, mode: WorkloadMode): PodOutcome => {
  const status = pod.status ?? {}
  const containers = status.containerStatuses ?? []
  const terminated = containers.find((c) => c.state?.terminated !== undefined)?.state?.terminated
  if (status.phase === "Failed") {
    return {
      _tag: "Failed",
      reason: terminated !== undefined
        ? `container exited with code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ""}${
          terminated.message ? `: ${terminated.message}` : ""
        }`
        : describeState(status, "pod failed")
    }
  }
  if (status.phase === "Succeeded") {
    return mode === "RunToCompletion"
      ? { _tag: "Succeeded" }
      : { _tag: "Failed", reason: "container exited but the workload is LongRunning (use mode RunToCompletion for jobs)" }
  }
  for (const container of containers) {
    const waiting = container.state?.waiting
    if (waiting?.reason !== undefined && hopelessWaitingReasons.has(waiting.reason)) {
      return { _tag: "Failed", reason: describeState(waiting, "waiting") }
    }
  }
  const ready = status.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") ?? false
  if (mode === "LongRunning" && ready && pod.metadata.deletionTimestamp === undefined) return { _tag: "Succeeded" }
  if (status.phase === "Running") {
    return { _tag: "InProgress", running: true, message: mode === "LongRunning" ? "pod running, not Ready yet" : "pod running" }
  }
  const waiting = containers.find((c) => c.state?.waiting !== undefined)?.state?.waiting
  return {
    _tag: "InProgress",
    running: false,
    message: waiting !== undefined ? `pod pending: ${describeState(waiting, "waiting")}` : "pod pending"
  }
}
