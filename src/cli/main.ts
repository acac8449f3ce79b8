// Deep imports: the package's index loads every platform module.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Cause, Effect, Exit, Logger } from "effect"
import { CliConfig, Command, GlobalFlag } from "effect/cli"
import { pause, resume } from "./control.ts"
import { history } from "./history.ts"
import { logs } from "./logs.ts"
import { root } from "./options.ts"
import { plan } from "./plan.ts"
import { retry } from "./retry.ts"
import { status } from "./status.ts"

/** `kubectl-bwl` on PATH makes `kubectl bwl …` work (kubectl's plugin convention). */
root.pipe(
  Command.withSubcommands([status, plan, pause, resume, retry, logs, history]),
  Command.run({ version: "0.1.0" }),
  // stdout is for what the user asked for (screens, lines, data); a watch reconnecting says so on stderr.
  Effect.provideService(Logger.LogToStderr, true),
  // No interactive wizard: every command is one line a script can run.
  Effect.provide(CliConfig.layer({ builtIns: GlobalFlag.BuiltIns.filter((flag) => flag !== GlobalFlag.Wizard) })),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({
    // Command.run has already printed the reason (a parse error, an API error, a failed run).
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) ? 0 : Cause.hasInterruptsOnly(exit.cause) ? 130 : 1)
  })
)
