import { Clock, Context, Duration, Effect, Fiber, Layer, PubSub, Stream } from "effect"
import type { Kind, Kinds, Node, ObjectMeta, Pod, PodStatus } from "../../../src/api/core.ts"
import { type CreateOptions, KubeApiError, KubeClient, type ListOptions, type WatchEvent } from "../../../src/kube/KubeClient.ts"

type AnyObject = Kinds[Kind]

interface StoredEvent {
  readonly kind: Kind
  readonly resourceVersion: number
  readonly event: WatchEvent<AnyObject>
}

/** What the fake kubelet does with a pod: status changes, each after a delay from the previous one. */
export type PodScript = ReadonlyArray<{ readonly after: Duration.Input; readonly status: PodStatus }>

const containerStatus = (state: object, ready: boolean, restartCount = 0) => [{ name: "workload", ready, restartCount, state }]

export const podScripts = {
  ready: (after: Duration.Input = "1 second"): PodScript => [
    { after: "100 millis", status: { phase: "Pending" } },
    { after, status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }], containerStatuses: containerStatus({ running: {} }, true) } }
  ],
  complete: (after: Duration.Input = "1 second"): PodScript => [
    { after: "100 millis", status: { phase: "Running", containerStatuses: containerStatus({ running: {} }, true) } },
    { after, status: { phase: "Succeeded", containerStatuses: containerStatus({ terminated: { exitCode: 0, reason: "Completed" } }, false) } }
  ],
  fail: (after: Duration.Input = "1 second"): PodScript => [
    { after: "100 millis", status: { phase: "Running", containerStatuses: containerStatus({ running: {} }, true) } },
    {
      after,
      status: {
        phase: "Failed",
        containerStatuses: containerStatus({ terminated: { exitCode: 1, reason: "Error", message: "boom" } }, false)
      }
    }
  ],
  imagePullError: (after: Duration.Input = "500 millis"): PodScript => [
    {
      after,
      status: {
        phase: "Pending",
        containerStatuses: containerStatus({ waiting: { reason: "ErrImagePull", message: "pull access denied for nosuch/image" } }, false)
      }
    }
  ],
  pending: (): PodScript => []
}

export interface FakeNodeOptions {
  readonly labels?: Record<string, string>
  readonly ready?: boolean
  readonly unschedulable?: boolean
  readonly taints?: ReadonlyArray<{ key: string; value?: string; effect: string }>
}

export const fakeNode = (name: string, options: FakeNodeOptions = {}): Node => ({
  metadata: { name, labels: { "kubernetes.io/hostname": name, ...options.labels } },
  spec: {
    ...(options.unschedulable !== undefined ? { unschedulable: options.unschedulable } : {}),
    ...(options.taints !== undefined ? { taints: options.taints } : {})
  },
  status: { conditions: [{ type: "Ready", status: options.ready === false ? "False" : "True" }] }
})

/** A kubelet records when a container stopped and when a condition last changed. */
const stampFinished = (status: PodStatus, at: string): PodStatus => ({
  ...status,
  ...(status.conditions !== undefined
    ? { conditions: status.conditions.map((condition) => ({ lastTransitionTime: at, ...condition })) }
    : {}),
  ...(status.containerStatuses !== undefined
    ? {
      containerStatuses: status.containerStatuses.map((container) =>
        container.state?.terminated !== undefined
          ? { ...container, state: { ...container.state, terminated: { ...container.state.terminated, finishedAt: at } } }
          : container
      )
    }
    : {})
})

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** RFC 7386 JSON merge patch. */
const mergePatch = (target: unknown, patch: unknown): unknown => {
  if (!isRecord(patch)) return patch
  const result: Record<string, unknown> = isRecord(target) ? { ...target } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = mergePatch(result[key], value)
  }
  return result
}

const matchesSelector = (labels: Readonly<Record<string, string>> | undefined, selector: string | undefined) =>
  selector === undefined || selector.split(",").every((term) => {
    const [key, value] = term.split("=")
    return key !== undefined && labels?.[key] === value
  })

const keyOf = (metadata: ObjectMeta) => `${metadata.namespace ?? ""}/${metadata.name}`

/**
 * An in-memory API server and kubelet. Objects get resource versions,
 * generations and UIDs as on a real server; watches replay from a resource
 * version; pods bound to a node follow the script `podBehaviour` picks for
 * them, on the Clock (so TestClock drives them).
 */
export const makeFakeCluster = Effect.gen(function*() {
  const stores = new Map<Kind, Map<string, AnyObject>>()
  const history: Array<StoredEvent> = []
  const live = yield* PubSub.unbounded<StoredEvent>()
  const kubelets = new Map<string, Fiber.Fiber<void>>()
  let resourceVersion = 0
  let uidCounter = 0
  let podBehaviour: (pod: Pod) => PodScript = () => podScripts.ready()
  /** An admission check for pod creates (real and dry-run), as Pod Security admission or a quota would do: a message refuses the pod. */
  let podAdmission: (pod: Pod) => string | undefined = () => undefined
  let interferences = 0
  const stats = { statusWrites: 0, podCreates: 0, dryRunCreates: 0, inFlight: 0, maxInFlight: 0 }
  /** Every pod ever created, with its virtual creation time, for timing assertions. */
  const createdPods: Array<{ readonly name: string; readonly attempt: string; readonly atMillis: number }> = []
  const active = new Set<string>()

  const store = (kind: Kind) => {
    const existing = stores.get(kind)
    if (existing !== undefined) return existing
    const created = new Map<string, AnyObject>()
    stores.set(kind, created)
    return created
  }

  const emit = (kind: Kind, type: "ADDED" | "MODIFIED" | "DELETED", object: AnyObject) => {
    const event: StoredEvent = { kind, resourceVersion, event: { type, object } }
    history.push(event)
    PubSub.publishUnsafe(live, event)
  }

  const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis).toISOString())

  const settle = (key: string) => {
    if (active.delete(key)) stats.inFlight -= 1
  }

  const write = <K extends Kind>(kind: K, object: Kinds[K], type: "ADDED" | "MODIFIED") => {
    resourceVersion += 1
    const stored = { ...object, metadata: { ...object.metadata, resourceVersion: String(resourceVersion) } }
    store(kind).set(keyOf(stored.metadata), stored)
    emit(kind, type, stored)
    return stored
  }

  const drop = (kind: Kind, object: AnyObject) => {
    resourceVersion += 1
    const key = keyOf(object.metadata)
    store(kind).delete(key)
    emit(kind, "DELETED", { ...object, metadata: { ...object.metadata, resourceVersion: String(resourceVersion) } })
    if (kind === "pods") {
      settle(key)
      const kubelet = kubelets.get(key)
      kubelets.delete(key)
      kubelet?.interruptUnsafe()
    }
  }

  // Steps are timed from the pod's creation, however late this fiber first runs, as a kubelet's clock would be.
  const runKubelet = (pod: Pod, createdAtMillis: number) =>
    Effect.gen(function*() {
      const key = keyOf(pod.metadata)
      const script = podBehaviour(pod)
      let dueAt = createdAtMillis
      for (const [index, step] of script.entries()) {
        dueAt += Duration.toMillis(Duration.fromInputUnsafe(step.after))
        yield* Effect.sleep(Duration.millis(Math.max(0, dueAt - (yield* Clock.currentTimeMillis))))
        const current = store("pods").get(key)
        if (current === undefined || current.metadata.uid !== pod.metadata.uid) return
        write("pods", { ...current, status: stampFinished(step.status, yield* now) } as Pod, "MODIFIED")
        if (index === script.length - 1) settle(key)
      }
    })

  const notFound = (kind: Kind, name: string) => new KubeApiError({ reason: "NotFound", message: `${kind} "${name}" not found`, status: 404 })

  const client = KubeClient.of({
    // No token is valid here: the callback server's acceptance is tested against the real API server.
    reviewToken: () => Effect.succeed({ authenticated: false, error: "the fake cluster issues no tokens" }),
    get: <K extends Kind>(kind: K, namespace: string | undefined, name: string) =>
      Effect.gen(function*() {
        const object = store(kind).get(`${namespace ?? ""}/${name}`)
        if (object === undefined) return yield* notFound(kind, name)
        return object as Kinds[K]
      }),
    list: <K extends Kind>(kind: K, options: ListOptions) =>
      Effect.sync(() => ({
        items: [...store(kind).values()].filter((object) =>
          (options.namespace === undefined || object.metadata.namespace === options.namespace) &&
          matchesSelector(object.metadata.labels, options.labelSelector)
        ) as Array<Kinds[K]>,
        resourceVersion: String(resourceVersion)
      })),
    watch: <K extends Kind>(kind: K, options: ListOptions & { resourceVersion: string }) =>
      Stream.unwrap(Effect.gen(function*() {
        const subscription = yield* PubSub.subscribe(live)
        const since = Number(options.resourceVersion)
        const replay = history.filter((event) => event.resourceVersion > since)
        const last = replay.at(-1)?.resourceVersion ?? since
        const relevant = (event: StoredEvent) =>
          event.kind === kind && event.event.type !== "BOOKMARK" &&
          (options.namespace === undefined || event.event.object.metadata.namespace === options.namespace) &&
          matchesSelector(event.event.object.metadata.labels, options.labelSelector)
        return Stream.fromIterable(replay).pipe(
          Stream.concat(Stream.fromSubscription(subscription).pipe(Stream.filter((event) => event.resourceVersion > last))),
          Stream.filter(relevant),
          Stream.map((event) => event.event as WatchEvent<Kinds[K]>)
        )
      })),
    create: <K extends Kind>(kind: K, object: Kinds[K], options?: CreateOptions) =>
      Effect.gen(function*() {
        const key = keyOf(object.metadata)
        if (store(kind).has(key)) {
          return yield* new KubeApiError({ reason: "AlreadyExists", message: `${kind} "${object.metadata.name}" already exists`, status: 409 })
        }
        if (options?.dryRun === true) stats.dryRunCreates += 1
        const refusal = kind === "pods" ? podAdmission(object as Pod) : undefined
        if (refusal !== undefined) return yield* new KubeApiError({ reason: "Forbidden", message: refusal, status: 403 })
        if (options?.dryRun === true) return object
        uidCounter += 1
        const created = write(kind, {
          ...object,
          metadata: { ...object.metadata, uid: `uid-${uidCounter}`, generation: 1, creationTimestamp: yield* now }
        }, "ADDED")
        if (kind === "pods") {
          stats.podCreates += 1
          createdPods.push({
            name: created.metadata.name,
            attempt: created.metadata.annotations?.["batch.example.com/attempt"] ?? "",
            atMillis: yield* Clock.currentTimeMillis
          })
          stats.inFlight += 1
          stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight)
          active.add(key)
          const fiber = yield* Effect.forkDetach(runKubelet(created as Pod, yield* Clock.currentTimeMillis))
          kubelets.set(key, fiber)
        }
        return created
      }),
    remove: (kind, namespace, name, preconditions) =>
      Effect.gen(function*() {
        const object = store(kind).get(`${namespace ?? ""}/${name}`)
        if (object === undefined) return yield* notFound(kind, name)
        if (preconditions?.uid !== undefined && preconditions.uid !== object.metadata.uid) {
          return yield* new KubeApiError({ reason: "Conflict", message: "uid precondition failed", status: 409 })
        }
        if ((object.metadata.finalizers?.length ?? 0) > 0) {
          write(kind, { ...object, metadata: { ...object.metadata, deletionTimestamp: yield* now } }, "MODIFIED")
        } else {
          drop(kind, object)
        }
      }),
    patch: <K extends Kind>(
      kind: K,
      namespace: string | undefined,
      name: string,
      patch: unknown,
      options?: { readonly subresource?: "status" }
    ) =>
      Effect.gen(function*() {
        const untouched = store(kind).get(`${namespace ?? ""}/${name}`)
        if (untouched === undefined) return yield* notFound(kind, name)
        // Another writer gets in first: the object moves on, so a patch based on what was read conflicts.
        const object = interferences > 0 && options?.subresource === undefined ? write(kind, untouched as Kinds[K], "MODIFIED") : untouched
        if (object !== untouched) interferences -= 1
        const expected = isRecord(patch) && isRecord(patch["metadata"]) ? patch["metadata"]["resourceVersion"] : undefined
        if (expected !== undefined && expected !== object.metadata.resourceVersion) {
          return yield* new KubeApiError({ reason: "Conflict", message: "the object has been modified", status: 409 })
        }
        const allowed = options?.subresource === "status" && isRecord(patch) ? { status: patch["status"] } : patch
        if (options?.subresource === "status") stats.statusWrites += 1
        const merged = mergePatch(object, allowed) as Kinds[K]
        const released = merged.metadata.deletionTimestamp !== undefined && (merged.metadata.finalizers?.length ?? 0) === 0
        if (released) {
          drop(kind, merged)
          return merged
        }
        return write(kind, merged, "MODIFIED")
      })
  })

  const apply = <K extends Kind>(kind: K, object: Kinds[K]) =>
    Effect.gen(function*() {
      const existing = store(kind).get(keyOf(object.metadata))
      if (existing === undefined) return yield* Effect.orDie(client.create(kind, object))
      const specChanged = JSON.stringify(Reflect.get(existing, "spec")) !== JSON.stringify(Reflect.get(object, "spec"))
      return write(kind, {
        ...existing,
        ...object,
        // Like the API server, the main resource of a kind with a status subresource ignores status.
        status: Reflect.get(kind === "batchworkloads" ? existing : object, "status"),
        metadata: {
          ...existing.metadata,
          ...object.metadata,
          uid: existing.metadata.uid,
          generation: (existing.metadata.generation ?? 1) + (specChanged ? 1 : 0)
        }
      } as Kinds[K], "MODIFIED")
    })

  return {
    client,
    stats,
    createdPods,
    apply,
    get: <K extends Kind>(kind: K, namespace: string | undefined, name: string) =>
      Effect.sync(() => store(kind).get(`${namespace ?? ""}/${name}`) as Kinds[K] | undefined),
    list: <K extends Kind>(kind: K) => Effect.sync(() => [...store(kind).values()] as Array<Kinds[K]>),
    remove: (kind: Kind, namespace: string | undefined, name: string) => Effect.orDie(client.remove(kind, namespace, name)),
    setPodBehaviour: (behaviour: (pod: Pod) => PodScript) =>
      Effect.sync(() => {
        podBehaviour = behaviour
      }),
    /** Refuses pod creates, dry-run ones included, whenever `admission` returns a message (undefined admits the pod). */
    setPodAdmission: (admission: (pod: Pod) => string | undefined) =>
      Effect.sync(() => {
        podAdmission = admission
      }),
    /** The next `count` patches (not status writes) race another writer that updates the object just before them. */
    interfere: (count: number) =>
      Effect.sync(() => {
        interferences = count
      }),
    /** Changes a pod's status as a kubelet would, e.g. to make a Ready pod crash. */
    setPodStatus: (namespace: string, name: string, status: PodStatus) =>
      Effect.sync(() => {
        const pod = store("pods").get(`${namespace}/${name}`)
        if (pod !== undefined) write("pods", { ...pod, status } as Pod, "MODIFIED")
      })
  }
})

export type FakeClusterShape = Effect.Success<typeof makeFakeCluster>

export class FakeCluster extends Context.Service<FakeCluster, FakeClusterShape>()("test/FakeCluster") {
  static readonly layer = Layer.effect(FakeCluster, makeFakeCluster)
  static readonly kubeClient = Layer.effect(KubeClient, Effect.map(Effect.service(FakeCluster), (cluster) => cluster.client))
}
