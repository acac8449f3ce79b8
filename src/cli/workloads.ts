import { Effect } from "effect"
import { KubeClient } from "../kube/KubeClient.ts"
import { CommandFailed } from "./options.ts"

export interface Target {
  readonly namespace: string
  readonly allNamespaces: boolean
}

/**
 * The workload NAME names: in the namespace, or with -A in whichever
 * namespace has one of that name (refusing to guess between several).
 */
export const findWorkload = (target: Target, name: string) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    if (!target.allNamespaces) {
      return yield* kube.get("batchworkloads", target.namespace, name).pipe(
        Effect.catchIf((error) => error.reason === "NotFound", () =>
          Effect.fail(new CommandFailed({ message: `batchworkload "${name}" not found in namespace "${target.namespace}"` })))
      )
    }
    const { items } = yield* kube.list("batchworkloads", { fieldSelector: `metadata.name=${name}` })
    const [only, ...others] = items
    if (only === undefined) return yield* new CommandFailed({ message: `batchworkload "${name}" not found in any namespace` })
    if (others.length > 0) {
      const namespaces = items.map((item) => item.metadata.namespace).join(", ")
      return yield* new CommandFailed({ message: `batchworkload "${name}" exists in several namespaces (${namespaces}): pick one with -n` })
    }
    return only
  })

/** Every workload in the namespace, or with -A in all of them. */
export const listWorkloads = (target: Target) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    const { items } = yield* kube.list("batchworkloads", target.allNamespaces ? {} : { namespace: target.namespace })
    return items
  })
