// `npm run bench`: the operator against the real control plane (kube-apiserver + etcd +
// kube-controller-manager + kube-scheduler + kwok), beside two references placing the same pods on
// the same nodes in the same run:
//   - client-go: bench/clientgo, the least a client-go program does for the job (one pod per node,
//     at most batchSize not yet Ready, one pod watch);
//   - DaemonSet: kube-controller-manager's DaemonSet controller (no batch limit).
// Prints one table (see BENCHMARKS.md for what each column means) and the targets; asserts
// nothing. Request counts come from the API server's apiserver_request_total, scraped before and
// after each contender; CPU and RSS from /proc/<pid>.
//
//   npm run bench                         1,000 nodes
//   npm run bench -- --nodes 5000
//   npm run bench -- --only operator      one contender (operator | client-go | daemonset)
//   npm run bench -- --batch-size 50      concurrency for the operator and client-go (default 100)
//   npm run bench -- --rounds 3           three rounds on one control plane, and the median ratio
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { createInterface } from "node:readline"
import * as k8s from "@kubernetes/client-node"
import { formatRenderFigure, measureStatusRender } from "./bench-plugin.ts"
import { createFakeNodes, freePort, kubectl, kubectlOk, loadKubeConfig, quietHeartbeatStagesFile, repoRoot, startControlPlane, type ControlPlane } from "../test/controlplane/index.ts"

// ---------------------------------------------------------------------------------------------
// Settings

const contenders = ["operator", "client-go", "daemonset"] as const
type Contender = (typeof contenders)[number]
const isContender = (value: string): value is Contender => contenders.some((c) => c === value)

const usage = `usage: npm run bench -- [--nodes N] [--batch-size N] [--qps N] [--burst N] [--only operator|client-go|daemonset]...
  --nodes N        fake nodes to place pods on (default 1000; the issue's figures are at 1000 and 5000)
  --batch-size N   pods in flight for the operator and client-go (default 100)
  --qps N, --burst N
                   client-side rate limit of the operator and the client-go program alike
                   (default 500 and 1000: high enough not to pace either, so the ratio is
                   the operator's own cost; the operator ships with 100 and 200)
  --kcm-qps N      kube-controller-manager's --kube-api-qps (burst: twice it; default 20, its
                   own default). At 5,000 nodes its node lifecycle controller needs most of
                   an hour at 20 to finish with the new nodes before the contenders start;
                   200 takes minutes. The DaemonSet contender then runs at that rate too.
  --only NAME      run only this contender (repeatable)
  --rounds N       run the contenders N times on the same control plane, in turn and in
                   alternating order (default 1), and print each round's table and the
                   median makespan ratio: on a shared 2-core machine one round's ratio moves
                   by 0.2x or more with the machine's load`

const parseArgs = (argv: ReadonlyArray<string>) => {
  let nodes = 1000
  let batchSize = 100
  let qps = 500
  let burst = 1000
  let kcmQps = 20
  let rounds = 1
  const only: Array<Contender> = []
  const positiveInt = (flag: string, value: string | undefined): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got ${value ?? "nothing"}\n${usage}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ""
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined]
    const value = (): string | undefined => inline ?? argv[++i]
    if (flag === "--nodes") nodes = positiveInt(flag, value())
    else if (flag === "--batch-size") batchSize = positiveInt(flag, value())
    else if (flag === "--qps") qps = positiveInt(flag, value())
    else if (flag === "--burst") burst = positiveInt(flag, value())
    else if (flag === "--kcm-qps") kcmQps = positiveInt(flag, value())
    else if (flag === "--rounds") rounds = positiveInt(flag, value())
    else if (flag === "--only") {
      const name = value() ?? ""
      if (!isContender(name)) throw new Error(`--only takes one of ${contenders.join(", ")}, got ${name || "nothing"}\n${usage}`)
      only.push(name)
    } else if (flag === "--help" || flag === "-h") {
      console.log(usage)
      process.exit(0)
    } else throw new Error(`unknown argument ${arg}\n${usage}`)
  }
  if (batchSize > 100) throw new Error("--batch-size: a BatchWorkload allows at most 100")
  return { nodes, batchSize, qps, burst, kcmQps, rounds, run: contenders.filter((c) => only.length === 0 || only.includes(c)) }
}

const settings = (() => {
  try {
    return parseArgs(process.argv.slice(2))
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e))
    process.exit(2)
  }
})()

const nodeLabel = { bench: "yes" } as const
const nodeSelector = "bench=yes"
const podAnnotations = { "kwok.batch.example.com/delay-ms": "1000" } as const
const image = "busybox"
/** Generous: a contender that takes longer than this is stuck, not slow. */
const runTimeoutMs = 300_000 + settings.nodes * 600

const seconds = (ms: number): number => ms / 1000
const benchStarted = performance.now()
const say = (message: string): void => {
  process.stdout.write(`[bench ${seconds(performance.now() - benchStarted).toFixed(0).padStart(4)} s] ${message}\n`)
}
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------
// The client-go program: built once per content hash into the cache.

const findGo = (): string | undefined => {
  const candidates = [
    ...(process.env["PATH"] ?? "").split(path.delimiter).filter((d) => d !== "").map((d) => path.join(d, "go")),
    "/usr/local/go/bin/go",
    "/usr/lib/go/bin/go",
    path.join(os.homedir(), "go", "bin", "go"),
    path.join(os.homedir(), "sdk", "go", "bin", "go")
  ]
  return candidates.find((candidate) => {
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      return fs.statSync(candidate).isFile()
    } catch {
      return false
    }
  })
}

const clientGoSource = path.join(repoRoot, "bench", "clientgo")

const buildClientGo = (): string => {
  const hash = createHash("sha256")
  for (const file of ["go.mod", "go.sum", "main.go"]) hash.update(fs.readFileSync(path.join(clientGoSource, file)))
  const cacheRoot = process.env["XDG_CACHE_HOME"] ?? path.join(os.homedir(), ".cache")
  const dir = path.join(cacheRoot, "batch-workload-operator", "bench", hash.digest("hex").slice(0, 12))
  const binary = path.join(dir, "clientgo-bench")
  if (fs.existsSync(binary)) return binary
  const go = findGo()
  if (go === undefined) {
    throw new Error(
      "Go is not installed (looked on PATH, in /usr/local/go/bin, /usr/lib/go/bin, ~/go/bin, ~/sdk/go/bin).\n" +
        "The client-go contender (bench/clientgo) is built with Go >= 1.25, as the control plane is.\n" +
        "Install Go, or leave that contender out: npm run bench -- --only operator --only daemonset"
    )
  }
  say(`building bench/clientgo with ${go} into ${dir}`)
  fs.mkdirSync(dir, { recursive: true })
  const tmp = `${binary}.tmp.${process.pid}`
  // As the control plane is built (scripts/build-control-plane.sh): static, trimmed, stripped,
  // Kubernetes' tags, so the Go build cache of the control-plane build is reused.
  execFileSync(go, ["build", "-trimpath", "-tags", "selinux,notest,grpcnotrace", "-ldflags", "-s -w", "-o", tmp, "."], {
    cwd: clientGoSource,
    env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly -buildvcs=false" },
    stdio: ["ignore", "inherit", "inherit"]
  })
  fs.renameSync(tmp, binary)
  return binary
}

// ---------------------------------------------------------------------------------------------
// /proc: CPU seconds and RSS of a process.

const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

/** utime + stime of the process, in seconds. */
const cpuSeconds = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  // Fields after "(comm)": state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / clockTicks
}

/** The CPU seconds of each running control-plane component, and of the whole machine (busy and in all), at one moment. */
interface CpuSnapshot {
  readonly components: ReadonlyMap<string, number>
  readonly machineBusy: number
  readonly machineTotal: number
}

const cpuSnapshot = (cp: ControlPlane): CpuSnapshot => {
  const components = new Map(Object.entries(cp.processes).filter(([, p]) => p.isRunning()).map(([name, p]) => [name, cpuSeconds(p.pid)]))
  // /proc/stat's first line: user nice system idle iowait irq softirq steal, in clock ticks over all cores.
  const ticks = (fs.readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1, 9).map(Number)
  const total = ticks.reduce((sum, n) => sum + n, 0)
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0)
  return { components, machineBusy: (total - idle) / clockTicks, machineTotal: total / clockTicks }
}

/**
 * "kube-apiserver 21.3, etcd 4.1, ...; machine 94 % busy": where the CPU of a contender's window
 * went. On two cores a contender's own CPU is taken from the API server and kwok, so this says
 * whether the run was CPU-bound and who else was busy.
 */
const describeCpu = (before: CpuSnapshot, after: CpuSnapshot): string => {
  const used = [...after.components].map(([name, seconds]) => [name, seconds - (before.components.get(name) ?? seconds)] as const)
  const busy = (100 * (after.machineBusy - before.machineBusy)) / Math.max(1e-9, after.machineTotal - before.machineTotal)
  return `${used.sort((a, b) => b[1] - a[1]).map(([name, seconds]) => `${name} ${seconds.toFixed(1)}`).join(", ")}; machine ${busy.toFixed(0)} % busy`
}

/** VmRSS (now) and VmHWM (peak) in MB. */
const memory = (pid: number): { rss: number; peak: number } => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN)
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 }
}

// ---------------------------------------------------------------------------------------------
// The API server's request counters.

interface Sample {
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const scrapeRequests = async (kubeconfig: string): Promise<ReadonlyArray<Sample>> => {
  const text = await kubectlOk(["get", "--raw", "/metrics"], { kubeconfig, timeoutMs: 60_000 })
  const samples: Array<Sample> = []
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue
    const close = line.lastIndexOf("}")
    const labels: Record<string, string> = {}
    for (const match of line.slice(line.indexOf("{") + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[match[1] ?? ""] = match[2] ?? ""
    }
    samples.push({ labels, value: Number(line.slice(close + 1).trim()) })
  }
  return samples
}

type Predicate = (labels: Readonly<Record<string, string>>) => boolean
const total = (samples: ReadonlyArray<Sample>, predicate: Predicate): number =>
  samples.reduce((sum, sample) => (predicate(sample.labels) ? sum + sample.value : sum), 0)
const delta = (before: ReadonlyArray<Sample>, after: ReadonlyArray<Sample>, predicate: Predicate): number =>
  total(after, predicate) - total(before, predicate)

const writeVerbs = new Set(["POST", "PUT", "PATCH", "APPLY"])
/** Pods created: a server-side dry run (the operator's pod-template preflight) creates nothing, and the API server labels it apart. */
const isPodCreate: Predicate = (l) =>
  l["resource"] === "pods" && l["subresource"] === "" && l["verb"] === "POST" && (l["dry_run"] ?? "") === ""
const isStatusWrite = (resource: string): Predicate => (l) =>
  l["resource"] === resource && l["subresource"] === "status" && (l["verb"] === "PUT" || l["verb"] === "PATCH" || l["verb"] === "APPLY")
const isEventWrite: Predicate = (l) =>
  l["resource"] === "events" && (l["group"] === "" || l["group"] === "events.k8s.io") && writeVerbs.has(l["verb"] ?? "")
const isList: Predicate = (l) => l["verb"] === "LIST"
/**
 * LISTs that count against a contender: all but kube-apiserver's own LimitRanger admission,
 * which LISTs the LimitRanges of a namespace that has none, live, at most every 30 s while pods
 * are created there (plugin/pkg/admission/limitranger): the same for every contender.
 */
const isContenderList: Predicate = (l) => isList(l) && l["resource"] !== "limitranges"

/** "pods 2, nodes 1": the LISTs between two scrapes, by resource. */
const listsByResource = (before: ReadonlyArray<Sample>, after: ReadonlyArray<Sample>): string => {
  const resources = new Set(after.filter((s) => isList(s.labels)).map((s) => s.labels["resource"] ?? ""))
  return [...resources]
    .map((resource) => [resource, delta(before, after, (l) => isList(l) && l["resource"] === resource)] as const)
    .filter(([, n]) => n > 0)
    .map(([resource, n]) => `${resource} ${n}`)
    .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Watches, with the wire objects they deliver.

interface WireCondition {
  readonly type?: string
  readonly status?: string
}
interface WireObject {
  readonly metadata?: { readonly name?: string; readonly resourceVersion?: string }
  readonly status?: {
    readonly conditions?: ReadonlyArray<WireCondition>
    readonly phase?: string
    readonly numberReady?: number
    readonly desiredNumberScheduled?: number
  }
  readonly code?: number
}

const conditionTrue = (object: WireObject, type: string): boolean =>
  object.status?.conditions?.some((c) => c.type === type && c.status === "True") ?? false

interface Watching {
  /** Resolves once the first watch request has been answered (events from then on are seen). */
  readonly connected: Promise<void>
  stop(): void
}

/**
 * Watches `apiPath` (a WATCH request, never a LIST: the namespaces watched are new, so the
 * initial state is empty or tiny), resuming from the last resourceVersion when the connection
 * ends and from scratch after 410 Gone. `onEvent` must be idempotent.
 */
const watch = (kc: k8s.KubeConfig, apiPath: string, onEvent: (type: string, object: WireObject) => void): Watching => {
  const watcher = new k8s.Watch(kc)
  let stopped = false
  let resourceVersion: string | undefined
  let abort: AbortController | undefined
  let markConnected = (): void => {}
  const connected = new Promise<void>((resolve) => (markConnected = resolve))
  const connect = (): void => {
    if (stopped) return
    watcher
      .watch(
        apiPath,
        { allowWatchBookmarks: true, ...(resourceVersion !== undefined ? { resourceVersion } : {}) },
        (type: string, object: unknown) => {
          // Wire JSON from the API server.
          const wire = (object ?? {}) as WireObject
          if (type === "ERROR") {
            if (wire.code === 410) resourceVersion = undefined
            return
          }
          resourceVersion = wire.metadata?.resourceVersion ?? resourceVersion
          if (type !== "BOOKMARK") onEvent(type, wire)
        },
        () => {
          if (!stopped) setTimeout(connect, 200)
        }
      )
      .then((controller) => {
        abort = controller
        markConnected()
        if (stopped) controller.abort()
      }, () => {
        if (!stopped) setTimeout(connect, 500)
      })
  }
  connect()
  return {
    connected,
    stop: () => {
      stopped = true
      abort?.abort()
    }
  }
}

/** Times the pods of one namespace as the bench sees them: first created, all Ready. */
const watchPods = (kc: k8s.KubeConfig, namespace: string, expected: number) => {
  let firstAt: number | undefined
  let allReadyAt: number | undefined
  const seen = new Map<string, number>()
  const ready = new Set<string>()
  // Pods seen and not yet Ready, integrated over time: whether a contender keeps its batch full.
  let inFlight = 0
  let maxInFlight = 0
  let podSeconds = 0
  let lastChange = 0
  let turnaround = 0
  const account = (now: number) => {
    podSeconds += (inFlight * (now - lastChange)) / 1000
    lastChange = now
  }
  const watching = watch(kc, `/api/v1/namespaces/${namespace}/pods`, (type, pod) => {
    const name = pod.metadata?.name ?? ""
    if (type === "DELETED") return
    const now = performance.now()
    firstAt ??= now
    if (!seen.has(name)) {
      account(now)
      seen.set(name, now)
      maxInFlight = Math.max(maxInFlight, ++inFlight)
    }
    if (conditionTrue(pod, "Ready") && !ready.has(name)) {
      account(now)
      ready.add(name)
      inFlight--
      turnaround += now - (seen.get(name) ?? now)
    }
    if (allReadyAt === undefined && ready.size >= expected) allReadyAt = now
  })
  return {
    connected: watching.connected,
    firstAt: () => firstAt,
    allReadyAt: () => allReadyAt,
    seen: () => seen.size,
    /** "in flight: mean 97.2, max 100; a pod's first sight to Ready: 1.85 s (mean)", as the bench's own watch saw it. */
    flight: () => {
      const span = allReadyAt !== undefined && firstAt !== undefined ? (allReadyAt - firstAt) / 1000 : Number.NaN
      return `pods in flight (seen, not Ready): mean ${(podSeconds / span).toFixed(1)}, max ${maxInFlight}; a pod's first sight to Ready: ${(turnaround / Math.max(1, ready.size) / 1000).toFixed(2)} s (mean)`
    },
    stop: () => watching.stop()
  }
}

/** `done` resolves with the time `isDone` first holds for the watched object; rejects on `failed` or timeout. */
const waitForObject = (
  kc: k8s.KubeConfig,
  apiPath: string,
  isDone: (object: WireObject) => boolean,
  failed: (object: WireObject) => string | undefined,
  what: string
): { readonly connected: Promise<void>; readonly done: Promise<number> } => {
  let settle: (outcome: number | Error) => void = () => {}
  const done = new Promise<number>((resolve, reject) => {
    settle = (outcome) => (typeof outcome === "number" ? resolve(outcome) : reject(outcome))
  })
  const watching = watch(kc, apiPath, (_type, object) => {
    const failure = failed(object)
    if (failure !== undefined) settle(new Error(`${what}: ${failure}`))
    else if (isDone(object)) settle(performance.now())
  })
  const timer = setTimeout(() => settle(new Error(`${what} did not happen within ${runTimeoutMs / 1000} s`)), runTimeoutMs)
  void done.finally(() => {
    clearTimeout(timer)
    watching.stop()
  }).catch(() => {})
  return { connected: watching.connected, done }
}

// ---------------------------------------------------------------------------------------------
// Cluster helpers (all outside the measured windows unless said otherwise).

const isNotFound = (e: unknown): boolean => e instanceof k8s.ApiException && e.code === 404

const pollUntil = async (what: string, timeoutMs: number, check: () => Promise<boolean>, intervalMs = 500): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: still not done after ${timeoutMs / 1000} s`)
    await sleep(intervalMs)
  }
}

const createNamespace = async (core: k8s.CoreV1Api, name: string): Promise<void> => {
  await core.createNamespace({ body: { metadata: { name } } })
  // Admission wants the namespace's default ServiceAccount, which kube-controller-manager adds.
  await pollUntil(`ServiceAccount ${name}/default`, 60_000, async () => {
    try {
      await core.readNamespacedServiceAccount({ name: "default", namespace: name })
      return true
    } catch (e) {
      if (isNotFound(e)) return false
      throw e
    }
  })
}

const deleteNamespace = async (core: k8s.CoreV1Api, name: string): Promise<void> => {
  await core.deleteNamespace({ name })
  await pollUntil(`namespace ${name} deleted`, 600_000, async () => {
    try {
      await core.readNamespace({ name })
      return false
    } catch (e) {
      if (isNotFound(e)) return true
      throw e
    }
  })
}

const waitForNoPods = (core: k8s.CoreV1Api, namespace: string): Promise<void> =>
  pollUntil(`pods in ${namespace} gone`, 600_000, async () => (await core.listNamespacedPod({ namespace, limit: 1 })).items.length === 0)

const notReadyNodes = async (core: k8s.CoreV1Api): Promise<number> =>
  (await core.listNode({ labelSelector: nodeSelector })).items.filter((node) =>
    node.status?.conditions?.find((c) => c.type === "Ready")?.status !== "True"
  ).length

const createNodes = async (cp: ControlPlane, core: k8s.CoreV1Api, count: number): Promise<void> => {
  const started = performance.now()
  const names = Array.from({ length: count }, (_, i) => `bench-${String(i).padStart(String(count - 1).length, "0")}`)
  const chunks: Array<Array<string>> = []
  for (let i = 0; i < names.length; i += 100) chunks.push(names.slice(i, i + 100))
  // Four streams of sequential creates; readiness is then polled with one node LIST every 2 s.
  let next = 0
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let chunk = chunks[next++]; chunk !== undefined; chunk = chunks[next++]) {
      await createFakeNodes(cp.kubeconfigPath, chunk.map((name) => ({ name, labels: nodeLabel })), { wait: false })
    }
  }))
  await pollUntil(`${count} nodes Ready`, 120_000 + count * 100, async () => (await notReadyNodes(core)) === 0, 2_000)
  say(`${count} kwok nodes Ready in ${seconds(performance.now() - started).toFixed(1)} s`)
  // kube-controller-manager's node lifecycle controller then takes each new node's not-ready taint
  // off and posts a RegisteredNode Event for it, at its client's QPS (--kcm-qps): wait for all of that, or
  // it would land in the first contender's window (Event writes, load). It also LISTs pods, one
  // LIST per new node, for a while after its Events stop (2,500 of them at 5,000 nodes, in the
  // first contender's window before this waited for them).
  const settled = async (): Promise<{ readonly tainted: number; readonly registered: number; readonly podLists: number }> => {
    const nodes = (await core.listNode({ labelSelector: nodeSelector })).items
    const events = (await core.listNamespacedEvent({ namespace: "default", fieldSelector: "reason=RegisteredNode" })).items
    const names = new Set(nodes.map((node) => node.metadata?.name))
    return {
      tainted: nodes.filter((node) => (node.spec?.taints ?? []).length > 0).length,
      registered: events.filter((event) => names.has(event.involvedObject.name)).length,
      podLists: total(await scrapeRequests(cp.kubeconfigPath), (l) => isList(l) && l["resource"] === "pods")
    }
  }
  const settleStarted = performance.now()
  // Its event broadcaster drops what overflows its queue (1,000 Events): at 5,000 nodes the count
  // stops short of the node count for good, so a count that has not moved for a minute is done too,
  // once its pod LISTs have stopped as well.
  let lastRegistered = -1
  let lastPodLists = -1
  let movedAt = performance.now()
  let listedAt = performance.now()
  try {
    await pollUntil("new nodes settled", 120_000 + count * 300, async () => {
      const { podLists, registered, tainted } = await settled()
      if (registered !== lastRegistered) {
        lastRegistered = registered
        movedAt = performance.now()
      }
      if (podLists !== lastPodLists) {
        lastPodLists = podLists
        listedAt = performance.now()
      }
      const listsStopped = performance.now() - listedAt > 20_000
      return tainted === 0 && listsStopped && (registered >= count || performance.now() - movedAt > 60_000)
      // Each look lists every node and Event: at 5,000 nodes that is tens of MB, so look less often.
    }, Math.max(3_000, count * 2))
    const short = lastRegistered < count ? ` (${lastRegistered} of ${count} RegisteredNode Events: the count stopped there)` : ""
    say(`kube-controller-manager done with the new nodes (taints, RegisteredNode Events) in ${seconds(performance.now() - settleStarted).toFixed(1)} s${short}`)
  } catch {
    const { tainted, registered } = await settled()
    say(`WARNING: kube-controller-manager is not done with the new nodes: ${tainted} still tainted, ${registered} of ${count} RegisteredNode Events; the rest will fall into the first contender's window`)
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes (the operator, the client-go program).

const children = new Set<ChildProcess>()
const track = (child: ChildProcess): ChildProcess => {
  children.add(child)
  child.once("exit", () => children.delete(child))
  return child
}
const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", () => resolve()))
const stopChild = async (child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill(signal)
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
  await exited(child)
  clearTimeout(timer)
}

/** Lines of a child's stdout, one at a time. */
const lineReader = (child: ChildProcess) => {
  const queue: Array<string> = []
  const waiting: Array<(line: string | undefined) => void> = []
  let closed = false
  if (child.stdout === null) throw new Error("child has no stdout pipe")
  const lines = createInterface({ input: child.stdout })
  lines.on("line", (line) => {
    const waiter = waiting.shift()
    if (waiter) waiter(line)
    else queue.push(line)
  })
  lines.on("close", () => {
    closed = true
    for (const waiter of waiting.splice(0)) waiter(undefined)
  })
  return (): Promise<string | undefined> => {
    const line = queue.shift()
    if (line !== undefined) return Promise.resolve(line)
    if (closed) return Promise.resolve(undefined)
    return new Promise((resolve) => waiting.push(resolve))
  }
}

// ---------------------------------------------------------------------------------------------
// The contenders. Each runs in its own namespace on the same nodes, one after another.

interface Row {
  readonly contender: string
  readonly makespan: number
  readonly firstCreate: number | undefined
  readonly podCreates: number
  readonly statusWrites: number | undefined
  readonly eventWrites: number
  readonly lists: number
  readonly cpu: number | undefined
  readonly idleRss: number | undefined
  readonly peakRss: number | undefined
  /** Bench nodes not Ready right after the run. */
  readonly notReady: number
}

interface Bench {
  readonly cp: ControlPlane
  readonly kc: k8s.KubeConfig
  readonly core: k8s.CoreV1Api
  readonly nodes: number
}

const scrape = (bench: Bench) => scrapeRequests(bench.cp.kubeconfigPath)

/**
 * The counters once the contender's writes have stopped (Events and status are written a little
 * after the pods are Ready): scrapes every 2 s until pod creates, status and Event writes are the
 * same twice in a row (at most 30 s).
 */
const settledScrape = async (bench: Bench): Promise<ReadonlyArray<Sample>> => {
  const fingerprint = (samples: ReadonlyArray<Sample>) =>
    [isPodCreate, isEventWrite, isStatusWrite("batchworkloads"), isStatusWrite("daemonsets")].map((p) => total(samples, p)).join(",")
  let last = await scrape(bench)
  for (let i = 0; i < 15; i++) {
    await sleep(2_000)
    const next = await scrape(bench)
    if (fingerprint(next) === fingerprint(last)) return next
    last = next
  }
  return last
}

/** The counters every contender reports, between two scrapes. */
const counted = (before: ReadonlyArray<Sample>, after: ReadonlyArray<Sample>, nodes: number) => ({
  podCreates: delta(before, after, isPodCreate) / nodes,
  eventWrites: delta(before, after, isEventWrite),
  lists: delta(before, after, isContenderList)
})

/** "POST 201: 50, PATCH 200: 3": the requests matching `predicate` between two scrapes, by verb and code. */
const byVerbAndCode = (before: ReadonlyArray<Sample>, after: ReadonlyArray<Sample>, predicate: Predicate): string => {
  const keys = new Set(after.filter((s) => predicate(s.labels)).map((s) => `${s.labels["verb"]} ${s.labels["code"]}`))
  return [...keys]
    .map((key) => [key, delta(before, after, (l) => predicate(l) && `${l["verb"]} ${l["code"]}` === key)] as const)
    .filter(([, n]) => n > 0)
    .map(([key, n]) => `${key}: ${n}`)
    .join(", ")
}

const report = (name: string, before: ReadonlyArray<Sample>, after: ReadonlyArray<Sample>, extra: string): void => {
  const lists = listsByResource(before, after)
  say(`${name}: ${extra}`)
  say(`${name}: LISTs in the window: ${lists === "" ? "none" : lists}; Event writes: ${byVerbAndCode(before, after, isEventWrite) || "none"}; pod creates: ${byVerbAndCode(before, after, isPodCreate) || "none"}`)
}

/** "kwok 50, batch-workload-operator 52": the Events in the namespace by who reported them (occurrences, `count`). */
const eventsByReporter = async (bench: Bench, namespace: string): Promise<string> => {
  const counts = new Map<string, number>()
  for (const event of (await bench.core.listNamespacedEvent({ namespace })).items) {
    const reporter = event.reportingComponent || event.source?.component || "?"
    counts.set(reporter, (counts.get(reporter) ?? 0) + (event.count ?? 1))
  }
  return [...counts].map(([reporter, n]) => `${reporter} ${n}`).join(", ") || "none"
}

const checkNodes = async (bench: Bench, name: string): Promise<number> => {
  const notReady = await notReadyNodes(bench.core)
  if (notReady > 0) {
    say(`WARNING: ${notReady} of ${bench.nodes} bench nodes were NotReady at the end of the ${name} run; its figures are suspect (see BENCHMARKS.md, "Stable nodes")`)
  }
  return notReady
}

/**
 * "create pods 42 ms (1000)": means of the operator's own histograms of its API requests (by verb
 * and kind) and of its reconciles, from its /metrics: where a slow run spends its time.
 */
const operatorRequestLatency = async (metricsPort: number): Promise<string> => {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
  const series = new Map<string, { sum: number; count: number }>()
  for (const line of text.split("\n")) {
    const match = /^(batch_operator_api_request_duration_seconds|controller_runtime_reconcile_time_seconds)_(sum|count)\{([^}]*)\} ([\d.e+-]+)/.exec(line)
    if (match === null) continue
    const labels = Object.fromEntries([...(match[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
    const key = match[1] === "controller_runtime_reconcile_time_seconds" ? "reconcile" : `${labels["verb"]} ${labels["kind"]}`
    const entry = series.get(key) ?? { sum: 0, count: 0 }
    if (match[2] === "sum") entry.sum += Number(match[4])
    else entry.count += Number(match[4])
    series.set(key, entry)
  }
  return [...series].filter(([, { count }]) => count > 0)
    .map(([key, { sum, count }]) => `${key} ${((sum / count) * 1000).toFixed(0)} ms (${count})`).join(", ")
}

/** The operator as the image runs it: the bundle, built once per bench. */
const operatorBundle = path.join(repoRoot, "dist", "operator.mjs")
const buildOperatorBundle = (): void => {
  execFileSync("sh", [path.join(repoRoot, "scripts", "bundle.sh")], { stdio: "inherit" })
}

const runOperator = async (bench: Bench, batchSize: number): Promise<Row> => {
  const namespace = "bench-operator"
  const name = "bench"
  await createNamespace(bench.core, namespace)
  const [metricsPort, healthPort] = [await freePort(), await freePort()]
  const started = performance.now()
  const operator = track(spawn(
    process.execPath,
    // As the image runs it (Dockerfile ENTRYPOINT): the bundle, a 1 MB young generation, V8's smaller heap growth.
    [
      "--max-semi-space-size=1",
      "--optimize-for-size",
      // BWO_BENCH_NODE_FLAGS adds Node/V8 flags, to weigh one before it goes into the Dockerfile (--no-X takes one out).
      ...(process.env["BWO_BENCH_NODE_FLAGS"] ?? "").split(" ").filter((flag) => flag !== ""),
      // BWO_BENCH_CPU_PROF=DIR writes a V8 CPU profile of the operator there (open it in Chrome DevTools).
      ...(process.env["BWO_BENCH_CPU_PROF"] !== undefined ? ["--cpu-prof", `--cpu-prof-dir=${process.env["BWO_BENCH_CPU_PROF"]}`] : []),
      operatorBundle,
      "--metrics-port",
      String(metricsPort),
      "--health-port",
      String(healthPort),
      "--callback-port",
      "0",
      "--kube-api-qps",
      String(settings.qps),
      "--kube-api-burst",
      String(settings.burst)
    ],
    { env: { ...process.env, KUBECONFIG: bench.cp.kubeconfigPath, LOG_LEVEL: "Warn" }, stdio: ["ignore", "inherit", "inherit"] }
  ))
  const pid = operator.pid
  if (pid === undefined) throw new Error("could not start the operator")
  try {
    // Start-up: caches synced (/readyz), with every node in the node cache.
    await pollUntil("operator /readyz", 300_000, async () => {
      if (operator.exitCode !== null) throw new Error(`the operator exited with ${operator.exitCode} during start-up`)
      try {
        return (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok
      } catch {
        return false
      }
    })
    const startupSeconds = seconds(performance.now() - started)
    const startupCpu = cpuSeconds(pid)
    const before = await scrape(bench)
    await sleep(5_000)
    const idleRss = memory(pid).rss

    const pods = watchPods(bench.kc, namespace, bench.nodes)
    const custom = bench.kc.makeApiClient(k8s.CustomObjectsApi)
    const complete = waitForObject(
      bench.kc,
      `/apis/batch.example.com/v1alpha1/namespaces/${namespace}/batchworkloads?fieldSelector=metadata.name%3D${name}`,
      (workload) => conditionTrue(workload, "Complete"),
      (workload) => (workload.status?.phase === "Failed" ? "the workload Failed" : undefined),
      "the BatchWorkload's Complete condition"
    )
    await Promise.all([pods.connected, complete.connected])
    const cpuBefore = cpuSeconds(pid)
    const machineBefore = cpuSnapshot(bench.cp)
    const applied = performance.now()
    await custom.createNamespacedCustomObject({
      group: "batch.example.com",
      version: "v1alpha1",
      namespace,
      plural: "batchworkloads",
      body: {
        apiVersion: "batch.example.com/v1alpha1",
        kind: "BatchWorkload",
        metadata: { name, namespace },
        spec: { nodeSelector: nodeLabel, image, batchSize, podAnnotations }
      }
    })
    const completed = await complete.done
    const machineAfter = cpuSnapshot(bench.cp)
    const after = await settledScrape(bench)
    const cpu = cpuSeconds(pid) - cpuBefore
    const { peak } = memory(pid)
    const firstAt = pods.firstAt()
    const lastReady = pods.allReadyAt()
    pods.stop()
    report("operator", before, after, `start-up ${startupSeconds.toFixed(1)} s and ${startupCpu.toFixed(1)} CPU s; all pods Ready (bench's watch) at ${lastReady === undefined ? "?" : seconds(lastReady - applied).toFixed(1)} s; ${pods.flight()}`)
    say(`operator: CPU s of the control plane while it ran: ${describeCpu(machineBefore, machineAfter)}`)
    const notReady = await checkNodes(bench, "operator")
    say(`operator: Events in the namespace (occurrences by reporter): ${await eventsByReporter(bench, namespace)}`)
    say(`operator: its API request latency (mean ms by verb and kind): ${await operatorRequestLatency(metricsPort)}`)

    // Clean up: the operator deletes its pods (finalizer), then it stops, then the namespace goes.
    await custom.deleteNamespacedCustomObject({ group: "batch.example.com", version: "v1alpha1", namespace, plural: "batchworkloads", name })
    await pollUntil("BatchWorkload deleted", 600_000, async () => {
      try {
        await custom.getNamespacedCustomObject({ group: "batch.example.com", version: "v1alpha1", namespace, plural: "batchworkloads", name })
        return false
      } catch (e) {
        if (isNotFound(e)) return true
        throw e
      }
    })
    await waitForNoPods(bench.core, namespace)
    return {
      contender: "operator",
      makespan: seconds(completed - applied),
      firstCreate: firstAt === undefined ? undefined : seconds(firstAt - applied),
      ...counted(before, after, bench.nodes),
      statusWrites: delta(before, after, isStatusWrite("batchworkloads")),
      cpu,
      idleRss,
      peakRss: peak,
      notReady
    }
  } finally {
    await stopChild(operator)
    await deleteNamespace(bench.core, namespace)
  }
}

const runClientGo = async (bench: Bench, binary: string, batchSize: number): Promise<Row> => {
  const namespace = "bench-client-go"
  await createNamespace(bench.core, namespace)
  const program = track(spawn(binary, [
    `-namespace=${namespace}`,
    `-selector=${nodeSelector}`,
    `-concurrency=${batchSize}`,
    `-image=${image}`,
    `-annotations=${JSON.stringify(podAnnotations)}`,
    "-name-prefix=clientgo",
    `-qps=${settings.qps}`,
    `-burst=${settings.burst}`
  ], { env: { ...process.env, KUBECONFIG: bench.cp.kubeconfigPath }, stdio: ["pipe", "pipe", "inherit"] }))
  const pid = program.pid
  if (pid === undefined || program.stdin === null) throw new Error(`could not start ${binary}`)
  const stdin = program.stdin
  const readLine = lineReader(program)
  try {
    // Start-up: nodes listed, pod watch open.
    const ready = await readLine()
    if (ready === undefined || !ready.startsWith("ready ")) throw new Error(`clientgo-bench did not start (said ${ready ?? "nothing"})`)
    if (Number(ready.slice("ready ".length)) !== bench.nodes) throw new Error(`clientgo-bench found ${ready.slice(6)} nodes, not ${bench.nodes}`)
    const before = await scrape(bench)
    const idleRss = memory(pid).rss
    const pods = watchPods(bench.kc, namespace, bench.nodes)
    await pods.connected
    const cpuBefore = cpuSeconds(pid)
    const machineBefore = cpuSnapshot(bench.cp)
    const started = performance.now()
    stdin.write("go\n")
    let timer: NodeJS.Timeout | undefined
    const resultLine = await Promise.race([
      readLine(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`clientgo-bench did not finish within ${runTimeoutMs / 1000} s`)), runTimeoutMs)
      })
    ]).finally(() => clearTimeout(timer))
    const finished = performance.now()
    const machineAfter = cpuSnapshot(bench.cp)
    if (resultLine === undefined) throw new Error("clientgo-bench exited before every pod was Ready")
    const after = await settledScrape(bench)
    const cpu = cpuSeconds(pid) - cpuBefore
    const { peak } = memory(pid)
    // Its own JSON report.
    const result = JSON.parse(resultLine) as { makespanSeconds: number; createRetries: number; meanCreateMillis: number }
    stdin.end("exit\n")
    await exited(program)
    const firstAt = pods.firstAt()
    pods.stop()
    say(`client-go: ${pods.flight()}`)
    report("client-go", before, after, `its own makespan ${result.makespanSeconds.toFixed(1)} s, ${result.createRetries} create retries, pod create latency ${result.meanCreateMillis.toFixed(0)} ms (mean)`)
    say(`client-go: CPU s of the control plane while it ran: ${describeCpu(machineBefore, machineAfter)}`)
    const notReady = await checkNodes(bench, "client-go")
    say(`client-go: Events in the namespace (occurrences by reporter): ${await eventsByReporter(bench, namespace)}`)
    return {
      contender: "client-go",
      makespan: seconds(finished - started),
      firstCreate: firstAt === undefined ? undefined : seconds(firstAt - started),
      ...counted(before, after, bench.nodes),
      statusWrites: undefined,
      cpu,
      idleRss,
      peakRss: peak,
      notReady
    }
  } finally {
    await stopChild(program)
    const core = bench.core
    await core.deleteCollectionNamespacedPod({ namespace })
    await waitForNoPods(core, namespace)
    await deleteNamespace(core, namespace)
  }
}

const runDaemonSet = async (bench: Bench): Promise<Row> => {
  const namespace = "bench-daemonset"
  const name = "bench"
  await createNamespace(bench.core, namespace)
  const apps = bench.kc.makeApiClient(k8s.AppsV1Api)
  try {
    const kcm = bench.cp.processes["kube-controller-manager"]
    const before = await scrape(bench)
    const pods = watchPods(bench.kc, namespace, bench.nodes)
    const ready = waitForObject(
      bench.kc,
      `/apis/apps/v1/namespaces/${namespace}/daemonsets?fieldSelector=metadata.name%3D${name}`,
      (ds) => ds.status?.desiredNumberScheduled === bench.nodes && ds.status.numberReady === bench.nodes,
      () => undefined,
      "the DaemonSet's numberReady"
    )
    await Promise.all([pods.connected, ready.connected])
    const cpuBefore = kcm ? cpuSeconds(kcm.pid) : undefined
    const machineBefore = cpuSnapshot(bench.cp)
    const started = performance.now()
    await apps.createNamespacedDaemonSet({
      namespace,
      body: {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name, namespace },
        spec: {
          selector: { matchLabels: { "bench.batch.example.com/run": "daemonset" } },
          template: {
            metadata: { labels: { "bench.batch.example.com/run": "daemonset" }, annotations: podAnnotations },
            spec: {
              nodeSelector: nodeLabel,
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: { seccompProfile: { type: "RuntimeDefault" } },
              containers: [{
                name: "workload",
                image,
                securityContext: { allowPrivilegeEscalation: false, seccompProfile: { type: "RuntimeDefault" } }
              }]
            }
          }
        }
      }
    })
    const completed = await ready.done
    const machineAfter = cpuSnapshot(bench.cp)
    const after = await settledScrape(bench)
    const cpu = kcm && cpuBefore !== undefined ? cpuSeconds(kcm.pid) - cpuBefore : undefined
    const firstAt = pods.firstAt()
    pods.stop()
    report("daemonset", before, after, `pod bindings (kube-scheduler) ${delta(before, after, (l) => l["resource"] === "pods" && l["subresource"] === "binding")}`)
    say(`daemonset: CPU s of the control plane while it ran: ${describeCpu(machineBefore, machineAfter)}`)
    const notReady = await checkNodes(bench, "daemonset")
    say(`daemonset: Events in the namespace (occurrences by reporter): ${await eventsByReporter(bench, namespace)}`)
    await apps.deleteNamespacedDaemonSet({ namespace, name })
    await waitForNoPods(bench.core, namespace)
    return {
      contender: "DaemonSet",
      makespan: seconds(completed - started),
      firstCreate: firstAt === undefined ? undefined : seconds(firstAt - started),
      ...counted(before, after, bench.nodes),
      statusWrites: delta(before, after, isStatusWrite("daemonsets")),
      cpu,
      idleRss: undefined,
      peakRss: undefined,
      notReady
    }
  } finally {
    await deleteNamespace(bench.core, namespace)
  }
}

// ---------------------------------------------------------------------------------------------
// Output.

const machine = (): string => {
  const cpus = os.cpus()
  const model = cpus[0]?.model.replace(/\s+/g, " ").trim() ?? "unknown CPU"
  return `${os.availableParallelism()} cores (${model}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}`
}

const fixed = (value: number | undefined, digits: number): string => (value === undefined ? "n/a" : value.toFixed(digits))

const printTable = (rows: ReadonlyArray<Row>, nodes: number, batchSize: number): void => {
  const reference = rows.find((row) => row.contender === "client-go")
  const header = [
    "contender",
    "makespan s",
    "ratio to client-go",
    "first create s",
    "pod creates/node",
    "status writes",
    "event writes",
    "LISTs after start",
    "CPU s",
    "idle RSS MB",
    "peak RSS MB"
  ]
  const cells = rows.map((row) => [
    row.contender === "DaemonSet" ? "DaemonSet ¹" : row.contender,
    fixed(row.makespan, 1),
    reference ? `${(row.makespan / reference.makespan).toFixed(2)}x` : "n/a",
    fixed(row.firstCreate, 2),
    fixed(row.podCreates, 2),
    row.statusWrites === undefined ? "n/a" : String(row.statusWrites),
    String(row.eventWrites),
    String(row.lists),
    row.contender === "DaemonSet" && row.cpu !== undefined ? `${row.cpu.toFixed(2)} ²` : fixed(row.cpu, 2),
    fixed(row.idleRss, 0),
    fixed(row.peakRss, 0)
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)))
  const line = (values: ReadonlyArray<string>) =>
    `| ${values.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join(" | ")} |`
  console.log("")
  console.log(`${new Date().toISOString().slice(0, 10)}, ${machine()}, Node ${process.version}; ${nodes} nodes, batchSize ${batchSize}, pods Ready 1 s after start, client-side limit ${settings.qps} QPS / burst ${settings.burst} for the operator and client-go`)
  console.log("")
  console.log(line(header))
  console.log(`| ${widths.map((w, i) => (i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`)
  for (const c of cells) console.log(line(c))
  const targets = targetsLine(rows, nodes)
  if (targets !== undefined) console.log(`\n${targets}`)
  console.log("")
  const kcmRate = settings.kcmQps === 20
    ? "its default, --kube-api-qps 20, --kube-api-burst 30"
    : `--kube-api-qps ${settings.kcmQps}, --kube-api-burst ${settings.kcmQps * 2}, from --kcm-qps`
  console.log(
    "¹ DaemonSet: kube-controller-manager's DaemonSet controller: no batch limit (every pod at once, in its slow-start " +
      `batches of 1, 2, 4, ...), at kube-controller-manager's client rate limit (${kcmRate}); ` +
      "kube-scheduler binds its pods. Its status writes are daemonsets/status."
  )
  console.log("² CPU of the whole kube-controller-manager over the run (all its controllers).")
  console.log(
    `client-go: bench/clientgo, rest.Config QPS ${settings.qps}, Burst ${settings.burst} (the operator runs with the same --kube-api-qps and --kube-api-burst), at most ${batchSize} pods not yet Ready, one pod watch.`
  )
  console.log(
    "Event writes include kwok's \"Started\" Event per pod (the client-go row writes none itself) and, for the DaemonSet, " +
      "kube-scheduler's \"Scheduled\" Event per pod. LISTs after start leave out kube-apiserver's LimitRanger admission " +
      "(one live LIST of a new namespace's LimitRanges per 30 s)."
  )
  console.log(`Bench nodes NotReady at the end of each run: ${rows.map((row) => `${row.contender} ${row.notReady}`).join(", ")}.`)
}

/** The operator's makespan over client-go's, when both ran. */
const makespanRatio = (rows: ReadonlyArray<Row>): number | undefined => {
  const operator = rows.find((row) => row.contender === "operator")
  const reference = rows.find((row) => row.contender === "client-go")
  return operator !== undefined && reference !== undefined ? operator.makespan / reference.makespan : undefined
}

const targetsLine = (rows: ReadonlyArray<Row>, nodes: number): string | undefined => {
  const operator = rows.find((row) => row.contender === "operator")
  if (operator === undefined) return undefined
  const ratio = makespanRatio(rows)
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED")
  const peakLimit = nodes <= 1000 ? 200 : 300
  return `targets: ${[
    ratio !== undefined
      ? `makespan ≤ 1.2x client-go: ${ratio.toFixed(2)}x ${verdict(ratio <= 1.2)}`
      : "makespan ≤ 1.2x client-go: n/a (client-go not run)",
    `1.00 pod creates/node: ${operator.podCreates.toFixed(2)} ${verdict(operator.podCreates === 1)}`,
    `no LIST after start-up: ${operator.lists} ${verdict(operator.lists === 0)}`,
    `peak RSS ≤ ${peakLimit} MB (the target at ${nodes <= 1000 ? "1,000" : "5,000"} nodes): ${fixed(operator.peakRss, 0)} MB ${
      verdict((operator.peakRss ?? Infinity) <= peakLimit)
    }`,
    `idle RSS ≤ 150 MB${nodes >= 5000 ? "" : " (the target at 5,000 nodes)"}: ${fixed(operator.idleRss, 0)} MB ${verdict((operator.idleRss ?? Infinity) <= 150)}`
  ].join("; ")}`
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] ?? 0 : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}

const roundsLine = (ratios: ReadonlyArray<number>): string => {
  const middle = median(ratios)
  return `makespan ratio to client-go by round: ${ratios.map((r) => `${r.toFixed(2)}x`).join(", ")}; median ${middle.toFixed(2)}x ` +
    `(target ≤ 1.2x: ${middle <= 1.2 ? "met" : "MISSED"}), ${ratios.filter((r) => r <= 1.2).length} of ${ratios.length} rounds within it`
}

const missing = (what: string): never => {
  throw new Error(what)
}

const runContender = async (bench: Bench, contender: Contender, binary: string | undefined): Promise<Row> => {
  say(`${contender}: running`)
  const started = performance.now()
  const row = contender === "operator"
    ? await runOperator(bench, settings.batchSize)
    : contender === "daemonset"
    ? await runDaemonSet(bench)
    : await runClientGo(bench, binary ?? missing("the client-go program was not built"), settings.batchSize)
  say(`${contender}: done, cleaned up (${seconds(performance.now() - started).toFixed(0)} s in all)`)
  return row
}

// ---------------------------------------------------------------------------------------------
// Main.

const main = async (): Promise<void> => {
  const binary = settings.run.includes("client-go") ? buildClientGo() : undefined
  if (settings.run.includes("operator")) buildOperatorBundle()
  say(`starting the control plane (${settings.nodes} nodes; contenders: ${settings.run.join(", ")})`)
  // Nodes must stay Ready for the whole bench, and their heartbeats must not load the API server
  // the contenders share: kwok renews each Lease every 100 s (50 a second at 5,000 nodes), and a
  // node goes NotReady only after 10 minutes without one.
  const cp = await startControlPlane({
    log: () => undefined,
    stagesFile: quietHeartbeatStagesFile(),
    nodeHeartbeat: { leaseDurationSeconds: 400, monitorGracePeriodSeconds: 600 },
    controllerManagerArgs: settings.kcmQps === 20 ? [] : [`--kube-api-qps=${settings.kcmQps}`, `--kube-api-burst=${settings.kcmQps * 2}`]
  })
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return
    interrupted = true
    say(`${signal}: stopping`)
    for (const child of children) child.kill("SIGKILL")
    void cp.stop().finally(() => process.exit(130))
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  process.on("exit", () => {
    for (const child of children) child.kill("SIGKILL")
  })
  try {
    const kc = loadKubeConfig(cp.kubeconfigPath)
    const core = kc.makeApiClient(k8s.CoreV1Api)
    const bench: Bench = { cp, kc, core, nodes: settings.nodes }
    await kubectlOk(["apply", "-f", path.join(repoRoot, "manifests", "crd.yaml")], { kubeconfig: cp.kubeconfigPath })
    // kubectl wait fails rather than waits while a new CRD has no status yet: try again for a while.
    for (let attempt = 1; ; attempt++) {
      const waited = await kubectl(["wait", "--for=condition=Established", "--timeout=30s", "crd/batchworkloads.batch.example.com"], {
        kubeconfig: cp.kubeconfigPath
      })
      if (waited.code === 0) break
      if (attempt === 10) throw new Error(`the CRD did not become Established: ${waited.stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 1_000))
    }
    await createNodes(cp, core, settings.nodes)
    const ratios: Array<number> = []
    for (let round = 1; round <= settings.rounds; round++) {
      // Every other round in reverse order, so no contender always meets the API server first.
      const order = round % 2 === 1 ? settings.run : [...settings.run].reverse()
      if (settings.rounds > 1) say(`round ${round} of ${settings.rounds}: ${order.join(", ")}`)
      const rows = new Map<Contender, Row>()
      for (const contender of order) rows.set(contender, await runContender(bench, contender, binary))
      // The table keeps the usual order whichever ran first.
      const table = settings.run.flatMap((contender) => rows.get(contender) ?? [])
      if (settings.rounds > 1) console.log(`\nRound ${round} of ${settings.rounds} (${order.join(", ")}):`)
      printTable(table, settings.nodes, settings.batchSize)
      const ratio = makespanRatio(table)
      if (ratio !== undefined) ratios.push(ratio)
    }
    if (settings.rounds > 1 && ratios.length > 0) console.log(`\n${roundsLine(ratios)}`)
    // The plugin's figure (issue: a 5,000-node status drawn within a second of arriving), in process.
    console.log(`\n${formatRenderFigure(measureStatusRender(Math.max(5000, settings.nodes)))}`)
  } finally {
    process.removeListener("SIGINT", onSignal)
    process.removeListener("SIGTERM", onSignal)
    if (!interrupted) await cp.stop()
  }
}

await main().then(() => process.exit(0), (e: unknown) => {
  console.error(`[bench] failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`)
  process.exit(1)
})
