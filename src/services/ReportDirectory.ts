import { Context, Effect, FileSystem, Layer, Option, Path, PlatformError } from "effect"
import { isPlainName } from "../domain/reports.ts"

/** One workload's part of the report directory. */
export interface WorkloadKey {
  readonly namespace: string
  readonly name: string
}

/** A workload's runs with a directory. */
export interface StoredWorkload extends WorkloadKey {
  readonly executionIds: ReadonlyArray<string>
}

/** The directory a result of `nodeName` is stored under inside its run's directory; no stored file name has it, since they all have a `-`. */
export const resultsDirectoryName = "results"

/** `namespace/name`, the work queue's key. */
export const keyOf = (workload: WorkloadKey) => `${workload.namespace}/${workload.name}`

const workloadOfKey = (key: string): WorkloadKey => {
  const [namespace = "", name = ""] = key.split("/")
  return { namespace, name }
}

/**
 * The report directory's layout, `<root>/<namespace>/<workload>/<executionID>/`,
 * and the only way to a path in it: every segment must be a plain name (so a
 * name from a URL or a pod cannot climb out), and the joined path must stay
 * under the root. It remembers which run directories exist (read at `scan`,
 * added as they are made), so pruning, asked on every reconcile, touches the
 * disk only when there is something to remove.
 */
export class ReportDirectory extends Context.Service<ReportDirectory, {
  readonly root: string
  /** `root/segments…`, or undefined when a segment is not a plain name. */
  readonly pathOf: (...segments: ReadonlyArray<string>) => string | undefined
  /** The names and types of a directory's entries; none when it does not exist. */
  readonly entries: (directory: string) => Effect.Effect<ReadonlyArray<FileSystem.DirectoryEntry>, PlatformError.PlatformError>
  /** Every workload's run directories, as the disk has them. */
  readonly list: Effect.Effect<ReadonlyArray<StoredWorkload>, PlatformError.PlatformError>
  /** The same, and what is remembered from now on. */
  readonly scan: Effect.Effect<ReadonlyArray<StoredWorkload>, PlatformError.PlatformError>
  /** The run's directory, made if need be. */
  readonly makeRun: (workload: WorkloadKey, executionId: string) => Effect.Effect<string, PlatformError.PlatformError>
  /** Removes the workload's run directories not in `keep` (all of it when `keep` is empty); returns the runs removed. */
  readonly prune: (key: string, keep: ReadonlySet<string>) => Effect.Effect<ReadonlyArray<string>, PlatformError.PlatformError>
}>()("batch-workload-operator/ReportDirectory") {
  static readonly layer = (directory: string) => Layer.effect(ReportDirectory, makeReportDirectory(directory))
}

const makeReportDirectory = (directory: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const root = path.resolve(directory)
    /** key -> the runs with a directory. */
    let known = new Map<string, Set<string>>()
    const pathOf = (...segments: ReadonlyArray<string>) => {
      if (!segments.every(isPlainName)) return undefined
      return Option.getOrUndefined(path.resolveWithin(root, path.join(...segments)))
    }
    const entries = (target: string) =>
      fs.readDirectoryEntries(target).pipe(
        Effect.catchIf((error) => error.reason._tag === "NotFound", () => Effect.succeed([]))
      )
    const directories = (target: string) =>
      Effect.map(entries(target), (found) => found.filter((entry) => entry.type === "Directory").map((entry) => entry.name).filter(isPlainName))
    const list = Effect.gen(function*() {
      const namespaces = yield* directories(root)
      const perNamespace = yield* Effect.forEach(namespaces, (namespace) =>
        Effect.flatMap(directories(path.join(root, namespace)), (names) =>
          Effect.forEach(names, (name) =>
            Effect.map(directories(path.join(root, namespace, name)), (executionIds) => ({ namespace, name, executionIds })))))
      return perNamespace.flat()
    })
    const scan = Effect.map(list, (found) => {
      known = new Map(found.map((workload) => [keyOf(workload), new Set(workload.executionIds)]))
      return found
    })
    const notPlain = (what: string) =>
      Effect.fail(PlatformError.badArgument({ module: "ReportDirectory", method: "pathOf", description: `${what} is not a plain name` }))
    return ReportDirectory.of({
      root,
      pathOf,
      entries,
      list,
      scan,
      makeRun: (workload, executionId) =>
        Effect.gen(function*() {
          const target = pathOf(workload.namespace, workload.name, executionId)
          if (target === undefined) return yield* notPlain(`${keyOf(workload)}/${executionId}`)
          yield* fs.makeDirectory(target, { recursive: true })
          known.set(keyOf(workload), (known.get(keyOf(workload)) ?? new Set()).add(executionId))
          return target
        }),
      prune: (key, keep) =>
        Effect.gen(function*() {
          const runs = known.get(key)
          const dropped = [...runs ?? []].filter((executionId) => !keep.has(executionId))
          if (runs === undefined || dropped.length === 0) return []
          const workload = workloadOfKey(key)
          const target = pathOf(workload.namespace, workload.name)
          if (target === undefined) return yield* notPlain(key)
          if (keep.size === 0) {
            yield* fs.remove(target, { recursive: true, force: true })
            known.delete(key)
            return dropped
          }
          for (const executionId of dropped) {
            yield* fs.remove(path.join(target, executionId), { recursive: true, force: true })
            runs.delete(executionId)
          }
          return dropped
        })
    })
  })
