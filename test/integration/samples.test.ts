// The seed manifests, applied unchanged with kubectl, against the real API server.
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { repoRoot } from "../controlplane/index.ts"
import { cp, ensureNodes, eventually, podsOf, startOperator, useNamespace, workloadApi, type OperatorProcess } from "./support/operator.ts"

const namespace = useNamespace("samples")
const workloads = workloadApi(namespace)
const kubectl = (...args: Array<string>) => cp.kubectl(["-n", namespace, ...args])
let operator: OperatorProcess

beforeAll(async () => {
  // The nodes the seed manifests expect: node-1..3 by name, and at least five region=us-west,type=edge nodes.
  await ensureNodes([
    ...[1, 2, 3].map((i) => ({ name: `node-${i}` })),
    ...[1, 2, 3, 4, 5, 6].map((i) => ({ name: `edge-${i}`, labels: { region: "us-west", type: "edge" } }))
  ])
  operator = startOperator(namespace)
})
afterAll(async () => {
  expect(await operator.stop()).toBe(0)
})

describe("seed manifests", () => {
  it("apply unchanged, reach Succeeded, and kubectl shows and waits on them", async () => {
    const applied = await kubectl("apply", "-f", path.join(repoRoot, "samples", "test-workload.yaml"), "-f", path.join(repoRoot, "samples", "my-workload.yaml"))
    expect(applied.stderr).toBe("")
    const waited = await kubectl("wait", "--for=condition=Complete", "--timeout=90s", "bwl/test-workload", "bwl/my-workload")
    expect(waited.code, waited.stderr + operator.output()).toBe(0)

    const table = await kubectl("get", "bwl")
    expect(table.stdout).toMatch(/^NAME\s+PHASE\s+PROGRESS\s+FAILED\s+AGE/)
    expect(table.stdout).toMatch(/my-workload\s+Succeeded\s+3\/3\s+0/)
    expect(table.stdout).toMatch(/test-workload\s+Succeeded\s+5\/5\s+0/)

    const pods = await podsOf(namespace)
    expect(pods).toHaveLength(8)
    const nginx = pods.filter((pod) => pod.metadata?.name?.startsWith("test-workload-"))
    expect(new Set(nginx.map((pod) => pod.spec?.nodeName))).toEqual(new Set(["edge-1", "edge-2", "edge-3", "edge-4", "edge-5"]))
    for (const pod of pods) {
      expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "BatchWorkload", controller: true })
      expect(pod.spec?.containers[0]?.securityContext).toMatchObject({ allowPrivilegeEscalation: false })
    }
    const status = await workloads.get("my-workload")
    expect(status.status?.nodeStatus?.map((node) => [node.nodeName, node.phase, node.attempts])).toEqual([
      ["node-1", "Succeeded", 1],
      ["node-2", "Succeeded", 1],
      ["node-3", "Succeeded", 1]
    ])
    const events = await kubectl("get", "events", "--field-selector", "involvedObject.name=my-workload", "-o", "jsonpath={.items[*].reason}")
    expect(events.stdout.split(" ")).toEqual(expect.arrayContaining(["Started", "NodeSucceeded", "Completed"]))
  })

  it("the pod-template and pod-report samples are admitted as written", async () => {
    const samples = ["host-cleanup.yaml", "privileged-upgrade.yaml", "node-report.yaml"].flatMap((file) => ["-f", path.join(repoRoot, "samples", file)])
    const applied = await kubectl("apply", "--dry-run=server", ...samples)
    expect(applied.stderr).toBe("")
    expect(applied.stdout).toMatch(/host-cleanup created \(server dry run\)\n.*privileged-upgrade created \(server dry run\)\n.*node-report created \(server dry run\)/)
  })

  it("deleting a workload removes its pods and then the workload", async () => {
    const deleted = await kubectl("delete", "bwl/test-workload", "--timeout=60s")
    expect(deleted.code, deleted.stderr).toBe(0)
    await eventually("test-workload pods gone", async () => {
      const left = (await podsOf(namespace)).filter((pod) => pod.metadata?.name?.startsWith("test-workload-"))
      return left.length === 0 ? true : undefined
    })
    const gone = await kubectl("get", "bwl/test-workload")
    expect(gone.stderr).toMatch(/NotFound/)
  })
})
