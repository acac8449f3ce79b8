import { Context, Data, Effect, FileSystem, Layer, Path } from "effect"
import { storedFileName } from "../domain/reports.ts"
import { ReportDirectory } from "./ReportDirectory.ts"

/** How much a pod may send. */
export interface ReportFilesSettings {
  readonly maxFileBytes: number
  readonly maxRunBytes: number
}

/** A file the store turns away: too large (413), or a name that would leave its directory (400). */
export class FileRefused extends Data.TaggedError("FileRefused")<{ readonly status: 400 | 413 | 500; readonly message: string }> {}

/**
 * Files reporting pods send, under `<directory>/<namespace>/<workload>/<executionID>/`,
 * each named `<node>-<name>`.
 */
export class ReportFiles extends Context.Service<ReportFiles, {
  readonly maxFileBytes: number
  readonly save: (
    workload: { readonly namespace: string; readonly name: string },
    executionId: string,
    nodeName: string,
    name: string,
    data: Uint8Array
  ) => Effect.Effect<string, FileRefused>
}>()("batch-workload-operator/ReportFiles") {
  static readonly layer = (settings: ReportFilesSettings) =>
    Layer.effect(
      ReportFiles,
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const directory = yield* ReportDirectory
        const failed = (error: { readonly message: string }) => new FileRefused({ status: 500, message: `cannot store the file: ${error.message}` })
        /** Bytes the run's files take already (not the operator's own results beside them). */
        const runBytes = (runDirectory: string) =>
          Effect.gen(function*() {
            const files = (yield* directory.entries(runDirectory)).filter((entry) => entry.type === "File")
            const sizes = yield* Effect.forEach(files, (file) => Effect.map(fs.stat(path.join(runDirectory, file.name)), (info) => Number(info.size)))
            return sizes.reduce((sum, size) => sum + size, 0)
          })
        return ReportFiles.of({
          maxFileBytes: settings.maxFileBytes,
          save: (workload, executionId, nodeName, name, data) =>
            Effect.gen(function*() {
              if (data.byteLength > settings.maxFileBytes) {
                return yield* new FileRefused({ status: 413, message: `the file is ${data.byteLength} bytes; at most ${settings.maxFileBytes} are taken (--max-file-bytes)` })
              }
              const target = directory.pathOf(workload.namespace, workload.name, executionId, storedFileName(nodeName, name))
              if (target === undefined) {
                return yield* new FileRefused({ status: 400, message: `file name ${JSON.stringify(name)} leaves the run's directory` })
              }
              const runDirectory = yield* directory.makeRun(workload, executionId).pipe(Effect.mapError(failed))
              const used = yield* runBytes(runDirectory).pipe(Effect.mapError(failed))
              const replaced = yield* fs.stat(target).pipe(Effect.map((info) => Number(info.size)), Effect.orElseSucceed(() => 0))
              if (used - replaced + data.byteLength > settings.maxRunBytes) {
                return yield* new FileRefused({ status: 413, message: `the run's files would take ${used - replaced + data.byteLength} bytes; at most ${settings.maxRunBytes} are taken (--max-run-bytes)` })
              }
              yield* fs.writeFile(target, data).pipe(Effect.mapError(failed))
              return path.basename(target)
            })
        })
      })
    )
}
