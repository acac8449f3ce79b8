import { createHash } from "node:crypto"
import { Option, Schema } from "effect"
import { apiVersion, type BatchWorkloadSpec, group, kind, Toleration, type WorkloadMode } from "../api/BatchWorkload.ts"
import type { ObjectMeta, Pod } from "../api/core.ts"
import type { PodTemplateSpec } from "../api/PodTemplate.ts"
import { type CallbackEndpoint, callbackTokenDirectory, callbackTokenSeconds, callbackTokenVolume, reportEnv, reportEnvNames } from "./reports.ts"

export const managedByLabel = "app.kubernetes.io/managed-by"
export const managerName = "batch-workload-operator"
export const workloadLabel = `${group}/workload`
export const workloadUidLabel = `${group}/workload-uid`
export const nodeLabel = `${group}/node`
export const nodeAnnotation = `${group}/node`
export const attemptAnnotation = `${group}/attempt`
export const revisionAnnotation = `${group}/revision`
/** On a pod made for a retry of some nodes: the retry-nodes value it answers. */
export const retryNodesPodAnnotation = `${group}/retry-nodes`
/** With spec.reports: the run the pod belongs to, which its reports must name. */
export const executionAnnotation = `${group}/execution`
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

/** The container and pod settings the simple fields ask for; a change here is what makes pods outdated. */
const simpleTemplate = (spec: BatchWorkloadSpec, mode: WorkloadMode) => ({
  podLabels: spec.podLabels ?? {},
  podAnnotations: spec.podAnnotations ?? {},
  tolerations: spec.tolerations ?? [],
  restartPolicy: restartPolicyFor(mode),
  container: {
    name: containerName,
    // The decoder refuses a spec with neither image nor template, so this path always has one.
    image: spec.image ?? "",
    ...(spec.imagePullPolicy !== undefined ? { imagePullPolicy: spec.imagePullPolicy } : {}),
    ...(spec.command !== undefined ? { command: spec.command } : {}),
    ...(spec.args !== undefined ? { args: spec.args } : {}),
    ...(spec.env !== undefined ? { env: spec.env } : {}),
    ...(spec.resources !== undefined ? { resources: spec.resources } : {}),
    // Safe defaults that still let images like nginx (root, binding :80) run.
    securityContext: { allowPrivilegeEscalation: false, seccompProfile: { type: "RuntimeDefault" } }
  }
})

const restartPolicyFor = (mode: WorkloadMode) => mode === "LongRunning" ? "Always" : "Never"

type Fields = { readonly [field: string]: unknown }

const isFields = (value: unknown): value is Fields => typeof value === "object" && value !== null && !Array.isArray(value)
const fieldsOf = (value: unknown): Fields => isFields(value) ? value : {}
const listOf = (value: unknown): ReadonlyArray<unknown> => Array.isArray(value) ? value : []

const decodeTolerations = Schema.decodeUnknownOption(Schema.Array(Toleration))

/** The tolerations the pods carry, which are also the taints that do not exclude a node: the template's, or the simple field. */
export const podTolerations = (spec: BatchWorkloadSpec): ReadonlyArray<Toleration> =>
  spec.template !== undefined
    ? Option.getOrElse(decodeTolerations(spec.template.spec["tolerations"] ?? []), () => [])
    : spec.tolerations ?? []

/** The image the Started event names: the simple field, or the template's first container's. */
export const workloadImage = (spec: BatchWorkloadSpec) => {
  if (spec.template === undefined) return spec.image ?? ""
  const image = fieldsOf(listOf(spec.template.spec["containers"])[0])["image"]
  return typeof image === "string" ? image : ""
}

/**
 * allowPrivilegeEscalation: false, unless the container says otherwise or asks
 * for privileges the API server refuses to combine with it (privileged, CAP_SYS_ADMIN).
 */
const withRestrictedContainerDefaults = (container: unknown): unknown => {
  const fields = fieldsOf(container)
  const securityContext = fieldsOf(fields["securityContext"])
  const added = listOf(fieldsOf(securityContext["capabilities"])["add"])
  const escalates = securityContext["privileged"] === true || added.includes("SYS_ADMIN") || added.includes("CAP_SYS_ADMIN")
  if ("allowPrivilegeEscalation" in securityContext || escalates) return container
  return { ...fields, securityContext: { ...securityContext, allowPrivilegeEscalation: false } }
}

/** The pod spec from a template: the template's fields, restricted defaults only where it says nothing, and what the operator owns. */
const templatePodSpec = (template: PodTemplateSpec, mode: WorkloadMode, nodeName: string) => {
  const spec = template.spec
  const securityContext = fieldsOf(spec["securityContext"])
  return {
    ...spec,
    // A template that names a service account wants its token; otherwise the pod gets none, as with the simple fields.
    ...("automountServiceAccountToken" in spec || "serviceAccountName" in spec ? {} : { automountServiceAccountToken: false }),
    ...("enableServiceLinks" in spec ? {} : { enableServiceLinks: false }),
    securityContext: "seccompProfile" in securityContext ? securityContext : { ...securityContext, seccompProfile: { type: "RuntimeDefault" } },
    ...("initContainers" in spec ? { initContainers: listOf(spec["initContainers"]).map(withRestrictedContainerDefaults) } : {}),
    containers: listOf(spec["containers"]).map(withRestrictedContainerDefaults),
    tolerations: [...listOf(spec["tolerations"]), ...readinessTolerations],
    // Refused in the template at admission; set here so the binding and the restart policy are always the operator's.
    nodeName,
    restartPolicy: restartPolicyFor(mode)
  }
}

/** What decides whether a pod is outdated: the simple fields as they always were (so existing revisions keep their hash), or the template. */
const revisionSource = (spec: BatchWorkloadSpec) => {
  const source = spec.template === undefined ? simpleTemplate(spec, spec.mode) : { podTemplate: spec.template, restartPolicy: restartPolicyFor(spec.mode) }
  // Turning reports on or off changes the pods' environment; the key is absent without reports, so older revisions keep their hash.
  return spec.reports !== undefined ? { ...source, reporting: true } : source
}

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
  shortHash(canonicalJson({ template: revisionSource(spec), retryToken }), 10)

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

const operatorLabels = (workload: WorkloadRef, nodeName: string) => ({
  [managedByLabel]: managerName,
  [workloadLabel]: labelValue(workload.name),
  [workloadUidLabel]: workload.uid,
  [nodeLabel]: labelValue(nodeName)
})

const operatorAnnotations = (nodeName: string, attempt: number, podRevision: string, retryNodes: string | undefined) => ({
  [nodeAnnotation]: nodeName,
  [attemptAnnotation]: String(attempt),
  [revisionAnnotation]: podRevision,
  ...(retryNodes !== undefined ? { [retryNodesPodAnnotation]: retryNodes } : {})
})

const ownerReferences = (workload: WorkloadRef) => [{
  apiVersion,
  kind,
  name: workload.name,
  uid: workload.uid,
  controller: true,
  blockOwnerDeletion: true
}]

/** What a reporting pod is given: where to call back, and the run it reports for. */
export interface Reporting {
  readonly endpoint: CallbackEndpoint
  readonly executionId: string
}

/**
 * Every container of a reporting pod gets the callback environment (any value
 * of those names the spec set is replaced) and the projected token it proves
 * itself with: bound to this pod, for the operator's audience, short-lived.
 */
const withReporting = (pod: Pod, workload: WorkloadRef, nodeName: string, reporting: Reporting): Pod => {
  const env = reportEnv(reporting.endpoint, workload.namespace, nodeName, reporting.executionId)
  const mount = { name: callbackTokenVolume, mountPath: callbackTokenDirectory, readOnly: true }
  const equip = (container: unknown) => {
    const fields = fieldsOf(container)
    const ownEnv = listOf(fields["env"]).filter((entry) => !reportEnvNames.has(String(fieldsOf(entry)["name"])))
    return { ...fields, env: [...ownEnv, ...env], volumeMounts: [...listOf(fields["volumeMounts"]), mount] }
  }
  const spec = pod.spec ?? {}
  const tokenVolume = {
    name: callbackTokenVolume,
    projected: { sources: [{ serviceAccountToken: { audience: reporting.endpoint.audience, expirationSeconds: callbackTokenSeconds, path: "token" } }] }
  }
  return {
    ...pod,
    metadata: { ...pod.metadata, annotations: { ...pod.metadata.annotations, [executionAnnotation]: reporting.executionId } },
    spec: {
      ...spec,
      ...("initContainers" in spec ? { initContainers: listOf(spec["initContainers"]).map(equip) } : {}),
      containers: listOf(spec["containers"]).map(equip),
      volumes: [...listOf(spec["volumes"]), tokenVolume]
    }
  }
}

/** The pod for one attempt on one node, always in the workload's own namespace; with `reporting`, equipped to report. */
export const buildPod = (
  workload: WorkloadRef,
  spec: BatchWorkloadSpec,
  target: { readonly nodeName: string; readonly podName: string; readonly attempt: number; readonly retryNodes?: string | undefined },
  podRevision: string,
  reporting?: Reporting
): Pod => {
  const pod = buildPlainPod(workload, spec, target, podRevision)
  return reporting !== undefined ? withReporting(pod, workload, target.nodeName, reporting) : pod
}

const buildPlainPod = (
  workload: WorkloadRef,
  spec: BatchWorkloadSpec,
  target: { readonly nodeName: string; readonly podName: string; readonly attempt: number; readonly retryNodes?: string | undefined },
  podRevision: string
): Pod => {
  const { attempt, nodeName } = target
  // The operator's labels and annotations win; a template may not use batch.example.com/ keys (refused at admission).
  const metadata = (labels: Readonly<Record<string, string>> | undefined, annotations: Readonly<Record<string, string>> | undefined) => ({
    name: target.podName,
    namespace: workload.namespace,
    labels: { ...labels, ...operatorLabels(workload, nodeName) },
    annotations: { ...annotations, ...operatorAnnotations(nodeName, attempt, podRevision, target.retryNodes) },
    ownerReferences: ownerReferences(workload)
  })
  if (spec.template !== undefined) {
    const { template } = spec
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: metadata(template.metadata?.labels, template.metadata?.annotations),
      spec: templatePodSpec(template, spec.mode, nodeName)
    }
  }
  const template = simpleTemplate(spec, spec.mode)
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: metadata(template.podLabels, template.podAnnotations),
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
export const podRetryNodes = (pod: Pod) => pod.metadata.annotations?.[retryNodesPodAnnotation]
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
