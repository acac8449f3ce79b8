// What the operator promises, observed from the API server: batches, timeouts, retries, changes.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fateAnnotations, setNodeReady } from "../controlplane/index.ts"
import {
  core,
  cp,
  createNodes,
  eventually,
  type OperatorProcess,
  podsOf,
  recordPods,
  startOperator,
  useNamespace,
  workloadApi
} from "./support/operator.ts"

const namespace = useNamespace("behaviour")
const workloads = workloadApi(namespace)
const suite = `behaviour-${process.pid}`
const pool = { suite }
let operator: OperatorProcess

beforeAll(async () => {
  await createNodes([1, 2, 3, 4, 5, 6].map((i) => ({ name: `${suite}-${i}`, labels: pool })))
  operator = startOperator(namespace)
})
afterAll(async () => {
  expect(await operator.stop()).toBe(0)
})

const podsOfWorkload = async (name: string) =>
  (await podsOf(namespace)).filter((pod) => pod.metadata?.labels?.["batch.example.com/workload"] === name)

describe("batches", () => {
  it("never has more than batchSize pods in flight, as seen through a watch", async () => {
    const recorder = await recordPods(namespace)
    await workloads.create("bounded", {
      nodeSelector: pool,
      image: "nginx",
      batchSize: 2,
      podAnnotations: fateAnnotations("ready", { delayMs: 1500 })
    })
    await workloads.waitFor("bounded", "Succeeded", (status) => status.phase === "Succeeded")
    recorder.stop()
    expect(recorder.lives()).toHaveLength(6)
    expect(recorder.maxInFlight()).toBe(2)
    await workloads.remove("bounded")
  })
})

describe("failures", () => {
  it("retries a failing node with backoff, then fails it with the reason in its status", async () => {
    await workloads.create("failing", {
      nodeNames: [`${suite}-1`],
      image: "busybox",
      maxRetries: 2,
      initialBackoff: "1s",
      maxBackoff: "10s",
      podAnnotations: fateAnnotations("fail", { delayMs: 200, exitCode: 3, message: "disk full" })
    })
    const status = await workloads.waitFor("failing", "Failed", (s) => s.phase === "Failed")
    const node = status.nodeStatus?.[0]
    expect(node?.attempts).toBe(3)
    expect(node?.message).toMatch(/failed after 3 attempts: container exited with code 3/)
    expect(node?.message).toMatch(/disk full/)
    expect(status.conditions?.find((c) => c.type === "Failed")?.status).toBe("True")
    const events = await cp.kubectl(["-n", namespace, "get", "events", "--field-selector", "involvedObject.name=failing", "-o", "jsonpath={.items[*].message}"])
    expect(events.stdout).toMatch(/attempt 1 of 3 failed: .*retrying in (0\.[89]|1|1\.[0-2])s/)
    expect(events.stdout).toMatch(/attempt 2 of 3 failed: .*retrying in (1\.[6-9]|2|2\.[0-4])s/)
    await workloads.remove("failing")
  })

  it("fails an image pull error at once, long before the timeout", async () => {
    const started = Date.now()
    await workloads.create("typo", {
      nodeNames: [`${suite}-2`],
      image: "nosuch/image",
      timeout: "10m",
      maxRetries: 0,
      podAnnotations: fateAnnotations("image-pull-error", { delayMs: 200 })
    })
    const status = await workloads.waitFor("typo", "Failed", (s) => s.phase === "Failed")
    expect(Date.now() - started).toBeLessThan(60_000)
    expect(status.nodeStatus?.[0]?.message).toMatch(/ErrImagePull|ImagePullBackOff/)
    await workloads.remove("typo")
  })

  it("times out a pod that stays Pending, retries it, and reports the timeout", async () => {
    await workloads.create("stuck", {
      nodeNames: [`${suite}-3`],
      image: "busybox",
      timeout: "3s",
      maxRetries: 1,
      initialBackoff: "1s",
      podAnnotations: fateAnnotations("pending")
    })
    const status = await workloads.waitFor("stuck", "Failed", (s) => s.phase === "Failed")
    expect(status.nodeStatus?.[0]).toMatchObject({ attempts: 2, message: "failed after 2 attempts: attempt timed out after 3s" })
    await workloads.remove("stuck")
  })

  it("a node that fails once succeeds on its retry", async () => {
    await workloads.create("second-time", {
      nodeNames: [`${suite}-4`],
      image: "busybox",
      initialBackoff: "1s",
      podAnnotations: fateAnnotations("fail-once", { delayMs: 200 })
    })
    const status = await workloads.waitFor("second-time", "Succeeded", (s) => s.phase === "Succeeded")
    expect(status.nodeStatus?.[0]).toMatchObject({ attempts: 2, phase: "Succeeded" })
    await workloads.remove("second-time")
  })
})

describe("changes", () => {
  it("the retry annotation replaces every pod once", async () => {
    await workloads.create("again", { nodeSelector: pool, replicas: 3, image: "busybox", batchSize: 3 })
    await workloads.waitFor("again", "Succeeded", (s) => s.phase === "Succeeded")
    const before = new Set((await podsOfWorkload("again")).map((pod) => pod.metadata?.uid))
    const annotated = await cp.kubectl(["-n", namespace, "annotate", "bwl/again", "batch.example.com/retry=1", "--overwrite"])
    expect(annotated.code, annotated.stderr).toBe(0)
    await workloads.waitFor("again", "rerun done", (s) => s.handledRetry === "1" && s.phase === "Succeeded")
    const after = await podsOfWorkload("again")
    expect(after).toHaveLength(3)
    expect(after.every((pod) => !before.has(pod.metadata?.uid))).toBe(true)
    await workloads.remove("again")
  })

  it("a template change mid-run re-plans; replicas down and up; a new selector moves the pods", async () => {
    await workloads.create("moving", {
      nodeSelector: pool,
      replicas: 4,
      image: "busybox:1",
      batchSize: 1,
      podAnnotations: fateAnnotations("ready", { delayMs: 1000 })
    })
    await workloads.waitFor("moving", "first node done", (s) => (s.succeededNodes ?? 0) >= 1)
    await workloads.patch("moving", { spec: { image: "busybox:2" } })
    await workloads.waitFor("moving", "generation 2 done", (s) => s.observedGeneration === 2 && s.phase === "Succeeded")
    const images = (await podsOfWorkload("moving")).map((pod) => pod.spec?.containers[0]?.image)
    expect(images).toEqual(["busybox:2", "busybox:2", "busybox:2", "busybox:2"])

    await workloads.patch("moving", { spec: { replicas: 2 } })
    await workloads.waitFor("moving", "scaled down", (s) => s.observedGeneration === 3 && s.phase === "Succeeded")
    await eventually("two pods left", async () => (await podsOfWorkload("moving")).length === 2 ? true : undefined)

    await workloads.patch("moving", { spec: { replicas: 3 } })
    await workloads.waitFor("moving", "scaled up", (s) => s.observedGeneration === 4 && s.phase === "Succeeded" && s.totalNodes === 3)

    await workloads.patch("moving", { spec: { nodeSelector: null, nodeNames: [`${suite}-5`, `${suite}-6`], replicas: null } })
    await workloads.waitFor("moving", "moved", (s) => s.observedGeneration === 5 && s.phase === "Succeeded")
    await eventually("pods only on the named nodes", async () => {
      const nodes = (await podsOfWorkload("moving")).map((pod) => pod.spec?.nodeName).sort()
      return JSON.stringify(nodes) === JSON.stringify([`${suite}-5`, `${suite}-6`]) ? true : undefined
    })
    await workloads.remove("moving")
  })

  it("a long-running workload gives a pod to a node that becomes Ready later", async () => {
    const late = { suite: `${suite}-late` }
    await createNodes([{ name: `${suite}-late-1`, labels: late }, { name: `${suite}-late-2`, labels: late, ready: false }])
    await workloads.create("follow", { nodeSelector: late, image: "nginx" })
    await workloads.waitFor("follow", "one node done", (s) => s.phase === "Succeeded" && s.totalNodes === 1)
    await setNodeReady(cp.kubeconfigPath, `${suite}-late-2`, true)
    await workloads.waitFor("follow", "both nodes done", (s) => s.phase === "Succeeded" && s.totalNodes === 2)
    await workloads.remove("follow")
  })
})

describe("namespaces", () => {
  it("deleting a namespace with a workload in it completes", async () => {
    const doomed = `${namespace}-doomed`
    await core.createNamespace({ body: { metadata: { name: doomed } } })
    const doomedOperator = startOperator(doomed)
    try {
      const doomedWorkloads = workloadApi(doomed)
      await doomedWorkloads.create("inside", { nodeSelector: pool, replicas: 2, image: "busybox", batchSize: 2 })
      await doomedWorkloads.waitFor("inside", "Succeeded", (s) => s.phase === "Succeeded")
      await core.deleteNamespace({ name: doomed })
      await eventually("namespace gone", async () => {
        const names = (await core.listNamespace()).items.map((item) => item.metadata?.name)
        return names.includes(doomed) ? undefined : true
      }, 120_000)
    } finally {
      expect(await doomedOperator.stop()).toBe(0)
    }
  })
})
