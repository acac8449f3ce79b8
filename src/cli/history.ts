import { Console, Effect, Option } from "effect"
import { Argument, Command } from "effect/cli"
import { formatData, outputFlag, withCluster } from "./options.ts"
import { viewOf } from "./render.ts"
import { findWorkload } from "./workloads.ts"

const name = Argument.String("name").pipe(Argument.withDescription("The BatchWorkload"))

/**
 * The runs of a workload. The status keeps no record of past runs yet (the
 * scheduled-runs issue adds one), so this shows the current run and says so.
 */
export const history = Command.make("history", { name, output: outputFlag }, ({ name, output }) =>
  withCluster((target) =>
    Effect.gen(function*() {
      const object = yield* findWorkload(target, name)
      const { status } = viewOf(object)
      const current = {
        revision: status.revision ?? null,
        phase: status.phase ?? null,
        startTime: status.startTime ?? null,
        completionTime: status.completionTime ?? null,
        progress: status.progress ?? null
      }
      if (Option.isSome(output)) return yield* Console.log(formatData(output.value, { runs: [], current }))
      yield* Console.log([
        `batchworkload ${object.metadata.namespace}/${name}: this workload has no run history (the status records only the current run)`,
        `current run: ${current.phase ?? "not started"}, revision ${current.revision ?? "-"}, started ${current.startTime ?? "-"}, finished ${
          current.completionTime ?? "-"
        }, ${current.progress ?? "0/0"} nodes succeeded`
      ].join("\n"))
    })
  )).pipe(
    Command.withDescription("The runs of a workload (of a scheduled one: one per scheduled run)"),
    Command.withExamples([{ command: "kubectl bwl history nightly-cleanup", description: "List the workload's runs" }])
  )
