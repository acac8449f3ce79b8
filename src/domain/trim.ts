import type { BatchWorkloadObject, ContainerStatus, Node, ObjectMeta, Pod } from "../api/core.ts"
import { attemptAnnotation, executionAnnotation, nodeAnnotation, retryNodesPodAnnotation, revisionAnnotation, workloadUidLabel } from "./pods.ts"

/**
 * What the caches keep of each object: only the fields the operator reads.
 * A kwok or kubelet node carries images, addresses, capacity and managed
 * fields that are many times the size of what a plan needs; at 5,000 nodes
 * that difference is most of the operator's memory.
 */
const pick = <T extends object, K extends keyof T>(object: T, keys: ReadonlyArray<K>): Partial<Pick<T, K>> => {
  const picked: Partial<Pick<T, K>> = {}
  for (const key of keys) if (object[key] !== undefined) picked[key] = object[key]
  return picked
}

const metaFields = ["namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "labels"] as const

const baseMeta = (metadata: ObjectMeta): ObjectMeta => ({ name: metadata.name, ...pick(metadata, metaFields) })

export const trimNode = (node: Node): Node => ({
  metadata: baseMeta(node.metadata),
  spec: pick(node.spec ?? {}, ["unschedulable", "taints"]),
  status: {
    conditions: (node.status?.conditions ?? []).filter((c) => c.type === "Ready")
      .map((c) => ({ type: c.type, status: c.status, ...pick(c, ["message"]) }))
  }
})

/** A trimmed node without its resourceVersion: what a node decision can read of it. */
const nodeContent = (node: Node) => JSON.stringify([node.metadata.name, pick(node.metadata, metaFields.filter((field) => field !== "resourceVersion")), node.spec, node.status])

/**
 * Whether two trimmed nodes differ at most in resourceVersion. A status
 * heartbeat changes only times the trim drops, so every decision taken from
 * the stored node still holds for the new one.
 */
export const sameNodeContent = (stored: Node, next: Node): boolean => nodeContent(stored) === nodeContent(next)

const ownAnnotations = [attemptAnnotation, revisionAnnotation, nodeAnnotation, retryNodesPodAnnotation, executionAnnotation] as const

const trimContainer = (status: ContainerStatus): ContainerStatus => ({ name: status.name, ...pick(status, ["ready", "restartCount", "state"]) })

export const trimPod = (pod: Pod): Pod => {
  const annotations = pod.metadata.annotations ?? {}
  const status = pod.status ?? {}
  return {
    metadata: {
      ...baseMeta(pod.metadata),
      labels: Object.fromEntries(Object.entries(pod.metadata.labels ?? {}).filter(([key]) => key === workloadUidLabel)),
      annotations: Object.fromEntries(ownAnnotations.flatMap((key) => annotations[key] !== undefined ? [[key, annotations[key]]] : [])),
      ...(pod.metadata.ownerReferences !== undefined
        ? { ownerReferences: pod.metadata.ownerReferences.filter((ref) => ref.controller === true) }
        : {})
    },
    spec: pod.spec?.nodeName !== undefined ? { nodeName: pod.spec.nodeName } : {},
    status: {
      ...pick(status, ["phase", "reason", "message"]),
      conditions: (status.conditions ?? []).filter((c) => c.type === "Ready")
        .map((c) => ({ type: c.type, status: c.status, ...pick(c, ["lastTransitionTime"]) })),
      containerStatuses: (status.containerStatuses ?? []).map(trimContainer)
    }
  }
}

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

/** Drops managedFields and kubectl's copy of the last applied manifest, which can each outweigh the spec. */
export const trimWorkload = (workload: BatchWorkloadObject): BatchWorkloadObject => {
  const { [lastApplied]: _applied, ...annotations } = workload.metadata.annotations ?? {}
  return {
    ...workload,
    metadata: {
      ...baseMeta(workload.metadata),
      ...pick(workload.metadata, ["finalizers", "ownerReferences"]),
      annotations
    }
  }
}
