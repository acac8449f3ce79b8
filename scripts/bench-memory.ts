// The operator's idle memory with many nodes cached, in a few minutes rather than the full
// bench's hour at 5,000 nodes: `npm run bench:memory` (default 5,000 kwok nodes; `-- --nodes N`).
// It starts the test control plane with the bench's quiet node heartbeats, creates the nodes,
// then starts the bundle (as the image runs it) once per variant and prints its resident memory
// when /readyz turns ready and 5, 15, 30 and 45 s later. Variants: the image's flags, and with
// BWO_BENCH_NODE_FLAGS set, those flags added (`--no-optimize-for-size` takes one out), side by
// side in one run.
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { createFakeNodes, freePort, kubectlOk, quietHeartbeatStagesFile, repoRoot, startControlPlane } from "../test/controlplane/index.ts"

const { values } = parseArgs({ options: { nodes: { type: "string", default: "5000" } } })
const count = Number(values.nodes)
if (!Number.isInteger(count) || count < 1) throw new Error(`--nodes needs a positive integer, got ${values.nodes}`)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const say = (message: string) => process.stdout.write(`[bench:memory] ${message}\n`)

const createNodes = async (kubeconfig: string) => {
  const names = Array.from({ length: count }, (_, i) => `bench-${String(i).padStart(5, "0")}`)
  let next = 0
  await Promise.all(Array.from({ length: 6 }, async () => {
    for (let at = next; at < names.length; at = next) {
      next += 100
      await createFakeNodes(kubeconfig, names.slice(at, at + 100).map((name) => ({ name, labels: { bench: "memory" } })), { wait: false })
    }
  }))
}

const residentMb = (pid: number) => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  return Math.round(Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024)
}

/** Starts the bundle, waits for /readyz, and samples its resident memory. */
const measure = async (kubeconfig: string, bundle: string, flags: ReadonlyArray<string>) => {
  const [metricsPort, healthPort] = [await freePort(), await freePort()]
  const operator = spawn(process.execPath, ["--max-semi-space-size=1", "--optimize-for-size", ...flags, bundle, "--metrics-port", String(metricsPort), "--health-port", String(healthPort), "--callback-port", "0"], {
    env: { ...process.env, KUBECONFIG: kubeconfig, LOG_LEVEL: "Warn" },
    stdio: ["ignore", "inherit", "inherit"]
  })
  try {
    const deadline = Date.now() + 120_000
    for (;;) {
      if (operator.exitCode !== null) throw new Error(`the operator exited with ${operator.exitCode}`)
      if (Date.now() > deadline) throw new Error("the operator was not ready within 120 s")
      const ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then((response) => response.ok, () => false)
      if (ready) break
      await sleep(200)
    }
    const readyAt = Date.now()
    const samples: Array<string> = []
    for (const second of [0, 5, 15, 30, 45]) {
      await sleep(Math.max(0, readyAt + second * 1000 - Date.now()))
      samples.push(`+${second} s ${residentMb(operator.pid ?? 0)} MB`)
    }
    return samples.join(", ")
  } finally {
    operator.kill("SIGTERM")
    await new Promise((resolve) => operator.once("exit", resolve))
  }
}

const main = async () => {
  execFileSync("sh", [path.join(repoRoot, "scripts", "bundle.sh")], { stdio: "inherit" })
  const bundle = path.join(repoRoot, "dist", "operator.mjs")
  const cp = await startControlPlane({
    log: () => undefined,
    scheduler: false,
    stagesFile: quietHeartbeatStagesFile(),
    nodeHeartbeat: { leaseDurationSeconds: 400, monitorGracePeriodSeconds: 600 }
  })
  try {
    await kubectlOk(["apply", "-f", path.join(repoRoot, "manifests", "crd.yaml")], { kubeconfig: cp.kubeconfigPath })
    const started = Date.now()
    await createNodes(cp.kubeconfigPath)
    say(`${count} kwok nodes created in ${Math.round((Date.now() - started) / 1000)} s; resident memory of the operator after /readyz:`)
    const extra = (process.env["BWO_BENCH_NODE_FLAGS"] ?? "").split(" ").filter((flag) => flag !== "")
    const variants: Array<[string, ReadonlyArray<string>]> = [["as shipped", []], ...(extra.length > 0 ? [[`with ${extra.join(" ")}`, extra] as [string, ReadonlyArray<string>]] : [])]
    for (const [label, flags] of variants) say(`${label}: ${await measure(cp.kubeconfigPath, bundle, flags)}`)
  } finally {
    await cp.stop()
  }
}

await main()
