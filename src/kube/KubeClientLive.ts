import * as k8s from "@kubernetes/client-node"
import { Cause, Duration, Effect, Layer, Metric, Queue, Semaphore, Stream } from "effect"
import { RateLimiter } from "effect/persistence"
import { group, plural, version } from "../api/BatchWorkload.ts"
import type { Kind, Kinds } from "../api/core.ts"
import {
  type CreateOptions,
  KubeApiError,
  KubeClient,
  LeaderElectionKubeClient,
  type ListResult,
  reasonForStatus,
  type WatchEvent
} from "./KubeClient.ts"

interface ResourcePath {
  readonly prefix: string
  readonly plural: string
  readonly namespaced: boolean
}

const resourcePaths: Record<Kind, ResourcePath> = {
  pods: { prefix: "/api/v1", plural: "pods", namespaced: true },
  nodes: { prefix: "/api/v1", plural: "nodes", namespaced: false },
  events: { prefix: "/api/v1", plural: "events", namespaced: true },
  leases: { prefix: "/apis/coordination.k8s.io/v1", plural: "leases", namespaced: true },
  batchworkloads: { prefix: `/apis/${group}/${version}`, plural, namespaced: true }
}

const collectionPath = (kind: Kind, namespace: string | undefined) => {
  const resource = resourcePaths[kind]
  return resource.namespaced && namespace !== undefined
    ? `${resource.prefix}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}`
    : `${resource.prefix}/${resource.plural}`
}

const objectPath = (kind: Kind, namespace: string | undefined, name: string) =>
  `${collectionPath(kind, namespace)}/${encodeURIComponent(name)}`

export const apiRequests = Metric.counter("batch_operator_api_requests_total", {
  description: "Kubernetes API requests by verb, kind and HTTP status code",
  incremental: true
})
export const apiRequestSeconds = Metric.histogram("batch_operator_api_request_duration_seconds", {
  description: "Kubernetes API request latency by verb and kind",
  boundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
})

const describeCause = (cause: unknown): string => {
  if (cause instanceof Error) {
    const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : ""
    return `${cause.message}${inner}`
  }
  return String(cause)
}

/** The API server's Status object for a failed request: its message, and its reason when it is one we tell apart. */
const statusError = (status: number, body: string) => {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    // not a Status object: fall through to the raw text
  }
  const field = (name: string) =>
    typeof parsed === "object" && parsed !== null && name in parsed ? Reflect.get(parsed, name) : undefined
  const message = field("message")
  // 409 means either AlreadyExists or Conflict; only the Status reason tells which.
  const reason = field("reason") === "AlreadyExists" ? "AlreadyExists" : reasonForStatus(status)
  return new KubeApiError({
    reason,
    message: typeof message === "string" ? message : `HTTP ${status}: ${body.slice(0, 500)}`,
    status
  })
}

export interface KubeClientOptions {
  /** How many API requests may be in flight at once; the rest wait their turn. */
  readonly maxConcurrentRequests: number
  /** Sustained requests per second (client-go's QPS); 0 turns the limit off. Watches are not counted. */
  readonly qps: number
  /** Requests that may go at once before `qps` paces them (client-go's Burst). */
  readonly burst: number
  /** The server closes each watch after about this long and the informer resumes it; under client-node's 30 s idle limit. */
  readonly watchTimeoutSeconds: number
}

export const defaultKubeClientOptions: KubeClientOptions = { maxConcurrentRequests: 32, qps: 100, burst: 200, watchTimeoutSeconds: 25 }

/**
 * Leader election's client: permits of its own and no QPS limit, so a Lease
 * renewal never waits behind pod creates. It makes one request at a time, at
 * most every retry period, so it needs neither.
 */
export const leaderElectionClientOptions = (options: KubeClientOptions): KubeClientOptions => ({
  ...options,
  maxConcurrentRequests: 2,
  qps: 0,
  burst: 0
})

/**
 * client-go's client-side limit (flowcontrol.NewTokenBucketRateLimiter): a
 * bucket of `burst` tokens refilled at `qps` per second; each request takes a
 * token, waiting for one when the bucket is empty. Returns the effect that
 * waits for a token. Built on Effect's token-bucket RateLimiter with its
 * in-memory store: one key, so one bucket per client.
 */
export const makeRequestRateLimiter = (qps: number, burst: number) =>
  Effect.gen(function*() {
    if (!(qps > 0)) return Effect.void
    const limiter = yield* RateLimiter.make.pipe(Effect.provide(RateLimiter.layerStoreMemory))
    const capacity = Math.max(1, Math.floor(burst))
    const consume = RateLimiter.sleep(limiter, {
      algorithm: "token-bucket",
      key: "kube-api",
      limit: capacity,
      // The RateLimiter refills one token every window / limit: that is 1 / qps seconds.
      window: Duration.millis((capacity / qps) * 1000)
    })
    // The in-memory store cannot fail, and a delayed consume never exceeds the limit.
    return consume.pipe(Effect.asVoid, Effect.orDie)
  })

/** The live client: raw JSON over client-node's authenticated transport, so objects keep their wire form. */
export const makeKubeClient = (kubeConfig: k8s.KubeConfig, options: KubeClientOptions = defaultKubeClientOptions) =>
  Effect.gen(function*() {
    const cluster = kubeConfig.getCurrentCluster()
    if (cluster === null) {
      return yield* new KubeApiError({ reason: "Invalid", message: "the kubeconfig has no current cluster" })
    }
    const server = cluster.server.replace(/\/$/, "")
    const transport = new k8s.IsomorphicFetchHttpLibrary()
    // applySecurityAuthentication builds a new undici Agent for every request, so every request would
    // open its own TCP and TLS connection (a client-certificate handshake each: most of the operator's
    // CPU in a 1,000-node run). Headers (tokens) are still applied per request; the connection pool is kept.
    let dispatcher: ReturnType<k8s.RequestContext["getDispatcher"]>
    const watcher = new k8s.Watch(kubeConfig)
    const permits = yield* Semaphore.make(options.maxConcurrentRequests)
    const waitForToken = yield* makeRequestRateLimiter(options.qps, options.burst)

    const request = (
      verb: string,
      kind: Kind,
      method: k8s.HttpMethod,
      path: string,
      init: { readonly query?: Record<string, string>; readonly body?: unknown; readonly contentType?: string } = {}
    ) =>
      Effect.tryPromise({
        try: async (signal) => {
          const url = new URL(server + path)
          for (const [key, value] of Object.entries(init.query ?? {})) url.searchParams.set(key, value)
          const context = new k8s.RequestContext(url.toString(), method)
          await kubeConfig.applySecurityAuthentication(context)
          dispatcher ??= context.getDispatcher()
          if (dispatcher !== undefined) context.setDispatcher(dispatcher)
          context.setSignal(signal)
          context.setHeaderParam("Accept", "application/json")
          if (init.body !== undefined) {
            context.setHeaderParam("Content-Type", init.contentType ?? "application/json")
            context.setBody(JSON.stringify(init.body))
          }
          const response = await transport.send(context).toPromise()
          return { status: response.httpStatusCode, body: await response.body.text() }
        },
        catch: (cause) =>
          new KubeApiError({ reason: "Unavailable", message: `cannot reach the API server at ${server}: ${describeCause(cause)}` })
      }).pipe(
        Effect.tap(({ status }) => Metric.update(Metric.withAttributes(apiRequests, { verb, kind, code: String(status) }), 1)),
        Effect.tapError(() => Metric.update(Metric.withAttributes(apiRequests, { verb, kind, code: "<error>" }), 1)),
        Effect.flatMap(({ body, status }) =>
          status >= 200 && status < 300
            ? Effect.succeed<unknown>(body === "" ? {} : JSON.parse(body))
            : Effect.fail(statusError(status, body))
        ),
        Effect.trackDuration(Metric.withAttributes(apiRequestSeconds, { verb, kind }), (d) => Duration.toMillis(d) / 1000),
        permits.withPermits(1),
        // The token comes first, so a request waiting to be paced does not hold a permit others could use.
        (limited) => Effect.andThen(waitForToken, limited)
      )

    const selectorQuery = (labelSelector: string | undefined): Record<string, string> =>
      labelSelector !== undefined ? { labelSelector } : {}

    return KubeClient.of({
      get: <K extends Kind>(kind: K, namespace: string | undefined, name: string) =>
        request("get", kind, k8s.HttpMethod.GET, objectPath(kind, namespace, name)).pipe(
          Effect.map((object) => object as Kinds[K])
        ),

      list: <K extends Kind>(kind: K, listOptions: { namespace?: string | undefined; labelSelector?: string | undefined }) =>
        Effect.gen(function*() {
          const items: Array<Kinds[K]> = []
          let continueToken: string | undefined
          let resourceVersion = ""
          do {
            const page = yield* request("list", kind, k8s.HttpMethod.GET, collectionPath(kind, listOptions.namespace), {
              query: {
                ...selectorQuery(listOptions.labelSelector),
                limit: "500",
                ...(continueToken !== undefined ? { continue: continueToken } : {})
              }
            })
            // The API server's list shape: items plus list metadata. This is the one place wire JSON becomes typed.
            const list = page as { items?: Array<Kinds[K]>; metadata?: { resourceVersion?: string; continue?: string } }
            items.push(...(list.items ?? []))
            resourceVersion = list.metadata?.resourceVersion ?? resourceVersion
            continueToken = list.metadata?.continue || undefined
          } while (continueToken !== undefined)
          return { items, resourceVersion } satisfies ListResult<Kinds[K]>
        }),

      watch: <K extends Kind>(
        kind: K,
        watchOptions: { namespace?: string | undefined; labelSelector?: string | undefined; resourceVersion: string }
      ) =>
        Stream.callback<WatchEvent<Kinds[K]>, KubeApiError>((queue) =>
          Effect.acquireRelease(
            Effect.tryPromise({
              try: () =>
                watcher.watch(
                  collectionPath(kind, watchOptions.namespace),
                  {
                    resourceVersion: watchOptions.resourceVersion,
                    allowWatchBookmarks: true,
                    timeoutSeconds: options.watchTimeoutSeconds,
                    labelSelector: watchOptions.labelSelector
                  },
                  (type, object) => {
                    if (type === "ERROR") {
                      const code = typeof object?.code === "number" ? object.code : 500
                      Queue.failCauseUnsafe(
                        queue,
                        Cause.fail(
                          new KubeApiError({ reason: reasonForStatus(code), message: String(object?.message ?? "watch error"), status: code })
                        )
                      )
                    } else if (type === "BOOKMARK") {
                      Queue.offerUnsafe(queue, { type, resourceVersion: String(object?.metadata?.resourceVersion ?? "") })
                    } else if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
                      Queue.offerUnsafe(queue, { type, object })
                    }
                  },
                  (error) => {
                    if (error === null || error === undefined || (error instanceof Error && error.name === "AbortError")) {
                      Queue.endUnsafe(queue)
                    } else {
                      const status = typeof error.statusCode === "number" ? error.statusCode : undefined
                      Queue.failCauseUnsafe(
                        queue,
                        Cause.fail(
                          new KubeApiError({
                            reason: status !== undefined ? reasonForStatus(status) : "Unavailable",
                            message: `watch on ${kind}: ${describeCause(error)}`,
                            ...(status !== undefined ? { status } : {})
                          })
                        )
                      )
                    }
                  }
                ),
              catch: (cause) => new KubeApiError({ reason: "Unavailable", message: `watch on ${kind}: ${describeCause(cause)}` })
            }),
            (controller) => Effect.sync(() => controller.abort())
          )
        ),

      create: <K extends Kind>(kind: K, object: Kinds[K], createOptions?: CreateOptions) =>
        // A dry run is counted apart, so the create count in the metrics stays the number of objects created.
        request(createOptions?.dryRun === true ? "create-dry-run" : "create", kind, k8s.HttpMethod.POST, collectionPath(kind, object.metadata.namespace), {
          body: object,
          ...(createOptions?.dryRun === true ? { query: { dryRun: "All" } } : {})
        }).pipe(
          Effect.map((created) => created as Kinds[K])
        ),

      remove: (kind, namespace, name, preconditions) =>
        request("delete", kind, k8s.HttpMethod.DELETE, objectPath(kind, namespace, name), {
          body: {
            apiVersion: "v1",
            kind: "DeleteOptions",
            propagationPolicy: "Background",
            ...(preconditions?.uid !== undefined ? { preconditions: { uid: preconditions.uid } } : {})
          }
        }).pipe(Effect.asVoid),

      patch: <K extends Kind>(
        kind: K,
        namespace: string | undefined,
        name: string,
        patch: unknown,
        patchOptions?: { readonly subresource?: "status" }
      ) =>
        request(
          patchOptions?.subresource === "status" ? "patch-status" : "patch",
          kind,
          k8s.HttpMethod.PATCH,
          `${objectPath(kind, namespace, name)}${patchOptions?.subresource === "status" ? "/status" : ""}`,
          { body: patch, contentType: "application/merge-patch+json" }
        ).pipe(Effect.map((patched) => patched as Kinds[K]))
    })
  })

export interface KubeConfigSource {
  /** A kubeconfig file; otherwise $KUBECONFIG, then the pod's service account, then ~/.kube/config. */
  readonly kubeconfigPath?: string | undefined
  /** Where the service-account files are mounted, as a prefix of /var/run/secrets/...; "" in a real pod. */
  readonly serviceAccountRoot?: string | undefined
}

/**
 * Loads the kubeconfig the way kubectl and client-go find it (flag, $KUBECONFIG,
 * in-cluster, ~/.kube/config) and refuses client-node's silent fallback to
 * localhost:8080, which would only fail later and less clearly.
 */
export const loadKubeConfig = (source: KubeConfigSource) =>
  Effect.try({
    try: () => {
      const kubeConfig = new k8s.KubeConfig()
      if (source.kubeconfigPath !== undefined) kubeConfig.loadFromFile(source.kubeconfigPath)
      else if ((process.env["KUBECONFIG"] ?? "") === "" && (process.env["KUBERNETES_SERVICE_HOST"] ?? "") !== "") {
        kubeConfig.loadFromCluster(source.serviceAccountRoot ?? "")
      } else kubeConfig.loadFromDefault()
      const cluster = kubeConfig.getCurrentCluster()
      if (cluster === null || (cluster.name === "cluster" && cluster.server === "http://localhost:8080")) {
        throw new Error("no kubeconfig found: set KUBECONFIG, create ~/.kube/config, or run in a pod with a service account")
      }
      return kubeConfig
    },
    catch: (cause) => new KubeApiError({ reason: "Invalid", message: `cannot load kubeconfig: ${describeCause(cause)}` })
  })

/** The controller's client and leader election's own, from one kubeconfig. */
export const kubeClientLayer = (source: KubeConfigSource, options: KubeClientOptions = defaultKubeClientOptions) =>
  Layer.unwrap(Effect.map(loadKubeConfig(source), (kubeConfig) =>
    Layer.merge(
      Layer.effect(KubeClient, makeKubeClient(kubeConfig, options)),
      Layer.effect(LeaderElectionKubeClient, makeKubeClient(kubeConfig, leaderElectionClientOptions(options)))
    )))
