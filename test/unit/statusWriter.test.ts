import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import { makeStatusWriter } from "../../src/controller/StatusWriter.ts"

/** A writer over one in-memory value: records what each write carried and when. */
const harness = (options: { readonly writeMillis?: number; readonly failFirst?: number; readonly bytes?: number } = {}) =>
  Effect.gen(function*() {
    let value = 0
    let failuresLeft = options.failFirst ?? 0
    const writes: Array<{ readonly value: number; readonly atMillis: number }> = []
    const errors: Array<string> = []
    const writer = yield* makeStatusWriter({
      interval: Duration.seconds(1),
      bytesPerSecond: 1000,
      write: () =>
        Effect.gen(function*() {
          const carried = value
          if (options.writeMillis !== undefined) yield* Effect.sleep(Duration.millis(options.writeMillis))
          if (failuresLeft > 0) {
            failuresLeft--
            return yield* Effect.fail("conflict")
          }
          writes.push({ value: carried, atMillis: yield* Clock.currentTimeMillis })
          return options.bytes ?? 100
        }),
      onError: (_key, error) => Effect.sync(() => errors.push(error))
    })
    const set = (next: number, urgent = false) =>
      Effect.suspend(() => {
        value = next
        return writer.request("ns/w", urgent)
      })
    return { set, writes, errors }
  })

describe("status writer", () => {
  it.effect("the first request writes at once; requests within the interval go out together in one write with the newest status", () =>
    Effect.scoped(Effect.gen(function*() {
      const { set, writes } = yield* harness()
      yield* set(1)
      yield* TestClock.adjust("1 millis")
      for (const next of [2, 3, 4]) {
        yield* set(next)
        yield* TestClock.adjust("200 millis")
      }
      assert.deepStrictEqual(writes.map((w) => w.value), [1])
      yield* TestClock.adjust("1 seconds")
      assert.deepStrictEqual(writes, [{ value: 1, atMillis: 0 }, { value: 4, atMillis: 1000 }])
    })))

  it.effect("a large status holds the next progress write back by its size; an urgent one still goes at once", () =>
    Effect.scoped(Effect.gen(function*() {
      const { set, writes } = yield* harness({ bytes: 4000 })
      yield* set(1)
      yield* TestClock.adjust("1 millis")
      yield* set(2)
      yield* TestClock.adjust("3 seconds")
      assert.deepStrictEqual(writes.map((w) => w.value), [1], "4,000 bytes at 1,000 a second: no progress write for 4 s")
      yield* TestClock.adjust("1 seconds")
      assert.deepStrictEqual(writes, [{ value: 1, atMillis: 0 }, { value: 2, atMillis: 4000 }])
      yield* set(3, true)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(writes.at(-1), { value: 3, atMillis: 4001 })
    })))

  it.effect("an urgent request does not wait out the interval", () =>
    Effect.scoped(Effect.gen(function*() {
      const { set, writes } = yield* harness()
      yield* set(1)
      yield* TestClock.adjust("100 millis")
      yield* set(2)
      yield* TestClock.adjust("100 millis")
      yield* set(3, true)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(writes, [{ value: 1, atMillis: 0 }, { value: 3, atMillis: 200 }])
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(writes.length, 2, "nothing newer was asked for, so nothing more is written")
    })))

  it.effect("one write in flight at a time: a request during a write is written once after it", () =>
    Effect.scoped(Effect.gen(function*() {
      const { set, writes } = yield* harness({ writeMillis: 300 })
      yield* set(1, true)
      yield* TestClock.adjust("100 millis")
      yield* set(2, true)
      yield* set(3, true)
      yield* TestClock.adjust("1 seconds")
      assert.deepStrictEqual(writes, [{ value: 1, atMillis: 300 }, { value: 3, atMillis: 600 }])
    })))

  it.effect("a failed write is reported and tried again with the newest status until it goes through", () =>
    Effect.scoped(Effect.gen(function*() {
      const { errors, set, writes } = yield* harness({ failFirst: 2 })
      yield* set(1, true)
      yield* TestClock.adjust("100 millis")
      yield* set(2)
      yield* TestClock.adjust("1 seconds")
      assert.deepStrictEqual(errors, ["conflict", "conflict"])
      // Tried at 0, 200 ms and 600 ms (backoff 200, 400): the second and third carry the status asked for in between.
      assert.deepStrictEqual(writes, [{ value: 2, atMillis: 600 }])
    })))
})
