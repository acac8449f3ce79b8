// Deep imports: the package's index loads every platform module, about 17 MB of resident memory more.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Cause, Effect, Exit, Layer } from "effect"
import { Command } from "effect/cli"
import { appLayer } from "./App.ts"
import { cliConfig, settingsFlags } from "./Config.ts"

const operator = Command.make("batch-workload-operator", settingsFlags, (settings) => Layer.launch(appLayer(settings))).pipe(
  Command.withDescription("Deploys BatchWorkloads onto nodes in batches")
)

operator.pipe(
  Command.run({ version: "0.1.0" }),
  Effect.provide(cliConfig),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({
    // SIGTERM/SIGINT interrupt the app; that is a clean stop, not a failure.
    teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1)
  })
)
