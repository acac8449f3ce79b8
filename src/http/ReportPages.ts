import { Data, Effect, FileSystem, Layer, Option, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { BatchWorkloadStatus } from "../api/BatchWorkload.ts"
import {
  fileHref,
  indexHref,
  nodeRows,
  renderIndex,
  renderRun,
  resultRows,
  type RunPage,
  runRow,
  workloadRow
} from "../domain/reportPages.ts"
import { Caches } from "../services/Caches.ts"
import { ReportDirectory } from "../services/ReportDirectory.ts"
import { ReportStore } from "../services/ReportStore.ts"

/** A page that is not there (404), or a directory that cannot be read (500). */
class PageMissing extends Data.TaggedError("PageMissing")<{ readonly status: 404 | 500; readonly message: string }> {}

const decodeStatus = Schema.decodeUnknownOption(BatchWorkloadStatus)

/** Pages of stored reports: they show what pods sent, so nothing in them may run or be fetched. */
const pageHeaders = { "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'", "x-content-type-options": "nosniff" }

const statusOf = (namespace: string, name: string) =>
  Effect.gen(function*() {
    const caches = yield* Caches
    return Option.getOrUndefined(decodeStatus(caches.workloads.get(`${namespace}/${name}`)?.status))
  })

/** `?format=json`: the page's model instead of its HTML. */
const respond = <A>(model: A, render: (model: A) => string) =>
  Effect.gen(function*() {
    const params = yield* HttpServerRequest.ParsedSearchParams
    return params["format"] === "json"
      ? HttpServerResponse.jsonUnsafe(model, { headers: pageHeaders })
      : HttpServerResponse.text(render(model), { contentType: "text/html; charset=utf-8", headers: pageHeaders })
  })

const unreadable = (error: { readonly message: string }) => new PageMissing({ status: 500, message: `cannot read the report directory: ${error.message}` })

const answered = <R>(self: Effect.Effect<HttpServerResponse.HttpServerResponse, PageMissing, R>) =>
  Effect.catch(self, (missing) => Effect.succeed(HttpServerResponse.text(missing.message, { status: missing.status })))

/** The route's namespace, workload and run, and the run's directory if it has one. */
const runOfRoute = Effect.gen(function*() {
  const params = yield* HttpRouter.params
  const namespace = params["namespace"] ?? ""
  const name = params["workload"] ?? ""
  const executionId = params["executionID"] ?? ""
  const directory = yield* ReportDirectory
  const runDirectory = directory.pathOf(namespace, name, executionId)
  const exists = runDirectory === undefined ? false : yield* (yield* FileSystem.FileSystem).exists(runDirectory).pipe(Effect.mapError(unreadable))
  if (runDirectory === undefined || !exists) return yield* new PageMissing({ status: 404, message: `no reports of run ${executionId} of ${namespace}/${name}` })
  const files = (yield* directory.entries(runDirectory).pipe(Effect.mapError(unreadable))).filter((entry) => entry.type === "File")
  return { namespace, name, executionId, runDirectory, files }
})

const indexPage = Effect.gen(function*() {
  const stored = yield* (yield* ReportDirectory).list.pipe(Effect.mapError(unreadable))
  const rows = yield* Effect.forEach(stored, (workload) =>
    Effect.map(statusOf(workload.namespace, workload.name), (status) => workloadRow(workload.namespace, workload.name, status, workload.executionIds)))
  return yield* respond({ workloads: rows }, ({ workloads }) => renderIndex(workloads))
}).pipe(answered)

const runPage = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const { executionId, files, name, namespace, runDirectory } = yield* runOfRoute
  const status = yield* statusOf(namespace, name)
  const sized = yield* Effect.forEach(files, (file) =>
    Effect.map(fs.stat(`${runDirectory}/${file.name}`), (info) => ({ name: file.name, bytes: Number(info.size), href: fileHref(namespace, name, executionId, file.name) }))
  ).pipe(Effect.mapError(unreadable))
  const results = yield* (yield* ReportStore).resultsOf({ namespace, name }, executionId)
  const nodes = nodeRows(status, executionId)
  const model: RunPage = {
    namespace,
    name,
    run: runRow(namespace, name, status, executionId),
    ...(nodes !== undefined ? { nodes } : {}),
    results: resultRows(results),
    files: [...sized].sort((a, b) => a.name.localeCompare(b.name))
  }
  return yield* respond(model, renderRun)
}).pipe(answered)

/** A stored file, as it was sent; only a plain file of the run's own directory, and as a download, never as a page. */
const filePage = Effect.gen(function*() {
  const { executionId, files, runDirectory } = yield* runOfRoute
  const name = (yield* HttpRouter.params)["name"] ?? ""
  if (!files.some((file) => file.name === name)) return yield* new PageMissing({ status: 404, message: `run ${executionId} has no file ${name}` })
  const data = yield* (yield* FileSystem.FileSystem).readFile(`${runDirectory}/${name}`).pipe(Effect.mapError(unreadable))
  return HttpServerResponse.uint8Array(data, {
    contentType: "application/octet-stream",
    headers: { ...pageHeaders, "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(name)}` }
  })
}).pipe(answered)

/**
 * The stored reports, read-only and without a token, as bakito's controller
 * serves them: anyone who can reach the callback Service may read them (as
 * /metrics), and nothing here changes anything.
 */
export const reportPages = Layer.mergeAll(
  HttpRouter.add("GET", indexHref, indexPage),
  HttpRouter.add("GET", `${indexHref}/:namespace/:workload/:executionID`, runPage),
  HttpRouter.add("GET", `${indexHref}/:namespace/:workload/:executionID/files/:name`, filePage)
)
