// Rollout control against the real API server: failure budget, pause, soak time, deadline, TTL.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fateAnnotations } from "../controlplane/index.ts"
import {
  createNodes,
  eventually,
  type OperatorProcess,
  podsOf,
  recordPods,
  sleep,
  startOperator,
  useNamespace,
  workloadApi
} from "./support/operator.ts"

const namespace = useNamespace("rollout")
const workloads = workloadApi(namespace)
const suite = `rollout-${process.pid}`
const pool = { suite }
let operator: OperatorProcess

beforeAll(async () => {
  await createNodes([1, 2, 3, 4, 5].map((i) => ({ name: `${suite}-${i}`, labels: pool })))
  operator = startOperator(namespace)
})
afterAll(async () => {
  expect(await operator.stop()).toBe(0)
})

const podsOfWorkload = async (name: string) =>
  (await podsOf(namespace)).filter((pod) => pod.metadata?.labels?.["batch.example.com/workload"] === name)

const condition = (status: { conditions?: ReadonlyArray<{ type: string; status: string; reason: string }> }, type: string) =>
  status.conditions?.find((c) => c.type === type)

describe("failure budget", () => {
  it("a bad image with maxFailedNodes 2 and Pause stops after exactly two failed nodes; a fixed image resumes", async () => {
    const bad = {
      nodeSelector: pool,
      image: "nosuch/image:1",
      batchSize: 1,
      maxRetries: 0,
      failurePolicy: { maxFailedNodes: 2, action: "Pause" },
      podAnnotations: fateAnnotations("image-pull-error", { delayMs: 200 })
    }
    await workloads.create("budget", bad)
    const paused = await workloads.waitFor("budget", "Paused", (s) => s.phase === "Paused")
    expect(condition(paused, "Paused")).toMatchObject({ status: "True", reason: "FailureBudgetExceeded" })
    expect(paused.failedNodes).toBe(2)
    // Nothing more starts while paused. Proving that something does not happen takes a wait: 5 s is
    // several status flushes and reconciles, in which a third pod would have been created.
    await sleep(5_000)
    expect(await podsOfWorkload("budget")).toHaveLength(2)
    await workloads.patch("budget", { spec: { image: "busybox", podAnnotations: fateAnnotations("ready", { delayMs: 200 }) } })
    const done = await workloads.waitFor("budget", "Succeeded after the fix", (s) => s.phase === "Succeeded")
    expect(done.succeededNodes).toBe(5)
    await workloads.remove("budget")
  })

  it("Abort ends the run Failed and skips the nodes not started", async () => {
    await workloads.create("abort", {
      nodeSelector: pool,
      image: "busybox",
      batchSize: 1,
      maxRetries: 0,
      failurePolicy: { maxFailedNodes: 1, action: "Abort" },
      podAnnotations: fateAnnotations("fail", { delayMs: 200 })
    })
    const status = await workloads.waitFor("abort", "Failed", (s) => s.phase === "Failed")
    expect(status.nodeStatus?.map((n) => n.phase)).toEqual(["Failed", "Skipped", "Skipped", "Skipped", "Skipped"])
    expect(condition(status, "Failed")?.reason).toBe("FailureBudgetExceeded")
    expect(await podsOfWorkload("abort")).toHaveLength(1)
    await workloads.remove("abort")
  })
})

describe("pause", () => {
  it("pausing mid-run lets running pods finish and starts nothing new; unpausing resumes", async () => {
    await workloads.create("pausing", {
      nodeSelector: pool,
      image: "busybox",
      batchSize: 2,
      podAnnotations: fateAnnotations("ready", { delayMs: 4000 })
    })
    await workloads.waitFor("pausing", "two pods started", (s) => (s.nodeStatus ?? []).filter((n) => n.attempts > 0).length === 2)
    await workloads.patch("pausing", { spec: { paused: true } })
    const paused = await workloads.waitFor("pausing", "the running pair done while paused", (s) => s.phase === "Paused" && s.succeededNodes === 2)
    expect(condition(paused, "Paused")).toMatchObject({ status: "True", reason: "Paused" })
    expect(await podsOfWorkload("pausing")).toHaveLength(2)
    await workloads.patch("pausing", { spec: { paused: false } })
    await workloads.waitFor("pausing", "Succeeded after resuming", (s) => s.phase === "Succeeded")
    expect(await podsOfWorkload("pausing")).toHaveLength(5)
    await workloads.remove("pausing")
  })
})

describe("soak time", () => {
  it("minReadySeconds holds the next node until the previous one has been Ready that long, as a watch sees it", async () => {
    const recorder = await recordPods(namespace)
    await workloads.create("soak", {
      nodeNames: [`${suite}-1`, `${suite}-2`],
      image: "busybox",
      batchSize: 1,
      minReadySeconds: 5,
      podAnnotations: fateAnnotations("ready", { delayMs: 200 })
    })
    await workloads.waitFor("soak", "Succeeded", (s) => s.phase === "Succeeded")
    recorder.stop()
    const [first, second] = recorder.lives().filter((life) => life.name.startsWith("soak-")).sort((a, b) => a.createdAt - b.createdAt)
    expect(first?.settledAt).toBeDefined()
    // The second pod is created only after the first has been Ready for minReadySeconds.
    expect((second?.createdAt ?? 0) - (first?.settledAt ?? 0)).toBeGreaterThanOrEqual(4_500)
    await workloads.remove("soak")
  })
})

describe("deadline and cleanup", () => {
  it("activeDeadlineSeconds stops attempts under way and fails the nodes not done", async () => {
    await workloads.create("deadline", {
      nodeSelector: pool,
      image: "busybox",
      batchSize: 2,
      timeout: "10m",
      activeDeadlineSeconds: 5,
      podAnnotations: fateAnnotations("pending")
    })
    const status = await workloads.waitFor("deadline", "Failed", (s) => s.phase === "Failed")
    expect(condition(status, "Failed")?.reason).toBe("DeadlineExceeded")
    expect(status.nodeStatus?.every((n) => n.phase === "Failed" && /^DeadlineExceeded/.test(n.message ?? ""))).toBe(true)
    const live = (await podsOfWorkload("deadline")).filter((pod) => pod.metadata?.deletionTimestamp === undefined)
    expect(live).toHaveLength(0)
    await workloads.remove("deadline")
  })

  it("ttlSecondsAfterFinished deletes a finished job's pods and keeps its status", async () => {
    await workloads.create("ttl", {
      nodeNames: [`${suite}-1`, `${suite}-2`],
      image: "busybox",
      mode: "RunToCompletion",
      batchSize: 2,
      ttlSecondsAfterFinished: 3,
      podAnnotations: fateAnnotations("complete", { delayMs: 200 })
    })
    await workloads.waitFor("ttl", "Succeeded", (s) => s.phase === "Succeeded")
    await eventually("pods deleted after the TTL", async () => (await podsOfWorkload("ttl")).length === 0 ? true : undefined)
    const status = (await workloads.get("ttl")).status
    expect(status?.phase).toBe("Succeeded")
    expect(status?.nodeStatus?.map((n) => [n.phase, n.attempts, n.podName])).toEqual([
      ["Succeeded", 1, `ttl-${suite}-1`],
      ["Succeeded", 1, `ttl-${suite}-2`]
    ])
    await workloads.remove("ttl")
  })

  it("a closed maintenance window holds the run (Waiting, no pod) until it opens by the clock", async () => {
    // Windows are set to the minute: open at the next minute boundary at least 20 s away, so the test sees both sides.
    const opensAt = Math.ceil((Date.now() + 20_000) / 60_000) * 60_000
    const hhmm = (millis: number) => new Date(millis).toISOString().slice(11, 16)
    await workloads.create("window", {
      nodeNames: [`${suite}-1`],
      image: "busybox",
      window: { startTime: hhmm(opensAt), endTime: hhmm(opensAt + 10 * 60_000), timeZone: "UTC" },
      podAnnotations: fateAnnotations("ready", { delayMs: 200 })
    })
    const waiting = await workloads.waitFor("window", "Waiting", (s) => s.phase === "Waiting")
    expect(condition(waiting, "Waiting")).toMatchObject({ status: "True", reason: "OutsideWindow" })
    expect(waiting.conditions?.find((c) => c.type === "Waiting")?.message).toContain(new Date(opensAt).toISOString())
    expect(await podsOfWorkload("window")).toHaveLength(0)
    await workloads.waitFor("window", "Succeeded once the window opened", (s) => s.phase === "Succeeded", 150_000)
    const [pod] = await podsOfWorkload("window")
    expect(new Date(pod?.metadata?.creationTimestamp ?? 0).getTime()).toBeGreaterThanOrEqual(opensAt - 1_000)
    await workloads.remove("window")
  }, 200_000)
})
