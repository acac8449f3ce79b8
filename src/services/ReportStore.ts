import { Clock, Context, Data, Effect, FileSystem, Layer, Option, Path, Schema } from "effect"
import { type Reports, StoredResult } from "../api/Reports.ts"
import { type CallbackEndpoint, isPlainName, metricPrefix, renderSeries, type Sample, type Series, seriesLabels } from "../domain/reports.ts"
import { isoAt } from "../domain/rollout.ts"
import { keyOf, ReportDirectory, resultsDirectoryName, type WorkloadKey } from "./ReportDirectory.ts"

/** Where reporting pods call back (the callback Service of manifests/), and the token audience the operator accepts. */
export const Callback = Context.Reference<CallbackEndpoint>("batch-workload-operator/Callback", {
  defaultValue: () => ({
    host: "batch-workload-operator-callback.batch-workload-operator-system.svc",
    port: 8082,
    audience: "batch-workload-operator"
  })
})

/** What a workload's series are published under. */
export interface ReportingWorkload {
  readonly namespace: string
  readonly name: string
  readonly reports: Reports
}

/** A result that could not be written to the report directory. */
export class ReportNotStored extends Data.TaggedError("ReportNotStored")<{ readonly message: string }> {}

interface Stored {
  workload: ReportingWorkload
  /** executionId -> node -> the node's last result for that run. */
  readonly runs: Map<string, Map<string, ReadonlyArray<Sample>>>
  /** node -> its most recent result, for executionID="latest". */
  readonly latest: Map<string, { readonly executionId: string; readonly samples: ReadonlyArray<Sample> }>
}

const decodeStored = Schema.decodeUnknownOption(Schema.fromJsonString(StoredResult))
const encodeStored = Schema.encodeSync(Schema.fromJsonString(StoredResult))

/**
 * The results pods reported, by workload, run and node, published as gauges
 * on /metrics and kept in the report directory beside the run's files. A
 * node's new result for a run replaces its previous one; a run that leaves
 * the workload's history takes its series and its directory with it.
 */
export class ReportStore extends Context.Service<ReportStore, {
  /** Writes the result to disk, then publishes it. */
  readonly record: (workload: ReportingWorkload, executionId: string, nodeName: string, samples: ReadonlyArray<Sample>) => Effect.Effect<void, ReportNotStored>
  /** Keeps only these runs of the workload (none: the workload is gone or no longer reports), in memory and on disk. */
  readonly retain: (key: string, executionIds: ReadonlySet<string>) => Effect.Effect<void>
  /**
   * Publishes what the report directory holds instead of what memory does, and
   * returns the keys of the workloads it has reports of: once when this
   * replica starts leading, since the previous leader may have written since
   * this one started.
   */
  readonly load: Effect.Effect<ReadonlyArray<string>>
  /** A run's stored results, one per node, as written. */
  readonly resultsOf: (workload: WorkloadKey, executionId: string) => Effect.Effect<ReadonlyArray<StoredResult>>
  /** The Prometheus text of every series. */
  readonly render: () => string
}>()("batch-workload-operator/ReportStore") {
  static readonly layer = Layer.effect(
    ReportStore,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const directory = yield* ReportDirectory
      let stored = new Map<string, Stored>()
      const seriesOf = ({ latest, runs, workload }: Stored): Array<Series> => {
        const prefix = metricPrefix(workload.reports, workload.name)
        const help = (suffix: string) => workload.reports.gauges.find((g) => g.suffix === suffix)?.help ?? ""
        const toSeries = (executionId: string, nodeName: string, samples: ReadonlyArray<Sample>) =>
          samples.map((sample) => ({
            name: `${prefix}_${sample.suffix}`,
            help: help(sample.suffix),
            labels: seriesLabels(workload.namespace, workload.name, nodeName, executionId, sample),
            value: sample.value
          }))
        const perRun = [...runs.entries()].flatMap(([executionId, nodes]) =>
          [...nodes.entries()].flatMap(([nodeName, samples]) => toSeries(executionId, nodeName, samples))
        )
        const newest = workload.reports.latestLabel
          ? [...latest.entries()].flatMap(([nodeName, { samples }]) => toSeries("latest", nodeName, samples))
          : []
        return [...perRun, ...newest]
      }
      const remember = (into: Map<string, Stored>, result: StoredResult) => {
        const workload = { namespace: result.namespace, name: result.workload, reports: result.reports }
        const key = keyOf(workload)
        const entry = into.get(key) ?? { workload, runs: new Map(), latest: new Map() }
        entry.workload = workload
        const run = entry.runs.get(result.executionId) ?? new Map<string, ReadonlyArray<Sample>>()
        run.set(result.nodeName, result.samples)
        entry.runs.set(result.executionId, run)
        entry.latest.set(result.nodeName, { executionId: result.executionId, samples: result.samples })
        into.set(key, entry)
      }
      const forget = (key: string, executionIds: ReadonlySet<string>) => {
        const entry = stored.get(key)
        if (entry === undefined) return
        for (const executionId of entry.runs.keys()) if (!executionIds.has(executionId)) entry.runs.delete(executionId)
        for (const [nodeName, latest] of entry.latest) if (!executionIds.has(latest.executionId)) entry.latest.delete(nodeName)
        if (entry.runs.size === 0) stored.delete(key)
      }
      /** Written whole or not at all: a crash mid-write must not leave a file that no longer reads back. */
      const write = (result: StoredResult) =>
        Effect.gen(function*() {
          const file = `${result.nodeName}.json`
          if (!isPlainName(file)) return yield* new ReportNotStored({ message: `node ${JSON.stringify(result.nodeName)} is not a plain name` })
          const failed = (error: { readonly message: string }) => new ReportNotStored({ message: `cannot store the result: ${error.message}` })
          const results = path.join(yield* directory.makeRun({ namespace: result.namespace, name: result.workload }, result.executionId).pipe(Effect.mapError(failed)), resultsDirectoryName)
          yield* fs.makeDirectory(results, { recursive: true }).pipe(Effect.mapError(failed))
          yield* fs.writeFileString(path.join(results, `${file}.tmp`), encodeStored(result)).pipe(Effect.mapError(failed))
          yield* fs.rename(path.join(results, `${file}.tmp`), path.join(results, file)).pipe(Effect.mapError(failed))
        })

      /** One run's results as stored, each where its own fields say it belongs (a file moved elsewhere is not believed). */
      const readRun = (workload: WorkloadKey, executionId: string) =>
        Effect.gen(function*() {
          const results = directory.pathOf(workload.namespace, workload.name, executionId, resultsDirectoryName)
          if (results === undefined) return []
          const files = (yield* directory.entries(results)).filter((entry) => entry.type === "File" && entry.name.endsWith(".json"))
          const read = yield* Effect.forEach(files, (file) =>
            fs.readFileString(path.join(results, file.name)).pipe(
              Effect.map((text) => {
                const result = Option.getOrUndefined(decodeStored(text))
                const belongs = result !== undefined && result.namespace === workload.namespace && result.workload === workload.name &&
                  result.executionId === executionId && `${result.nodeName}.json` === file.name
                return belongs ? [result] : []
              }),
              Effect.catch((error) => Effect.logWarning(`cannot read the stored result ${file.name}: ${error.message}`).pipe(Effect.as([])))
            ))
          return read.flat()
        }).pipe(
          Effect.catch((error) => Effect.logWarning(`cannot read the results of run ${executionId} of ${keyOf(workload)}: ${error.message}`).pipe(Effect.as([])))
        )

      const removeRuns = (key: string, executionIds: ReadonlySet<string>) =>
        directory.prune(key, executionIds).pipe(
          Effect.flatMap((dropped) => dropped.length > 0 ? Effect.logInfo(`removed the reports of runs ${dropped.join(", ")}, no longer kept`) : Effect.void),
          Effect.catch((error) => Effect.logWarning(`cannot remove old reports of ${key}: ${error.message}`))
        )

      return ReportStore.of({
        record: (workload, executionId, nodeName, samples) =>
          Effect.gen(function*() {
            const result: StoredResult = {
              namespace: workload.namespace,
              workload: workload.name,
              executionId,
              nodeName,
              receivedAt: isoAt(yield* Clock.currentTimeMillis),
              reports: workload.reports,
              samples
            }
            yield* write(result)
            remember(stored, result)
          }),
        retain: (key, executionIds) =>
          Effect.suspend(() => {
            forget(key, executionIds)
            return removeRuns(key, executionIds)
          }),
        load: Effect.gen(function*() {
          const workloads = yield* directory.scan.pipe(
            Effect.catch((error) => Effect.logWarning(`cannot read the report directory: ${error.message}`).pipe(Effect.as([])))
          )
          const perRun = yield* Effect.forEach(workloads, (workload) => Effect.forEach(workload.executionIds, (executionId) => readRun(workload, executionId)))
          // In the order they came, so each node's latest result is its newest one.
          const results = perRun.flat(2).sort((a, b) => a.receivedAt.localeCompare(b.receivedAt))
          const loaded = new Map<string, Stored>()
          for (const result of results) remember(loaded, result)
          stored = loaded
          yield* Effect.logInfo(`read back ${results.length} stored results of ${workloads.length} workloads from ${directory.root}`)
          return workloads.map(keyOf)
        }),
        resultsOf: readRun,
        render: () => renderSeries([...stored.values()].flatMap(seriesOf))
      })
    })
  )
}
