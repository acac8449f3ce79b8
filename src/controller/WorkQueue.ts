import { Clock, Duration, Effect, FiberMap, Queue, type Scope } from "effect"

/** What a reconcile asks of the queue when it succeeds: nothing, or "look again after this long". */
export interface ReconcileResult {
  readonly requeueAfter?: Duration.Duration
}

export interface WorkQueueOptions {
  /** Delay after a key's first failure; doubles per consecutive failure (client-go: 5 ms; ours is coarser, API calls are the usual cause). */
  readonly baseDelay: Duration.Duration
  readonly maxDelay: Duration.Duration
}

/**
 * client-go's workqueue, for keys: a key is handed to at most one worker at a
 * time; adding a key that is already waiting does nothing (repeated events
 * coalesce); a key added while it is being processed is processed once more
 * afterwards; failures come back after a per-key exponential backoff, and
 * "check again after D" keeps only the earliest deadline per key. Its size
 * is bounded by the number of keys, never by the number of events.
 */
export const makeWorkQueue = (options: WorkQueueOptions): Effect.Effect<WorkQueue, never, Scope.Scope> =>
  Effect.gen(function*() {
    const ready = yield* Queue.unbounded<string>()
    const dirty = new Set<string>()
    const processing = new Set<string>()
    const failures = new Map<string, number>()
    const deadlines = new Map<string, number>()
    const timers = yield* FiberMap.make<string>()

    const add = (key: string) =>
      Effect.sync(() => {
        if (dirty.has(key)) return
        dirty.add(key)
        if (!processing.has(key)) Queue.offerUnsafe(ready, key)
      })

    const addAfter = (key: string, delay: Duration.Duration) =>
      Effect.gen(function*() {
        const at = (yield* Clock.currentTimeMillis) + Duration.toMillis(delay)
        const existing = deadlines.get(key)
        if (existing !== undefined && existing <= at) return
        deadlines.set(key, at)
        yield* FiberMap.run(timers, key, Effect.sleep(delay).pipe(
          Effect.andThen(Effect.sync(() => deadlines.delete(key))),
          Effect.andThen(add(key))
        ))
      })

    const retryLater = (key: string) =>
      Effect.suspend(() => {
        const count = failures.get(key) ?? 0
        failures.set(key, count + 1)
        const delay = Math.min(Duration.toMillis(options.baseDelay) * 2 ** count, Duration.toMillis(options.maxDelay))
        return addAfter(key, Duration.millis(delay))
      })

    const processOne = <E, R>(handler: (key: string) => Effect.Effect<ReconcileResult, E, R>) =>
      Effect.gen(function*() {
        const key = yield* Queue.take(ready)
        dirty.delete(key)
        processing.add(key)
        const outcome = yield* Effect.result(handler(key))
        processing.delete(key)
        if (outcome._tag === "Failure") {
          yield* retryLater(key)
        } else {
          failures.delete(key)
          if (outcome.success.requeueAfter !== undefined) yield* addAfter(key, outcome.success.requeueAfter)
        }
        // Added again while it was being worked on: now it may go to a worker.
        if (dirty.has(key)) Queue.offerUnsafe(ready, key)
      })

    const forget = (key: string) =>
      Effect.gen(function*() {
        failures.delete(key)
        deadlines.delete(key)
        yield* FiberMap.remove(timers, key)
      })

    return {
      add,
      addAfter,
      forget,
      run: (workers, handler) =>
        Effect.forEach(Array.from({ length: workers }), () => Effect.forever(processOne(handler)), {
          concurrency: workers,
          discard: true
        }).pipe(Effect.andThen(Effect.never))
    } satisfies WorkQueue
  })

export interface WorkQueue {
  readonly add: (key: string) => Effect.Effect<void>
  readonly addAfter: (key: string, delay: Duration.Duration) => Effect.Effect<void>
  /** Drops a key's backoff and pending deadline, for a workload that is gone. */
  readonly forget: (key: string) => Effect.Effect<void>
  /** Runs `workers` workers over the queue until interrupted; a failing handler's key is retried with backoff. */
  readonly run: <E, R>(workers: number, handler: (key: string) => Effect.Effect<ReconcileResult, E, R>) => Effect.Effect<never, never, R>
}
