import { Console, Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { KubeClient } from "../kube/KubeClient.ts"
import { withCluster } from "./options.ts"
import { findWorkload } from "./workloads.ts"

const name = Argument.String("name").pipe(Argument.withDescription("The BatchWorkload"))

/** `spec.paused` (README, Rollout control): while true no new attempt starts; running pods keep running. */
const setPaused = (workloadName: string, paused: boolean) =>
  withCluster((target) =>
    Effect.gen(function*() {
      const kube = yield* KubeClient
      const object = yield* findWorkload(target, workloadName)
      const namespace = object.metadata.namespace ?? target.namespace
      yield* kube.patch("batchworkloads", namespace, workloadName, { spec: { paused } })
      yield* Console.log(`batchworkload ${namespace}/${workloadName} ${paused ? "paused" : "resumed"}`)
    })
  )

export const pause = Command.make("pause", { name }, ({ name }) => setPaused(name, true)).pipe(
  Command.withDescription("Start no new attempt (spec.paused: true); pods already running keep running"),
  Command.withExamples([{ command: "kubectl bwl pause test-workload -n team-a", description: "Hold a rollout for a look" }])
)

export const resume = Command.make("resume", { name }, ({ name }) => setPaused(name, false)).pipe(
  Command.withDescription("Let a paused workload go on where it stopped (spec.paused: false)"),
  Command.withExamples([{ command: "kubectl bwl resume test-workload -n team-a", description: "Continue the rollout" }])
)
