import { Effect, Option, Schema } from "effect"
import { Command, CliError, Flag } from "effect/cli"
import { dump } from "js-yaml"
import { cliKubeLayer, KubeContext } from "../kube/CliKube.ts"
import { KubeApiError } from "../kube/KubeClient.ts"

/** A failure the user reads on stderr, then the command exits 1. */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", { message: Schema.String }) {
  override get [CliError.userMessage]() {
    return `error: ${this.message}`
  }
}

export const fromKubeError = (error: KubeApiError) => new CommandFailed({ message: error.message })

/** kubectl's own flags, shared by every subcommand, so `kubectl bwl status x -n team --context prod` reads as kubectl does. */
export const kubectlFlags = {
  kubeconfig: Flag.String("kubeconfig").pipe(
    Flag.withDescription("Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)"),
    Flag.optional
  ),
  context: Flag.String("context").pipe(Flag.withDescription("The kubeconfig context to use (default: its current context)"), Flag.optional),
  namespace: Flag.String("namespace").pipe(
    Flag.withAlias("n"),
    Flag.withDescription("Namespace of the workload (default: the context's namespace, else default)"),
    Flag.optional
  ),
  allNamespaces: Flag.Boolean("all-namespaces").pipe(
    Flag.withAlias("A"),
    Flag.withDescription("Look in every namespace"),
    Flag.withDefault(false)
  )
}

export const root = Command.make("kubectl-bwl").pipe(
  Command.withSharedFlags(kubectlFlags),
  Command.withDescription("Watch and operate BatchWorkloads (batch.example.com): live progress per node, plans, pause, resume, retry")
)

export const outputFlag = Flag.Literals("output", ["json", "yaml"]).pipe(
  Flag.withAlias("o"),
  Flag.withDescription("Print the data as json or yaml instead of the human view"),
  Flag.optional
)

/** Data output for `-o`: JSON as kubectl prints it (two-space indent), or YAML. */
export const formatData = (format: "json" | "yaml", data: unknown) =>
  format === "json" ? JSON.stringify(data, null, 2) : dump(data, { noRefs: true, lineWidth: -1 }).trimEnd()

/**
 * Runs a handler against the cluster the kubectl flags name, with the
 * namespace kubectl would use; API failures become one readable line.
 */
export const withCluster = <A, E, R>(
  body: (target: { readonly namespace: string; readonly allNamespaces: boolean }) => Effect.Effect<A, E | KubeApiError, R>
) =>
  Effect.gen(function*() {
    const flags = yield* root
    const kube = cliKubeLayer({ kubeconfigPath: Option.getOrUndefined(flags.kubeconfig), context: Option.getOrUndefined(flags.context) })
    return yield* Effect.gen(function*() {
      const context = yield* KubeContext
      const namespace = Option.getOrElse(flags.namespace, () => context.namespace)
      return yield* body({ namespace, allNamespaces: flags.allNamespaces })
    }).pipe(Effect.provide(kube))
  }).pipe(Effect.mapError((error) => error instanceof KubeApiError ? fromKubeError(error) : error))
