// spec.template against the real API server: the pod fields node jobs need, and the preflight dry run
// that stops a namespace's refusal (Pod Security) from burning attempts node by node.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fateAnnotations } from "../controlplane/index.ts"
import { core, cp, createNodes, eventually, type OperatorProcess, podsOf, sleep, startOperator, useNamespace, workloadApi } from "./support/operator.ts"

const namespace = useNamespace("template")
const workloads = workloadApi(namespace)
const suite = `template-${process.pid}`
const nodeNames = [`${suite}-1`, `${suite}-2`, `${suite}-3`]
let operator: OperatorProcess

beforeAll(async () => {
  await createNodes(nodeNames.map((name) => ({ name, labels: { suite } })))
  operator = startOperator(namespace)
})
afterAll(async () => {
  expect(await operator.stop()).toBe(0)
})

const podsOfWorkload = async (name: string) =>
  (await podsOf(namespace)).filter((pod) => pod.metadata?.labels?.["batch.example.com/workload"] === name)

const env = [
  { name: "NODE_NAME", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "spec.nodeName" } } },
  { name: "LEVEL", valueFrom: { configMapKeyRef: { name: "agent-config", key: "level" } } }
]
const hostLogs = { name: "logs", hostPath: { path: "/var/log", type: "Directory" } }

/** A node agent as people run them: host mount, privileged, an init container, a service account, env from a ConfigMap and the downward API. */
const agentTemplate = (annotations: Record<string, string>) => ({
  metadata: { labels: { app: "node-agent" }, annotations },
  spec: {
    serviceAccountName: "node-agent",
    initContainers: [{ name: "prepare", image: "busybox:1.37", command: ["sh", "-c", "true"] }],
    containers: [{
      name: "agent",
      image: "busybox:1.37",
      command: ["sleep", "infinity"],
      securityContext: { privileged: true },
      env,
      volumeMounts: [{ name: "logs", mountPath: "/host/var/log" }]
    }],
    volumes: [hostLogs]
  }
})

describe("a pod template", () => {
  it("creates pods with exactly the template's fields, bound to the selected nodes", async () => {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "node-agent" } } })
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "agent-config" }, data: { level: "debug" } } })
    await workloads.create("agent", {
      nodeNames: nodeNames.slice(0, 2),
      batchSize: 2,
      template: agentTemplate(fateAnnotations("ready", { delayMs: 300 }))
    })
    await workloads.waitFor("agent", "Succeeded", (status) => status.phase === "Succeeded")

    const pods = await podsOfWorkload("agent")
    expect(pods.map((pod) => pod.spec?.nodeName).sort()).toEqual(nodeNames.slice(0, 2))
    for (const pod of pods) {
      expect(pod.metadata?.labels).toMatchObject({ app: "node-agent", "batch.example.com/workload": "agent" })
      expect(pod.spec?.serviceAccountName).toBe("node-agent")
      expect(pod.spec?.restartPolicy).toBe("Always")
      expect(pod.spec?.volumes).toContainEqual(hostLogs)
      const [container] = pod.spec?.containers ?? []
      // privileged as asked, and no allowPrivilegeEscalation: false (the API server refuses the combination).
      expect(container?.securityContext).toEqual({ privileged: true })
      expect(container?.env).toEqual(env)
      expect(container?.volumeMounts).toContainEqual({ name: "logs", mountPath: "/host/var/log" })
      // The init container said nothing about privileges, so it gets the restricted default.
      expect(pod.spec?.initContainers?.map((c) => [c.name, c.securityContext])).toEqual([["prepare", { allowPrivilegeEscalation: false }]])
      expect(pod.spec?.securityContext?.seccompProfile).toEqual({ type: "RuntimeDefault" })
      expect(pod.status?.initContainerStatuses?.[0]?.state?.terminated?.reason).toBe("Completed")
    }
    await workloads.remove("agent")
    await eventually("agent pods gone", async () => (await podsOfWorkload("agent")).length === 0 ? true : undefined)
  })
})

describe("a namespace that refuses the pod", () => {
  it("stalls the workload with PodRejected, creates no pod, and runs once the namespace is relaxed", async () => {
    const relabel = (level: string) => cp.kubectl(["label", "ns", namespace, `pod-security.kubernetes.io/enforce=${level}`, "--overwrite"])
    expect((await relabel("restricted")).code).toBe(0)
    await workloads.create("refused", {
      nodeNames,
      batchSize: 3,
      maxRetries: 1,
      template: agentTemplate(fateAnnotations("ready", { delayMs: 300 }))
    })
    const stalled = await workloads.waitFor("refused", "Stalled with PodRejected", (status) =>
      status.conditions?.some((c) => c.type === "Stalled" && c.status === "True" && c.reason === "PodRejected") ?? false, 60_000)
    expect(stalled.conditions?.find((c) => c.type === "Stalled")?.message).toMatch(/violates PodSecurity "restricted:latest".*privileged/)
    expect(stalled.nodeStatus?.map((n) => [n.nodeName, n.attempts])).toEqual(nodeNames.map((name) => [name, 0]))
    // A few rechecks later: still no pod, still no attempt, and still the one Event.
    await sleep(12_000)
    expect(await podsOfWorkload("refused")).toHaveLength(0)
    expect((await workloads.get("refused")).status?.nodeStatus?.every((n) => n.attempts === 0)).toBe(true)
    const events = await cp.kubectl(["-n", namespace, "get", "events", "--field-selector", "involvedObject.name=refused,reason=PodRejected", "-o", "jsonpath={.items[*].count}"])
    expect(events.stdout).toBe("1")

    const relaxedAt = Date.now()
    expect((await relabel("privileged")).code).toBe(0)
    await workloads.waitFor("refused", "Succeeded after the namespace was relaxed", (status) => status.phase === "Succeeded", 90_000)
    expect(Date.now() - relaxedAt).toBeLessThan(75_000)
    const status = (await workloads.get("refused")).status
    expect(status?.nodeStatus?.map((n) => [n.nodeName, n.phase, n.attempts])).toEqual(nodeNames.map((name) => [name, "Succeeded", 1]))
    expect(status?.conditions?.find((c) => c.type === "Stalled")?.status).toBe("False")
  })
})

describe("a missing service account", () => {
  it("stalls the workload with PodRejected until the service account exists", async () => {
    await workloads.create("unaccounted", {
      nodeNames: nodeNames.slice(0, 1),
      template: {
        metadata: { annotations: fateAnnotations("ready", { delayMs: 300 }) },
        spec: { serviceAccountName: "backup-agent", containers: [{ name: "agent", image: "busybox:1.37" }] }
      }
    })
    const stalled = await workloads.waitFor("unaccounted", "Stalled with PodRejected", (status) =>
      status.conditions?.some((c) => c.type === "Stalled" && c.status === "True" && c.reason === "PodRejected") ?? false, 60_000)
    expect(stalled.conditions?.find((c) => c.type === "Stalled")?.message).toMatch(/serviceaccount "backup-agent" not found/)
    expect(await podsOfWorkload("unaccounted")).toHaveLength(0)

    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "backup-agent" } } })
    await workloads.waitFor("unaccounted", "Succeeded once the service account exists", (status) => status.phase === "Succeeded", 75_000)
    expect((await podsOfWorkload("unaccounted")).map((pod) => pod.spec?.serviceAccountName)).toEqual(["backup-agent"])
  })
})
