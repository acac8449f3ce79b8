import { Context, Layer } from "effect"
import type { Reports } from "../api/Reports.ts"
import { type CallbackEndpoint, metricPrefix, renderSeries, type Sample, type Series, seriesLabels } from "../domain/reports.ts"

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

interface Stored {
  workload: ReportingWorkload
  /** executionId -> node -> the node's last result for that run. */
  readonly runs: Map<string, Map<string, ReadonlyArray<Sample>>>
  /** node -> its most recent result, for executionID="latest". */
  readonly latest: Map<string, { readonly executionId: string; readonly samples: ReadonlyArray<Sample> }>
}

/**
 * The results pods reported, by workload, run and node, published as gauges
 * on /metrics. A node's new result for a run replaces its previous one; a run
 * that leaves the workload's history takes its series with it.
 */
export class ReportStore extends Context.Service<ReportStore, {
  readonly record: (key: string, workload: ReportingWorkload, executionId: string, nodeName: string, samples: ReadonlyArray<Sample>) => void
  /** Keeps only these runs of the workload (none: the workload is gone or no longer reports). */
  readonly retain: (key: string, executionIds: ReadonlySet<string>) => void
  /** The Prometheus text of every series. */
  readonly render: () => string
}>()("batch-workload-operator/ReportStore") {
  static readonly layer = Layer.sync(ReportStore, () => {
    const stored = new Map<string, Stored>()
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
    return ReportStore.of({
      record: (key, workload, executionId, nodeName, samples) => {
        const entry = stored.get(key) ?? { workload, runs: new Map(), latest: new Map() }
        entry.workload = workload
        const run = entry.runs.get(executionId) ?? new Map<string, ReadonlyArray<Sample>>()
        run.set(nodeName, samples)
        entry.runs.set(executionId, run)
        entry.latest.set(nodeName, { executionId, samples })
        stored.set(key, entry)
      },
      retain: (key, executionIds) => {
        const entry = stored.get(key)
        if (entry === undefined) return
        for (const executionId of entry.runs.keys()) if (!executionIds.has(executionId)) entry.runs.delete(executionId)
        for (const [nodeName, latest] of entry.latest) if (!executionIds.has(latest.executionId)) entry.latest.delete(nodeName)
        if (entry.runs.size === 0) stored.delete(key)
      },
      render: () => renderSeries([...stored.values()].flatMap(seriesOf))
    })
  })
}
