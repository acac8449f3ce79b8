import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, type LogLevel } from "effect"
import { CliOutput, Command } from "effect/cli"
import { cliConfig, type Settings, settingsFlags } from "../../src/Config.ts"

/** What the operator's command line would run with, and what the CLI printed instead of running. */
const runCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const seen: { settings?: Settings; output: Array<string> } = { output: [] }
    const command = Command.make("batch-workload-operator", settingsFlags, (settings) =>
      Effect.sync(() => {
        seen.settings = settings
      }))
    const formatter = CliOutput.defaultFormatter({ colors: false })
    const presenter = CliOutput.layerPresenter({
      present: (event) =>
        Effect.sync(() => {
          if (event._tag === "Help") seen.output.push(formatter.formatHelpDoc(event.helpDoc))
          if (event._tag === "InvalidInvocation") seen.output.push(formatter.formatErrors(event.errors))
        })
    })
    yield* Command.runWith(command, { version: "0.1.0" })(args).pipe(
      Effect.ignore,
      Effect.provide(Layer.mergeAll(cliConfig, presenter, NodeServices.layer, ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))
    )
    return seen
  })

const levelFrom = (args: ReadonlyArray<string>, env?: Record<string, string>) =>
  Effect.map(runCli(args, env), (seen): LogLevel.LogLevel | undefined => seen.settings?.logLevel)

describe("settings", () => {
  it.effect("--log-level and LOG_LEVEL take a level in any case; the flag wins; Info by default", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* levelFrom(["--log-level=Debug"]), "Debug")
      assert.strictEqual(yield* levelFrom(["--log-level", "warn"]), "Warn")
      assert.strictEqual(yield* levelFrom(["--log-level=ERROR"]), "Error")
      assert.strictEqual(yield* levelFrom([], { LOG_LEVEL: "debug" }), "Debug")
      assert.strictEqual(yield* levelFrom([], { LOG_LEVEL: "Info" }), "Info")
      assert.strictEqual(yield* levelFrom(["--log-level=trace"], { LOG_LEVEL: "Error" }), "Trace")
      assert.strictEqual(yield* levelFrom([]), "Info")
    }))

  it.effect("an unknown level is refused with the levels it could be", () =>
    Effect.gen(function*() {
      for (const [args, env] of [[["--log-level=loud"], {}], [[], { LOG_LEVEL: "verbose" }]] as const) {
        const seen = yield* runCli(args, env)
        assert.isUndefined(seen.settings, "the operator must not start")
        assert.match(seen.output.join("\n"), /--log-level.*one of All, Trace, Debug, Info, Warn, Error, Fatal, None \(any case\)/s)
      }
    }))

  it.effect("--help lists --log-level once", () =>
    Effect.gen(function*() {
      const help = (yield* runCli(["--help"])).output.join("\n")
      assert.strictEqual(help.match(/--log-level\b/g)?.length, 1, help)
      assert.match(help, /--kube-api-qps/)
      assert.match(help, /--kube-api-burst/)
    }))

  it.effect("the client-side rate limit: flags, else KUBE_API_QPS and KUBE_API_BURST, else 100/200", () =>
    Effect.gen(function*() {
      const limit = (seen: { settings?: Settings }) => [seen.settings?.kubeApiQps, seen.settings?.kubeApiBurst]
      assert.deepStrictEqual(limit(yield* runCli([])), [100, 200])
      assert.deepStrictEqual(limit(yield* runCli([], { KUBE_API_QPS: "20", KUBE_API_BURST: "30" })), [20, 30])
      assert.deepStrictEqual(limit(yield* runCli(["--kube-api-qps=2.5", "--kube-api-burst", "5"], { KUBE_API_QPS: "20" })), [2.5, 5])
    }))
})
