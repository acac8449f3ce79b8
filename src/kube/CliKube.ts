import * as http from "node:http"
import * as https from "node:https"
import { Cause, Context, Effect, Layer, Queue, Stream } from "effect"
import { KubeApiError, KubeClient } from "./KubeClient.ts"
import { defaultKubeClientOptions, definedOnly, makeKubeClient, statusError } from "./KubeClientLive.ts"
import { type ClusterAccess, type KubeConfigSource, loadClusterAccess } from "./KubeConfig.ts"

/** What kubectl takes from the kubeconfig besides the cluster: the namespace of the chosen context. */
export class KubeContext extends Context.Service<KubeContext, {
  /** The context's namespace, else `default`, as kubectl uses when no -n is given. */
  readonly namespace: string
}>()("batch-workload-operator/KubeContext") {}

export interface LogOptions {
  readonly container: string
  readonly follow: boolean
}

/** A pod's container log, as the API server streams it from the node's kubelet. */
export class PodLogs extends Context.Service<PodLogs, {
  readonly stream: (namespace: string, podName: string, options: LogOptions) => Stream.Stream<Uint8Array, KubeApiError>
}>()("batch-workload-operator/PodLogs") {}

/** GET …/pods/NAME/log, passed on chunk by chunk as it arrives (with follow, until the container stops or the stream is interrupted). */
const makePodLogs = (access: ClusterAccess) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => access.server.startsWith("https:") ? new https.Agent(definedOnly(access.tls)) : new http.Agent()),
      (agent) => Effect.sync(() => agent.destroy())
    ),
    (agent) =>
      PodLogs.of({
        stream: (namespace, podName, options) =>
          Stream.callback<Uint8Array, KubeApiError>((queue) =>
            Effect.gen(function*() {
              const fail = (error: KubeApiError) => Queue.failCauseUnsafe(queue, Cause.fail(error))
              const authorization = yield* access.authorization
              const url = new URL(`${access.server}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(podName)}/log`)
              url.searchParams.set("container", options.container)
              if (options.follow) url.searchParams.set("follow", "true")
              const aborter = yield* Effect.acquireRelease(Effect.sync(() => new AbortController()), (c) => Effect.sync(() => c.abort()))
              const headers = { Accept: "*/*", ...(authorization !== undefined ? { Authorization: authorization } : {}) }
              const request = (url.protocol === "https:" ? https.request : http.request)(
                url,
                { method: "GET", agent, headers, signal: aborter.signal },
                (response) => {
                  const chunks: Array<Buffer> = []
                  const ok = response.statusCode === 200
                  response.on("data", (chunk: Buffer) => ok ? Queue.offerUnsafe(queue, chunk) : chunks.push(chunk))
                  response.on("end", () =>
                    ok ? Queue.endUnsafe(queue) : fail(statusError(response.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"))))
                }
              )
              request.on("error", (error) =>
                aborter.signal.aborted
                  ? Queue.endUnsafe(queue)
                  : fail(new KubeApiError({ reason: "Unavailable", message: `cannot read the log of ${podName}: ${error.message}` })))
              request.end()
            })
          )
      })
  )

/**
 * Everything `kubectl bwl` needs from one kubeconfig (the operator's own
 * loading: $KUBECONFIG, --kubeconfig, --context): the client (no client-side
 * rate limit: a person's command makes a handful of requests), the context's
 * namespace and pod logs.
 */
export const cliKubeLayer = (source: KubeConfigSource) =>
  Layer.unwrap(Effect.map(loadClusterAccess(source), (access) =>
    Layer.mergeAll(
      Layer.effect(KubeClient, makeKubeClient(access, { ...defaultKubeClientOptions, maxConcurrentRequests: 8, qps: 0 })),
      Layer.succeed(KubeContext, KubeContext.of({ namespace: access.namespace ?? "default" })),
      Layer.effect(PodLogs, makePodLogs(access))
    )))
