import { Effect, Schema } from "effect"

const describe = (description: string) => <S extends Schema.Top>(self: S) => self.annotate({ description })

/** Prometheus metric and label names (the classic charset, which every scraper reads). */
export const metricNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/u
export const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/u

/** Labels the operator sets on every reported gauge; a gauge may not declare them. */
export const reservedLabels = ["namespace", "workload", "node", "executionID"] as const

const MetricNamePart = (description: string) =>
  Schema.String.annotate({ description }).check(
    Schema.isPattern(metricNamePattern, { message: "expected a Prometheus name: letters, digits and _, not starting with a digit" }),
    Schema.isMaxLength(100)
  )

const LabelName = Schema.String.check(
  Schema.isPattern(labelNamePattern, { message: "expected a Prometheus label name: letters, digits and _, not starting with a digit" }),
  Schema.isMaxLength(100)
)

const notReserved = Schema.makeFilter(
  (labels: ReadonlyArray<string>) => {
    const clash = labels.find((label) => (reservedLabels as ReadonlyArray<string>).includes(label))
    return clash === undefined || `label ${clash} is set by the operator (${reservedLabels.join(", ")})`
  },
  { toJsonSchema: () => [{}, true] }
)

/** One gauge a pod may report, as bakito/batch-job-controller's `metrics.gauges`. */
export const Gauge = Schema.Struct({
  suffix: MetricNamePart("The metric is <prefix>_<suffix>; the key of a result body."),
  help: Schema.String.pipe(describe("The metric's HELP text.")),
  labels: Schema.optionalKey(
    Schema.Array(LabelName).check(Schema.isMaxLength(20), Schema.isUnique(), notReserved).pipe(
      describe("Labels every result of this gauge carries, besides namespace, workload, node and executionID.")
    )
  )
})
export type Gauge = typeof Gauge.Type

/**
 * `spec.reports`: the workload's pods report results, Events (and files) back
 * to the operator, at the URLs in their environment.
 */
export const Reports = Schema.Struct({
  prefix: Schema.optionalKey(MetricNamePart("Metric name prefix. Default: bwl_ and the workload's name with - and . as _.")),
  latestLabel: Schema.Boolean.pipe(
    describe("Also publish each node's latest result with executionID=\"latest\"."),
    Schema.withDecodingDefaultKey(Effect.succeed(false))
  ),
  gauges: Schema.Array(Gauge).check(Schema.isMaxLength(50)).pipe(describe("The gauges results may report, by suffix."))
}).annotate({ description: "Pods of this workload may report results as gauges, and Events, to the operator's callback service." })
export type Reports = typeof Reports.Type

/** One reported value of one gauge, as stored. */
export const StoredSample = Schema.Struct({
  suffix: Schema.String,
  value: Schema.Finite,
  labels: Schema.Record(Schema.String, Schema.String)
})

/**
 * A node's accepted result for a run, as written to
 * `<report dir>/<namespace>/<workload>/<executionID>/results/<node>.json`:
 * with the workload's `reports` of the time, so the gauges can be published
 * again after a restart before the workload is read.
 */
export const StoredResult = Schema.Struct({
  namespace: Schema.String,
  workload: Schema.String,
  executionId: Schema.String,
  nodeName: Schema.String,
  receivedAt: Schema.String,
  reports: Reports,
  samples: Schema.Array(StoredSample)
})
export type StoredResult = typeof StoredResult.Type
