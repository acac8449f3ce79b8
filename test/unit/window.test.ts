// Maintenance windows over fixed instants: each row is a window, a moment, and
// whether an attempt may start then (with the exact closing or opening instant).
// Calendar notes for 2026: Jan 14 is a Wednesday; Europe/Berlin springs forward
// on Sun Mar 29 (02:00 CET -> 03:00 CEST, 01:00Z) and falls back on Sun Oct 25
// (03:00 CEST -> 02:00 CET, 01:00Z); America/New_York springs forward on Sun
// Mar 8 (07:00Z) and falls back on Sun Nov 1 (06:00Z); Pacific/Auckland (+13 in
// January) falls back on Sun Apr 5 (03:00 NZDT -> 02:00 NZST, Apr 4 14:00Z).
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Exit, Option, Schema } from "effect"
import {
  clockTimePattern,
  MaintenanceWindow,
  timeZoneNames,
  windowValidationRules
} from "../../src/api/MaintenanceWindow.ts"
import { describeWindow, windowState } from "../../src/domain/window.ts"

const decodeWindow = Schema.decodeUnknownSync(MaintenanceWindow)
const decodeExit = (input: unknown) => Schema.decodeUnknownExit(MaintenanceWindow)(input, { errors: "all" })

type Expected = { readonly open: true; readonly closesAt: string } | { readonly open: false; readonly opensAt: string }

interface Row {
  readonly name: string
  readonly window: Record<string, unknown>
  readonly now: string
  readonly expected: Expected
}

const utcWorkday = { startTime: "09:00", endTime: "17:00" }
const utcNight = { startTime: "22:00", endTime: "04:00" }
const berlin = (fields: Record<string, unknown>) => ({ ...fields, timeZone: "Europe/Berlin" })
const newYork = (fields: Record<string, unknown>) => ({ ...fields, timeZone: "America/New_York" })
const auckland = (fields: Record<string, unknown>) => ({ ...fields, timeZone: "Pacific/Auckland" })
const kolkata = (fields: Record<string, unknown>) => ({ ...fields, timeZone: "Asia/Kolkata" })

const rows: ReadonlyArray<Row> = [
  // Inside and outside, UTC.
  { name: "inside a same-day window", window: utcWorkday, now: "2026-01-14T12:00:00.000Z", expected: { open: true, closesAt: "2026-01-14T17:00:00.000Z" } },
  { name: "the opening minute is inside", window: utcWorkday, now: "2026-01-14T09:00:00.000Z", expected: { open: true, closesAt: "2026-01-14T17:00:00.000Z" } },
  { name: "a millisecond before opening is outside", window: utcWorkday, now: "2026-01-14T08:59:59.999Z", expected: { open: false, opensAt: "2026-01-14T09:00:00.000Z" } },
  { name: "the closing instant is outside; it opens again tomorrow", window: utcWorkday, now: "2026-01-14T17:00:00.000Z", expected: { open: false, opensAt: "2026-01-15T09:00:00.000Z" } },
  // Midnight crossing.
  { name: "a night window is open before midnight", window: utcNight, now: "2026-01-14T23:00:00.000Z", expected: { open: true, closesAt: "2026-01-15T04:00:00.000Z" } },
  { name: "a night window is still open after midnight", window: utcNight, now: "2026-01-15T03:59:59.999Z", expected: { open: true, closesAt: "2026-01-15T04:00:00.000Z" } },
  { name: "a night window closes at endTime the next morning", window: utcNight, now: "2026-01-15T04:00:00.000Z", expected: { open: false, opensAt: "2026-01-15T22:00:00.000Z" } },
  // The days filter names the day a window opens on.
  {
    name: "opened Friday 22:00, still open Saturday 03:00 though Saturday is not listed",
    window: { ...utcNight, days: ["Fri"] },
    now: "2026-01-17T03:00:00.000Z",
    expected: { open: true, closesAt: "2026-01-17T04:00:00.000Z" }
  },
  {
    name: "after the Friday window, the next opening is next Friday",
    window: { ...utcNight, days: ["Fri"] },
    now: "2026-01-17T05:00:00.000Z",
    expected: { open: false, opensAt: "2026-01-23T22:00:00.000Z" }
  },
  {
    name: "Saturday 03:00 is closed when only Saturday is listed: Friday's window did not open",
    window: { ...utcNight, days: ["Sat"] },
    now: "2026-01-17T03:00:00.000Z",
    expected: { open: false, opensAt: "2026-01-17T22:00:00.000Z" }
  },
  {
    name: "after today's only allowed window, the next opening is a week later",
    window: { ...utcWorkday, days: ["Wed"] },
    now: "2026-01-14T17:30:00.000Z",
    expected: { open: false, opensAt: "2026-01-21T09:00:00.000Z" }
  },
  {
    name: "an allowed day's window later today",
    window: { ...utcWorkday, days: ["Wed"] },
    now: "2026-01-14T08:00:00.000Z",
    expected: { open: false, opensAt: "2026-01-14T09:00:00.000Z" }
  },
  {
    name: "a day not listed waits for the next listed one",
    window: { ...utcWorkday, days: ["Mon", "Thu"] },
    now: "2026-01-13T10:00:00.000Z",
    expected: { open: false, opensAt: "2026-01-15T09:00:00.000Z" }
  },
  // Europe/Berlin, winter (+01:00) and both DST changes.
  {
    name: "Berlin in winter: 22:00-04:00 local is 21:00-03:00Z",
    window: berlin(utcNight),
    now: "2026-01-14T21:30:00.000Z",
    expected: { open: true, closesAt: "2026-01-15T03:00:00.000Z" }
  },
  {
    name: "Berlin, the night DST starts opens at 22:00 CET",
    window: berlin(utcNight),
    now: "2026-03-28T20:59:00.000Z",
    expected: { open: false, opensAt: "2026-03-28T21:00:00.000Z" }
  },
  {
    name: "Berlin, the night DST starts is an hour shorter: it closes at 04:00 CEST",
    window: berlin(utcNight),
    now: "2026-03-29T01:30:00.000Z",
    expected: { open: true, closesAt: "2026-03-29T02:00:00.000Z" }
  },
  {
    name: "Berlin, an opening after the spring change is in summer time",
    window: berlin(utcWorkday),
    now: "2026-03-28T17:00:00.000Z",
    expected: { open: false, opensAt: "2026-03-29T07:00:00.000Z" }
  },
  {
    name: "Berlin, a startTime in the skipped hour opens at the jump (03:00 CEST)",
    window: berlin({ days: ["Sun"], startTime: "02:30", endTime: "05:00" }),
    now: "2026-03-28T12:00:00.000Z",
    expected: { open: false, opensAt: "2026-03-29T01:00:00.000Z" }
  },
  {
    name: "Berlin, a window opened at the jump is open until 05:00 CEST",
    window: berlin({ days: ["Sun"], startTime: "02:30", endTime: "05:00" }),
    now: "2026-03-29T01:00:00.000Z",
    expected: { open: true, closesAt: "2026-03-29T03:00:00.000Z" }
  },
  {
    name: "Berlin, a window entirely in the skipped hour does not open; next Sunday it does",
    window: berlin({ days: ["Sun"], startTime: "02:15", endTime: "02:45" }),
    now: "2026-03-28T12:00:00.000Z",
    expected: { open: false, opensAt: "2026-04-05T00:15:00.000Z" }
  },
  {
    name: "Berlin, the night DST ends opens at 01:00 CEST",
    window: berlin({ startTime: "01:00", endTime: "05:00" }),
    now: "2026-10-24T22:00:00.000Z",
    expected: { open: false, opensAt: "2026-10-24T23:00:00.000Z" }
  },
  {
    name: "Berlin, the night DST ends is an hour longer: it closes at 05:00 CET",
    window: berlin({ startTime: "01:00", endTime: "05:00" }),
    now: "2026-10-25T03:30:00.000Z",
    expected: { open: true, closesAt: "2026-10-25T04:00:00.000Z" }
  },
  {
    name: "Berlin, a repeated startTime opens on its first pass (02:30 CEST)",
    window: berlin({ days: ["Sun"], startTime: "02:30", endTime: "03:30" }),
    now: "2026-10-24T12:00:00.000Z",
    expected: { open: false, opensAt: "2026-10-25T00:30:00.000Z" }
  },
  {
    name: "Berlin, during the repeated hour's second pass the window is still open, until 03:30 CET",
    window: berlin({ days: ["Sun"], startTime: "02:30", endTime: "03:30" }),
    now: "2026-10-25T01:45:00.000Z",
    expected: { open: true, closesAt: "2026-10-25T02:30:00.000Z" }
  },
  {
    name: "Berlin, an opening after the autumn change is in winter time",
    window: berlin(utcWorkday),
    now: "2026-10-24T16:00:00.000Z",
    expected: { open: false, opensAt: "2026-10-25T08:00:00.000Z" }
  },
  // America/New_York.
  {
    name: "New York in winter: 22:00 EST is 03:00Z",
    window: newYork(utcNight),
    now: "2026-01-15T02:00:00.000Z",
    expected: { open: false, opensAt: "2026-01-15T03:00:00.000Z" }
  },
  {
    name: "New York, spring forward: 01:30 EST to 03:00 EDT is half an hour",
    window: newYork({ days: ["Sun"], startTime: "01:30", endTime: "03:00" }),
    now: "2026-03-08T06:45:00.000Z",
    expected: { open: true, closesAt: "2026-03-08T07:00:00.000Z" }
  },
  {
    name: "New York, fall back: opened at the first 01:30, open through the repeated hour until 02:00 EST",
    window: newYork({ days: ["Sun"], startTime: "01:30", endTime: "02:00" }),
    now: "2026-11-01T06:15:00.000Z",
    expected: { open: true, closesAt: "2026-11-01T07:00:00.000Z" }
  },
  // Pacific/Auckland, 13 hours ahead: the local weekday is not the UTC one.
  {
    name: "Auckland, Monday 09:30 local is still Sunday in UTC",
    window: auckland({ ...utcWorkday, days: ["Mon"] }),
    now: "2026-01-18T20:30:00.000Z",
    expected: { open: true, closesAt: "2026-01-19T04:00:00.000Z" }
  },
  {
    name: "Auckland, after Monday's window the next is the following Monday 09:00 NZDT",
    window: auckland({ ...utcWorkday, days: ["Mon"] }),
    now: "2026-01-19T04:00:00.000Z",
    expected: { open: false, opensAt: "2026-01-25T20:00:00.000Z" }
  },
  {
    name: "Auckland, the night DST ends: opened 22:00 NZDT, closes 04:00 NZST",
    window: auckland(utcNight),
    now: "2026-04-04T15:30:00.000Z",
    expected: { open: true, closesAt: "2026-04-04T16:00:00.000Z" }
  },
  // Asia/Kolkata, +05:30.
  {
    name: "Kolkata, a millisecond before 22:00 IST",
    window: kolkata(utcNight),
    now: "2026-01-14T16:29:59.999Z",
    expected: { open: false, opensAt: "2026-01-14T16:30:00.000Z" }
  },
  {
    name: "Kolkata, 22:00 IST opens until 04:00 IST",
    window: kolkata(utcNight),
    now: "2026-01-14T16:30:00.000Z",
    expected: { open: true, closesAt: "2026-01-14T22:30:00.000Z" }
  },
  {
    name: "Kolkata, a Friday 23:30 window is still open at Saturday 00:15 IST",
    window: kolkata({ days: ["Fri"], startTime: "23:30", endTime: "00:30" }),
    now: "2026-01-16T18:45:00.000Z",
    expected: { open: true, closesAt: "2026-01-16T19:00:00.000Z" }
  },
  {
    name: "Kolkata, Friday 23:30 IST is Friday 18:00Z, so a Saturday-only window waits a day",
    window: kolkata({ days: ["Sat"], startTime: "23:30", endTime: "00:30" }),
    now: "2026-01-16T18:00:00.000Z",
    expected: { open: false, opensAt: "2026-01-17T18:00:00.000Z" }
  }
]

const iso = (millis: number) => Number.isFinite(millis) ? new Date(millis).toISOString() : String(millis)

describe("windowState", () => {
  for (const row of rows) {
    it(row.name, () => {
      const state = windowState(decodeWindow(row.window), Date.parse(row.now))
      if (row.expected.open) {
        assert.isTrue(state.open, "open")
        if (state.open) assert.strictEqual(state.closesAtMillis, Date.parse(row.expected.closesAt), `closes at ${iso(state.closesAtMillis)}`)
      } else {
        assert.isFalse(state.open, "open")
        if (!state.open) assert.strictEqual(state.opensAtMillis, Date.parse(row.expected.opensAt), `opens at ${iso(state.opensAtMillis)}`)
      }
    })
  }

  it("a window with no days at all never opens", () => {
    const window = { ...decodeWindow(utcWorkday), days: [] }
    assert.deepStrictEqual(windowState(window, Date.parse("2026-01-14T12:00:00.000Z")), { open: false, opensAtMillis: Number.POSITIVE_INFINITY })
  })
})

describe("describeWindow", () => {
  it("lists the days Monday first, then the times and the zone", () => {
    assert.strictEqual(describeWindow(decodeWindow(berlin({ ...utcNight, days: ["Tue", "Mon"] }))), "Mon,Tue 22:00–04:00 Europe/Berlin")
  })

  it("says every day without days, or with all seven", () => {
    assert.strictEqual(describeWindow(decodeWindow(utcWorkday)), "every day 09:00–17:00 UTC")
    const allDays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert.strictEqual(describeWindow(decodeWindow(kolkata({ ...utcNight, days: allDays }))), "every day 22:00–04:00 Asia/Kolkata")
  })
})

/** The message and path of each issue in a failed decode, as the SchemaError formats them. */
const failure = (input: unknown): string => {
  const exit = decodeExit(input)
  return Exit.isFailure(exit) ? String(exit.cause) : "decoded"
}

describe("MaintenanceWindow schema", () => {
  it("decodes a full window and defaults the time zone to UTC", () => {
    const full = decodeWindow({ days: ["Mon", "Tue"], startTime: "22:00", endTime: "04:00", timeZone: "Europe/Berlin" })
    assert.deepStrictEqual([full.days, full.startTime, full.endTime, full.timeZone], [["Mon", "Tue"], "22:00", "04:00", "Europe/Berlin"])
    assert.strictEqual(decodeWindow({ startTime: "00:00", endTime: "23:59" }).timeZone, "UTC")
  })

  it("rejects a time that is not 24-hour HH:MM, naming the field", () => {
    for (const time of ["24:00", "9:00", "09:60", "09:00:00", "0900", "noon", "", " 09:00", "09:00 "]) {
      const message = failure({ startTime: time, endTime: "04:00" })
      assert.include(message, "expected a 24-hour time HH:MM", time)
      assert.include(message, `["startTime"]`, time)
    }
    for (const time of ["00:00", "09:05", "19:59", "23:59"]) assert.strictEqual(failure({ startTime: time, endTime: "04:00" }), "decoded", time)
  })

  it("rejects an unknown time zone, naming the field", () => {
    for (const zone of ["Mars/Olympus", "europe/berlin", "Europe/Berlin ", "", "+02:00", "Etc/GMT+1"]) {
      const message = failure({ ...utcWorkday, timeZone: zone })
      assert.include(message, "unknown time zone", zone)
      assert.include(message, `["timeZone"]`, zone)
    }
  })

  it("accepts current IANA names as well as the older ones ICU lists", () => {
    for (const zone of ["Asia/Kolkata", "Asia/Calcutta", "Europe/Kyiv", "Europe/Kiev", "America/New_York", "Pacific/Auckland", "UTC"]) {
      assert.strictEqual(failure({ ...utcWorkday, timeZone: zone }), "decoded", zone)
    }
  })

  it("every admitted zone name is one Intl can compute with", () => {
    for (const zone of timeZoneNames) assert.isTrue(Option.isSome(DateTime.zoneMakeNamed(zone)), zone)
  })

  it("rejects equal startTime and endTime as an empty window", () => {
    const message = failure({ startTime: "04:00", endTime: "04:00" })
    assert.include(message, "startTime and endTime must differ")
    assert.include(message, `["endTime"]`)
  })

  it("rejects empty, repeated or unknown days", () => {
    assert.include(failure({ ...utcWorkday, days: [] }), "at least 1")
    assert.include(failure({ ...utcWorkday, days: ["Mon", "Mon"] }), "unique")
    assert.include(failure({ ...utcWorkday, days: ["Monday"] }), `["days"][0]`)
  })
})

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

describe("MaintenanceWindow in the CRD", () => {
  const document = Schema.toJsonSchemaDocument(Schema.toEncoded(MaintenanceWindow))
  const properties = document.schema["properties"]
  const property = (name: string): Record<string, unknown> => {
    const value = isRecord(properties) ? properties[name] : undefined
    assert.isTrue(isRecord(value), name)
    return isRecord(value) ? value : {}
  }

  it("carries the HH:MM pattern the decoder uses, and the API server applies the same (00:00-23:59)", () => {
    for (const field of ["startTime", "endTime"]) {
      assert.include(property(field), { type: "string", pattern: clockTimePattern.source, maxLength: 5 }, field)
    }
    const admitted = new RegExp(clockTimePattern.source, "u")
    for (const time of ["00:00", "23:59", "12:30", "24:00", "23:60", "7:00", "07:00:00", "ab:cd"]) {
      assert.strictEqual(admitted.test(time), failure({ startTime: time, endTime: time === "12:30" ? "13:00" : "12:30" }) === "decoded", time)
    }
  })

  it("enumerates the days, and the time-zone names the decoder accepts, with UTC as the stored default", () => {
    assert.deepStrictEqual(property("days")["items"], { type: "string", enum: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] })
    assert.include(property("days"), { type: "array", minItems: 1, uniqueItems: true })
    const timeZone = property("timeZone")
    assert.include(timeZone, { type: "string", default: "UTC" })
    assert.deepStrictEqual(timeZone["enum"], timeZoneNames)
    assert.deepStrictEqual(document.schema["required"], ["startTime", "endTime"])
  })

  it("leaves the startTime/endTime comparison to a CEL rule", () => {
    assert.deepStrictEqual(windowValidationRules.map((rule) => rule.rule), ["self.startTime != self.endTime"])
  })
})
