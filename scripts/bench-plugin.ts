// How long `kubectl bwl status` takes to draw a large workload once its status has arrived:
// the watch event's JSON parsed, the object decoded into the view, the screen rendered.
// `npm run bench:plugin` (default 5,000 nodes; `-- --nodes N`). scripts/bench.ts can print the
// same figure with `measureStatusRender(nodes)`.
import { performance } from "node:perf_hooks"
import { parseArgs } from "node:util"
import type { NodeStatus } from "../src/api/BatchWorkload.ts"
import { renderStatus, summaryLine, viewOf } from "../src/cli/render.ts"

const startMillis = Date.parse("2026-12-01T12:00:00Z")

/** A mid-run status of `count` nodes: most done, a batch of 100 in flight, some failed, the rest pending. */
export const largeWorkload = (count: number) => {
  const entry = (i: number): NodeStatus => {
    const nodeName = `node-${String(i).padStart(5, "0")}`
    const at = new Date(startMillis + i * 100).toISOString()
    if (i % 50 === 7) return { nodeName, phase: "Failed", attempts: 4, podName: `w-${nodeName}`, message: "failed after 4 attempts: ErrImagePull", lastTransitionTime: at }
    if (i < count * 0.6) return { nodeName, phase: "Succeeded", attempts: 1, podName: `w-${nodeName}`, message: "pod is Ready", lastTransitionTime: at }
    if (i < count * 0.6 + 100) return { nodeName, phase: "Running", attempts: 1, podName: `w-${nodeName}`, message: "attempt 1 of 4: container starting", lastTransitionTime: at }
    return { nodeName, phase: "Pending", attempts: 0, message: "waiting for its batch", lastTransitionTime: at }
  }
  const nodeStatus = Array.from({ length: count }, (_, i) => entry(i))
  const inPhase = (phase: NodeStatus["phase"]) => nodeStatus.filter((n) => n.phase === phase).length
  return {
    apiVersion: "batch.example.com/v1alpha1",
    kind: "BatchWorkload",
    metadata: { name: "fleet", namespace: "default", generation: 1, resourceVersion: "1" },
    spec: { image: "busybox", batchSize: 100, timeout: "5m", nodeSelector: { pool: "fleet" } },
    status: {
      phase: "Running",
      observedGeneration: 1,
      totalNodes: count,
      succeededNodes: inPhase("Succeeded"),
      failedNodes: inPhase("Failed"),
      runningNodes: inPhase("Running"),
      pendingNodes: inPhase("Pending"),
      progress: `${inPhase("Succeeded")}/${count}`,
      nodeStatus,
      conditions: [{ type: "Progressing", status: "True", reason: "Running", message: "rolling out", lastTransitionTime: new Date(startMillis).toISOString() }]
    }
  }
}

/** Milliseconds from the event's text to the drawn screen (and to the plain line), median and worst of `rounds`. */
export const measureStatusRender = (nodes: number, rounds = 20) => {
  const text = JSON.stringify({ type: "MODIFIED", object: largeWorkload(nodes) })
  const screen: Array<number> = []
  const line: Array<number> = []
  for (let round = 0; round < rounds; round++) {
    const started = performance.now()
    const view = viewOf(JSON.parse(text).object)
    renderStatus(view, startMillis + 600_000, { listLimit: 20 }).join("\n")
    screen.push(performance.now() - started)
    const lineStarted = performance.now()
    summaryLine(viewOf(JSON.parse(text).object))
    line.push(performance.now() - lineStarted)
  }
  const median = (values: Array<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
  return { nodes, bytes: text.length, screenMedianMs: median(screen), screenMaxMs: Math.max(...screen), lineMedianMs: median(line) }
}

export const formatRenderFigure = (result: ReturnType<typeof measureStatusRender>) =>
  `kubectl bwl status, ${result.nodes.toLocaleString("en")} nodes (${(result.bytes / 1e6).toFixed(1)} MB of status): ` +
  `screen drawn ${result.screenMedianMs.toFixed(1)} ms after the status arrived (median; worst ${result.screenMaxMs.toFixed(1)} ms), ` +
  `plain line ${result.lineMedianMs.toFixed(1)} ms`

if (import.meta.main) {
  const { values } = parseArgs({ options: { nodes: { type: "string", default: "5000" } } })
  console.log(formatRenderFigure(measureStatusRender(Number(values.nodes))))
}
