import { Clock, Console, Effect, Option, Ref, Schedule, Schema, Stream } from "effect"
import { Argument, CliError, Command, Flag } from "effect/cli"
import type { BatchWorkloadObject } from "../api/core.ts"
import { watchObject } from "../kube/watchObject.ts"
import { CommandFailed, formatData, outputFlag, withCluster } from "./options.ts"
import { renderList, renderStatus, runOutcome, summaryLine, viewOf, type WorkloadView } from "./render.ts"
import { findWorkload, listWorkloads } from "./workloads.ts"

/** `--watch` saw the run end in failure: exit 1, so a script waiting on it stops. */
export class RunFailed extends Schema.TaggedError<RunFailed>()("RunFailed", { summary: Schema.String }) {
  override get [CliError.userMessage]() {
    return `the run failed: ${this.summary}`
  }
}

const listLimit = 20
const clearScreen = "\x1b[H\x1b[2J"

/** Whether stdout is a terminal: the full screen is redrawn there; elsewhere one plain line per change. */
const stdoutIsTerminal = Effect.sync(() => process.stdout.isTTY === true)

const draw = (view: WorkloadView) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => Console.log(clearScreen + renderStatus(view, now, { listLimit }).join("\n")))

/** What the object became when the watch stopped: the run's outcome, or why there is none. */
const finish = (last: BatchWorkloadObject | undefined, name: string) => {
  if (last === undefined) return Effect.fail(new CommandFailed({ message: `batchworkload "${name}" was deleted` }))
  const view = viewOf(last)
  return runOutcome(view) === "Succeeded" ? Effect.void : Effect.fail(new RunFailed({ summary: summaryLine(view) }))
}

/**
 * `--watch`: one watch on the workload; every change redraws (a terminal:
 * the whole screen, plus a local one-second tick so elapsed times move;
 * otherwise: a line, when it differs from the last). Ends with the run.
 */
const watchWorkload = (namespace: string, name: string, output: Option.Option<"json" | "yaml">) =>
  Effect.scoped(Effect.gen(function*() {
    const terminal = yield* stdoutIsTerminal
    const latest = yield* Ref.make<WorkloadView | undefined>(undefined)
    const lastLine = yield* Ref.make("")
    if (terminal && Option.isNone(output)) {
      const redraw = Effect.flatMap(Ref.get(latest), (view) => view !== undefined ? draw(view) : Effect.void)
      yield* Effect.forkScoped(Effect.repeat(redraw, Schedule.spaced("1 second")))
    }
    const show = (object: BatchWorkloadObject) =>
      Effect.gen(function*() {
        const view = viewOf(object)
        yield* Ref.set(latest, view)
        if (Option.isSome(output)) return yield* Console.log(output.value === "json" ? JSON.stringify(object) : `---\n${formatData("yaml", object)}`)
        if (terminal) return yield* draw(view)
        const line = summaryLine(view)
        if (line !== (yield* Ref.getAndSet(lastLine, line))) yield* Console.log(line)
      })
    const ended = (object: BatchWorkloadObject | undefined) => object === undefined || runOutcome(viewOf(object)) !== undefined
    const last = yield* watchObject("batchworkloads", namespace, name).pipe(
      Stream.takeUntil(ended),
      Stream.tap((object) => object !== undefined ? show(object) : Effect.void),
      Stream.runLast
    )
    return Option.getOrUndefined(last)
  }))

const name = Argument.String("name").pipe(Argument.withDescription("The BatchWorkload (omit it to list them all)"), Argument.optional)
const watch = Flag.Boolean("watch").pipe(
  Flag.withAlias("w"),
  Flag.withDescription("Redraw on every change until the run ends; exit 0 when it succeeded, 1 when it failed"),
  Flag.withDefault(false)
)

export const status = Command.make("status", { name, watch, output: outputFlag }, ({ name, output, watch }) =>
  withCluster((target) =>
    Effect.gen(function*() {
      if (Option.isNone(name)) {
        const items = yield* listWorkloads(target)
        return yield* Console.log(Option.isSome(output) ? formatData(output.value, items) : renderList(items.map(viewOf)).join("\n"))
      }
      const object = yield* findWorkload(target, name.value)
      if (watch) {
        const last = yield* watchWorkload(object.metadata.namespace ?? target.namespace, name.value, output)
        return yield* finish(last, name.value)
      }
      if (Option.isSome(output)) return yield* Console.log(formatData(output.value, object))
      const now = yield* Clock.currentTimeMillis
      yield* Console.log(renderStatus(viewOf(object), now, { listLimit }).join("\n"))
    })
  )).pipe(
    Command.withDescription(
      "Phase, progress per outcome, the nodes in flight (elapsed against the timeout), failed nodes with their messages, and the conditions"
    ),
    Command.withExamples([
      { command: "kubectl bwl status test-workload", description: "Show one workload's progress" },
      { command: "kubectl bwl status test-workload --watch", description: "Follow it until the run ends (exit 1 if it failed)" },
      { command: "kubectl bwl status -A", description: "List the workloads of every namespace" },
      { command: "kubectl bwl status test-workload -o yaml", description: "The workload as data" }
    ])
  )
