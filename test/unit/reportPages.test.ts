import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Layer } from "effect"
import { HttpClient, HttpRouter } from "effect/http"
import type { BatchWorkloadStatus } from "../../src/api/BatchWorkload.ts"
import type { StoredResult } from "../../src/api/Reports.ts"
import { reportPages } from "../../src/http/ReportPages.ts"
import { Caches } from "../../src/services/Caches.ts"
import { ReportDirectory } from "../../src/services/ReportDirectory.ts"
import { ReportStore } from "../../src/services/ReportStore.ts"
import { FakeCluster } from "./support/FakeCluster.ts"
import { escapeHtml, fileHref, nodeRows, orderRuns, renderIndex, renderRun, resultRows, type RunPage, runRow, workloadRow } from "../../src/domain/reportPages.ts"

const scheduled: BatchWorkloadStatus = {
  phase: "Running",
  executionId: "20261202-0300",
  revision: "abc",
  nodeStatus: [
    { nodeName: "node-1", phase: "Succeeded", attempts: 1 },
    { nodeName: "node-2", phase: "Failed", attempts: 4, message: "exit code 3 <oops>" }
  ],
  runHistory: [
    { executionId: "20261202-0300", trigger: "Schedule", scheduledTime: "2026-12-02T03:00:00Z", startTime: "2026-12-02T03:00:01Z", outcome: "Running", totalNodes: 2, succeededNodes: 1, failedNodes: 1 },
    { executionId: "20261201-0300", trigger: "Manual", startTime: "2026-12-01T03:00:01Z", completionTime: "2026-12-01T03:01:00Z", outcome: "Succeeded", totalNodes: 2, succeededNodes: 2, failedNodes: 0 }
  ]
}
const plain: BatchWorkloadStatus = { phase: "Succeeded", revision: "rev1", startTime: "t0", completionTime: "t1", totalNodes: 3, succeededNodes: 3, failedNodes: 0 }

describe("a run's row", () => {
  const rows: ReadonlyArray<readonly [string, BatchWorkloadStatus | undefined, string, object]> = [
    ["from the history, without its tick", scheduled, "20261201-0300", {
      executionId: "20261201-0300", href: "/reports/ns/w/20261201-0300", trigger: "Manual", startTime: "2026-12-01T03:00:01Z",
      completionTime: "2026-12-01T03:01:00Z", outcome: "Succeeded", totalNodes: 2, succeededNodes: 2, failedNodes: 0
    }],
    ["the current run of a workload without a schedule, from its status", plain, "rev1", {
      executionId: "rev1", href: "/reports/ns/w/rev1", outcome: "Succeeded", startTime: "t0", completionTime: "t1", totalNodes: 3, succeededNodes: 3, failedNodes: 0
    }],
    ["a run the status no longer knows: its id only", plain, "rev0", { executionId: "rev0", href: "/reports/ns/w/rev0" }],
    ["a workload that is gone", undefined, "rev1", { executionId: "rev1", href: "/reports/ns/w/rev1" }]
  ]
  for (const [what, status, executionId, expected] of rows) it(what, () => assert.deepStrictEqual(runRow("ns", "w", status, executionId), expected))

  it("links escape their segments", () => assert.strictEqual(fileHref("ns", "w", "r 1", "node-1-a/b?.txt"), "/reports/ns/w/r%201/files/node-1-a%2Fb%3F.txt"))
})

describe("runs, newest first", () => {
  const rows: ReadonlyArray<readonly [string, BatchWorkloadStatus | undefined, ReadonlyArray<string>, ReadonlyArray<string>]> = [
    ["in the history's order", scheduled, ["20261201-0300", "20261202-0300"], ["20261202-0300", "20261201-0300"]],
    ["then those the history does not name, by id", scheduled, ["20261130-0300", "20261201-0300", "20261129-0300"], ["20261201-0300", "20261130-0300", "20261129-0300"]],
    ["a history entry without a directory is not listed", scheduled, ["20261202-0300"], ["20261202-0300"]],
    ["no status: by id", undefined, ["a", "c", "b"], ["c", "b", "a"]]
  ]
  for (const [what, status, stored, expected] of rows) it(what, () => assert.deepStrictEqual(orderRuns(status, stored), expected))
})

describe("nodes' outcomes", () => {
  const rows: ReadonlyArray<readonly [string, BatchWorkloadStatus | undefined, string, ReadonlyArray<string> | undefined]> = [
    ["of the current run, from the status", scheduled, "20261202-0300", ["node-1 Succeeded 1", "node-2 Failed 4 exit code 3 <oops>"]],
    ["of an earlier run: not kept", scheduled, "20261201-0300", undefined],
    ["by revision without a schedule", plain, "rev1", []],
    ["of a workload that is gone", undefined, "rev1", undefined]
  ]
  for (const [what, status, executionId, expected] of rows) {
    it(what, () => assert.deepStrictEqual(nodeRows(status, executionId)?.map((n) => [n.nodeName, n.phase, n.attempts, n.message].filter((x) => x !== undefined).join(" ")), expected))
  }
})

const stored = (nodeName: string, prefix?: string): StoredResult => ({
  namespace: "ns",
  workload: "my-w",
  executionId: "r",
  nodeName,
  receivedAt: "2026-12-02T03:00:05.000Z",
  reports: { latestLabel: false, gauges: [{ suffix: "used", help: "h", labels: ["mount"] }], ...(prefix !== undefined ? { prefix } : {}) },
  samples: [{ suffix: "used", value: 0.5, labels: { mount: "/" } }, { suffix: "used", value: 0.25, labels: { mount: "/var" } }]
})

describe("result rows", () => {
  it("one per value, by node, under the published metric name", () =>
    assert.deepStrictEqual(resultRows([stored("node-2", "disk"), stored("node-1")]).map((r) => `${r.nodeName} ${r.metric} ${r.labels["mount"]} ${r.value}`), [
      "node-1 bwl_my_w_used / 0.5",
      "node-1 bwl_my_w_used /var 0.25",
      "node-2 disk_used / 0.5",
      "node-2 disk_used /var 0.25"
    ]))
})

describe("HTML", () => {
  const rows: ReadonlyArray<readonly [string, string]> = [
    ["<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"],
    ["a & b", "a &amp; b"],
    ["\" onmouseover='x'", "&quot; onmouseover=&#39;x&#39;"]
  ]
  for (const [text, expected] of rows) it(`escapes ${text}`, () => assert.strictEqual(escapeHtml(text), expected))

  it("the index: one table per workload, each run a link; a gone workload says so", () => {
    const html = renderIndex([workloadRow("ns", "w", scheduled, ["20261201-0300", "20261202-0300"]), workloadRow("ns", "gone", undefined, ["r1"])])
    assert.include(html, "<h2>ns/w</h2>\n<p>phase: Running</p>")
    assert.include(html, "<td><a href=\"/reports/ns/w/20261202-0300\">20261202-0300</a></td><td class=\"Running\">Running</td><td>Schedule</td>")
    assert.include(html, "<p>phase: the workload is gone</p>")
    assert.isBelow(html.indexOf("20261202-0300"), html.indexOf("20261201-0300"))
    assert.include(renderIndex([]), "<p>No reports are stored.</p>")
  })

  it("a run's page: nodes, results and files, everything a pod sent escaped", () => {
    const page: RunPage = {
      namespace: "ns",
      name: "w",
      run: runRow("ns", "w", scheduled, "20261202-0300"),
      nodes: nodeRows(scheduled, "20261202-0300") ?? [],
      results: resultRows([{ ...stored("node-1"), samples: [{ suffix: "used", value: 0.5, labels: { mount: "<b>/</b>" } }] }]),
      files: [{ name: "node-1-<img src=x>.txt", bytes: 12, href: fileHref("ns", "w", "20261202-0300", "node-1-<img src=x>.txt") }]
    }
    const html = renderRun(page)
    assert.include(html, "<tr><td>node-2</td><td class=\"Failed\">Failed</td><td>4</td><td>exit code 3 &lt;oops&gt;</td></tr>")
    assert.include(html, "<tr><td>node-1</td><td>bwl_my_w_used</td><td>mount=&lt;b&gt;/&lt;/b&gt;</td><td>0.5</td><td>2026-12-02T03:00:05.000Z</td></tr>")
    assert.include(html, "<td><a href=\"/reports/ns/w/20261202-0300/files/node-1-%3Cimg%20src%3Dx%3E.txt\">node-1-&lt;img src=x&gt;.txt</a></td><td>12</td>")
    assert.notInclude(html, "<img")
    assert.include(html, "<a href=\"/reports/ns/w/20261202-0300?format=json\">as JSON</a>")
  })

  it("a run's page without per-node outcomes, results or files says so", () => {
    const html = renderRun({ namespace: "ns", name: "w", run: runRow("ns", "w", scheduled, "20261201-0300"), results: [], files: [] })
    assert.include(html, "keeps each node's outcome for its current run only")
    assert.include(html, "<p>No results were reported.</p>")
    assert.include(html, "<p>No files were reported.</p>")
  })
})

/** The pages as the callback server serves them, over a real report directory and an in-memory cluster. */
const servedOver = (root: string) =>
  HttpRouter.serve(reportPages, { disableLogger: true }).pipe(
    Layer.provideMerge(Layer.merge(ReportStore.layer, Caches.layer)),
    Layer.provideMerge(FakeCluster.kubeClient),
    Layer.provideMerge(FakeCluster.layer),
    Layer.provideMerge(ReportDirectory.layer(root)),
    Layer.provideMerge(NodeHttpServer.layerTest)
  )

describe("served pages", () => {
  it.live("index, run page and file without a token, as HTML and as JSON; nothing outside the run's directory", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* fs.makeTempDirectoryScoped()
      yield* fs.writeFileString(`${root}/secret.txt`, "not a report")
      yield* Effect.gen(function*() {
        const store = yield* ReportStore
        yield* store.record({ namespace: "ns", name: "w", reports: stored("node-1").reports }, "r1", "node-1", stored("node-1").samples)
        yield* fs.writeFileString(`${root}/ns/w/r1/node-1-df.txt`, "Filesystem 42%")
        const client = yield* HttpClient.HttpClient
        const get = (url: string) => Effect.flatMap(client.get(url), (response) => Effect.map(response.text, (text) => ({ status: response.status, text, headers: response.headers })))

        const index = yield* get("/reports")
        assert.strictEqual(index.status, 200)
        assert.strictEqual(index.headers["content-type"], "text/html; charset=utf-8")
        assert.include(index.text, "<a href=\"/reports/ns/w/r1\">r1</a>")
        assert.deepStrictEqual(JSON.parse((yield* get("/reports?format=json")).text).workloads[0].runs[0].executionId, "r1")

        const run = yield* get("/reports/ns/w/r1")
        assert.include(run.text, "<td>node-1</td><td>bwl_w_used</td><td>mount=/</td><td>0.5</td>")
        assert.include(run.text, "<a href=\"/reports/ns/w/r1/files/node-1-df.txt\">node-1-df.txt</a></td><td>14</td>")
        assert.notInclude(run.text, "results", "the operator's own results directory is not a file of the run")
        const json = JSON.parse((yield* get("/reports/ns/w/r1?format=json")).text)
        assert.deepStrictEqual(json.files, [{ name: "node-1-df.txt", bytes: 14, href: "/reports/ns/w/r1/files/node-1-df.txt" }])
        assert.deepStrictEqual(json.results.map((row: { value: number }) => row.value), [0.5, 0.25])

        const file = yield* get("/reports/ns/w/r1/files/node-1-df.txt")
        assert.strictEqual(file.text, "Filesystem 42%")
        assert.strictEqual(file.headers["content-disposition"], "attachment; filename*=UTF-8''node-1-df.txt")
        for (const escape of ["/reports/ns/w/r1/files/..%2F..%2F..%2Fsecret.txt", "/reports/ns/w/r1/files/results", "/reports/ns/w/..%2F..%2F..%2F/files/secret.txt", "/reports/ns/w/r2"]) {
          assert.strictEqual((yield* get(escape)).status, 404, escape)
        }
      }).pipe(Effect.provide(servedOver(root)))
    }).pipe(Effect.provide(NodeFileSystem.layer), Effect.scoped))
})
