import { assert, describe, it } from "@effect/vitest"
import { Duration, Option, Schema } from "effect"
import { BatchWorkloadSpec } from "../../src/api/BatchWorkload.ts"
import { formatGoDuration, parseGoDuration } from "../../src/api/GoDuration.ts"

describe("Go durations", () => {
  it("parses the forms users write", () => {
    assert.deepStrictEqual(parseGoDuration("60s"), Option.some(60_000))
    assert.deepStrictEqual(parseGoDuration("5m"), Option.some(300_000))
    assert.deepStrictEqual(parseGoDuration("1h30m"), Option.some(5_400_000))
    assert.deepStrictEqual(parseGoDuration("1.5h"), Option.some(5_400_000))
    assert.deepStrictEqual(parseGoDuration("250ms"), Option.some(250))
    assert.deepStrictEqual(parseGoDuration("2m3s"), Option.some(123_000))
  })

  it("rejects what Go rejects", () => {
    for (const text of ["abc", "", "60", "5 minutes", "-5s", "1d", "s"]) assert.isTrue(Option.isNone(parseGoDuration(text)), text)
  })

  it("formats back to Go's shape", () => {
    assert.strictEqual(formatGoDuration(5_400_000), "1h30m0s")
    assert.strictEqual(formatGoDuration(60_000), "1m0s")
    assert.strictEqual(formatGoDuration(2_500), "2.5s")
    assert.strictEqual(formatGoDuration(250), "250ms")
  })

  it("decodes the spec's timeout and says what is wrong with a bad one", () => {
    const decode = Schema.decodeUnknownSync(BatchWorkloadSpec)
    assert.strictEqual(Duration.toMillis(decode({ image: "x", timeout: "120s" }).timeout), 120_000)
    assert.strictEqual(Duration.toMillis(decode({ image: "x" }).timeout), 300_000)
    assert.throws(() => decode({ image: "x", timeout: "abc" }), /invalid duration/)
  })
})
