/**
 * The parts of core Kubernetes objects the operator reads and writes, in their
 * wire (JSON) form. The kube layer hands these out; nothing outside it sees
 * @kubernetes/client-node's classes.
 */

export interface OwnerReference {
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
  readonly uid: string
  readonly controller?: boolean
  readonly blockOwnerDeletion?: boolean
}

export interface ObjectMeta {
  readonly name: string
  readonly namespace?: string
  readonly uid?: string
  readonly resourceVersion?: string
  readonly generation?: number
  readonly creationTimestamp?: string
  readonly deletionTimestamp?: string
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
  readonly finalizers?: ReadonlyArray<string>
  readonly ownerReferences?: ReadonlyArray<OwnerReference>
}

export interface Taint {
  readonly key: string
  readonly value?: string
  readonly effect: string
}

export interface NodeCondition {
  readonly type: string
  readonly status: string
  readonly reason?: string
  readonly message?: string
}

export interface Node {
  readonly metadata: ObjectMeta
  readonly spec?: { readonly unschedulable?: boolean; readonly taints?: ReadonlyArray<Taint> }
  readonly status?: { readonly conditions?: ReadonlyArray<NodeCondition> }
}

export interface ContainerState {
  readonly waiting?: { readonly reason?: string; readonly message?: string }
  readonly running?: { readonly startedAt?: string }
  readonly terminated?: { readonly exitCode: number; readonly reason?: string; readonly message?: string; readonly finishedAt?: string }
}

export interface ContainerStatus {
  readonly name: string
  readonly ready?: boolean
  readonly restartCount?: number
  readonly state?: ContainerState
  readonly lastState?: ContainerState
}

export interface PodCondition {
  readonly type: string
  readonly status: string
  readonly lastTransitionTime?: string
  readonly reason?: string
  readonly message?: string
}

export interface PodStatus {
  readonly phase?: string
  readonly reason?: string
  readonly message?: string
  readonly conditions?: ReadonlyArray<PodCondition>
  readonly containerStatuses?: ReadonlyArray<ContainerStatus>
}

export interface Pod {
  readonly apiVersion?: string
  readonly kind?: string
  readonly metadata: ObjectMeta
  readonly spec?: { readonly nodeName?: string; readonly [field: string]: unknown }
  readonly status?: PodStatus
}

/** A BatchWorkload as stored by the API server: the spec is still undecoded. */
export interface BatchWorkloadObject {
  readonly apiVersion?: string
  readonly kind?: string
  readonly metadata: ObjectMeta
  readonly spec?: unknown
  readonly status?: unknown
}

export interface ObjectReference {
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
  readonly namespace: string
  readonly uid: string
}

export interface Event {
  readonly apiVersion: "v1"
  readonly kind: "Event"
  readonly metadata: ObjectMeta
  readonly involvedObject: ObjectReference
  readonly reason: string
  readonly message: string
  readonly type: "Normal" | "Warning"
  readonly source: { readonly component: string }
  readonly reportingComponent: string
  readonly reportingInstance: string
  readonly firstTimestamp: string
  readonly lastTimestamp: string
  readonly count: number
}

export interface Lease {
  readonly apiVersion: "coordination.k8s.io/v1"
  readonly kind: "Lease"
  readonly metadata: ObjectMeta
  readonly spec?: {
    readonly holderIdentity?: string
    readonly leaseDurationSeconds?: number
    readonly acquireTime?: string
    readonly renewTime?: string
    readonly leaseTransitions?: number
  }
}

/** What a TokenReview found: who the token belongs to, with the bound pod in `extra`. */
export interface TokenReviewResult {
  readonly authenticated: boolean
  readonly username?: string
  /** authentication.kubernetes.io/pod-name, pod-uid (and node-name) for a pod-bound token. */
  readonly extra?: Readonly<Record<string, ReadonlyArray<string>>>
  readonly error?: string
}

/** The kinds the operator works with, and the object type of each. */
export interface Kinds {
  readonly pods: Pod
  readonly nodes: Node
  readonly batchworkloads: BatchWorkloadObject
  readonly events: Event
  readonly leases: Lease
}
export type Kind = keyof Kinds

export const objectKey = (metadata: ObjectMeta) =>
  metadata.namespace === undefined ? metadata.name : `${metadata.namespace}/${metadata.name}`
