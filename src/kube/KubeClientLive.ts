import * as http from "node:http"
import * as https from "node:https"
import * as tls from "node:tls"
import { Cause, Duration, Effect, Layer, Metric, Option, Queue, Schema, Semaphore, Stream } from "effect"
import { RateLimiter } from "effect/persistence"
import { group, plural, version } from "../api/BatchWorkload.ts"
import type { Kind, Kinds } from "../api/core.ts"
import {
  type CreateOptions,
  KubeApiError,
  KubeClient,
  LeaderElectionKubeClient,
  type ListOptions,
  type ListResult,
  reasonForStatus,
  type WatchEvent,
  type WatchOptions
} from "./KubeClient.ts"
import { type ClusterAccess, type KubeConfigSource, loadClusterAccess } from "./KubeConfig.ts"

/** A watch event as the API server writes it, one per line. */
interface WireWatchEvent {
  readonly type?: string
  readonly object?: { readonly code?: unknown; readonly message?: unknown; readonly metadata?: { readonly resourceVersion?: unknown } }
}

/** TLS options without the unset ones (Node's agent treats a present `undefined` differently from absent for some keys). */
export const definedOnly = <T extends object>(options: T): Partial<T> =>
  Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>

/**
 * The keep-alive pool's agent. Its TLS context (CA, client certificate and key) is built once:
 * given only the files, Node builds a new context for every connection it opens.
 */
const poolAgent = (access: ClusterAccess): http.Agent => {
  if (!access.server.startsWith("https:")) return new http.Agent({ keepAlive: true })
  const { ca, cert, key, ...verification } = access.tls
  return new https.Agent({ keepAlive: true, secureContext: tls.createSecureContext(definedOnly({ ca, cert, key })), ...definedOnly(verification) })
}

/** The part of a TokenReview's answer the callback server reads. */
const TokenReview = Schema.Struct({
  status: Schema.Struct({
    authenticated: Schema.optionalKey(Schema.Boolean),
    user: Schema.optionalKey(Schema.Struct({
      username: Schema.optionalKey(Schema.String),
      extra: Schema.optionalKey(Schema.Record(Schema.String, Schema.Array(Schema.String)))
    })),
    error: Schema.optionalKey(Schema.String)
  })
})
const decodeTokenReview = (review: unknown) =>
  Option.map(Schema.decodeUnknownOption(TokenReview)(review), ({ status }) => ({
    authenticated: status.authenticated ?? false,
    ...(status.user?.username !== undefined ? { username: status.user.username } : {}),
    ...(status.user?.extra !== undefined ? { extra: status.user.extra } : {}),
    ...(status.error !== undefined ? { error: status.error } : {})
  }))

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
export const statusError = (status: number, body: string) => {
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
  /** The server closes each watch after about this long and the informer resumes it; so a silently dropped connection is noticed within this. */
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

type Method = "GET" | "POST" | "PATCH" | "DELETE"

interface RawResponse {
  readonly status: number
  readonly body: string
}

/** One HTTP exchange over the shared keep-alive pool; the fiber's interruption aborts it. */
const exchange = (
  url: URL,
  options: { readonly method: Method; readonly agent: http.Agent; readonly headers: Record<string, string> },
  body: Buffer | undefined
) =>
  Effect.callback<RawResponse, Error>((resume, signal) => {
    const request = (url.protocol === "https:" ? https.request : http.request)(url, { ...options, signal }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () => resume(Effect.succeed({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") })))
      response.on("error", (error) => resume(Effect.fail(error)))
    })
    request.on("error", (error) => resume(Effect.fail(error)))
    request.end(body)
  })

/**
 * Reads a watch response: one JSON event per line, handed on as it arrives.
 * Returns the function that takes each chunk of text (decoded by the response, so a character
 * split across two chunks arrives whole).
 */
const watchLineReader = (onLine: (line: string) => void) => {
  let pending = ""
  return (text: string) => {
    const lines = (pending + text).split("\n")
    pending = lines.pop() ?? ""
    for (const line of lines) if (line.trim() !== "") onLine(line)
  }
}

/** The live client: raw JSON over one keep-alive connection pool, so objects keep their wire form. */
export const makeKubeClient = (access: ClusterAccess, options: KubeClientOptions = defaultKubeClientOptions) =>
  Effect.gen(function*() {
    const { server } = access
    const agent = yield* Effect.acquireRelease(Effect.sync(() => poolAgent(access)), (pool) => Effect.sync(() => pool.destroy()))
    const permits = yield* Semaphore.make(options.maxConcurrentRequests)
    const waitForToken = yield* makeRequestRateLimiter(options.qps, options.burst)

    const headersFor = (contentType: string | undefined) =>
      Effect.map(access.authorization, (authorization): Record<string, string> => ({
        Accept: "application/json",
        "User-Agent": "batch-workload-operator",
        ...(authorization !== undefined ? { Authorization: authorization } : {}),
        ...(contentType !== undefined ? { "Content-Type": contentType } : {})
      }))

    const urlFor = (path: string, query: Record<string, string | undefined>) => {
      const url = new URL(server + path)
      for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, value)
      return url
    }

    const unreachable = (cause: unknown) =>
      new KubeApiError({ reason: "Unavailable", message: `cannot reach the API server at ${server}: ${describeCause(cause)}` })

    const request = (
      verb: string,
      kind: Kind | "tokenreviews",
      method: Method,
      path: string,
      init: { readonly query?: Record<string, string>; readonly body?: unknown; readonly contentType?: string } = {}
    ) =>
      Effect.gen(function*() {
        const body = init.body !== undefined ? Buffer.from(JSON.stringify(init.body)) : undefined
        const headers = yield* headersFor(body !== undefined ? init.contentType ?? "application/json" : undefined)
        // Node sends a DELETE's body only with its length given: without it the body is left
        // on the keep-alive connection, and the API server answers the next request there with 400.
        if (body !== undefined) headers["Content-Length"] = String(body.length)
        const response = yield* exchange(urlFor(path, init.query ?? {}), { method, agent, headers }, body).pipe(Effect.mapError(unreachable))
        if (response.status === 401) yield* access.invalidate
        return response
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

    const selectorQuery = (selectors: ListOptions): Record<string, string> => ({
      ...(selectors.labelSelector !== undefined ? { labelSelector: selectors.labelSelector } : {}),
      ...(selectors.fieldSelector !== undefined ? { fieldSelector: selectors.fieldSelector } : {})
    })

    return KubeClient.of({
      get: <K extends Kind>(kind: K, namespace: string | undefined, name: string) =>
        request("get", kind, "GET", objectPath(kind, namespace, name)).pipe(
          Effect.map((object) => object as Kinds[K])
        ),

      list: <K extends Kind>(kind: K, listOptions: ListOptions, transform?: (object: Kinds[K]) => Kinds[K]) =>
        Effect.gen(function*() {
          const items: Array<Kinds[K]> = []
          let continueToken: string | undefined
          let resourceVersion = ""
          do {
            const page = yield* request("list", kind, "GET", collectionPath(kind, listOptions.namespace), {
              query: {
                ...selectorQuery(listOptions),
                // Small pages: each page's untrimmed objects outlive V8's young generation, and at 500 a
                // page they left the process 25-30 MB bigger after a 5,000-node start-up (npm run bench:memory, BENCHMARKS.md).
                limit: "100",
                ...(continueToken !== undefined ? { continue: continueToken } : {})
              }
            })
            // The API server's list shape: items plus list metadata. This is the one place wire JSON becomes typed.
            const list = page as { items?: Array<Kinds[K]>; metadata?: { resourceVersion?: string; continue?: string } }
            for (const item of list.items ?? []) items.push(transform !== undefined ? transform(item) : item)
            resourceVersion = list.metadata?.resourceVersion ?? resourceVersion
            continueToken = list.metadata?.continue || undefined
          } while (continueToken !== undefined)
          return { items, resourceVersion } satisfies ListResult<Kinds[K]>
        }),

      watch: <K extends Kind>(
        kind: K,
        watchOptions: WatchOptions
      ) =>
        Stream.callback<WatchEvent<Kinds[K]>, KubeApiError>((queue) =>
          Effect.gen(function*() {
            const fail = (error: KubeApiError) => Queue.failCauseUnsafe(queue, Cause.fail(error))
            const watchError = (cause: unknown) =>
              new KubeApiError({ reason: "Unavailable", message: `watch on ${kind}: ${describeCause(cause)}` })
            const onEvent = (line: string) => {
              const event: unknown = JSON.parse(line)
              const { type, object } = typeof event === "object" && event !== null ? (event as WireWatchEvent) : {}
              if (type === "ERROR") {
                const code = typeof object?.code === "number" ? object.code : 500
                fail(new KubeApiError({ reason: reasonForStatus(code), message: String(object?.message ?? "watch error"), status: code }))
              } else if (type === "BOOKMARK") {
                Queue.offerUnsafe(queue, { type, resourceVersion: String(object?.metadata?.resourceVersion ?? "") })
              } else if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
                Queue.offerUnsafe(queue, { type, object: object as Kinds[K] })
              }
            }
            const url = urlFor(collectionPath(kind, watchOptions.namespace), {
              watch: "1",
              resourceVersion: watchOptions.resourceVersion,
              allowWatchBookmarks: "true",
              timeoutSeconds: String(options.watchTimeoutSeconds),
              labelSelector: watchOptions.labelSelector,
              fieldSelector: watchOptions.fieldSelector
            })
            const headers = yield* headersFor(undefined)
            const aborter = yield* Effect.acquireRelease(
              Effect.sync(() => new AbortController()),
              (controller) => Effect.sync(() => controller.abort())
            )
            const request = (url.protocol === "https:" ? https.request : http.request)(
              url,
              { method: "GET", agent, headers, signal: aborter.signal },
              (response) => {
                if (response.statusCode !== 200) {
                  const chunks: Array<Buffer> = []
                  response.on("data", (chunk: Buffer) => chunks.push(chunk))
                  response.on("end", () => fail(statusError(response.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"))))
                  return
                }
                const read = watchLineReader(onEvent)
                response.setEncoding("utf8")
                response.on("data", (chunk: string) => {
                  try {
                    read(chunk)
                  } catch (cause) {
                    fail(watchError(cause))
                  }
                })
                response.on("end", () => Queue.endUnsafe(queue))
                response.on("error", (error) => (aborter.signal.aborted ? Queue.endUnsafe(queue) : fail(watchError(error))))
              }
            )
            request.on("error", (error) => (aborter.signal.aborted ? Queue.endUnsafe(queue) : fail(watchError(error))))
            // The server ends every watch after timeoutSeconds; silence well past that is a dead connection.
            const silenceMillis = (options.watchTimeoutSeconds + 30) * 1000
            request.setTimeout(silenceMillis, () => request.destroy(new Error(`no data for ${silenceMillis / 1000} s`)))
            request.end()
          })
        ),

      create: <K extends Kind>(kind: K, object: Kinds[K], createOptions?: CreateOptions) =>
        // A dry run is counted apart, so the create count in the metrics stays the number of objects created.
        request(createOptions?.dryRun === true ? "create-dry-run" : "create", kind, "POST", collectionPath(kind, object.metadata.namespace), {
          body: object,
          ...(createOptions?.dryRun === true ? { query: { dryRun: "All" } } : {})
        }).pipe(
          Effect.map((created) => created as Kinds[K])
        ),

      remove: (kind, namespace, name, preconditions) =>
        request("delete", kind, "DELETE", objectPath(kind, namespace, name), {
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
          "PATCH",
          `${objectPath(kind, namespace, name)}${patchOptions?.subresource === "status" ? "/status" : ""}`,
          { body: patch, contentType: "application/merge-patch+json" }
        ).pipe(Effect.map((patched) => patched as Kinds[K])),

      reviewToken: (token, audiences) =>
        request("create", "tokenreviews", "POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
          body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences } }
        }).pipe(Effect.map((review) => Option.getOrElse(decodeTokenReview(review), () => ({ authenticated: false, error: "no status in the TokenReview" }))))
    })
  })

/** The controller's client and leader election's own, from one kubeconfig. */
export const kubeClientLayer = (source: KubeConfigSource, options: KubeClientOptions = defaultKubeClientOptions) =>
  Layer.unwrap(Effect.map(loadClusterAccess(source), (access) =>
    Layer.merge(
      Layer.effect(KubeClient, makeKubeClient(access, options)),
      Layer.effect(LeaderElectionKubeClient, makeKubeClient(access, leaderElectionClientOptions(options)))
    )))
