import { Metric } from "effect"

export const nodeOutcomes = Metric.counter("batch_operator_node_outcomes_total", {
  description: "Nodes that finished a run, by outcome (succeeded, failed)",
  incremental: true
})
export const nodeRetries = Metric.counter("batch_operator_node_retries_total", {
  description: "Node attempts that failed or timed out and were retried",
  incremental: true
})
export const nodeAttemptSeconds = Metric.histogram("batch_operator_node_attempt_duration_seconds", {
  description: "Duration of one attempt on one node, by result",
  boundaries: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]
})
export const reconcileTotal = Metric.counter("controller_runtime_reconcile_total", {
  description: "Total number of reconciliations per controller, by result",
  incremental: true
})
export const reconcileErrors = Metric.counter("controller_runtime_reconcile_errors_total", {
  description: "Total number of reconciliation errors per controller",
  incremental: true
})
export const reconcileSeconds = Metric.histogram("controller_runtime_reconcile_time_seconds", {
  description: "Length of time per reconciliation per controller",
  boundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800]
})
export const workloadsByPhase = Metric.gauge("batch_operator_workloads", {
  description: "BatchWorkloads by phase"
})
export const statusWrites = Metric.counter("batch_operator_status_writes_total", {
  description: "Status subresource writes",
  incremental: true
})
