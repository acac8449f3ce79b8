import { Cause, Deferred, Effect, Exit, Metric, PubSub, Schedule, type Scope, Stream } from "effect"
import { type Kind, type Kinds, objectKey } from "../api/core.ts"
import { type KubeApiError, KubeClient, type ListOptions, type WatchEvent } from "./KubeClient.ts"

export type Change<A> =
  | { readonly type: "upsert"; readonly object: A; readonly previous: A | undefined }
  | { readonly type: "delete"; readonly object: A }

/** A local, watch-fed copy of one kind of object, as client-go's shared informer keeps. */
export interface Informer<A> {
  readonly get: (key: string) => A | undefined
  /** The live store, read-only: no copy per read, so a 5,000-node plan costs no allocation here. */
  readonly store: ReadonlyMap<string, A>
  /** The store's keys in sorted order, kept until a key comes or goes: a 5,000-node plan does not sort 5,000 names each pass. */
  readonly sortedKeys: () => ReadonlyArray<string>
  /** Counts the changes the store has taken: the same count means the same objects. */
  readonly version: () => number
  /** The objects whose index value (see `InformerOptions.indexBy`) is `value`. */
  readonly indexed: (value: string) => ReadonlyArray<A>
  /** Every change from the moment of subscription, for one reader that keeps up (the controller's event stream). */
  readonly changes: Effect.Effect<Stream.Stream<Change<A>>, never, Scope.Scope>
  /** Completes once the first list has been loaded. */
  readonly synced: Effect.Effect<void>
  /** Waits until the object under `key` satisfies `done` (or `timeout` passes); true when it did. */
  readonly awaitObject: (key: string, done: (object: A | undefined) => boolean, timeout: number) => Effect.Effect<boolean>
  /** Why the informer stopped for good (a defect), if it did: /healthz then fails, so the pod is restarted. */
  readonly failure: () => string | undefined
}

export interface InformerOptions<A> extends ListOptions {
  /** Keeps only what the operator reads of each object (client-go's SetTransform), so the cache stays small. */
  readonly transform?: (object: A) => A
  /** An index over one value of each object (client-go's Indexer), for lookups that would otherwise scan the store. */
  readonly indexBy?: (object: A) => string | undefined
  /**
   * Whether a new version, transformed, holds nothing the stored one does
   * not: then the stored object stays, and no change is counted or published.
   * A node's status heartbeat (5,000 nodes send about 16 a second) changes
   * only times that the trimmed node does not keep, so it leaves the node
   * cache as it was and a plan may keep its node choice.
   */
  readonly sameContent?: (stored: A, next: A) => boolean
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
  options: InformerOptions<Kinds[K]> = {}
): Effect.Effect<Informer<Kinds[K]>, never, KubeClient | Scope.Scope> =>
  Effect.gen(function*() {
    type A = Kinds[K]
    const kube = yield* KubeClient
    const store = new Map<string, A>()
    const index = new Map<string, Map<string, A>>()
    const waiters = new Map<string, Set<() => void>>()
    const changes = yield* PubSub.unbounded<Change<A>>()
    const synced = yield* Deferred.make<void>()
    let failure: string | undefined
    const transform = options.transform ?? ((object: A) => object)
    let resourceVersion = ""
    let needsList = true
    let sortedKeys: Array<string> | undefined
    let version = 0

    const reindex = (key: string, before: A | undefined, after: A | undefined) => {
      if (options.indexBy === undefined) return
      const oldValue = before !== undefined ? options.indexBy(before) : undefined
      const newValue = after !== undefined ? options.indexBy(after) : undefined
      if (oldValue !== undefined && oldValue !== newValue) {
        const bucket = index.get(oldValue)
        bucket?.delete(key)
        if (bucket?.size === 0) index.delete(oldValue)
      }
      if (newValue !== undefined && after !== undefined) {
        const bucket = index.get(newValue) ?? new Map<string, A>()
        bucket.set(key, after)
        index.set(newValue, bucket)
      }
    }

    const notify = (key: string) => {
      const pending = waiters.get(key)
      if (pending === undefined) return
      for (const wake of [...pending]) wake()
    }

    const upsert = (raw: A) => {
      const object = transform(raw)
      const key = objectKey(object.metadata)
      const previous = store.get(key)
      if (previous !== undefined && previous.metadata.resourceVersion === object.metadata.resourceVersion) return
      if (previous !== undefined && options.sameContent?.(previous, object) === true) return
      if (previous === undefined) sortedKeys = undefined
      version += 1
      store.set(key, object)
      reindex(key, previous, object)
      PubSub.publishUnsafe(changes, { type: "upsert", object, previous })
      notify(key)
    }
    const remove = (raw: A) => {
      const key = objectKey(raw.metadata)
      const known = store.get(key)
      if (known !== undefined) sortedKeys = undefined
      version += 1
      store.delete(key)
      reindex(key, known, undefined)
      PubSub.publishUnsafe(changes, { type: "delete", object: known ?? transform(raw) })
      notify(key)
    }

    const relist = Effect.gen(function*() {
      // Trimmed page by page; upsert's transform then finds little left to drop.
      const listed = yield* kube.list(kind, options, transform)
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

    const applyOne = (event: WatchEvent<A>) => {
      if (event.type === "BOOKMARK") {
        resourceVersion = event.resourceVersion
        return
      }
      if (event.type === "DELETED") remove(event.object)
      else upsert(event.object)
      resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion
    }
    /** A chunk of events at a time: one effect per chunk, not per event, at thousands of pod events a minute. */
    const apply = (events: ReadonlyArray<WatchEvent<A>>) =>
      Effect.sync(() => {
        for (const event of events) applyOne(event)
      })

    const countRestart = (cause: string) => Metric.update(Metric.withAttributes(watchRestarts, { kind, cause }), 1)

    const session = Effect.gen(function*() {
      if (needsList) yield* relist
      yield* kube.watch(kind, { ...options, resourceVersion }).pipe(Stream.runForEachArray(apply))
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

    // API errors are retried forever above; anything that still ends the loop is a defect, and must not pass silently.
    yield* Effect.forkScoped(session.pipe(
      Effect.onExit((exit) =>
        Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)
          ? Effect.sync(() => {
            failure = `the ${kind} informer stopped: ${Cause.pretty(exit.cause).split("\n")[0]}`
          }).pipe(Effect.andThen(Effect.logError(`the ${kind} informer stopped`, exit.cause)))
          : Effect.void
      )
    ))

    const awaitObject = (key: string, done: (object: A | undefined) => boolean, timeout: number) =>
      Effect.gen(function*() {
        if (done(store.get(key))) return true
        const reached = yield* Deferred.make<void>()
        const check = () => {
          if (done(store.get(key))) Deferred.doneUnsafe(reached, Exit.void)
        }
        return yield* Effect.acquireUseRelease(
          Effect.sync(() => {
            const set = waiters.get(key) ?? new Set()
            set.add(check)
            waiters.set(key, set)
          }),
          () => Deferred.await(reached).pipe(Effect.timeoutOption(timeout), Effect.map((result) => result._tag === "Some")),
          () =>
            Effect.sync(() => {
              const set = waiters.get(key)
              set?.delete(check)
              if (set?.size === 0) waiters.delete(key)
            })
        )
      })

    return {
      get: (key) => store.get(key),
      store,
      sortedKeys: () => (sortedKeys ??= [...store.keys()].sort()),
      version: () => version,
      indexed: (value) => [...(index.get(value)?.values() ?? [])],
      changes: Effect.map(PubSub.subscribe(changes), (subscription) => Stream.fromSubscription(subscription)),
      synced: Deferred.await(synced),
      awaitObject,
      failure: () => failure
    } satisfies Informer<A>
  })
