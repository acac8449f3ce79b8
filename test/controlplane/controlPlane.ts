// A real Kubernetes control plane on loopback for integration tests and `npm run dev`:
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok, built from Go modules
// by scripts/build-control-plane.sh. See README.md in this directory.
import * as fs from "node:fs"
import * as https from "node:https"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { ensureBinaries, repoRoot } from "./binaries.ts"
import { generateCerts, type Certs } from "./certs.ts"
import { startProcess, startReaper, type ManagedProcess } from "./process.ts"

export interface ControlPlaneOptions {
  /** Working directory (certs, etcd data, logs, kubeconfig). Default: a new temp dir. */
  readonly dir?: string
  /** Keep `dir` after stop() (default: false, or true when BWO_KEEP_CONTROLPLANE_DIR=1). */
  readonly keepDir?: boolean
  /** Directory with the binaries. Default: BWO_CONTROLPLANE_BIN_DIR or the build script's cache. */
  readonly binDir?: string
  /** kwok stages file. Default: test/controlplane/kwok-stages.yaml. */
  readonly stagesFile?: string
  /** Start kube-scheduler (default true) so pods without spec.nodeName get scheduled onto fake nodes. */
  readonly scheduler?: boolean
  /** Extra kube-apiserver flags, e.g. ["--v=4"]. */
  readonly apiServerArgs?: ReadonlyArray<string>
  /** Extra kube-controller-manager flags, e.g. the bench's ["--kube-api-qps=200"]. */
  readonly controllerManagerArgs?: ReadonlyArray<string>
  /** Progress messages (default: stderr). */
  readonly log?: (message: string) => void
  /** Per-component start timeout (default 60 s). */
  readonly startTimeoutMs?: number
  /**
   * Node heartbeat settings (default: the tests' `kwokNodeLeaseDurationSeconds` and
   * `kcmNodeMonitorGracePeriodSeconds`). The bench lengthens both: kwok renews every Lease each
   * quarter of the duration, so 5,000 nodes on a 40 s Lease are 500 renewals a second, more than a
   * 2-core machine serves beside the work it measures, and nodes that miss a renewal go NotReady.
   */
  readonly nodeHeartbeat?: { readonly leaseDurationSeconds: number; readonly monitorGracePeriodSeconds: number }
}

export interface RestartOptions {
  readonly downMs?: number
  readonly crash?: boolean
}

export interface ControlPlane {
  /** Admin kubeconfig (client cert in group system:masters). */
  readonly kubeconfigPath: string
  /** https://127.0.0.1:PORT */
  readonly server: string
  /** CA that signed the API server's serving cert (undefined for an existing cluster without one on disk). */
  readonly caPath: string | undefined
  /** Working directory: certs/, etcd/, logs/<component>.log, kubeconfig. */
  readonly dir: string
  /** Directory with the binaries (undefined for an existing cluster). */
  readonly binDir: string | undefined
  /** true when KUBECONFIG_FOR_TESTS pointed at an existing cluster and nothing was started. */
  readonly external: boolean
  /** The running components by name (empty for an existing cluster). */
  readonly processes: Readonly<Record<string, ManagedProcess>>
  /**
   * Stops kube-apiserver (SIGTERM, graceful: watches are closed; `crash: true`: SIGKILL, connections
   * just drop), waits `downMs` (default 0), starts it again on the same port and waits for /readyz.
   * etcd keeps running, so every object and resourceVersion survives.
   */
  restartApiServer(options?: RestartOptions): Promise<void>
  /** Kills every component (process groups) and removes `dir` unless kept. Idempotent. */
  stop(): Promise<void>
}

export const defaultStagesFile: string = path.join(repoRoot, "test", "controlplane", "kwok-stages.yaml")

/**
 * The tests' kwok stages with the node status heartbeat every 5 minutes (jittered by up to 1),
 * as a kubelet with a Lease posts it (nodeStatusReportFrequency), instead of every 20-45 s: the
 * benches' Lease keeps their nodes Ready, and at 5,000 nodes the faster heartbeat alone was 130
 * status patches a second that kept kwok and kube-apiserver at 100 % of both cores. Written to
 * a new temporary file, whose path is returned.
 */
export const quietHeartbeatStagesFile = (): string => {
  const stages = fs.readFileSync(defaultStagesFile, "utf8")
  const heartbeat = "name: node-heartbeat\n"
  const delay = "    durationMilliseconds: 20000\n    jitterDurationMilliseconds: 25000\n"
  const at = stages.indexOf(delay, stages.indexOf(heartbeat))
  if (!stages.includes(heartbeat) || at < 0) throw new Error(`${defaultStagesFile}: the node-heartbeat stage's delay is not where it is expected`)
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bwo-bench-stages-")), "kwok-stages.yaml")
  fs.writeFileSync(file, stages.slice(0, at) + "    durationMilliseconds: 300000\n    jitterDurationMilliseconds: 60000\n" + stages.slice(at + delay.length))
  return file
}

/**
 * kwok answers every pod's log (the API server's pods/log, `kubectl logs`) from this one file in
 * the control plane's dir, and `-f` follows what is appended to it. kwok reads it in the CRI log
 * format (criLogLine); its ClusterLogs config (podLogsYaml) is read once, when kwok starts.
 */
export const podLogPath = (dir: string): string => path.join(dir, "pod.log")
export const criLogLine = (text: string): string => `${new Date().toISOString()} stdout F ${text}\n`
/** Appends a line to every pod's log, for a test that follows one. */
export const appendPodLog = (dir: string, text: string): void => fs.appendFileSync(podLogPath(dir), criLogLine(text))
const podLogsYaml = (file: string) =>
  ["apiVersion: kwok.x-k8s.io/v1alpha1", "kind: ClusterLogs", "metadata:", "  name: pod-logs", "spec:", "  logs:", `  - logsFile: ${JSON.stringify(file)}`, "    follow: true", ""]
    .join("\n")

/** `kwok --node-lease-duration-seconds`: kwok renews each fake node's Lease every quarter of this. */
export const kwokNodeLeaseDurationSeconds = 40

/**
 * kube-controller-manager `--node-monitor-grace-period` (Kubernetes' default: 50 s): how long a
 * node may go without a Lease renewal or status heartbeat before the node lifecycle controller
 * marks it NotReady (Ready=Unknown). Lowered so that a test's node outage (makeNodeUnreachable
 * in nodes.ts) shows within 46-70 s rather than 50-100 s; kwok renews Leases every 10 s, so the
 * nodes it manages still stay Ready (checked: 12 nodes for 5.5 minutes).
 */
export const kcmNodeMonitorGracePeriodSeconds = 20

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address()
      const port = typeof addr === "object" && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

interface TlsClient {
  readonly ca: Buffer
  readonly cert: Buffer
  readonly key: Buffer
}

const get = (url: string, tls?: TlsClient): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage): void => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (c: string) => (body += c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
    }
    const req = url.startsWith("https:")
      ? https.get(url, { ...tls, timeout: 5_000 }, onResponse)
      : http.get(url, { timeout: 5_000 }, onResponse)
    req.on("timeout", () => req.destroy(new Error("timeout")))
    req.on("error", reject)
  })

/** Polls `check` until it returns true; fails early if `proc` exits; throws with the log tail. */
const waitFor = async (proc: ManagedProcess, what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  let lastError = ""
  for (;;) {
    if (!proc.isRunning()) {
      const code = await proc.exited
      throw new Error(
        `${proc.name} exited (${code}) before ${what}.\n--- last lines of ${proc.logPath} ---\n${proc.logTail(40)}`
      )
    }
    try {
      if (await check()) return
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e)
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${proc.name} did not get to "${what}" within ${timeoutMs} ms` +
          (lastError ? ` (last error: ${lastError})` : "") +
          `.\n--- last lines of ${proc.logPath} ---\n${proc.logTail(40)}`
      )
    }
    await sleep(200)
  }
}

const writeKubeconfig = (file: string, server: string, certs: Certs, user: string): void => {
  const b64 = (f: string): string => fs.readFileSync(f).toString("base64")
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "bwo-test", cluster: { server, "certificate-authority-data": b64(certs.caCert) } }],
    users: [{ name: user, user: { "client-certificate-data": b64(certs.adminCert), "client-key-data": b64(certs.adminKey) } }],
    contexts: [{ name: "bwo-test", context: { cluster: "bwo-test", user, namespace: "default" } }],
    "current-context": "bwo-test",
    preferences: {}
  }
  // JSON is YAML: kubectl, client-go and @kubernetes/client-node all read it.
  fs.writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 })
}

/** Existing-cluster mode (KUBECONFIG_FOR_TESTS): nothing is started. */
const useExistingCluster = (kubeconfigPath: string): ControlPlane => {
  if (!fs.existsSync(kubeconfigPath)) throw new Error(`KUBECONFIG_FOR_TESTS=${kubeconfigPath} does not exist`)
  const text = fs.readFileSync(kubeconfigPath, "utf8")
  const server = /server:\s*"?([^"\s]+)"?/.exec(text)?.[1] ?? /"server":\s*"([^"]+)"/.exec(text)?.[1] ?? ""
  return {
    kubeconfigPath,
    server,
    caPath: undefined,
    dir: path.dirname(kubeconfigPath),
    binDir: undefined,
    external: true,
    processes: {},
    restartApiServer: () =>
      Promise.reject(new Error("restartApiServer is not available with KUBECONFIG_FOR_TESTS (an existing cluster)")),
    stop: () => Promise.resolve()
  }
}

export const startControlPlane = async (opts: ControlPlaneOptions = {}): Promise<ControlPlane> => {
  const existing = process.env["KUBECONFIG_FOR_TESTS"]
  if (existing) return useExistingCluster(existing)

  const log = opts.log ?? ((m: string) => process.stderr.write(`[controlplane] ${m}\n`))
  const timeout = opts.startTimeoutMs ?? 60_000
  const keepDir = opts.keepDir ?? process.env["BWO_KEEP_CONTROLPLANE_DIR"] === "1"
  const binDir = opts.binDir ?? (await ensureBinaries((l) => log(l)))
  const bin = (name: string): string => path.join(binDir, name)
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "bwo-controlplane-"))
  fs.mkdirSync(path.join(dir, "logs"), { recursive: true })
  const logPath = (name: string): string => path.join(dir, "logs", `${name}.log`)
  const pgidFile = path.join(dir, "pgids")

  const processes: Record<string, ManagedProcess> = {}
  const recordPgids = (): void => {
    fs.writeFileSync(pgidFile, Object.values(processes).map((p) => p.pid).filter((p) => p > 0).join("\n") + "\n")
  }
  const reaper = startReaper({ pgidFile, logPath: logPath("reaper"), ...(keepDir ? {} : { removeDir: dir }) })
  const start = (name: string, args: ReadonlyArray<string>): ManagedProcess => {
    const p = startProcess({ name, command: bin(name), args, logPath: logPath(name) })
    processes[name] = p
    recordPgids()
    return p
  }

  let stopped = false
  const removeDirOnExit = (): void => {
    if (!keepDir) fs.rmSync(dir, { recursive: true, force: true })
  }
  process.on("exit", removeDirOnExit)
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    // Reverse start order: kwok and controllers first, etcd last.
    for (const p of Object.values(processes).reverse()) await p.stop(p.name === "etcd" ? 10_000 : 5_000)
    await reaper.stop(1_000)
    process.removeListener("exit", removeDirOnExit)
    removeDirOnExit()
  }

  try {
    const certs = generateCerts(path.join(dir, "certs"))
    const tls: TlsClient = {
      ca: fs.readFileSync(certs.caCert),
      cert: fs.readFileSync(certs.adminCert),
      key: fs.readFileSync(certs.adminKey)
    }

    // etcd
    const [etcdClient, etcdPeer, apiPort, kwokPort] = [await freePort(), await freePort(), await freePort(), await freePort()]
    const etcdUrl = `http://127.0.0.1:${etcdClient}`
    const etcd = start("etcd", [
      "--name=default",
      `--data-dir=${path.join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      "--unsafe-no-fsync=true",
      "--log-level=warn"
    ])
    log(`etcd starting on ${etcdUrl}`)
    await waitFor(etcd, "healthy", timeout, async () => {
      const r = await get(`${etcdUrl}/health`)
      return r.status === 200 && r.body.includes('"true"')
    })

    // kube-apiserver
    const server = `https://127.0.0.1:${apiPort}`
    const apiServerArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${path.join(dir, "certs")}`,
      `--tls-cert-file=${certs.servingCert}`,
      `--tls-private-key-file=${certs.servingKey}`,
      `--client-ca-file=${certs.caCert}`,
      `--secure-port=${apiPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      "--service-cluster-ip-range=10.0.0.0/24",
      "--authorization-mode=RBAC",
      "--allow-privileged=true",
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${certs.serviceAccountPub}`,
      `--service-account-signing-key-file=${certs.serviceAccountKey}`,
      "--profiling=false",
      // Without this a graceful stop waits 60 s for open watches to finish.
      "--shutdown-watch-termination-grace-period=2s",
      // pods/log reaches kwok's kubelet API at the nodes' InternalIP (127.0.0.1, see kwok's --node-ip).
      "--kubelet-preferred-address-types=InternalIP",
      ...(opts.apiServerArgs ?? [])
    ]
    const startApiServer = async (): Promise<void> => {
      const apiserver = start("kube-apiserver", apiServerArgs)
      await waitFor(apiserver, "/readyz ok", Math.max(timeout, 90_000), async () => {
        const r = await get(`${server}/readyz`, tls)
        return r.status === 200
      })
    }
    log(`kube-apiserver starting on ${server}`)
    await startApiServer()

    const kubeconfigPath = path.join(dir, "kubeconfig")
    writeKubeconfig(kubeconfigPath, server, certs, "admin")

    // kube-controller-manager: real garbage collection, namespace deletion, service accounts.
    const startControllerManager = async (): Promise<void> => {
      const kcm = start("kube-controller-manager", [
        `--kubeconfig=${kubeconfigPath}`,
        "--controllers=*",
        "--leader-elect=false",
        "--secure-port=0",
        "--use-service-account-credentials=true",
        `--service-account-private-key-file=${certs.serviceAccountKey}`,
        `--root-ca-file=${certs.caCert}`,
        `--cluster-signing-cert-file=${certs.caCert}`,
        `--cluster-signing-key-file=${certs.caKey}`,
        "--concurrent-gc-syncs=5",
        `--node-monitor-grace-period=${opts.nodeHeartbeat?.monitorGracePeriodSeconds ?? kcmNodeMonitorGracePeriodSeconds}s`,
        ...(opts.controllerManagerArgs ?? [])
      ])
      log("kube-controller-manager starting")
      await waitFor(kcm, `ServiceAccount default/default to exist`, timeout, async () => {
        const r = await get(`${server}/api/v1/namespaces/default/serviceaccounts/default`, tls)
        return r.status === 200
      })
    }
    await startControllerManager()

    if (opts.scheduler ?? true) {
      start("kube-scheduler", [`--kubeconfig=${kubeconfigPath}`, "--leader-elect=false", "--secure-port=0"])
      log("kube-scheduler started")
    }

    // kwok: fake kubelets for nodes annotated kwok.x-k8s.io/node=fake.
    const stagesFile = opts.stagesFile ?? defaultStagesFile
    const podLogsConfig = path.join(dir, "kwok-pod-logs.yaml")
    fs.writeFileSync(podLogPath(dir), criLogLine("kwok plays this pod: its log is the control plane's pod.log"))
    fs.writeFileSync(podLogsConfig, podLogsYaml(podLogPath(dir)))
    const startKwok = async () => {
      const kwok = start("kwok", [
        `--kubeconfig=${kubeconfigPath}`,
        `--config=${stagesFile}`,
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--cidr=10.244.0.0/16",
        // kwok serves the kubelet API (pods/log) on its server port; nodes advertise it there.
        "--node-ip=127.0.0.1",
        `--node-port=${kwokPort}`,
        `--config=${podLogsConfig}`,
        // kwok v0.7.0's own default is 0, which turns node Leases off: a node then lives on its
        // status heartbeat alone (every 20-45 s, against KCM's grace period), which a busy machine
        // can miss. With Leases kwok renews each node's Lease every 10 s, so nodes stay Ready, and a
        // test can make a node NotReady by taking its Lease away (see nodes.ts). kwok also manages
        // a node only while it holds its Lease.
        `--node-lease-duration-seconds=${opts.nodeHeartbeat?.leaseDurationSeconds ?? kwokNodeLeaseDurationSeconds}`,
        `--server-address=127.0.0.1:${kwokPort}`
      ])
      log("kwok starting")
      await waitFor(kwok, "/healthz ok", timeout, async () => (await get(`http://127.0.0.1:${kwokPort}/healthz`)).status === 200)
    }
    await startKwok()
    if (opts.scheduler ?? true) {
      const sched = processes["kube-scheduler"]
      if (sched && !sched.isRunning()) {
        throw new Error(`kube-scheduler exited (${await sched.exited}).\n--- last lines of ${sched.logPath} ---\n${sched.logTail(40)}`)
      }
    }
    log(`control plane ready: ${server} (kubeconfig ${kubeconfigPath}, logs ${path.join(dir, "logs")})`)

    let restarting: Promise<void> | undefined
    const restartApiServer = (options?: RestartOptions): Promise<void> => {
      if (stopped) return Promise.reject(new Error("control plane is stopped"))
      restarting ??= (async () => {
        const old = processes["kube-apiserver"]
        if (old) await old.stop(options?.crash ? 0 : 15_000)
        log(`kube-apiserver ${options?.crash ? "killed" : "stopped"}${options?.downMs ? `, restarting in ${options.downMs} ms` : ", restarting"}`)
        if (options?.downMs) await sleep(options.downMs)
        await startApiServer()
        log("kube-apiserver ready again")
        // After a long outage kube-controller-manager's controllers were seen to stall (no default
        // ServiceAccount in new namespaces, stale not-ready taints), failing later test files for
        // reasons of their own; one that starts afresh does not.
        await processes["kube-controller-manager"]?.stop(10_000)
        await startControllerManager()
        // kwok v0.7.0 likewise: after the restart it went on renewing node Leases but never played
        // pods created a few seconds later (they stayed Pending, no "Patch pod" in its log), so the
        // next test's workloads waited forever. A fresh kwok takes its Leases back and plays them.
        await processes["kwok"]?.stop(5_000)
        await startKwok()
      })().finally(() => {
        restarting = undefined
      })
      return restarting
    }

    return {
      kubeconfigPath,
      server,
      caPath: certs.caCert,
      dir,
      binDir,
      external: false,
      processes,
      restartApiServer,
      stop
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    // The error carries the failing component's log tail; the dir goes unless kept.
    await stop().catch(() => {})
    throw new Error(
      `starting the test control plane failed: ${message}` +
        (keepDir ? `\n(all logs: ${path.join(dir, "logs")})` : "\n(set BWO_KEEP_CONTROLPLANE_DIR=1 to keep all logs)")
    )
  }
}
