import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Effect, Exit, FileSystem, Layer, Result, Schema } from "effect"
import { TestClock } from "effect/testing"
import { parse as parseYaml } from "yaml"
import { BatchWorkloadSpec } from "../../src/api/BatchWorkload.ts"
import type { Reports } from "../../src/api/Reports.ts"
import { buildPod, revision } from "../../src/domain/pods.ts"
import { authorizeReport, metricPrefix, parseEvent, parseResults, type ReportTarget, renderSeries, requestedFileName, safeFileName } from "../../src/domain/reports.ts"
import { ReportDirectory } from "../../src/services/ReportDirectory.ts"
import { ReportStore } from "../../src/services/ReportStore.ts"

const reports: Reports = {
  latestLabel: false,
  gauges: [
    { suffix: "disk_used_ratio", help: "Share of / in use", labels: ["mount"] },
    { suffix: "uptime_seconds", help: "Node uptime" }
  ]
}

const outcome = (result: Result.Result<unknown, string>) => Result.isSuccess(result) ? "ok" : result.failure

describe("result bodies", () => {
  const rows: ReadonlyArray<readonly [string, unknown, string]> = [
    ["two gauges, with and without labels", { disk_used_ratio: [{ value: 0.4, labels: { mount: "/" } }], uptime_seconds: [{ value: 30 }] }, "ok"],
    ["not an object", [1], "expected a non-empty object of gauge suffixes to lists of results"],
    ["empty", {}, "expected a non-empty object of gauge suffixes to lists of results"],
    ["an undeclared suffix", { inodes: [{ value: 1 }] }, "inodes: not a gauge of this workload (declared: disk_used_ratio, uptime_seconds)"],
    ["not a list", { uptime_seconds: { value: 1 } }, "uptime_seconds: expected a list of results"],
    ["a value that is not a number", { uptime_seconds: [{ value: "30" }] }, "uptime_seconds[0].value: expected a number"],
    ["NaN-like values are refused", { uptime_seconds: [{ value: null }] }, "uptime_seconds[0].value: expected a number"],
    ["a missing label", { disk_used_ratio: [{ value: 1 }] }, "disk_used_ratio[0].labels: expected exactly [mount], got []"],
    ["an extra label", { disk_used_ratio: [{ value: 1, labels: { mount: "/", disk: "sda" } }] }, "disk_used_ratio[0].labels: expected exactly [mount], got [mount, disk]"],
    ["a label value that is not a string", { disk_used_ratio: [{ value: 1, labels: { mount: 1 } }] }, "disk_used_ratio[0].labels: expected an object of strings"]
  ]
  for (const [name, body, expected] of rows) it(name, () => assert.strictEqual(outcome(parseResults(reports, body)), expected))
})

describe("event bodies", () => {
  it("formats the message from args and maps warning to the Event type", () => {
    assert.deepStrictEqual(Result.getOrThrow(parseEvent({ warning: true, reason: "TestReason", message: "test message: %s", args: ["a"] })), {
      type: "Warning",
      reason: "TestReason",
      message: "test message: a"
    })
    assert.strictEqual(Result.getOrThrow(parseEvent({ reason: "Done", message: "100%% of %s, %s", args: ["x"] })).message, "100% of x, %!s(MISSING)")
  })
  const rows: ReadonlyArray<readonly [string, unknown, string]> = [
    ["a reason in lowerCamelCase", { reason: "testReason", message: "m" }, "reason: expected UpperCamelCase, such as TestReason"],
    ["a reason with a space", { reason: "Test Reason", message: "m" }, "reason: expected UpperCamelCase, such as TestReason"],
    ["no message", { reason: "TestReason" }, "message: expected a non-empty string"],
    ["args that are not strings", { reason: "TestReason", message: "%s", args: [1] }, "args: expected a list of strings"]
  ]
  for (const [name, body, expected] of rows) it(`refuses ${name}`, () => assert.strictEqual(outcome(parseEvent(body)), expected))
})

describe("who may report", () => {
  const caller = { namespace: "ns", podName: "w-node-1", podUid: "uid-1" }
  const target: ReportTarget = { pod: { uid: "uid-1", nodeName: "node-1", executionId: "run-2" }, currentExecutionId: "run-2", reports }
  const rows: ReadonlyArray<readonly [string, ReportTarget, string, string, string | undefined]> = [
    ["the pod of the current run, for its own node", target, "node-1", "run-2", undefined],
    ["for another node", target, "node-2", "run-2", "pod w-node-1 runs on node-1, not node-2"],
    ["for another run", target, "node-1", "run-1", "pod w-node-1 belongs to run run-2, not run-1"],
    ["a pod of a run that is over", { ...target, currentExecutionId: "run-3" }, "node-1", "run-2", "run run-2 is not the workload's current run (run-3)"],
    ["a pod recreated under the same name (another uid)", { ...target, pod: { ...target.pod!, uid: "uid-9" } }, "node-1", "run-2", "pod ns/w-node-1 is not a pod of a BatchWorkload"],
    ["a pod the operator does not manage", { ...target, pod: undefined }, "node-1", "run-2", "pod ns/w-node-1 is not a pod of a BatchWorkload"],
    ["a workload without reports", { ...target, reports: undefined }, "node-1", "run-2", "the workload of pod w-node-1 does not take reports"]
  ]
  for (const [name, t, node, run, expected] of rows) it(name, () => assert.strictEqual(authorizeReport(caller, t, node, run), expected))
})

describe("reporting pods", () => {
  const ref = { name: "disk-report", namespace: "ns", uid: "u1" }
  const endpoint = { host: "cb.svc", port: 8082, audience: "aud" }
  const decode = Schema.decodeUnknownSync(BatchWorkloadSpec)

  it("every container gets the callback environment (replacing a spec's own value) and the bound token; the default prefix comes from the name", () => {
    const spec = decode({ image: "busybox", mode: "RunToCompletion", env: [{ name: "NODE_NAME", value: "mine" }, { name: "KEEP", value: "1" }], reports })
    const pod = buildPod(ref, spec, { nodeName: "node-1", podName: "p", attempt: 1 }, "rev", { endpoint, executionId: "run-1" })
    const container = (pod.spec?.["containers"] as Array<{ env: Array<{ name: string; value: string }>; volumeMounts: Array<unknown> }>)[0]
    const env = Object.fromEntries(container?.env.map((e) => [e.name, e.value]) ?? [])
    assert.deepStrictEqual(env, {
      KEEP: "1",
      NAMESPACE: "ns",
      NODE_NAME: "node-1",
      EXECUTION_ID: "run-1",
      CALLBACK_SERVICE_NAME: "cb.svc",
      CALLBACK_SERVICE_PORT: "8082",
      CALLBACK_SERVICE_RESULT_URL: "http://cb.svc:8082/report/node-1/run-1/result",
      CALLBACK_SERVICE_FILE_URL: "http://cb.svc:8082/report/node-1/run-1/file",
      CALLBACK_SERVICE_EVENT_URL: "http://cb.svc:8082/report/node-1/run-1/event",
      CALLBACK_SERVICE_TOKEN_FILE: "/var/run/secrets/batch.example.com/callback/token"
    })
    assert.deepStrictEqual(container?.volumeMounts, [{ name: "batch-workload-operator-callback-token", mountPath: "/var/run/secrets/batch.example.com/callback", readOnly: true }])
    assert.deepStrictEqual(pod.spec?.["volumes"], [{
      name: "batch-workload-operator-callback-token",
      projected: { sources: [{ serviceAccountToken: { audience: "aud", expirationSeconds: 600, path: "token" } }] }
    }])
    assert.strictEqual(pod.metadata.annotations?.["batch.example.com/execution"], "run-1")
    assert.strictEqual(metricPrefix(reports, "disk-report.v2"), "bwl_disk_report_v2")
  })

  it("a workload without reports keeps its pods and revision exactly as before", () => {
    const spec = decode({ image: "busybox", mode: "RunToCompletion" })
    const pod = buildPod(ref, spec, { nodeName: "node-1", podName: "p", attempt: 1 }, "rev")
    assert.isUndefined(pod.spec?.["volumes"])
    assert.notStrictEqual(revision(spec, ""), revision(decode({ image: "busybox", mode: "RunToCompletion", reports }), ""))
  })

  it("refuses a gauge that declares a label the operator sets", () => {
    const exit = Schema.decodeUnknownExit(BatchWorkloadSpec)({ image: "busybox", reports: { gauges: [{ suffix: "x", help: "h", labels: ["node"] }] } })
    assert.isTrue(Exit.isFailure(exit))
  })
})

describe("published series", () => {
  it("one HELP and TYPE per name, label values escaped", () => {
    assert.strictEqual(
      renderSeries([
        { name: "a_b", help: "line\none", labels: { node: "n\"1" }, value: 1 },
        { name: "a_b", help: "line\none", labels: { node: "n2" }, value: 2.5 }
      ]),
      "# HELP a_b line\\none\n# TYPE a_b gauge\na_b{node=\"n\\\"1\"} 1\na_b{node=\"n2\"} 2.5\n"
    )
  })

  it.effect("a run that leaves the history takes its series; the latest copy follows the newest result", () =>
    Effect.gen(function*() {
      const root = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped()
      yield* Effect.provide(
        Effect.gen(function*() {
          const store = yield* ReportStore
          const workload = { namespace: "ns", name: "w", reports: { ...reports, latestLabel: true } }
          yield* store.record(workload, "run-1", "node-1", uptime(1))
          yield* store.record(workload, "run-2", "node-1", uptime(2))
          assert.match(store.render(), /executionID="run-1"\} 1\n.*executionID="run-2"\} 2\n.*executionID="latest"\} 2\n/s)
          yield* store.retain("ns/w", new Set(["run-2"]))
          assert.notInclude(store.render(), "run-1")
          yield* store.retain("ns/w", new Set())
          assert.strictEqual(store.render(), "")
        }),
        storeIn(ReportDirectory.layer(root))
      )
    }).pipe(Effect.provide(NodeFileSystem.layer), Effect.scoped))
})

const uptime = (value: number) => [{ suffix: "uptime_seconds", value, labels: {} }]

/** A ReportStore over the report directory `directory` gives. */
const storeIn = <E, R>(directory: Layer.Layer<ReportDirectory, E, R>) =>
  ReportStore.layer.pipe(Layer.provideMerge(directory), Layer.provideMerge(Layer.merge(NodeFileSystem.layer, NodePath.layer)))


describe("stored reports", () => {
  const workload = { namespace: "ns", name: "w", reports: { ...reports, latestLabel: true } }

  it.effect("survive a restart: the next store publishes the same series, the latest copy still the newest", () =>
    Effect.gen(function*() {
      const root = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped()
      const before = yield* Effect.provide(
        Effect.gen(function*() {
          const store = yield* ReportStore
          yield* store.record(workload, "run-2", "node-1", uptime(2))
          yield* TestClock.adjust("1 second")
          yield* store.record(workload, "run-3", "node-1", uptime(3))
          return store.render()
        }),
        storeIn(ReportDirectory.layer(root))
      )
      const after = yield* Effect.provide(
        Effect.gen(function*() {
          const store = yield* ReportStore
          assert.strictEqual(store.render(), "", "nothing is published before the store reads the directory")
          assert.deepStrictEqual(yield* store.load, ["ns/w"])
          const results = yield* store.resultsOf(workload, "run-3")
          assert.deepStrictEqual(results.map((result) => [result.nodeName, result.samples]), [["node-1", uptime(3)]])
          return store.render()
        }),
        storeIn(ReportDirectory.layer(root))
      )
      assert.strictEqual(after, before)
      assert.include(after, "executionID=\"latest\"} 3")
    }).pipe(Effect.provide(NodeFileSystem.layer), Effect.scoped))

  it.effect("a pruned run loses its directory with the files beside its results; a gone workload loses its own", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* fs.makeTempDirectoryScoped()
      yield* Effect.provide(
        Effect.gen(function*() {
          const store = yield* ReportStore
          yield* store.record(workload, "run-1", "node-1", uptime(1))
          yield* store.record(workload, "run-2", "node-1", uptime(2))
          yield* fs.writeFileString(`${root}/ns/w/run-1/node-1-df.txt`, "42%")
          yield* store.retain("ns/w", new Set(["run-2"]))
          assert.deepStrictEqual(yield* fs.readDirectory(`${root}/ns/w`), ["run-2"])
          yield* store.retain("ns/w", new Set())
          assert.deepStrictEqual(yield* fs.readDirectory(`${root}/ns`), [])
          assert.deepStrictEqual(yield* store.load, [])
        }),
        storeIn(ReportDirectory.layer(root))
      )
    }).pipe(Effect.provide(NodeFileSystem.layer), Effect.scoped))

  it.effect("a result file that does not say it belongs where it lies is not read back", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const root = yield* fs.makeTempDirectoryScoped()
      yield* Effect.provide(Effect.flatMap(ReportStore, (store) => store.record(workload, "run-1", "node-1", uptime(1))), storeIn(ReportDirectory.layer(root)))
      // Copied to another node's name, and another run's directory: both still say node-1 of run-1 inside.
      yield* fs.copyFile(`${root}/ns/w/run-1/results/node-1.json`, `${root}/ns/w/run-1/results/node-2.json`)
      yield* fs.makeDirectory(`${root}/ns/w/run-9/results`, { recursive: true })
      yield* fs.copyFile(`${root}/ns/w/run-1/results/node-1.json`, `${root}/ns/w/run-9/results/node-1.json`)
      yield* fs.writeFileString(`${root}/ns/w/run-1/results/node-3.json`, "{not json")
      const published = yield* Effect.provide(
        Effect.gen(function*() {
          const store = yield* ReportStore
          yield* store.load
          return store.render()
        }),
        storeIn(ReportDirectory.layer(root))
      )
      assert.deepStrictEqual(published.match(/^bwl_w_uptime_seconds\{.*$/gm), [
        "bwl_w_uptime_seconds{namespace=\"ns\",workload=\"w\",node=\"node-1\",executionID=\"run-1\"} 1",
        "bwl_w_uptime_seconds{namespace=\"ns\",workload=\"w\",node=\"node-1\",executionID=\"latest\"} 1"
      ])
    }).pipe(Effect.provide(NodeFileSystem.layer), Effect.scoped))
})

describe("file names", () => {
  it("come from the name parameter, else Content-Disposition", () => {
    assert.strictEqual(requestedFileName("df.txt", "attachment; filename=\"other.txt\""), "df.txt")
    assert.strictEqual(requestedFileName(undefined, "attachment; filename=\"disk usage.txt\""), "disk usage.txt")
    assert.strictEqual(requestedFileName(undefined, "attachment; filename=plain.log"), "plain.log")
    assert.isUndefined(requestedFileName("", undefined))
  })
  const rows: ReadonlyArray<readonly [string, string]> = [
    ["report.json", "ok"],
    ["../../etc/passwd", "file name \"../../etc/passwd\" must be a plain name of at most 200 characters, without / or \\"],
    ["..", "file name \"..\" must be a plain name of at most 200 characters, without / or \\"],
    ["a\\b", "file name \"a\\\\b\" must be a plain name of at most 200 characters, without / or \\"]
  ]
  for (const [name, expected] of rows) it(`${name}: ${expected === "ok" ? "taken" : "refused"}`, () => assert.strictEqual(outcome(safeFileName(name)), expected))
})

describe("samples/node-report.yaml", () => {
  it("its script reports a gauge the workload declares, a file and an Event, at the URLs of its environment", () => {
    const manifest = parseYaml(readFileSync(new URL("../../samples/node-report.yaml", import.meta.url), "utf8"))
    const spec = Schema.decodeUnknownSync(BatchWorkloadSpec)(manifest.spec)
    const script = spec.command?.[2] ?? ""
    // A wget that writes down its arguments, one call a block, instead of calling.
    const dir = mkdtempSync(path.join(os.tmpdir(), "bwo-sample-"))
    const calls = path.join(dir, "calls")
    writeFileSync(path.join(dir, "wget"), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> "${calls}"; done\necho "--" >> "${calls}"\n`, { mode: 0o755 })
    writeFileSync(path.join(dir, "token"), "the-token")
    const base = "http://callback:8082/report/node-1/run-1"
    execFileSync("sh", ["-c", script], {
      env: {
        PATH: `${dir}:${process.env["PATH"] ?? ""}`,
        NODE_NAME: "node-1",
        CALLBACK_SERVICE_TOKEN_FILE: path.join(dir, "token"),
        CALLBACK_SERVICE_RESULT_URL: `${base}/result`,
        CALLBACK_SERVICE_FILE_URL: `${base}/file`,
        CALLBACK_SERVICE_EVENT_URL: `${base}/event`
      }
    })
    const made = readFileSync(calls, "utf8").split("--\n").filter((call) => call !== "").map((call) => call.trimEnd().split("\n"))
    rmSync(dir, { recursive: true, force: true })
    const after = (args: ReadonlyArray<string>, flag: string) => args[args.indexOf(flag) + 1] ?? ""
    assert.deepStrictEqual(made.map((args) => args.at(-1)), [`${base}/result`, `${base}/file?name=df.txt`, `${base}/event`])
    for (const args of made) assert.include(args, "Authorization: Bearer the-token")
    const [result = [], file = [], event = []] = made
    const samples = parseResults(spec.reports ?? reports, JSON.parse(after(result, "--post-data")))
    assert.deepStrictEqual(Result.map(samples, (s) => s.map((sample) => [sample.suffix, sample.labels])), Result.succeed([["disk_used_ratio", { mount: "/" }]]))
    assert.include(file, "--post-file")
    const reported = parseEvent(JSON.parse(after(event, "--post-data")))
    assert.isTrue(Result.isSuccess(reported) && reported.success.reason === "DiskChecked" && reported.success.message.endsWith(" of / in use on node-1"))
  })
})
