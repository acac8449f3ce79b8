// Pod reports against the real API server. kwok's pods run no containers, so the test plays the
// pod: it asks the TokenRequest API for a token bound to the pod the operator created (as the
// pod's projected volume would hold), then calls the callback API with it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fateAnnotations, freePort } from "../controlplane/index.ts"
import { cp, createNodes, eventually, type OperatorProcess, podsOf, podToken, startOperator, useNamespace, workloadApi } from "./support/operator.ts"

const namespace = useNamespace("reports")
const workloads = workloadApi(namespace)
const suite = `reports-${process.pid}`
const nodeNames = [`${suite}-1`, `${suite}-2`]
const audience = `bwo-test-${process.pid}`
let operator: OperatorProcess
let callbackPort = 0
let metricsPort = 0
const reportDirectory = mkdtempSync(path.join(os.tmpdir(), "bwo-reports-"))

beforeAll(async () => {
  await createNodes(nodeNames.map((name) => ({ name, labels: { suite } })))
  callbackPort = await freePort()
  metricsPort = await freePort()
  operator = startOperator(namespace, [
    "--callback-audience", audience, "--callback-service-name", "127.0.0.1",
    "--report-dir", reportDirectory, "--max-file-bytes", "1000", "--max-run-bytes", "1500"
  ], {}, {
    callback: callbackPort,
    metrics: metricsPort
  })
})
afterAll(async () => {
  expect(await operator.stop()).toBe(0)
  rmSync(reportDirectory, { recursive: true, force: true })
})

/** A token as the kubelet would mount it in the pod: bound to the pod, for the operator's audience. */
const tokenFor = (pod: { name: string; uid: string }, tokenAudience = audience) => podToken(namespace, pod, tokenAudience)

/** The URL the pod got in its environment, pointed at this test's operator. */
const envOf = (pod: { spec?: { containers?: Array<{ env?: Array<{ name: string; value?: string }> }> } }) =>
  Object.fromEntries((pod.spec?.containers?.[0]?.env ?? []).map((e) => [e.name, e.value ?? ""]))

const post = (url: string, body: string, token?: string, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...headers, ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) }
  })

const metrics = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()

const eventsOf = async (name: string) =>
  (await cp.kubectl(["-n", namespace, "get", "events", "--field-selector", `involvedObject.name=${name}`, "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}"])).stdout

describe("pod reports", () => {
  it("gives pods the callback environment and token; accepts only the pod's own token for its node and run", async () => {
    await workloads.create("reporting", {
      mode: "RunToCompletion",
      nodeNames,
      batchSize: 2,
      image: "busybox",
      podAnnotations: fateAnnotations("pending"),
      reports: { latestLabel: true, gauges: [{ suffix: "disk_used_ratio", help: "Share of / in use", labels: ["mount"] }] }
    })
    const status = await workloads.waitFor("reporting", "both pods created", (s) => s.phase === "Running" && s.nodeStatus?.every((n) => n.podName !== undefined && n.attempts === 1) === true)
    const executionId = status.revision ?? ""
    const pods = await eventually("both pods", async () => {
      const found = (await podsOf(namespace)).filter((pod) => pod.metadata?.labels?.["batch.example.com/workload"] === "reporting")
      return found.length === 2 ? found : undefined
    })
    const [first, second] = nodeNames.map((node) => pods.find((pod) => pod.spec?.nodeName === node))
    if (first === undefined || second === undefined) throw new Error("a pod per node expected")
    const env = envOf(first)
    expect(env).toMatchObject({
      NAMESPACE: namespace,
      NODE_NAME: nodeNames[0],
      EXECUTION_ID: executionId,
      CALLBACK_SERVICE_NAME: "127.0.0.1",
      CALLBACK_SERVICE_PORT: String(callbackPort),
      CALLBACK_SERVICE_RESULT_URL: `http://127.0.0.1:${callbackPort}/report/${nodeNames[0]}/${executionId}/result`,
      CALLBACK_SERVICE_FILE_URL: `http://127.0.0.1:${callbackPort}/report/${nodeNames[0]}/${executionId}/file`,
      CALLBACK_SERVICE_EVENT_URL: `http://127.0.0.1:${callbackPort}/report/${nodeNames[0]}/${executionId}/event`
    })
    const volume = (first.spec?.volumes ?? []).find((v) => v.projected !== undefined)
    expect(volume?.projected?.sources?.[0]?.serviceAccountToken).toEqual({ audience, expirationSeconds: 600, path: "token" })

    const identity = (pod: typeof first) => ({ name: pod.metadata?.name ?? "", uid: pod.metadata?.uid ?? "" })
    const firstToken = await tokenFor(identity(first))
    const secondToken = await tokenFor(identity(second))
    const resultUrl = env["CALLBACK_SERVICE_RESULT_URL"] ?? ""
    const result = JSON.stringify({ disk_used_ratio: [{ value: 0.42, labels: { mount: "/" } }] })

    // Refused: no token, a token of another pod, a token not bound to a pod, one for another audience.
    expect((await post(resultUrl, result)).status).toBe(401)
    expect((await post(resultUrl, result, secondToken)).status).toBe(403)
    const unbound = await cp.kubectl(["-n", namespace, "create", "token", "default", "--audience", audience])
    expect((await post(resultUrl, result, unbound.stdout.trim())).status).toBe(403)
    expect((await post(resultUrl, result, await tokenFor(identity(first), "someone-else"))).status).toBe(401)
    expect((await post(resultUrl.replace(executionId, "another-run"), result, firstToken)).status).toBe(403)
    // Each refusal is an audit line: a Warn with the reason, the path and the status.
    expect(operator.output()).toContain(`callback refused: pod ${second.metadata?.name ?? ""} runs on ${nodeNames[1]}, not ${nodeNames[0]}`)
    expect(operator.output()).toContain("callback refused: no bearer token")

    // Bad bodies: precise 400s, and nothing stored.
    const bad = async (body: string) => {
      const response = await post(resultUrl, body, firstToken)
      return `${response.status} ${await response.text()}`
    }
    expect(await bad("{not json")).toBe("400 malformed JSON")
    expect(await bad(JSON.stringify({ inodes: [{ value: 1 }] }))).toMatch(/^400 inodes: not a gauge of this workload/)
    expect(await bad(JSON.stringify({ disk_used_ratio: [{ value: 1, labels: { disk: "/" } }] }))).toMatch(/^400 disk_used_ratio\[0\]\.labels: expected exactly \[mount\]/)
    expect(await bad(JSON.stringify({ disk_used_ratio: [{ value: "full", labels: { mount: "/" } }] }))).toBe("400 disk_used_ratio[0].value: expected a number")
    expect(await metrics()).not.toMatch(/bwl_reporting_disk_used_ratio/)

    // Accepted: the pod's own token, for its own node and run.
    const accepted = await post(resultUrl, result, firstToken)
    expect(accepted.status, await accepted.text()).toBe(200)
    const published = await metrics()
    expect(published).toContain("# HELP bwl_reporting_disk_used_ratio Share of / in use")
    expect(published).toContain(
      `bwl_reporting_disk_used_ratio{namespace="${namespace}",workload="reporting",node="${nodeNames[0]}",executionID="${executionId}",mount="/"} 0.42`
    )
    expect(published).toContain(`bwl_reporting_disk_used_ratio{namespace="${namespace}",workload="reporting",node="${nodeNames[0]}",executionID="latest",mount="/"} 0.42`)

    // Events: UpperCamelCase reasons only.
    const eventUrl = env["CALLBACK_SERVICE_EVENT_URL"] ?? ""
    expect((await post(eventUrl, JSON.stringify({ reason: "diskFull", message: "x" }), firstToken)).status).toBe(400)
    const event = await post(eventUrl, JSON.stringify({ warning: true, reason: "DiskAlmostFull", message: "used %s of /", args: ["42%"] }), firstToken)
    expect(event.status, await event.text()).toBe(200)
    await eventually("the reported Event", async () => (await eventsOf("reporting")).includes(`DiskAlmostFull: node ${nodeNames[0]}: used 42% of /`) || undefined)

    // Files: stored as <node>-<name> in the run's directory; no way out of it; limits per file and per run.
    const fileUrl = env["CALLBACK_SERVICE_FILE_URL"] ?? ""
    const runDirectory = path.join(reportDirectory, namespace, "reporting", executionId)
    const sent = async (url: string, body: string, headers: Record<string, string> = {}) => {
      const response = await post(url, body, firstToken, { "content-type": "text/plain", ...headers })
      return `${response.status} ${await response.text()}`
    }
    expect(await sent(`${fileUrl}?name=df.txt`, "Filesystem 42%")).toBe(`200 stored ${nodeNames[0]}-df.txt`)
    expect(readFileSync(path.join(runDirectory, `${nodeNames[0]}-df.txt`), "utf8")).toBe("Filesystem 42%")
    expect(await sent(fileUrl, "{}", { "content-disposition": "attachment; filename=\"facts.json\"" })).toBe(`200 stored ${nodeNames[0]}-facts.json`)
    expect(await sent(fileUrl, "no name")).toMatch(new RegExp(`^200 stored ${nodeNames[0]}-[0-9a-z]+-[0-9a-z]+$`))
    expect(await sent(`${fileUrl}?name=${encodeURIComponent("../../escaped.txt")}`, "x")).toMatch(/^400 file name "..\/..\/escaped.txt" must be a plain name/)
    expect(existsSync(path.join(reportDirectory, namespace, "escaped.txt"))).toBe(false)
    expect(await sent(`${fileUrl}?name=big.bin`, "x".repeat(1001))).toMatch(/^413 the file is 1001 bytes; at most 1000/)
    expect(await sent(`${fileUrl}?name=half.bin`, "x".repeat(900))).toBe(`200 stored ${nodeNames[0]}-half.bin`)
    expect(await sent(`${fileUrl}?name=more.bin`, "x".repeat(900))).toMatch(/^413 the run's files would take \d+ bytes; at most 1500/)
    expect(await post(`${fileUrl}?name=x.txt`, "x", secondToken).then((r) => r.status)).toBe(403)

    // A new run (the retry annotation) takes the old run's series off /metrics.
    await workloads.patch("reporting", { metadata: { annotations: { "batch.example.com/retry": "1" } } })
    await workloads.waitFor("reporting", "a new run", (s) => s.revision !== executionId)
    await eventually("the old run's series gone", async () => (await metrics()).includes("bwl_reporting_disk_used_ratio") ? undefined : true)
    await workloads.remove("reporting")
  }, 180_000)
})
