import { Effect, Option, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import type { Pod } from "../api/core.ts"
import { containerName, podAttempt, podNodeName, workloadUidLabel } from "../domain/pods.ts"
import { PodLogs } from "../kube/CliKube.ts"
import { KubeClient } from "../kube/KubeClient.ts"
import { CommandFailed, withCluster } from "./options.ts"
import { viewOf } from "./render.ts"
import { findWorkload } from "./workloads.ts"

/** The node's current pod: not being deleted, the latest attempt. */
export const currentPod = (pods: ReadonlyArray<Pod>, nodeName: string) =>
  pods.filter((pod) => podNodeName(pod) === nodeName && pod.metadata.deletionTimestamp === undefined)
    .sort((a, b) => podAttempt(b) - podAttempt(a))[0]

/** The pod's first container (the workload's own, or the template's first), as `kubectl logs` picks without -c. */
const firstContainer = (pod: Pod) => {
  const containers = pod.spec?.["containers"]
  const first: unknown = Array.isArray(containers) ? containers[0] : undefined
  const named = typeof first === "object" && first !== null ? Reflect.get(first, "name") : undefined
  return typeof named === "string" ? named : containerName
}

const name = Argument.String("name").pipe(Argument.withDescription("The BatchWorkload"))
const node = Flag.String("node").pipe(Flag.withDescription("The node whose pod's log to print"))
const follow = Flag.Boolean("follow").pipe(Flag.withAlias("f"), Flag.withDescription("Keep printing as the log grows"), Flag.withDefault(false))
const container = Flag.String("container").pipe(Flag.withAlias("c"), Flag.withDescription("Container (default: the pod's first)"), Flag.optional)

export const logs = Command.make("logs", { name, node, follow, container }, ({ container, follow, name, node }) =>
  withCluster((target) =>
    Effect.gen(function*() {
      const kube = yield* KubeClient
      const object = yield* findWorkload(target, name)
      const namespace = object.metadata.namespace ?? target.namespace
      const { items } = yield* kube.list("pods", { namespace, labelSelector: `${workloadUidLabel}=${object.metadata.uid ?? ""}` })
      const pod = currentPod(items, node)
      if (pod === undefined) {
        const entry = viewOf(object).status.nodeStatus?.find((e) => e.nodeName === node)
        const why = entry !== undefined ? ` (node status: ${entry.phase}${entry.message ? `, ${entry.message}` : ""})` : " (the workload does not cover it)"
        return yield* new CommandFailed({ message: `node ${node} has no pod of batchworkload ${namespace}/${name}${why}` })
      }
      const chosen = Option.getOrElse(container, () => firstContainer(pod))
      const logStream = (yield* PodLogs).stream(namespace, pod.metadata.name, { container: chosen, follow })
      yield* logStream.pipe(Stream.runForEach((chunk) => Effect.sync(() => process.stdout.write(chunk))))
    })
  )).pipe(
    Command.withDescription("The log of a node's current pod"),
    Command.withExamples([
      { command: "kubectl bwl logs test-workload --node node-3", description: "Print node-3's pod log" },
      { command: "kubectl bwl logs test-workload --node node-3 -f", description: "Follow it" }
    ])
  )

