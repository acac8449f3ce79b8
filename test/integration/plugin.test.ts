// `kubectl bwl` (src/cli/main.ts) as a user runs it: a child process with the test kubeconfig,
// stdout a pipe (not a terminal), against the real control plane and the real operator.
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { accessSync, constants, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import type * as k8s from "@kubernetes/client-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { appendPodLog, fateAnnotations, makeNodeUnreachable, nodeReadyStatus, repoRoot, resolveKubectl } from "../controlplane/index.ts"
import {
  core,
  cp,
  createNodes,
  eventually,
  type OperatorProcess,
  podsOfWorkloadUid,
  recordPods,
  startOperator,
  useNamespace,
  workloadApi
} from "./support/operator.ts"

const namespace = useNamespace("plugin")
const workloads = workloadApi(namespace)
const suite = `plugin-${process.pid}`
const pool = { suite }
const node = (name: string) => `${suite}-${name}`
let operator: OperatorProcess
let outage: Promise<k8s.V1Node>

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `kubectl-bwl ARGS -n <namespace>` to its end: the sources on the project's Node, or `entry` on `node`. */
const bwl = (args: ReadonlyArray<string>, entry = path.join(repoRoot, "src", "cli", "main.ts"), node = process.execPath): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(node, [entry, ...args, "-n", namespace], {
      env: { ...process.env, KUBECONFIG: cp.kubeconfigPath },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += String(chunk)))
    child.stderr.on("data", (chunk) => (stderr += String(chunk)))
    child.on("error", reject)
    child.on("exit", (code) => resolve({ code, stdout, stderr }))
  })

const lines = (text: string) => text.split("\n").filter((line) => line !== "")

beforeAll(async () => {
  await createNodes([
    ...[1, 2, 3].map((i) => ({ name: node(String(i)), labels: pool })),
    { name: node("outage"), labels: pool },
    { name: node("cordoned"), labels: pool, unschedulable: true },
    { name: node("tainted"), labels: pool, taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] },
    { name: node("unlabelled"), labels: { other: suite } }
  ])
  // A real outage takes kube-controller-manager 20-70 s to notice; it runs while the other tests do.
  outage = makeNodeUnreachable(cp.kubeconfigPath, node("outage"))
  outage.catch(() => undefined)
  operator = startOperator(namespace)
})
afterAll(async () => {
  expect(await operator.stop()).toBe(0)
})

describe("status", () => {
  it("of a running workload prints what its status says", async () => {
    await workloads.create("steady", {
      nodeSelector: pool,
      replicas: 3,
      image: "busybox",
      batchSize: 2,
      timeout: "10m",
      podAnnotations: fateAnnotations("pending")
    })
    const status = await workloads.waitFor("steady", "two nodes in flight", (s) =>
      s.phase === "Running" && (s.nodeStatus ?? []).filter((n) => n.attempts > 0).length === 2)
    const run = await bwl(["status", "steady"])
    expect(run.code).toBe(0)
    const out = lines(run.stdout)
    expect(out[0]).toBe(`${namespace}/steady: Running · LongRunning · batchSize 2 · timeout 10m0s`)
    expect(out).toContain(`  succeeded  ${"░".repeat(30)}  0/${status.totalNodes}`)
    expect(out).toContain("In flight (2 of batchSize 2):")
    for (const entry of status.nodeStatus ?? []) {
      const row = out.find((line) => line.startsWith(`  ${entry.nodeName}  `))
      if (entry.attempts > 0) expect(row, entry.nodeName).toMatch(new RegExp(`^  ${entry.nodeName}  +${entry.phase}  +\\d+s / 10m0s  `))
      else expect(row, entry.nodeName).toBeUndefined()
    }
    for (const condition of status.conditions ?? []) {
      expect(out.some((line) => line.startsWith(`  ${condition.type} `) && line.includes(condition.message)), condition.type).toBe(true)
    }
    const data = await bwl(["status", "steady", "-o", "json"])
    expect(JSON.parse(data.stdout).status.phase).toBe("Running")
    const listed = await bwl(["status"])
    expect(listed.stdout).toMatch(new RegExp(`${namespace} +steady +Running`))
    await workloads.remove("steady")
  })

  it("--watch prints one line per change and exits 0 when the run succeeds", async () => {
    await workloads.create("good", {
      nodeSelector: pool,
      replicas: 3,
      mode: "RunToCompletion",
      image: "busybox",
      batchSize: 1,
      podAnnotations: fateAnnotations("complete", { delayMs: 300 })
    })
    const run = await bwl(["status", "good", "--watch"])
    expect(run.code, run.stderr).toBe(0)
    const out = lines(run.stdout)
    expect(out.at(-1)).toMatch(new RegExp(`^${namespace}/good Succeeded succeeded 3/3 failed 0 running 0 pending 0 in-flight \\[\\]$`))
    // One line per change: no line repeats the one before it, and the run was seen going through its nodes.
    out.forEach((line, i) => expect(line).not.toBe(out[i - 1]))
    expect(out.some((line) => line.includes(" Running "))).toBe(true)
    await workloads.remove("good")
  })

  it("--watch exits 1 when the run fails, saying so on stderr", async () => {
    await workloads.create("bad", {
      nodeSelector: pool,
      replicas: 2,
      mode: "RunToCompletion",
      image: "busybox",
      batchSize: 2,
      maxRetries: 0,
      podAnnotations: fateAnnotations("fail", { delayMs: 300 })
    })
    const run = await bwl(["status", "bad", "--watch"])
    expect(run.code).toBe(1)
    expect(lines(run.stdout).at(-1)).toMatch(/ Failed succeeded 0\/2 failed 2 /)
    expect(run.stderr).toContain("the run failed")
    await workloads.remove("bad")
  })

  it("of a workload that does not exist fails with a clear message", async () => {
    const run = await bwl(["status", "nosuch"])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(`batchworkload "nosuch" not found in namespace "${namespace}"`)
  })
})

describe("pause and resume", () => {
  it("set spec.paused and clear it", async () => {
    await workloads.create("held", { nodeSelector: pool, replicas: 1, image: "busybox" })
    expect((await bwl(["pause", "held"])).stdout).toContain(`batchworkload ${namespace}/held paused`)
    expect((await workloads.get("held")).spec["paused"]).toBe(true)
    expect((await bwl(["resume", "held"])).code).toBe(0)
    expect((await workloads.get("held")).spec["paused"]).toBe(false)
    await workloads.remove("held")
  })
})

/** The machine's own Node (the first on PATH outside node_modules), which may be as old as 20. */
const systemNode = () => {
  for (const dir of (process.env["PATH"] ?? "").split(path.delimiter).filter((d) => d !== "" && !d.includes("node_modules"))) {
    const candidate = path.join(dir, "node")
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here: keep looking
    }
  }
  throw new Error("no node on PATH outside node_modules: the bundle needs a system Node to be tested on")
}

describe("the bundle", () => {
  it("builds into one file that the system Node runs against the cluster", async () => {
    execFileSync("sh", [path.join(repoRoot, "scripts", "bundle.sh")])
    const node = systemNode()
    const major = Number(execFileSync(node, ["--version"]).toString().replace(/^v/, "").split(".")[0])
    expect(major).toBeGreaterThanOrEqual(20)
    const bundle = path.join(repoRoot, "dist", "kubectl-bwl.mjs")
    await workloads.create("bundled", { nodeSelector: pool, replicas: 1, mode: "RunToCompletion", image: "busybox", podAnnotations: fateAnnotations("complete") })
    const watched = await bwl(["status", "bundled", "--watch"], bundle, node)
    expect(watched.code, watched.stderr).toBe(0)
    expect(lines(watched.stdout).at(-1)).toContain(" Succeeded succeeded 1/1 ")
    await workloads.remove("bundled")
  })

  it("packs into an npm package that the system npm installs with no engine warning, and kubectl runs as kubectl bwl", async () => {
    const tarball = path.join(repoRoot, execFileSync("sh", [path.join(repoRoot, "scripts", "pack-plugin.sh")]).toString().trim())
    const nodeDir = path.dirname(systemNode())
    const prefix = mkdtempSync(path.join(tmpdir(), "bwl-install-"))
    const env = { ...process.env, PATH: [path.join(prefix, "bin"), nodeDir, ...(process.env["PATH"] ?? "").split(path.delimiter)].join(path.delimiter) }
    const installed = spawnSync(path.join(nodeDir, "npm"), ["install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", tarball], { env, encoding: "utf8" })
    expect(installed.status, installed.stderr).toBe(0)
    expect(installed.stderr).not.toContain("EBADENGINE")
    await workloads.create("installed", { nodeSelector: pool, replicas: 1, mode: "RunToCompletion", image: "busybox", podAnnotations: fateAnnotations("complete") })
    const viaKubectl = spawnSync(await resolveKubectl(), ["bwl", "status", "installed", "--watch", "-n", namespace], {
      env: { ...env, KUBECONFIG: cp.kubeconfigPath },
      encoding: "utf8",
      timeout: 120_000
    })
    expect(viaKubectl.status, viaKubectl.stderr).toBe(0)
    expect(lines(viaKubectl.stdout).at(-1)).toContain(" Succeeded succeeded 1/1 ")
    await workloads.remove("installed")
  })
})

describe("retry, logs and history", () => {
  it("retry --failed creates pods only on the failed nodes; logs of a node without a pod says so", async () => {
    // The third named node does not exist yet: the run ends Failed there (0 attempts), the others succeed.
    await workloads.create("partial", {
      nodeNames: [node("1"), node("2"), node("late")],
      mode: "RunToCompletion",
      image: "busybox",
      batchSize: 3,
      podAnnotations: fateAnnotations("complete", { delayMs: 200 })
    })
    const failed = await workloads.waitFor("partial", "Failed on the missing node", (s) => s.phase === "Failed" && s.succeededNodes === 2)
    expect(failed.nodeStatus?.find((n) => n.nodeName === node("late"))).toMatchObject({ phase: "Failed", attempts: 0 })

    const noPod = await bwl(["logs", "partial", "--node", node("late")])
    expect(noPod.code).toBe(1)
    expect(noPod.stderr).toContain(`node ${node("late")} has no pod of batchworkload ${namespace}/partial (node status: Failed, node ${node("late")} not found)`)
    const history = await bwl(["history", "partial"])
    expect(history.stdout).toContain("this workload has no run history")

    const uid = (await workloads.get("partial")).metadata.uid ?? ""
    const before = (await podsOfWorkloadUid(namespace, uid)).map((pod) => pod.metadata?.uid)
    await createNodes([{ name: node("late"), labels: { other: suite } }])
    const pods = await recordPods(namespace)
    const retried = await bwl(["retry", "partial", "--failed"])
    expect(retried.stdout).toContain(`batchworkload ${namespace}/partial: retrying ${node("late")}`)
    const done = await workloads.waitFor("partial", "Succeeded after the retry", (s, w) =>
      s.phase === "Succeeded" && s.handledRetryNodes === w.metadata.annotations?.["batch.example.com/retry-nodes"])
    pods.stop()
    expect(done.succeededNodes).toBe(3)
    const created = pods.lives().filter((life) => !before.includes(life.uid))
    expect(created.map((life) => life.node)).toEqual([node("late")])
    // The nodes that had succeeded kept their pods: nothing was replaced there.
    expect((await podsOfWorkloadUid(namespace, uid)).map((pod) => pod.metadata?.uid)).toEqual(expect.arrayContaining(before))
    expect((await bwl(["retry", "partial", "--failed"])).stderr).toContain("no node has failed: nothing to retry")
    await workloads.remove("partial")
  })
})

describe("logs", () => {
  it("prints the log of the node's current pod, and -f follows it until stopped", async () => {
    await workloads.create("logged", { nodeNames: [node("2")], image: "busybox", podAnnotations: fateAnnotations("ready") })
    await workloads.waitFor("logged", "the pod Ready", (s) => s.phase === "Succeeded")
    // kwok plays every pod's log from one file of the control plane (see podLogPath).
    const printed = await bwl(["logs", "logged", "--node", node("2")])
    expect(printed.code, printed.stderr).toBe(0)
    expect(printed.stdout).toContain("kwok plays this pod: its log is the control plane's pod.log")

    const follower = spawn(process.execPath, [path.join(repoRoot, "src", "cli", "main.ts"), "logs", "logged", "--node", node("2"), "-f", "-n", namespace], {
      env: { ...process.env, KUBECONFIG: cp.kubeconfigPath },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let followed = ""
    follower.stdout.on("data", (chunk) => (followed += String(chunk)))
    const exited = new Promise<number | null>((resolve) => follower.on("exit", resolve))
    try {
      await eventually("the log so far", async () => followed.includes("its log is the control plane's pod.log") || undefined)
      const line = `appended while following, ${Date.now()}`
      appendPodLog(cp.dir, line)
      await eventually("the appended line", async () => followed.includes(line) || undefined, 30_000)
      expect(follower.exitCode, "still following").toBeNull()
    } finally {
      follower.kill("SIGINT")
    }
    await exited
    await workloads.remove("logged")
  })
})

describe("plan", () => {
  const manifest = (spec: Record<string, unknown>) => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "bwl-plan-")), "workload.yaml")
    writeFileSync(file, JSON.stringify({ apiVersion: "batch.example.com/v1alpha1", kind: "BatchWorkload", metadata: { name: "p" }, spec }))
    return file
  }
  const planOf = async (args: ReadonlyArray<string>) => {
    const run = await bwl(["plan", ...args, "-o", "json"])
    expect(run.code, run.stderr).toBe(0)
    return JSON.parse(run.stdout) as { batches: Array<Array<string>>; excluded: Array<{ node: string; reason: string; message: string }> }
  }

  it("names each node left out with its reason: NotReady, cordoned, tainted, unlabelled, beyond replicas", async () => {
    const down = await outage
    expect(nodeReadyStatus(down)).not.toBe("True")
    expect(nodeReadyStatus(await core.readNode({ name: node("outage") }))).not.toBe("True")
    const file = manifest({ nodeSelector: pool, replicas: 2, batchSize: 1, image: "busybox" })
    // Once in a full-suite run the outage node read NotReady before the plan and the plan called it
    // "beyond replicas" (so it saw the node Ready). A plan only counts if the node is still down
    // after it; one made while the node is down must then say NotReady.
    const plan = await eventually("a plan made while the outage node stays NotReady", async () => {
      const made = await planOf(["-f", file])
      return nodeReadyStatus(await core.readNode({ name: node("outage") })) !== "True" ? made : undefined
    })
    expect(plan.batches).toEqual([[node("1")], [node("2")]])
    const reasons = new Map(plan.excluded.map((e) => [e.node, e.reason]))
    expect(reasons.get(node("outage"))).toBe("NotReady")
    expect(reasons.get(node("cordoned"))).toBe("cordoned")
    expect(reasons.get(node("tainted"))).toBe("taint not tolerated")
    expect(reasons.get(node("unlabelled"))).toBe("label mismatch")
    expect(reasons.get(node("3"))).toBe("beyond replicas")

    const human = await bwl(["plan", "-f", file])
    expect(lines(human.stdout)).toContain(`  batch 1: ${node("1")}`)
    expect(human.stdout).toMatch(new RegExp(`${node("tainted")} +taint not tolerated +node ${node("tainted")} has taint dedicated=gpu:NoSchedule`))
  })

  it("reports a named node that does not exist", async () => {
    const plan = await planOf(["-f", manifest({ nodeNames: [node("1"), node("missing")], image: "busybox" })])
    expect(plan.batches).toEqual([[node("1")]])
    expect(plan.excluded).toEqual([{ node: node("missing"), reason: "missing named node", message: `node ${node("missing")} not found` }])
  })

  it("of a workload in the cluster, as the operator chooses", async () => {
    await workloads.create("planned", { nodeNames: [node("2"), node("cordoned")], image: "busybox", podAnnotations: fateAnnotations("pending") })
    const plan = await planOf(["planned"])
    expect(plan.batches).toEqual([[node("2")]])
    expect(plan.excluded.map((e) => `${e.node}:${e.reason}`)).toEqual([`${node("cordoned")}:cordoned`])
    await workloads.remove("planned")
  })
})
