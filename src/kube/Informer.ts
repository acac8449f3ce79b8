import { Deferred, Effect, Metric, PubSub, Schedule, type Scope, Stream } from "effect"
import { type Kind, type Kinds, objectKey } from "../api/core.ts"
import { type KubeApiError, KubeClient, type ListOptions, type WatchEvent } from "./KubeClient.ts"

export type Change<A> =
  | { readonly type: "upsert"; readonly object: A; readonly previous: A | undefined }
  | { readonly type: "delete"; readonly object: A }

/** A local, watch-fed copy of one kind of object, as client-go's shared informer keeps. */
export interface Informer<A> {
  readonly get: (key: string) => A | undefined
  readonly list: () => ReadonlyArray<A>
  /** Every change from the moment of subscription, for as long as the scope lives. */
  readonly subscribe: Effect.Effect<PubSub.Subscription<Change<A>>, never, Scope.Scope>
  /** Completes once the first list has been loaded. */
  readonly synced: Effect.Effect<void>
}

export const watchRestarts = Metric.counter("batch_operator_watch_restarts_total", {
  description: "Watches re-established after they ended or failed, by kind and cause",
  incremental: true
})

// Reconnects quickly after a blip, and no faster than every 30s while the API server stays away.
const reconnectPolicy = Schedule.min([Schedule.exponential("200 millis", 2), Schedule.spaced("30 seconds")]).pipe(
  Schedule.jittered
)

/**
 * Lists, then watches from the list's resourceVersion; a watch that ends is
 * resumed from the last version seen, and one that is too old (410 Gone) is
 * replaced by a fresh list, so no change is missed and nothing is relisted
 * without need. Runs in the scope's background until the scope closes.
 */
export const makeInformer = <K extends Kind>(
  kind: K,
  options: ListOptions = {}
): Effect.Effect<Informer<Kinds[K]>, never, KubeClient | Scope.Scope> =>
  Effect.gen(function*() {
    type A = Kinds[K]
    const kube = yield* KubeClient
    const store = new Map<string, A>()
    const changes = yield* PubSub.unbounded<Change<A>>()
    const synced = yield* Deferred.make<void>()
    let resourceVersion = ""
    let needsList = true

    const upsert = (object: A) => {
      const key = objectKey(object.metadata)
      const previous = store.get(key)
      if (previous?.metadata.resourceVersion === object.metadata.resourceVersion && previous !== undefined) return
      store.set(key, object)
      PubSub.publishUnsafe(changes, { type: "upsert", object, previous })
    }
    const remove = (object: A) => {
      const key = objectKey(object.metadata)
      const known = store.get(key)
      store.delete(key)
      PubSub.publishUnsafe(changes, { type: "delete", object: known ?? object })
    }

    const relist = Effect.gen(function*() {
      const listed = yield* kube.list(kind, options)
      const seen = new Set<string>()
      for (const item of listed.items) {
        seen.add(objectKey(item.metadata))
        upsert(item)
      }
      for (const [key, object] of [...store]) if (!seen.has(key)) remove(object)
      resourceVersion = listed.resourceVersion
      needsList = false
      yield* Deferred.succeed(synced, undefined)
    })

    const apply = (event: WatchEvent<A>) =>
      Effect.sync(() => {
        if (event.type === "BOOKMARK") {
          resourceVersion = event.resourceVersion
          return
        }
        if (event.type === "DELETED") remove(event.object)
        else upsert(event.object)
        resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion
      })

    const countRestart = (cause: string) => Metric.update(Metric.withAttributes(watchRestarts, { kind, cause }), 1)

    const session = Effect.gen(function*() {
      if (needsList) yield* relist
      yield* kube.watch(kind, { ...options, resourceVersion }).pipe(Stream.runForEach(apply))
      yield* countRestart("ended")
    }).pipe(
      Effect.tapError((error: KubeApiError) =>
        Effect.gen(function*() {
          if (error.reason === "Gone") needsList = true
          yield* countRestart(error.reason)
          yield* Effect.logWarning(`watch on ${kind} failed, reconnecting: ${error.message}`)
        })
      ),
      Effect.retry(reconnectPolicy),
      Effect.forever
    )

    yield* Effect.forkScoped(session)

    return {
      get: (key) => store.get(key),
      list: () => [...store.values()],
      subscribe: PubSub.subscribe(changes),
      synced: Deferred.await(synced)
    } satisfies Informer<A>
  })
