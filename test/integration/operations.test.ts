// Running the operator as on-call engineers see it: metrics, health, leader election, shutdown.
import * as k8s from "@kubernetes/client-node"
import { describe, expect, it } from "vitest"
import { fateAnnotations, freePort } from "../controlplane/index.ts"
import { core, cp, createNodes, eventually, kc, recordPods, sleep, startOperator, useNamespace, workloadApi } from "./support/operator.ts"

const namespace = useNamespace("operations")
const workloads = workloadApi(namespace)
const suite = `operations-${process.pid}`
const coordination = kc.makeApiClient(k8s.CoordinationV1Api)

const get = async (url: string) => {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) })
    return { status: response.status, body: await response.text() }
  } catch {
    return { status: 0, body: "" }
  }
}

describe("metrics and health", () => {
  it("/readyz turns ready only once the caches have synced; /metrics shows the run", async () => {
    if (cp.external) throw new Error("this test restarts kube-apiserver, which an existing cluster (KUBECONFIG_FOR_TESTS) does not allow")
    await createNodes([1, 2].map((i) => ({ name: `${suite}-m${i}`, labels: { suite: `${suite}-m` } })))
    const health = await freePort()
    const metrics = await freePort()
    // Start the operator while the API server is away, so its caches cannot sync yet.
    const outage = cp.restartApiServer({ downMs: 15_000 })
    await sleep(1500)
    const operator = startOperator(namespace, [], {}, { health, metrics })
    try {
      const unready = await eventually("/healthz up, /readyz 503", async () => {
        const [alive, ready] = await Promise.all([get(`http://127.0.0.1:${health}/healthz`), get(`http://127.0.0.1:${health}/readyz`)])
        return alive.status === 200 && ready.status === 503 ? ready : undefined
      }, 20_000)
      expect(unready.body).toMatch(/not synced/)
      await outage
      await eventually("/readyz 200", async () => (await get(`http://127.0.0.1:${health}/readyz`)).status === 200 ? true : undefined)

      await workloads.create("measured", { nodeSelector: { suite: `${suite}-m` }, image: "busybox", batchSize: 2 })
      await workloads.waitFor("measured", "Succeeded", (s) => s.phase === "Succeeded")
      const scrape = await eventually("metrics", async () => {
        const body = (await get(`http://127.0.0.1:${metrics}/metrics`)).body
        return body.includes('batch_operator_workloads{phase="Succeeded"} 1') ? body : undefined
      })
      expect(scrape, scrape).toMatch(/batch_operator_node_outcomes_total\{outcome="succeeded"\} 2/)
      expect(scrape).toMatch(/batch_operator_node_attempt_duration_seconds_bucket\{result="success",le="\+Inf"\} 2/)
      expect(scrape).toMatch(/controller_runtime_reconcile_total\{controller="batchworkload",result="success"\} \d+/)
      expect(scrape).toMatch(/controller_runtime_reconcile_time_seconds_count\{controller="batchworkload"\} \d+/)
      expect(scrape).toMatch(/batch_operator_api_requests_total\{verb="create",kind="pods",code="201"\} 2/)
      expect(scrape).toMatch(/batch_operator_api_request_duration_seconds_count\{verb="list",kind="nodes"\} \d+/)
      expect(scrape).toMatch(/batch_operator_status_writes_total \d+/)
      expect(scrape).toMatch(/batch_operator_watch_restarts_total\{kind="\w+",cause="\w+"\} \d+/)
    } finally {
      expect(await operator.stop()).toBe(0)
    }
  })
})

describe("leader election", () => {
  // Stand-ins for the replicas' own pods (kwok plays them; nothing runs the operator in them): the leader labels its own.
  const replicaPod = (identity: string) => `operator-${identity}`
  const electionArgs = (identity: string) => [
    "--leader-elect",
    "--lease-namespace",
    namespace,
    "--identity",
    identity,
    "--lease-duration-seconds",
    "4",
    "--renew-deadline-seconds",
    "3",
    "--retry-period-seconds",
    "1",
    "--leader-label-pod",
    `${namespace}/${replicaPod(identity)}`
  ]
  const createReplicaPods = (identities: ReadonlyArray<string>) =>
    Promise.all(identities.map((identity) =>
      core.createNamespacedPod({
        namespace,
        body: { metadata: { name: replicaPod(identity) }, spec: { nodeName: `${suite}-l1`, containers: [{ name: "operator", image: "operator" }] } }
      })
    ))
  const labelled = async () => {
    const pods = await Promise.all(["replica-a", "replica-b"].map((identity) => core.readNamespacedPod({ name: replicaPod(identity), namespace })))
    return pods.filter((pod) => pod.metadata?.labels?.["batch.example.com/leader"] === "true").map((pod) => pod.metadata?.name).join(",")
  }
  const onlyLabelled = (identity: string) =>
    eventually(`only ${replicaPod(identity)} labelled leader`, async () => (await labelled()) === replicaPod(identity) ? true : undefined, 30_000)
  const holder = async () =>
    (await coordination.readNamespacedLease({ name: "batch-workload-operator", namespace })).spec?.holderIdentity ?? ""

  it("two replicas: one acts and labels its pod; killing it hands over; SIGTERM releases the lease; no node runs twice", async () => {
    await createNodes([1, 2, 3, 4, 5, 6].map((i) => ({ name: `${suite}-l${i}`, labels: { suite: `${suite}-l` } })))
    await createReplicaPods(["replica-a", "replica-b"])
    const replicas = new Map([
      ["replica-a", startOperator(namespace, electionArgs("replica-a"))],
      ["replica-b", startOperator(namespace, electionArgs("replica-b"))]
    ])
    try {
      const first = await eventually("a leader", async () => (await holder()) || undefined)
      const second = first === "replica-a" ? "replica-b" : "replica-a"
      await onlyLabelled(first)
      const recorder = await recordPods(namespace)
      await workloads.create("handover", {
        nodeSelector: { suite: `${suite}-l` },
        image: "nginx",
        batchSize: 2,
        podAnnotations: fateAnnotations("ready", { delayMs: 1500 })
      })
      await workloads.waitFor("handover", "two nodes done", (s) => (s.succeededNodes ?? 0) >= 2)
      expect(replicas.get(second)?.output()).not.toMatch(/became leader/)

      // The leader dies without a word: the standby waits out the lease, then finishes the run.
      expect(await replicas.get(first)?.stop("SIGKILL")).toBe(null)
      await eventually("standby leads", async () => (await holder()) === second ? true : undefined, 30_000)
      // The killed leader's pod keeps its label (a Deployment would replace that pod); the new leader labels its own.
      await eventually("new leader labelled", async () => (await labelled()).includes(replicaPod(second)) ? true : undefined, 30_000)
      await workloads.waitFor("handover", "Succeeded", (s) => s.phase === "Succeeded")
      recorder.stop()
      const lives = recorder.lives().filter((life) => life.name.startsWith("handover-"))
      expect(lives).toHaveLength(6)
      expect(new Set(lives.map((life) => life.node)).size).toBe(6)

      // A replacement joins as standby; the leader leaves with SIGTERM mid-run, exits 0 and hands the lease over at once.
      replicas.set(first, startOperator(namespace, electionArgs(first)))
      // Restarted in the same pod as a standby: it takes the label it left behind off its pod.
      await onlyLabelled(second)
      await sleep(3000)
      await workloads.patch("handover", { spec: { image: "nginx:2" } })
      await workloads.waitFor("handover", "rollout started", (s) => s.observedGeneration === 2 && (s.succeededNodes ?? 0) >= 1)
      expect(await replicas.get(second)?.stop("SIGTERM")).toBe(0)
      // Released before exiting: the lease is free (or already taken over), not left to expire.
      expect(await holder()).not.toBe(second)
      await eventually("replacement leads", async () => (await holder()) === first ? true : undefined, 30_000)
      await onlyLabelled(first)
      await workloads.waitFor("handover", "rollout done", (s) => s.observedGeneration === 2 && s.phase === "Succeeded")
    } catch (error) {
      const logs = [...replicas].map(([name, replica]) => `--- ${name}\n${replica.output().slice(-4000)}`).join("\n")
      throw new Error(`${String(error)}\n${logs}`)
    } finally {
      for (const replica of replicas.values()) await replica.stop()
    }
  })
})
