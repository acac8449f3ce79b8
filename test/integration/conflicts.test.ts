// Writes that race another writer: the operator's optimistic writes carry the resourceVersion it
// read, another client updates the workload first, and the API server answers 409 Conflict. The
// operator must try again from the workload as it is now, not from the version it read.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { deleteNodes, fateAnnotations, freePort } from "../controlplane/index.ts"
import { cp, createNodes, eventually, nodeEntry, type OperatorProcess, startOperator, useNamespace, workloadApi } from "./support/operator.ts"

const namespace = useNamespace("conflicts")
const workloads = workloadApi(namespace)
const node = `conflicts-${process.pid}`
const labels = { "conflicts.example.com/group": node }
let operator: OperatorProcess
let metricsPort = 0

beforeAll(async () => {
  await createNodes([{ name: node, labels }])
  metricsPort = await freePort()
  // Two requests a second, one at a time: every write waits for its turn after it was built from
  // the cached workload, so a client updating the workload meanwhile makes it stale for certain.
  operator = startOperator(namespace, ["--kube-api-qps", "2", "--kube-api-burst", "1"], {}, { metrics: metricsPort })
})
afterAll(async () => {
  expect(await operator.stop()).toBe(0)
  await deleteNodes(cp.kubeconfigPath, [node])
})

/** How many of the operator's workload patches (the finalizer's) the API server answered 409 Conflict, from its /metrics. */
const finalizerConflicts = async () => {
  const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
  const series = /^batch_operator_api_requests_total\{verb="patch",kind="batchworkloads",code="409"\} (\d+)$/m.exec(body)
  return Number(series?.[1] ?? 0)
}

describe("writes that race another writer", () => {
  it("a finalizer patch refused with 409 Conflict is made again from the fresh workload, and the run goes on", async () => {
    const before = await eventually("the operator's /metrics", finalizerConflicts, 30_000)
    // Two workloads at once: the first finalizer patch takes the operator's one request of the
    // moment, so the second waits its turn, built from a version the updates below replace.
    const names = ["raced-a", "raced-b"]
    for (const name of names) {
      await workloads.create(name, { nodeSelector: labels, image: "busybox", mode: "RunToCompletion", podAnnotations: fateAnnotations("complete", { delayMs: 300 }) })
    }
    let touches = 0
    await eventually("a finalizer patch refused with 409 Conflict", async () => {
      touches += 1
      for (const name of names) await workloads.patch(name, { metadata: { annotations: { "example.com/touched": String(touches) } } })
      return (await finalizerConflicts()) > before ? true : undefined
    }, 30_000)
    for (const name of names) {
      const done = await workloads.waitFor(name, "Succeeded", (s) => s.phase === "Succeeded", 60_000)
      expect(nodeEntry(done, node)).toMatchObject({ phase: "Succeeded", attempts: 1 })
      expect((await workloads.get(name)).metadata.finalizers).toEqual(["batch.example.com/finalizer"])
    }
  })
})
