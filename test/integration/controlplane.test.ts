// Smoke test of the test control plane itself (test/controlplane/): real API server, real
// controllers (GC, namespaces), kwok fake nodes and every pod fate of kwok-stages.yaml.
import * as k8s from "@kubernetes/client-node"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  attemptAnnotation,
  createFakeNodes,
  deleteNodes,
  fateAnnotations,
  nodeReadyStatus,
  patchNodeLabels,
  setNodeReady
} from "../controlplane/index.ts"
import { eventually, getTestControlPlane, sleep } from "../controlplane/testing.ts"

const cp = getTestControlPlane()
const kc = cp.kubeConfig()
const core = kc.makeApiClient(k8s.CoreV1Api)
const ns = `cp-smoke-${process.pid}`
const node = "cp-smoke-node-1"
const notReadyNode = "cp-smoke-node-notready"

const isNotFound = (e: unknown): boolean => e instanceof k8s.ApiException && e.code === 404


const podSpec = (name: string, annotations: Record<string, string>, nodeName: string | undefined = node): k8s.V1Pod => ({
  metadata: { name, namespace: ns, annotations },
  spec: {
    ...(nodeName ? { nodeName } : {}),
    restartPolicy: "Never",
    containers: [{ name: "main", image: "registry.example.com/batch/app:1.0" }]
  }
})

const readPod = (name: string): Promise<k8s.V1Pod> => core.readNamespacedPod({ name, namespace: ns })
const mainStatus = (pod: k8s.V1Pod): k8s.V1ContainerStatus | undefined => pod.status?.containerStatuses?.[0]
const podReady = (pod: k8s.V1Pod): string | undefined => pod.status?.conditions?.find((c) => c.type === "Ready")?.status

const waitForPod = (name: string, what: string, pred: (pod: k8s.V1Pod) => boolean, timeoutMs = 30_000): Promise<k8s.V1Pod> =>
  eventually(`pod ${name}: ${what}`, async () => {
    const pod = await readPod(name)
    return pred(pod) ? pod : undefined
  }, timeoutMs)

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: ns } } })
  // Pods need the namespace's default ServiceAccount (ServiceAccount admission); KCM creates it.
  await eventually("default ServiceAccount", async () =>
    (await core.readNamespacedServiceAccount({ name: "default", namespace: ns })) ?? undefined
  )
})

afterAll(async () => {
  await core.deleteNamespace({ name: ns }).catch(() => {})
  await deleteNodes(kc, [node, notReadyNode]).catch(() => {})
})

describe("test control plane", () => {
  it("serves Kubernetes v1.34 (API server and kubectl)", async () => {
    const version = await kc.makeApiClient(k8s.VersionApi).getCode()
    expect(version.gitVersion).toMatch(/^v1\.34\.\d+$/)
    const out = await cp.kubectl(["version", "-o", "json"])
    expect(out.code, out.stderr).toBe(0)
    const parsed = JSON.parse(out.stdout) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } }
    expect(parsed.clientVersion.gitVersion).toMatch(/^v1\.34\.\d+$/)
    expect(parsed.serverVersion.gitVersion).toBe(version.gitVersion)
  })

  it("makes fake nodes Ready, keeps a NotReady one NotReady, and can flip it", async () => {
    const [ready, notReady] = await createFakeNodes(kc, [
      { name: node, labels: { "example.com/pool": "smoke" } },
      { name: notReadyNode, ready: false }
    ])
    expect(ready && nodeReadyStatus(ready)).toBe("True")
    expect(ready?.status?.allocatable?.["pods"]).toBe("110")
    expect(notReady && nodeReadyStatus(notReady)).toBe("False")
    const relabelled = await patchNodeLabels(kc, notReadyNode, { "example.com/pool": "smoke" })
    expect(relabelled.metadata?.labels?.["example.com/pool"]).toBe("smoke")
    const flipped = await setNodeReady(kc, notReadyNode, true)
    expect(nodeReadyStatus(flipped)).toBe("True")
    const flippedBack = await setNodeReady(kc, notReadyNode, false)
    expect(nodeReadyStatus(flippedBack)).not.toBe("True")
    // Stays NotReady: kwok no longer manages it.
    await sleep(2_000)
    expect(nodeReadyStatus(await core.readNode({ name: notReadyNode }))).not.toBe("True")
  })

  it("drives each pod fate to its status", async () => {
    const fates: Array<[string, Record<string, string>]> = [
      ["ready", {}],
      ["ready-explicit", fateAnnotations("ready")],
      ["complete", fateAnnotations("complete")],
      ["fail", fateAnnotations("fail", { message: "boom" })],
      ["fail-once-1", { ...fateAnnotations("fail-once"), [attemptAnnotation]: "1" }],
      ["fail-once-2", { ...fateAnnotations("fail-once"), [attemptAnnotation]: "2" }],
      ["pending", fateAnnotations("pending")],
      ["image-pull-error", fateAnnotations("image-pull-error", { delayMs: 1_500 })],
      ["crash-loop", fateAnnotations("crash-loop")],
      ["slow", fateAnnotations("ready", { delayMs: 4_000 })]
    ]
    const started = Date.now()
    for (const [name, annotations] of fates) await core.createNamespacedPod({ namespace: ns, body: podSpec(name, annotations) })

    for (const name of ["ready", "ready-explicit", "fail-once-2"]) {
      const pod = await waitForPod(name, "Running and Ready", (p) => p.status?.phase === "Running" && podReady(p) === "True")
      expect(mainStatus(pod)?.ready).toBe(true)
      expect(mainStatus(pod)?.state?.running?.startedAt).toBeDefined()
      expect(pod.status?.podIP).toBeTruthy()
    }

    const complete = await waitForPod("complete", "Succeeded", (p) => p.status?.phase === "Succeeded")
    expect(mainStatus(complete)?.state?.terminated?.exitCode).toBe(0)
    expect(mainStatus(complete)?.state?.terminated?.reason).toBe("Completed")

    for (const name of ["fail", "fail-once-1"]) {
      const failed = await waitForPod(name, "Failed", (p) => p.status?.phase === "Failed")
      expect(mainStatus(failed)?.state?.terminated?.exitCode).toBe(1)
      expect(mainStatus(failed)?.state?.terminated?.reason).toBe("Error")
    }
    expect(mainStatus(await readPod("fail"))?.state?.terminated?.message).toBe("boom")

    const pulling = await waitForPod("image-pull-error", "ErrImagePull", (p) => mainStatus(p)?.state?.waiting?.reason === "ErrImagePull")
    expect(pulling.status?.phase).toBe("Pending")
    expect(mainStatus(pulling)?.state?.waiting?.message).toContain("registry.example.com/batch/app:1.0")
    const backoff = await waitForPod("image-pull-error", "ImagePullBackOff", (p) => mainStatus(p)?.state?.waiting?.reason === "ImagePullBackOff")
    expect(backoff.status?.phase).toBe("Pending")

    const crash = await waitForPod("crash-loop", "CrashLoopBackOff", (p) => mainStatus(p)?.state?.waiting?.reason === "CrashLoopBackOff")
    expect(mainStatus(crash)?.restartCount).toBeGreaterThanOrEqual(1)
    expect(mainStatus(crash)?.lastState?.terminated?.exitCode).toBe(1)

    const slow = await waitForPod("slow", "Ready", (p) => podReady(p) === "True")
    expect(slow.status?.phase).toBe("Running")
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_500)

    const pending = await readPod("pending")
    expect(pending.status?.phase).toBe("Pending")
    expect(pending.status?.containerStatuses).toBeUndefined()
  })

  it("schedules a pod without spec.nodeName onto a fake node (kube-scheduler)", async () => {
    const body = podSpec("scheduled", {}, undefined)
    body.spec = { ...body.spec!, nodeSelector: { "kubernetes.io/hostname": node } }
    await core.createNamespacedPod({ namespace: ns, body })
    const pod = await waitForPod("scheduled", "Ready", (p) => podReady(p) === "True")
    expect(pod.spec?.nodeName).toBe(node)
  })

  it("deletes pods (kwok drops finalizers and removes them)", async () => {
    const body = podSpec("to-delete", {})
    body.metadata = { ...body.metadata, finalizers: ["example.com/keep"] }
    await core.createNamespacedPod({ namespace: ns, body })
    await waitForPod("to-delete", "Ready", (p) => podReady(p) === "True")
    await core.deleteNamespacedPod({ name: "to-delete", namespace: ns })
    await eventually("pod to-delete gone", async () => {
      try {
        await readPod("to-delete")
        return undefined
      } catch (e) {
        return isNotFound(e) ? true : undefined
      }
    })
  })

  it("garbage-collects a pod when its owner is deleted (kube-controller-manager)", async () => {
    const owner = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "owner" }, data: { a: "b" } } })
    const body = podSpec("owned", {})
    body.metadata = {
      ...body.metadata,
      ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata!.uid!, controller: true }]
    }
    await core.createNamespacedPod({ namespace: ns, body })
    await waitForPod("owned", "Ready", (p) => podReady(p) === "True")
    await core.deleteNamespacedConfigMap({ name: "owner", namespace: ns })
    await eventually("owned pod garbage-collected", async () => {
      try {
        await readPod("owned")
        return undefined
      } catch (e) {
        return isNotFound(e) ? true : undefined
      }
    }, 60_000)
  })

  it("applies and reads manifests with kubectl", async () => {
    const manifest = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-kubectl\n  namespace: ${ns}\ndata:\n  k: v\n`
    const applied = await cp.kubectl(["apply", "-f", "-"], manifest)
    expect(applied.code, applied.stderr).toBe(0)
    const got = await cp.kubectl(["get", "configmap", "from-kubectl", "-n", ns, "-o", "jsonpath={.data.k}"])
    expect(got.stdout).toBe("v")
  })

  it("restarts the API server; objects survive", async () => {
    // This checks the harness's own restart, which an existing cluster (KUBECONFIG_FOR_TESTS) does not offer: fail, never skip.
    if (cp.external) throw new Error("this test restarts kube-apiserver, which an existing cluster (KUBECONFIG_FOR_TESTS) does not allow")
    const before = await core.readNamespacedConfigMap({ name: "from-kubectl", namespace: ns })
    await cp.restartApiServer({ downMs: 1_000 })
    const after = await core.readNamespacedConfigMap({ name: "from-kubectl", namespace: ns })
    expect(after.metadata?.uid).toBe(before.metadata?.uid)
    // kwok and the controllers reconnect: a new pod still goes Ready.
    await core.createNamespacedPod({ namespace: ns, body: podSpec("after-restart", {}) })
    await waitForPod("after-restart", "Ready", (p) => podReady(p) === "True", 60_000)
  })

  it("completes a namespace deletion (namespace controller)", async () => {
    const gone = `${ns}-gone`
    await core.createNamespace({ body: { metadata: { name: gone } } })
    await core.createNamespacedConfigMap({ namespace: gone, body: { metadata: { name: "x" } } })
    await core.deleteNamespace({ name: gone })
    await eventually("namespace deleted", async () => {
      try {
        await core.readNamespace({ name: gone })
        return undefined
      } catch (e) {
        return isNotFound(e) ? true : undefined
      }
    }, 90_000)
  })
})
