import { Console, Effect, Option, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { loadAll } from "js-yaml"
import { BatchWorkloadSpec, kind } from "../api/BatchWorkload.ts"
import { podNodeName, workloadUidLabel } from "../domain/pods.ts"
import { KubeClient } from "../kube/KubeClient.ts"
import { CommandFailed, formatData, outputFlag, withCluster } from "./options.ts"
import { planView, renderPlan } from "./planView.ts"
import { findWorkload, type Target } from "./workloads.ts"

const decodeSpec = Schema.decodeUnknownEffect(BatchWorkloadSpec)

const specOf = (source: string, spec: unknown) =>
  decodeSpec(spec, { errors: "all" }).pipe(
    Effect.mapError((error) => new CommandFailed({ message: `${source}: the spec is invalid: ${error.message.replaceAll("\n", " ")}` }))
  )

/** The first BatchWorkload in a manifest file (YAML or JSON, several documents allowed). */
const fromFile = (path: string, text: string) =>
  Effect.gen(function*() {
    const documents = yield* Effect.try({
      try: (): ReadonlyArray<unknown> => loadAll(text),
      catch: (cause) => new CommandFailed({ message: `${path} is not YAML or JSON: ${cause instanceof Error ? cause.message : String(cause)}` })
    })
    const manifest = documents.find((document): document is { kind: string; metadata?: { name?: string }; spec?: unknown } =>
      typeof document === "object" && document !== null && Reflect.get(document, "kind") === kind
    )
    if (manifest === undefined) return yield* new CommandFailed({ message: `${path} holds no ${kind}` })
    return { title: `Plan for ${manifest.metadata?.name ?? path}`, spec: yield* specOf(path, manifest.spec), hasPod: new Set<string>() }
  })

/** A workload in the cluster: its spec, and the nodes that already hold its pods. */
const fromCluster = (target: Target, name: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    const object = yield* findWorkload(target, name)
    const spec = yield* specOf(name, object.spec)
    const { items: pods } = yield* kube.list("pods", {
      namespace: object.metadata.namespace,
      labelSelector: `${workloadUidLabel}=${object.metadata.uid ?? ""}`
    })
    return { title: `Plan for ${object.metadata.namespace}/${name}`, spec, hasPod: new Set(pods.map(podNodeName)) }
  })

const name = Argument.String("name").pipe(Argument.withDescription("A BatchWorkload in the cluster"), Argument.optional)
const file = Flag.FileText("filename").pipe(
  Flag.withAlias("f"),
  Flag.withDescription("A manifest to plan before it is applied"),
  Flag.optional
)

export const plan = Command.make("plan", { name, file, output: outputFlag }, ({ file, name, output }) =>
  withCluster((target) =>
    Effect.gen(function*() {
      const source = Option.isSome(name)
        ? yield* fromCluster(target, name.value)
        : Option.isSome(file)
        ? yield* fromFile("the file", file.value)
        : yield* new CommandFailed({ message: "name a workload or give a manifest with -f FILE" })
      const { items: nodes } = yield* (yield* KubeClient).list("nodes", {})
      const view = planView(source.spec, nodes, source.hasPod)
      yield* Console.log(Option.isSome(output) ? formatData(output.value, view) : renderPlan(source.title, view).join("\n"))
    })
  )).pipe(
    Command.withDescription(
      "The nodes a run would use, in order and in batches, and why each other node is left out (the operator's own node choice)"
    ),
    Command.withExamples([
      { command: "kubectl bwl plan test-workload", description: "Plan a workload that exists" },
      { command: "kubectl bwl plan -f samples/test-workload.yaml", description: "Plan a manifest before applying it" },
      { command: "kubectl bwl plan test-workload -o json", description: "The plan as data" }
    ])
  )
