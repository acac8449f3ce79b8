import { Clock, Duration, Effect, FiberMap, Schedule, type Scope } from "effect"

/** Where a key's writer is: no fiber, a fiber waiting out the interval, or a fiber with a write in flight. */
interface KeyState {
  phase: "idle" | "waiting" | "writing"
  /** A newer status was asked for while a write was in flight: write once more after it. */
  again: boolean
  urgent: boolean
  lastWriteMillis: number
  /** How long the last write's size holds back the next one that is not urgent. */
  spacingMillis: number
}

export interface StatusWriter {
  /**
   * Asks for the key's newest status to be written: at once when `urgent`, else once the
   * interval has passed since the key's last write. Returns at once; the write happens on
   * the key's own fiber, so a reconcile never waits for its status write.
   */
  readonly request: (key: string, urgent: boolean) => Effect.Effect<void>
  /** Drops the key's writer (its workload is gone). */
  readonly forget: (key: string) => Effect.Effect<void>
}

export interface StatusWriterOptions<E> {
  /** The least time between two writes of one key: progress gathers meanwhile and goes out in one write. */
  readonly interval: Duration.Duration
  /**
   * The most bytes a key writes per second, on average, when its writes are not urgent: a
   * 5,000-node status is a megabyte that the API server validates, stores and sends back,
   * so it goes out less often than a small one.
   */
  readonly bytesPerSecond: number
  /**
   * Writes the key's newest status, read when the write starts, so a late write carries
   * what is newest then; returns the bytes it sent (0 when nothing needed writing).
   */
  readonly write: (key: string) => Effect.Effect<number, E>
  /** Told of each failed write (to log it); the write is then tried again, reading the newest status afresh. */
  readonly onError: (key: string, error: E) => Effect.Effect<void>
}

/** A failed write comes back soon after a blip, and every 10 s at most while the API server stays away; never given up. */
const retryPolicy = Schedule.min([Schedule.exponential("200 millis", 2), Schedule.spaced("10 seconds")])

/**
 * One status writer per key: at most one write in flight for a key, repeated
 * requests coalesced into the next write, at most one write per interval
 * (longer for a large status, see `bytesPerSecond`) unless a request is
 * urgent (a phase change, a new run). Writers run in the
 * scope's background and stop with it.
 */
export const makeStatusWriter = <E>(options: StatusWriterOptions<E>): Effect.Effect<StatusWriter, never, Scope.Scope> =>
  Effect.gen(function*() {
    const writers = yield* FiberMap.make<string>()
    const states = new Map<string, KeyState>()
    const intervalMillis = Duration.toMillis(options.interval)

    const waitForInterval = (state: KeyState) =>
      Effect.gen(function*() {
        if (state.urgent) return
        const wait = state.lastWriteMillis + Math.max(intervalMillis, state.spacingMillis) - (yield* Clock.currentTimeMillis)
        if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
      })

    const drain = (key: string, state: KeyState) =>
      Effect.gen(function*() {
        do {
          state.phase = "waiting"
          yield* waitForInterval(state)
          state.phase = "writing"
          state.again = false
          state.urgent = false
          const bytes = yield* options.write(key).pipe(Effect.tapError((error) => options.onError(key, error)), Effect.retry(retryPolicy))
          state.lastWriteMillis = yield* Clock.currentTimeMillis
          if (bytes > 0) state.spacingMillis = (bytes * 1000) / options.bytesPerSecond
        } while (state.again)
        state.phase = "idle"
      })

    const request = (key: string, urgent: boolean) =>
      Effect.suspend(() => {
        const state = states.get(key) ?? { phase: "idle", again: false, urgent: false, lastWriteMillis: Number.NEGATIVE_INFINITY, spacingMillis: 0 }
        states.set(key, state)
        state.urgent ||= urgent
        if (state.phase === "writing") {
          state.again = true
          return Effect.void
        }
        if (state.phase === "waiting" && !urgent) return Effect.void
        // Idle, or waiting when an urgent request comes: a new writer replaces the waiting one and writes now.
        return FiberMap.run(writers, key, drain(key, state)).pipe(Effect.asVoid)
      })

    const forget = (key: string) =>
      Effect.suspend(() => {
        states.delete(key)
        return FiberMap.remove(writers, key)
      })

    return { request, forget } satisfies StatusWriter
  })
