import { Clock, Data, Effect, Layer, Option, Random, Result, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { BatchWorkloadSpec, BatchWorkloadStatus } from "../api/BatchWorkload.ts"
import type { BatchWorkloadObject } from "../api/core.ts"
import type { Reports } from "../api/Reports.ts"
import { executionAnnotation, podNodeName, workloadRef } from "../domain/pods.ts"
import { authorizeReport, type Caller, parseEvent, parseResults, requestedFileName, safeFileName } from "../domain/reports.ts"
import { KubeClient } from "../kube/KubeClient.ts"
import { Caches } from "../services/Caches.ts"
import { EventRecorder } from "../services/EventRecorder.ts"
import { ReportFiles } from "../services/ReportFiles.ts"
import { Callback, ReportStore } from "../services/ReportStore.ts"
import { listen, quiet } from "./Http.ts"
import { reportPages } from "./ReportPages.ts"

/** A call turned away: the status to answer with and why (also the audit log line). */
class Refusal extends Data.TaggedError("Refusal")<{ readonly status: 400 | 401 | 403 | 413 | 500 | 503; readonly message: string }> {}

const decodeSpec = Schema.decodeUnknownOption(BatchWorkloadSpec)
const decodeStatus = Schema.decodeUnknownOption(BatchWorkloadStatus)

const podNameKey = "authentication.kubernetes.io/pod-name"
const podUidKey = "authentication.kubernetes.io/pod-uid"
/** A service account's username: system:serviceaccount:<namespace>:<name>. */
const serviceAccountUser = /^system:serviceaccount:([^:]+):[^:]+$/

/** Who calls: the pod its bearer token is bound to, as the API server's TokenReview says. */
const authenticate = (authorization: string | undefined) =>
  Effect.gen(function*() {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1]
    if (token === undefined) return yield* new Refusal({ status: 401, message: "no bearer token" })
    const callback = yield* Callback
    const review = yield* (yield* KubeClient).reviewToken(token, [callback.audience]).pipe(
      Effect.mapError((error) => new Refusal({ status: 503, message: `cannot review the token: ${error.message}` }))
    )
    if (!review.authenticated) return yield* new Refusal({ status: 401, message: `token rejected: ${review.error ?? "not authenticated"}` })
    const namespace = serviceAccountUser.exec(review.username ?? "")?.[1]
    const podName = review.extra?.[podNameKey]?.[0]
    const podUid = review.extra?.[podUidKey]?.[0]
    if (namespace === undefined || podName === undefined || podUid === undefined) {
      return yield* new Refusal({ status: 403, message: `the token of ${review.username ?? "an unknown user"} is not bound to a pod` })
    }
    return { namespace, podName, podUid } satisfies Caller
  })

/** The workload whose pod calls, and its reports, if the pod may report for this node and run. */
const authorize = (caller: Caller, nodeName: string, executionId: string) =>
  Effect.gen(function*() {
    const caches = yield* Caches
    const pod = caches.pods.get(`${caller.namespace}/${caller.podName}`)
    const owner = pod?.metadata.ownerReferences?.find((reference) => reference.controller === true)
    const candidate = owner !== undefined ? caches.workloads.get(`${caller.namespace}/${owner.name}`) : undefined
    const workload = candidate?.metadata.uid === owner?.uid ? candidate : undefined
    const reports = Option.getOrUndefined(Option.flatMapNullishOr(decodeSpec(workload?.spec), (spec) => spec.reports))
    const status = Option.getOrUndefined(decodeStatus(workload?.status))
    const refusal = authorizeReport(caller, {
      pod: workload !== undefined && pod !== undefined
        ? { uid: pod.metadata.uid, nodeName: podNodeName(pod), executionId: pod.metadata.annotations?.[executionAnnotation] }
        : undefined,
      currentExecutionId: status?.executionId ?? status?.revision,
      reports
    }, nodeName, executionId)
    if (refusal !== undefined || workload === undefined || reports === undefined) {
      return yield* new Refusal({ status: 403, message: refusal ?? "not a reporting workload" })
    }
    return { workload, reports }
  })

const readJson = (request: HttpServerRequest.HttpServerRequest) =>
  request.text.pipe(
    Effect.mapError(() => new Refusal({ status: 400, message: "cannot read the body" })),
    Effect.flatMap((text) =>
      Effect.try({ try: (): unknown => JSON.parse(text), catch: () => new Refusal({ status: 400, message: "malformed JSON" }) })
    )
  )

type Handler = (
  context: { readonly workload: BatchWorkloadObject; readonly reports: Reports; readonly nodeName: string; readonly executionId: string },
  request: HttpServerRequest.HttpServerRequest
) => Effect.Effect<string, Refusal, ReportStore | EventRecorder | ReportFiles | HttpServerRequest.ParsedSearchParams>

/**
 * A callback endpoint: authenticate the pod, check that it reports for its
 * own node and run, then hand the body on. Every refusal is answered with
 * its reason and logged (the audit line names the caller, path and reason).
 */
const endpoint = (handler: Handler) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const params = yield* HttpRouter.params
    const nodeName = params["node"] ?? ""
    const executionId = params["executionID"] ?? ""
    const outcome = yield* Effect.result(Effect.gen(function*() {
      const caller = yield* authenticate(request.headers["authorization"])
      const target = yield* authorize(caller, nodeName, executionId)
      return yield* handler({ ...target, nodeName, executionId }, request)
    }))
    if (Result.isSuccess(outcome)) return HttpServerResponse.text(outcome.success)
    const refusal = outcome.failure
    yield* Effect.logWarning(`callback refused: ${refusal.message}`).pipe(
      Effect.annotateLogs({ audit: "callback", status: refusal.status, path: request.url, remote: Option.getOrElse(request.remoteAddress, () => "") })
    )
    return HttpServerResponse.text(refusal.message, { status: refusal.status })
  })

const postResult: Handler = ({ executionId, nodeName, reports, workload }, request) =>
  Effect.gen(function*() {
    const body = yield* readJson(request)
    const samples = yield* Effect.fromResult(parseResults(reports, body)).pipe(Effect.mapError((message) => new Refusal({ status: 400, message })))
    const ref = workloadRef(workload.metadata)
    yield* (yield* ReportStore).record({ namespace: ref.namespace, name: ref.name, reports }, executionId, nodeName, samples).pipe(
      Effect.mapError((failure) => new Refusal({ status: 500, message: failure.message }))
    )
    yield* Effect.logInfo(`result of ${nodeName} for run ${executionId}: ${samples.length} values`)
    return `stored ${samples.length} values`
  })

const postEvent: Handler = ({ nodeName, workload }, request) =>
  Effect.gen(function*() {
    const body = yield* readJson(request)
    const event = yield* Effect.fromResult(parseEvent(body)).pipe(Effect.mapError((message) => new Refusal({ status: 400, message })))
    yield* (yield* EventRecorder).record(workloadRef(workload.metadata), event.type, event.reason, `node ${nodeName}: ${event.message}`)
    return "event recorded"
  })

/** A name for a file sent without one, unique enough within a run. */
const generatedName = Effect.gen(function*() {
  const now = yield* Clock.currentTimeMillis
  return `${now.toString(36)}-${(yield* Random.nextIntBetween(0, 2 ** 31 - 1)).toString(36)}`
})

/**
 * A file: the body as sent, named by the `name` query parameter or the
 * Content-Disposition filename (else a generated id), stored as `<node>-<name>`
 * in the run's directory. Too large is 413 before the body is read, when the
 * pod says its length.
 */
const postFile: Handler = ({ executionId, nodeName, workload }, request) =>
  Effect.gen(function*() {
    const files = yield* ReportFiles
    const declared = Number(request.headers["content-length"] ?? "0")
    if (declared > files.maxFileBytes) {
      return yield* new Refusal({ status: 413, message: `the file is ${declared} bytes; at most ${files.maxFileBytes} are taken (--max-file-bytes)` })
    }
    const query = (yield* HttpServerRequest.ParsedSearchParams)["name"]
    const asked = requestedFileName(typeof query === "string" ? query : undefined, request.headers["content-disposition"])
    const name = yield* Effect.fromResult(safeFileName(asked ?? (yield* generatedName))).pipe(
      Effect.mapError((message) => new Refusal({ status: 400, message }))
    )
    const data = new Uint8Array(yield* request.arrayBuffer.pipe(Effect.mapError(() => new Refusal({ status: 400, message: "cannot read the body" }))))
    const ref = workloadRef(workload.metadata)
    const stored = yield* files.save({ namespace: ref.namespace, name: ref.name }, executionId, nodeName, name, data).pipe(
      Effect.mapError((refused) => new Refusal({ status: refused.status, message: refused.message }))
    )
    yield* Effect.logInfo(`file ${stored} of ${nodeName} for run ${executionId}: ${data.byteLength} bytes`)
    return `stored ${stored}`
  })

/**
 * The callback API reporting pods call, on its own port (0 turns it off):
 * bakito/batch-job-controller's paths; and the stored reports, read-only.
 */
export const callbackServer = (port: number) =>
  port === 0 ? Layer.empty : HttpRouter.serve(
    Layer.mergeAll(
      HttpRouter.add("POST", "/report/:node/:executionID/result", endpoint(postResult)),
      HttpRouter.add("POST", "/report/:node/:executionID/event", endpoint(postEvent)),
      HttpRouter.add("POST", "/report/:node/:executionID/file", endpoint(postFile)),
      reportPages
    ),
    quiet
  ).pipe(Layer.provide(listen(port)))
