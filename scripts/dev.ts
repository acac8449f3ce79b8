// `npm run dev`: a local playground on a real (loopback) control plane.
//
//  1. starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
//     (test/controlplane/, binaries built by scripts/build-control-plane.sh on first use);
//  2. creates fake nodes: node-1..node-3 (region=us-east, type=worker) and
//     edge-1..edge-5 (region=us-west, type=edge);
//  3. installs the CRD (manifests/crd.yaml) and starts the operator (`node src/main.ts`), its
//     report directory a fresh temporary one (an emptyDir's part), removed at the end;
//  4. applies samples/*.yaml and prints `kubectl get bwl` every 2 s until all are Succeeded;
//     the pods of workloads with spec.reports get their own command run on the host, since
//     kwok's pods run nothing (scripts/dev-reporters.ts), so their reports reach the operator.
// The cluster then stays up for exploring (KUBECONFIG is printed) until Ctrl+C, which stops
// the operator and every control-plane process.
//
// Options: --exit-when-done   exit (0) as soon as every sample is Succeeded
//          --no-samples       do not apply samples/*.yaml
//          --no-operator      do not start the operator (run it yourself with the printed KUBECONFIG)
// RunToCompletion samples without a kwok fate get the pod annotation kwok.batch.example.com/fate=complete (in podAnnotations, or in the template)
// on the way in (kwok's fake pods otherwise run forever); the files are not changed.
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseAllDocuments, stringify } from "yaml"
import { createFakeNodes, fateAnnotation, kubectl, repoRoot, startControlPlane, type ControlPlane } from "../test/controlplane/index.ts"
import { playReportingPods } from "./dev-reporters.ts"

const args = new Set(process.argv.slice(2))
const exitWhenDone = args.has("--exit-when-done")
const applySamples = !args.has("--no-samples")
const runOperator = !args.has("--no-operator")

const say = (msg: string): void => {
  process.stdout.write(`[dev] ${msg}\n`)
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** The operator's report directory: a fresh one per `npm run dev`, removed at its end, as an emptyDir is with its pod. */
const reportDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "bwo-dev-reports-"))
const callbackPort = 8082

let cp: ControlPlane | undefined
let operator: ChildProcess | undefined
let operatorExited: Promise<number | string> | undefined
let shuttingDown = false
let stopPlaying: (() => void) | undefined

const stopOperator = async (): Promise<void> => {
  const child = operator
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return
  say("stopping the operator (SIGTERM)")
  child.kill("SIGTERM")
  const killTimer = setTimeout(() => child.kill("SIGKILL"), 10_000)
  await operatorExited
  clearTimeout(killTimer)
}

const shutdown = async (code: number): Promise<never> => {
  if (!shuttingDown) {
    shuttingDown = true
    stopPlaying?.()
    await stopOperator().catch(() => {})
    if (cp) {
      say("stopping the control plane")
      await cp.stop().catch((e: unknown) => say(`stop failed: ${String(e)}`))
    }
    fs.rmSync(reportDirectory, { recursive: true, force: true })
  }
  process.exit(code)
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (shuttingDown) {
      say("forced exit")
      process.exit(130)
    }
    void shutdown(0)
  })
}

const kubectlOrDie = async (argv: ReadonlyArray<string>, input?: string): Promise<string> => {
  const r = await kubectl(argv, { kubeconfig: cp!.kubeconfigPath, ...(input === undefined ? {} : { input }) })
  if (r.code !== 0) throw new Error(`kubectl ${argv.join(" ")} failed (${r.code}):\n${r.stderr}${r.stdout}`)
  return r.stdout
}

interface Sample {
  readonly file: string
  readonly name: string
  readonly manifest: string
}

const loadSamples = (): Array<Sample> => {
  const dir = path.join(repoRoot, "samples")
  if (!fs.existsSync(dir)) return []
  const samples: Array<Sample> = []
  for (const file of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(dir, file), "utf8"))) {
      const obj: unknown = doc.toJS()
      if (typeof obj !== "object" || obj === null) continue
      const o = obj as {
        kind?: string
        metadata?: { name?: string }
        spec?: { mode?: string; podAnnotations?: Record<string, string>; template?: { metadata?: { annotations?: Record<string, string> } } }
      }
      // A workload with a pod template takes pod annotations in the template (podAnnotations beside it is refused).
      const template = o.spec?.template
      const annotations = template !== undefined ? template.metadata?.annotations : o.spec?.podAnnotations
      if (o.kind === "BatchWorkload" && o.spec?.mode === "RunToCompletion" && !annotations?.[fateAnnotation]) {
        const withFate = { ...annotations, [fateAnnotation]: "complete" }
        if (template !== undefined) template.metadata = { ...template.metadata, annotations: withFate }
        else o.spec.podAnnotations = withFate
        say(`${file}: RunToCompletion without a kwok fate; adding the pod annotation ${fateAnnotation}=complete`)
      }
      samples.push({ file, name: o.metadata?.name ?? "?", manifest: stringify(o) })
    }
  }
  return samples
}

const main = async (): Promise<void> => {
  const started = Date.now()
  cp = await startControlPlane({ log: (m) => say(m) })

  // A stable path for other terminals: ~/.cache/batch-workload-operator/dev/kubeconfig.
  const stableDir = path.join(process.env["XDG_CACHE_HOME"] ?? path.join(os.homedir(), ".cache"), "batch-workload-operator", "dev")
  fs.mkdirSync(stableDir, { recursive: true })
  const stableKubeconfig = path.join(stableDir, "kubeconfig")
  fs.copyFileSync(cp.kubeconfigPath, stableKubeconfig)
  fs.chmodSync(stableKubeconfig, 0o600)

  say("creating fake nodes")
  await createFakeNodes(cp.kubeconfigPath, [
    ...[1, 2, 3].map((i) => ({ name: `node-${i}`, labels: { region: "us-east", type: "worker" } })),
    ...[1, 2, 3, 4, 5].map((i) => ({ name: `edge-${i}`, labels: { region: "us-west", type: "edge" } }))
  ])
  process.stdout.write(await kubectlOrDie(["get", "nodes", "-L", "region,type"]))

  const crd = path.join(repoRoot, "manifests", "crd.yaml")
  if (!fs.existsSync(crd)) throw new Error(`${crd} does not exist yet (npm run manifests)`)
  say("installing the CRD")
  await kubectlOrDie(["apply", "-f", crd])
  // Right after the apply the CRD may have no status yet, which kubectl wait takes for an error: ask again.
  for (let attempt = 1; ; attempt++) {
    const established = await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f", crd], { kubeconfig: cp.kubeconfigPath })
    if (established.code === 0) break
    if (attempt === 5) throw new Error(`the CRD did not become Established: ${established.stderr}`)
    await sleep(1000)
  }

  if (runOperator) {
    const main = path.join(repoRoot, "src", "main.ts")
    if (!fs.existsSync(main)) throw new Error(`${main} does not exist yet`)
    say(`starting the operator: ${process.execPath} src/main.ts`)
    // Reporting pods' commands run on this host (dev-reporters.ts), so their callback URLs name it.
    const operatorArgs = [main, "--report-dir", reportDirectory, "--callback-port", String(callbackPort), "--callback-service-name", "127.0.0.1"]
    const child = spawn(process.execPath, operatorArgs, {
      cwd: repoRoot,
      env: { ...process.env, KUBECONFIG: cp.kubeconfigPath },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true // Ctrl+C reaches only us; we stop it with SIGTERM in order
    })
    operator = child
    operatorExited = new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown")))
    const prefix = (stream: NodeJS.ReadableStream): void => {
      let partial = ""
      stream.on("data", (d: Buffer) => {
        const lines = (partial + d.toString()).split("\n")
        partial = lines.pop() ?? ""
        for (const line of lines) process.stdout.write(`[operator] ${line}\n`)
      })
    }
    if (child.stdout) prefix(child.stdout)
    if (child.stderr) prefix(child.stderr)
    void operatorExited.then((code) => {
      if (!shuttingDown) {
        say(`the operator exited unexpectedly (${code}); stopping`)
        void shutdown(1)
      }
    })
  }

  // The operator's and the plugin's bundles (well under a second); the plugin runs on any Node from 20 on.
  execFileSync("sh", [path.join(repoRoot, "scripts", "bundle.sh")])
  const plugin = path.join(repoRoot, "dist", "kubectl-bwl.mjs")
  if (runOperator) stopPlaying = playReportingPods(cp.kubeconfigPath, (message) => say(message))
  const samples = applySamples ? loadSamples() : []
  for (const s of samples) {
    say(`applying samples/${s.file} (${s.name})`)
    process.stdout.write(await kubectlOrDie(["apply", "-f", "-"], s.manifest))
  }

  const banner = (): void => {
    say(`control plane: ${cp?.server}`)
    say(`  export KUBECONFIG=${stableKubeconfig}   # then: kubectl get bwl,pods -o wide`)
    // The bundle runs on any Node from 20 on, so the printed command works in any terminal.
    for (const s of samples) say(`  watch ${s.name}: KUBECONFIG=${stableKubeconfig} node ${path.relative(process.cwd(), plugin)} status ${s.name} --watch`)
    say(`  component logs: ${path.join(cp?.dir ?? "", "logs")}`)
    if (runOperator) say(`  pod reports: http://127.0.0.1:${callbackPort}/reports (stored in ${reportDirectory})`)
  }
  banner()
  say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s; Ctrl+C stops everything`)

  if (samples.length === 0) {
    for (;;) await sleep(60_000)
  }
  for (;;) {
    const table = await kubectl(["get", "bwl"], { kubeconfig: cp.kubeconfigPath })
    process.stdout.write(`\n[dev] ${new Date().toLocaleTimeString()} kubectl get bwl\n${table.stdout || table.stderr}`)
    const phases = await kubectl(["get", "bwl", "-o", "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}"], {
      kubeconfig: cp.kubeconfigPath
    })
    const list = phases.stdout.split("\n").filter((l) => l !== "")
    if (list.length >= samples.length && list.every((p) => p === "Succeeded")) {
      say(`all ${list.length} BatchWorkloads Succeeded after ${((Date.now() - started) / 1000).toFixed(1)} s`)
      if (exitWhenDone) await shutdown(0)
      banner()
      say("the cluster stays up; Ctrl+C stops everything")
      for (;;) await sleep(60_000)
    }
    await sleep(2_000)
  }
}

main().catch(async (e: unknown) => {
  process.stderr.write(`[dev] ${e instanceof Error ? e.message : String(e)}\n`)
  await shutdown(1)
})
