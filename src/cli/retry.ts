import { Clock, Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { retryAnnotation, retryNodesAnnotation } from "../api/BatchWorkload.ts"
import { formatRetryNodes } from "../domain/retryNodes.ts"
import { KubeClient } from "../kube/KubeClient.ts"
import { CommandFailed, withCluster } from "./options.ts"
import { viewOf } from "./render.ts"
import { findWorkload } from "./workloads.ts"

/** Which nodes to retry: every node (a new run), the failed ones, or those named. */
const retryTargets = (failed: boolean, nodes: ReadonlyArray<string>, failedNodes: () => ReadonlyArray<string>) => {
  if (failed && nodes.length > 0) return Effect.fail(new CommandFailed({ message: "give --failed or --node, not both" }))
  if (nodes.length > 0) return Effect.succeed(Option.some(nodes))
  if (!failed) return Effect.succeed(Option.none())
  const names = failedNodes()
  return names.length > 0 ? Effect.succeed(Option.some(names)) : Effect.fail(new CommandFailed({ message: "no node has failed: nothing to retry" }))
}

const name = Argument.String("name").pipe(Argument.withDescription("The BatchWorkload"))
const failed = Flag.Boolean("failed").pipe(Flag.withDescription("Retry only the nodes whose status is Failed"), Flag.withDefault(false))
const node = Flag.String("node").pipe(Flag.withDescription("Retry this node (repeat for more)"), Flag.atLeast(0))

export const retry = Command.make("retry", { name, failed, node }, ({ failed, name, node }) =>
  withCluster((target) =>
    Effect.gen(function*() {
      const kube = yield* KubeClient
      const object = yield* findWorkload(target, name)
      const namespace = object.metadata.namespace ?? target.namespace
      const failedNodes = () =>
        (viewOf(object).status.nodeStatus ?? []).filter((entry) => entry.phase === "Failed").map((entry) => entry.nodeName)
      const nodes = yield* retryTargets(failed, node, failedNodes)
      // Milliseconds: two retries in the same second must still be two new values.
      const token = String(yield* Clock.currentTimeMillis)
      const annotations = Option.match(nodes, {
        onNone: () => ({ [retryAnnotation]: token }),
        onSome: (names) => ({ [retryNodesAnnotation]: formatRetryNodes(token, names) })
      })
      yield* kube.patch("batchworkloads", namespace, name, { metadata: { annotations } })
      const what = Option.match(nodes, { onNone: () => "every node", onSome: (names) => names.join(", ") })
      yield* Console.log(`batchworkload ${namespace}/${name}: retrying ${what}`)
    })
  )).pipe(
    Command.withDescription(
      "A new attempt: a new run over every node (the batch.example.com/retry annotation), or only the failed or named nodes (batch.example.com/retry-nodes)"
    ),
    Command.withExamples([
      { command: "kubectl bwl retry test-workload", description: "Run every node again, batch by batch" },
      { command: "kubectl bwl retry test-workload --failed", description: "Give only the failed nodes a new attempt" },
      { command: "kubectl bwl retry test-workload --node node-3 --node node-7", description: "Retry these two nodes" }
    ])
  )
