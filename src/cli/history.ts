import { Console, Effect, Option } from "effect"
import { Argument, Command } from "effect/cli"
import { formatData, outputFlag, withCluster } from "./options.ts"
import { renderHistory, viewOf } from "./render.ts"
import { findWorkload } from "./workloads.ts"

const name = Argument.String("name").pipe(Argument.withDescription("The BatchWorkload"))

/** The runs of a workload: a scheduled one's run history, else the current run. */
export const history = Command.make("history", { name, output: outputFlag }, ({ name, output }) =>
  withCluster((target) =>
    Effect.gen(function*() {
      const object = yield* findWorkload(target, name)
      const view = viewOf(object)
      const { status } = view
      const current = {
        executionId: status.executionId ?? null,
        revision: status.revision ?? null,
        phase: status.phase ?? null,
        startTime: status.startTime ?? null,
        completionTime: status.completionTime ?? null,
        progress: status.progress ?? null
      }
      if (Option.isSome(output)) {
        return yield* Console.log(formatData(output.value, { runs: status.runHistory ?? [], current, nextScheduleTime: status.nextScheduleTime ?? null }))
      }
      yield* Console.log(renderHistory(view).join("\n"))
    })
  )).pipe(
    Command.withDescription("The runs of a workload (of a scheduled one: one per scheduled run)"),
    Command.withExamples([{ command: "kubectl bwl history nightly-cleanup", description: "List the workload's runs" }])
  )
