// `npm run bench`: how the operator scales with nodes. Prints figures; asserts nothing.
//
// 1. In memory, virtual time: the operator's own cost per node (planning, status folding,
//    caches), with the API server and kubelets faked and the clock simulated.
// 2. Against the real control plane (kube-apiserver + etcd + kwok): wall time, status writes
//    and API requests for a 1,000-node run. Compare ratios within one run: machines are noisy.
import { spawn } from "node:child_process"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { createFakeNodes, freePort, kubectl, repoRoot, startControlPlane } from "../test/controlplane/index.ts"
import { FakeCluster, fakeNode, podScripts } from "../test/unit/support/FakeCluster.ts"
import { advanceUntil, operatorLayer, phaseIs, startOperator, workload } from "../test/unit/support/harness.ts"

const argv = new Set(process.argv.slice(2))
const inMemoryOnly = argv.has("--in-memory")

const inMemoryRun = (nodes: number, batchSize: number) =>
  Effect.gen(function*() {
    const cluster = yield* FakeCluster
    for (let i = 0; i < nodes; i++) yield* cluster.apply("nodes", fakeNode(`node-${String(i).padStart(4, "0")}`))
    yield* cluster.setPodBehaviour(() => podScripts.ready("2 seconds"))
    yield* startOperator
    const started = performance.now()
    yield* cluster.apply("batchworkloads", workload("bench", { image: "busybox", batchSize }))
    yield* advanceUntil(phaseIs("bench", "Succeeded"), "2 hours", "500 millis")
    const cpuMillis = performance.now() - started
    return { nodes, batchSize, cpuMillis, statusWrites: cluster.stats.statusWrites, podCreates: cluster.stats.podCreates }
  }).pipe(Effect.scoped, Effect.provide(Layer.merge(operatorLayer, TestClock.layer())))

const table = (rows: ReadonlyArray<Record<string, string | number>>) => {
  const columns = Object.keys(rows[0] ?? {})
  const width = (column: string) => Math.max(column.length, ...rows.map((row) => String(row[column]).length))
  const line = (cells: (column: string) => string) => columns.map((column) => cells(column).padStart(width(column))).join("  ")
  console.log(line((column) => column))
  for (const row of rows) console.log(line((column) => String(row[column])))
}

console.log("== 1. in memory (virtual clock; pods Ready 2 s after creation) ==")
const memoryRows = []
for (const [nodes, batchSize] of [[100, 10], [1000, 10], [1000, 100]] as const) {
  const result = await Effect.runPromise(inMemoryRun(nodes, batchSize))
  memoryRows.push({
    nodes,
    batchSize,
    "cpu ms": Math.round(result.cpuMillis),
    "cpu ms/node": (result.cpuMillis / nodes).toFixed(2),
    "pod creates": result.podCreates,
    "status writes": result.statusWrites
  })
}
table(memoryRows)
const perNode = memoryRows.map((row) => Number(row["cpu ms/node"]))
console.log(`per-node cost, 1000 vs 100 nodes (same batch size): ${((perNode[1] ?? 0) / (perNode[0] ?? 1)).toFixed(2)}x (1.00x = linear)`)

if (!inMemoryOnly) {
  console.log("\n== 2. real kube-apiserver + etcd + kwok ==")
  const nodeCount = Number(process.env["BENCH_NODES"] ?? 1000)
  const cp = await startControlPlane({ log: () => undefined })
  const metricsPort = await freePort()
  let operator: ReturnType<typeof spawn> | undefined
  try {
    const k = (args: Array<string>, input?: string) =>
      kubectl(args, { kubeconfig: cp.kubeconfigPath, ...(input !== undefined ? { input } : {}) })
    await k(["apply", "-f", path.join(repoRoot, "manifests", "crd.yaml")])
    await k(["wait", "--for=condition=Established", "crd/batchworkloads.batch.example.com"])
    const nodesStarted = performance.now()
    const names = Array.from({ length: nodeCount }, (_, i) => `bench-${String(i).padStart(4, "0")}`)
    for (let i = 0; i < names.length; i += 100) {
      await createFakeNodes(cp.kubeconfigPath, names.slice(i, i + 100).map((name) => ({ name, labels: { bench: "yes" } })), { timeoutMs: 300_000 })
    }
    console.log(`${nodeCount} kwok nodes Ready in ${((performance.now() - nodesStarted) / 1000).toFixed(1)} s`)
    operator = spawn(process.execPath, [path.join(repoRoot, "src", "main.ts"), "--metrics-port", String(metricsPort), "--health-port", "0"], {
      env: { ...process.env, KUBECONFIG: cp.kubeconfigPath, LOG_LEVEL: "Warn" },
      stdio: "inherit"
    })
    const rows = []
    for (const batchSize of [20, 100]) {
      const name = `bench-b${batchSize}`
      const started = performance.now()
      await k(["apply", "-f", "-"], JSON.stringify({
        apiVersion: "batch.example.com/v1alpha1",
        kind: "BatchWorkload",
        metadata: { name, namespace: "default" },
        spec: { nodeSelector: { bench: "yes" }, image: "busybox", batchSize, podAnnotations: { "kwok.batch.example.com/delay-ms": "1000" } }
      }))
      const waited = await k(["wait", "--for=condition=Complete", `bwl/${name}`, "--timeout=1800s"])
      if (waited.code !== 0) throw new Error(`${name} did not complete: ${waited.stderr}`)
      const seconds = (performance.now() - started) / 1000
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
      const sum = (pattern: RegExp) =>
        metrics.split("\n").filter((line) => pattern.test(line)).reduce((total, line) => total + Number(line.split(" ").at(-1)), 0)
      rows.push({
        nodes: nodeCount,
        batchSize,
        "wall s": seconds.toFixed(1),
        "nodes/s": (nodeCount / seconds).toFixed(1),
        "status writes (cumulative)": sum(/^batch_operator_status_writes_total /),
        "API requests (cumulative)": sum(/^batch_operator_api_requests_total\{/)
      })
      await k(["delete", `bwl/${name}`, "--timeout=600s"])
    }
    table(rows)
    console.log("Each pod takes 1 s to become Ready, so the floor is nodes / batchSize seconds.")
  } finally {
    operator?.kill("SIGTERM")
    await cp.stop()
  }
}
