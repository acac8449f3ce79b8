// Stored pod reports against the real API server: what a pod reported survives an operator
// restart (on /metrics and on the report pages), and a run that leaves the history loses its
// directory. As in reports.test.ts, the test plays the pod with a token bound to it.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fateAnnotations, freePort } from "../controlplane/index.ts"
import { renderedDom, screenshot } from "./support/browser.ts"
import { createNodes, eventually, type OperatorProcess, podsOf, podToken, startOperator, useNamespace, workloadApi } from "./support/operator.ts"

const namespace = useNamespace("report-history")
const workloads = workloadApi(namespace)
const suite = `report-history-${process.pid}`
const nodeName = `${suite}-1`
const audience = `bwo-history-${process.pid}`
const reportDirectory = mkdtempSync(path.join(os.tmpdir(), "bwo-report-history-"))
const ports = { callback: 0, metrics: 0 }
let operator: OperatorProcess

/** The operator as the test runs it, over the same report directory and ports every time. */
const start = () =>
  startOperator(namespace, ["--callback-audience", audience, "--callback-service-name", "127.0.0.1", "--report-dir", reportDirectory], {}, ports)

beforeAll(async () => {
  await createNodes([{ name: nodeName, labels: { suite } }])
  ports.callback = await freePort()
  ports.metrics = await freePort()
  operator = start()
})
afterAll(async () => {
  expect(await operator.stop()).toBe(0)
  rmSync(reportDirectory, { recursive: true, force: true })
})

const post = async (url: string, body: string, token: string, contentType = "application/json") => {
  const response = await fetch(url, { method: "POST", body, headers: { "content-type": contentType, authorization: `Bearer ${token}` } })
  return `${response.status} ${await response.text()}`
}
const get = async (url: string) => {
  const response = await fetch(`http://127.0.0.1:${ports.callback}${url}`)
  return { status: response.status, text: await response.text() }
}
const metrics = async () => (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text()

describe("stored pod reports", () => {
  it("survive an operator restart on /metrics and the report pages; a run that leaves the history takes its directory", async () => {
    await workloads.create("nightly", {
      mode: "RunToCompletion",
      schedule: "0 0 1 1 *",
      runOnCreate: true,
      runHistoryLimit: 1,
      nodeNames: [nodeName],
      image: "busybox",
      podAnnotations: fateAnnotations("pending"),
      reports: { latestLabel: true, gauges: [{ suffix: "disk_used_ratio", help: "Share of / in use", labels: ["mount"] }] }
    })
    const status = await workloads.waitFor("nightly", "the run's pod created", (s) => s.executionId !== undefined && s.nodeStatus?.[0]?.podName !== undefined)
    const executionId = status.executionId ?? ""
    const pod = await eventually("the pod", async () => (await podsOf(namespace)).find((p) => p.spec?.nodeName === nodeName))
    const token = await podToken(namespace, { name: pod.metadata?.name ?? "", uid: pod.metadata?.uid ?? "" }, audience)
    const base = `http://127.0.0.1:${ports.callback}/report/${nodeName}/${executionId}`
    expect(await post(`${base}/result`, JSON.stringify({ disk_used_ratio: [{ value: 0.42, labels: { mount: "/" } }] }), token)).toBe("200 stored 1 values")
    expect(await post(`${base}/file?name=df.txt`, "Filesystem 42%", token, "text/plain")).toBe(`200 stored ${nodeName}-df.txt`)

    const series = `bwl_nightly_disk_used_ratio{namespace="${namespace}",workload="nightly",node="${nodeName}",executionID="${executionId}",mount="/"} 0.42`
    const latest = `bwl_nightly_disk_used_ratio{namespace="${namespace}",workload="nightly",node="${nodeName}",executionID="latest",mount="/"} 0.42`
    const runPage = `/reports/${namespace}/nightly/${executionId}`
    const fileLink = `${runPage}/files/${nodeName}-df.txt`
    /** What a reader sees of the run: the value on /metrics, and on the run's page and its JSON, with the file. */
    const expectReported = async () => {
      const published = await metrics()
      expect(published).toContain(series)
      expect(published).toContain(latest)
      const html = await get(runPage)
      expect(html.status).toBe(200)
      expect(html.text).toContain(`<td>${nodeName}</td><td>bwl_nightly_disk_used_ratio</td><td>mount=/</td><td>0.42</td>`)
      expect(html.text).toContain(`<a href="${fileLink}">${nodeName}-df.txt</a>`)
      const json = JSON.parse((await get(`${runPage}?format=json`)).text)
      expect(json.results).toMatchObject([{ nodeName, metric: "bwl_nightly_disk_used_ratio", labels: { mount: "/" }, value: 0.42 }])
      expect(json.files).toEqual([{ name: `${nodeName}-df.txt`, bytes: 14, href: fileLink }])
      expect(json.run).toMatchObject({ executionId, trigger: "Create", outcome: "Running" })
      expect(await get(fileLink)).toEqual({ status: 200, text: "Filesystem 42%" })
      expect((await get("/reports")).text).toContain(`<a href="${runPage}">${executionId}</a>`)
    }
    await expectReported()

    // As a browser shows them: the index links the run; the run's page has the node's row, the value and the file link.
    const page = (url: string) => `http://127.0.0.1:${ports.callback}${url}`
    const index = await renderedDom(page("/reports"))
    expect(index).toContain(`<a href="${runPage}">${executionId}</a>`)
    const rendered = await renderedDom(page(runPage))
    expect(rendered).toContain(`<td>${nodeName}</td><td>bwl_nightly_disk_used_ratio</td><td>mount=/</td><td>0.42</td>`)
    expect(rendered).toContain(`<a href="${fileLink}">${nodeName}-df.txt</a>`)
    const png = path.join(reportDirectory, "run-page.png")
    await screenshot(page(runPage), png)
    expect(readFileSync(png).subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a")
    // BWO_SCREENSHOT=FILE keeps it (the README's picture is made so).
    const keep = process.env["BWO_SCREENSHOT"]
    if (keep !== undefined) copyFileSync(png, keep)

    // A restart: a new process over the same directory publishes the same series and pages.
    expect(await operator.stop()).toBe(0)
    operator = start()
    await eventually("the stored result read back", async () => (await metrics().catch(() => "")).includes(series) || undefined)
    expect(operator.output()).toContain("read back 1 stored results of 1 workloads")
    await expectReported()

    // A new run by hand; with runHistoryLimit 1 the first run leaves the history, and its directory goes.
    await workloads.patch("nightly", { metadata: { annotations: { "batch.example.com/retry": "1" } } })
    await workloads.waitFor("nightly", "a new run", (s) => s.executionId !== executionId && s.runHistory?.length === 1)
    await eventually("the first run's directory removed", async () => existsSync(path.join(reportDirectory, namespace, "nightly", executionId)) ? undefined : true)
    expect((await get(runPage)).status).toBe(404)
    expect(await metrics()).not.toContain("bwl_nightly_disk_used_ratio")
    expect((await get("/reports")).text).not.toContain(executionId)
    await workloads.remove("nightly")
  }, 180_000)
})
