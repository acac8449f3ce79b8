// The operator can die at any moment, and the API server can go away, without losing or repeating work.
import { describe, expect, it } from "vitest"
import { fateAnnotations } from "../controlplane/index.ts"
import { cp, createNodes, recordPods, sleep, startOperator, useNamespace, workloadApi } from "./support/operator.ts"

const namespace = useNamespace("resilience")
const workloads = workloadApi(namespace)
const suite = `resilience-${process.pid}`
const pool = { suite }

describe("operator restarts", () => {
  it("SIGKILL mid-run, then a new operator: no duplicate pods, no node run twice, correct final status", async () => {
    await createNodes([1, 2, 3, 4, 5, 6].map((i) => ({ name: `${suite}-${i}`, labels: pool })))
    const recorder = await recordPods(namespace)
    const first = startOperator(namespace)
    await workloads.create("survivor", {
      nodeSelector: pool,
      image: "nginx",
      batchSize: 2,
      podAnnotations: fateAnnotations("ready", { delayMs: 2000 })
    })
    await workloads.waitFor("survivor", "two nodes done", (s) => (s.succeededNodes ?? 0) >= 2)
    expect(await first.stop("SIGKILL")).toBe(null)
    const createdBeforeKill = recorder.lives().length
    expect(createdBeforeKill).toBeLessThan(6)

    const second = startOperator(namespace)
    try {
      const status = await workloads.waitFor("survivor", "Succeeded", (s) => s.phase === "Succeeded")
      recorder.stop()
      const lives = recorder.lives()
      expect(lives).toHaveLength(6)
      expect(new Set(lives.map((life) => life.node)).size).toBe(6)
      expect(status.nodeStatus?.map((node) => [node.nodeName, node.phase, node.attempts])).toEqual(
        [1, 2, 3, 4, 5, 6].map((i) => [`${suite}-${i}`, "Succeeded", 1])
      )
      expect(recorder.maxInFlight()).toBeLessThanOrEqual(2)
    } finally {
      expect(await second.stop()).toBe(0)
    }
  })
})

describe("API server outages", () => {
  it("survives a crashed and restarted kube-apiserver without restarting", async () => {
    if (cp.external) throw new Error("this test restarts kube-apiserver, which an existing cluster (KUBECONFIG_FOR_TESTS) does not allow")
    await createNodes([{ name: `${suite}-outage`, labels: { suite: `${suite}-outage` } }])
    const operator = startOperator(namespace)
    try {
      await workloads.create("before", { nodeSelector: { suite: `${suite}-outage` }, image: "busybox" })
      await workloads.waitFor("before", "Succeeded", (s) => s.phase === "Succeeded")
      await cp.restartApiServer({ crash: true, downMs: 3000 })
      await sleep(1000)
      await workloads.create("after", { nodeSelector: { suite: `${suite}-outage` }, image: "busybox" })
      await workloads.waitFor("after", "Succeeded", (s) => s.phase === "Succeeded", 120_000)
      expect(operator.output()).toMatch(/watch on .* failed, reconnecting/)
    } finally {
      expect(await operator.stop()).toBe(0)
    }
  })
})
