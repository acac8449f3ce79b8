// The schedule decision over fixed instants. Calendar notes for 2026: Jan 14 is
// a Wednesday; Europe/Berlin springs forward on Sun Mar 29 (02:00 CET -> 03:00
// CEST, 01:00Z) and falls back on Sun Oct 25 (03:00 CEST -> 02:00 CET, 01:00Z);
// America/New_York springs forward on Sun Mar 8 (07:00Z).
import { assert, describe, it } from "@effect/vitest"
import { Cron, Exit, Schema } from "effect"
import { BatchWorkloadSpec, type RunRecord } from "../../src/api/BatchWorkload.ts"
import { decideRun, dueTick, executionIdFor, type ScheduleInput, withRun } from "../../src/domain/schedule.ts"

const at = (iso: string) => Date.parse(iso)
const iso = (millis: number | undefined) => millis === undefined ? undefined : new Date(millis).toISOString()
const cron = (expression: string, zone = "UTC") => Cron.parseUnsafe(expression, zone)

interface TickRow {
  readonly name: string
  readonly schedule: string
  readonly zone?: string
  readonly since: string
  readonly now: string
  readonly deadline?: number
  readonly expected: "NotDue" | { readonly due: string } | { readonly tooLate: string }
  readonly next: string
}

const tickRows: ReadonlyArray<TickRow> = [
  { name: "before the first tick nothing is due", schedule: "42 3 * * *", since: "2026-01-14T00:00:00Z", now: "2026-01-14T03:41:59Z", expected: "NotDue", next: "2026-01-14T03:42:00.000Z" },
  { name: "the tick's own instant is due", schedule: "42 3 * * *", since: "2026-01-14T00:00:00Z", now: "2026-01-14T03:42:00Z", expected: { due: "2026-01-14T03:42:00.000Z" }, next: "2026-01-15T03:42:00.000Z" },
  { name: "a tick already acted on is not due again", schedule: "42 3 * * *", since: "2026-01-14T03:42:00Z", now: "2026-01-14T12:00:00Z", expected: "NotDue", next: "2026-01-15T03:42:00.000Z" },
  { name: "a tick at creation itself is not owed (strictly after since)", schedule: "0 * * * *", since: "2026-01-14T10:00:00Z", now: "2026-01-14T10:00:30Z", expected: "NotDue", next: "2026-01-14T11:00:00.000Z" },
  { name: "ticks missed while the operator was down fold into the latest", schedule: "*/5 * * * *", since: "2026-01-14T10:00:00Z", now: "2026-01-14T10:23:00Z", expected: { due: "2026-01-14T10:20:00.000Z" }, next: "2026-01-14T10:25:00.000Z" },
  { name: "a missed tick within startingDeadlineSeconds still runs", schedule: "0 * * * *", since: "2026-01-14T09:00:00Z", now: "2026-01-14T10:04:59Z", deadline: 300, expected: { due: "2026-01-14T10:00:00.000Z" }, next: "2026-01-14T11:00:00.000Z" },
  { name: "exactly startingDeadlineSeconds late still runs", schedule: "0 * * * *", since: "2026-01-14T09:00:00Z", now: "2026-01-14T10:05:00Z", deadline: 300, expected: { due: "2026-01-14T10:00:00.000Z" }, next: "2026-01-14T11:00:00.000Z" },
  { name: "a missed tick past startingDeadlineSeconds is too late", schedule: "0 * * * *", since: "2026-01-14T09:00:00Z", now: "2026-01-14T10:05:01Z", deadline: 300, expected: { tooLate: "2026-01-14T10:00:00.000Z" }, next: "2026-01-14T11:00:00.000Z" },
  { name: "a day down with a deadline: only the latest tick is judged, and it is too late", schedule: "0 * * * *", since: "2026-01-13T09:00:00Z", now: "2026-01-14T10:30:00Z", deadline: 60, expected: { tooLate: "2026-01-14T10:00:00.000Z" }, next: "2026-01-14T11:00:00.000Z" },
  { name: "weekdays only: Saturday waits for Monday", schedule: "0 9 * * 1-5", since: "2026-01-16T09:00:00Z", now: "2026-01-17T09:00:00Z", expected: "NotDue", next: "2026-01-19T09:00:00.000Z" },
  // Time zones and DST.
  { name: "Berlin in winter: 03:42 local is 02:42Z", schedule: "42 3 * * *", zone: "Europe/Berlin", since: "2026-01-14T00:00:00Z", now: "2026-01-14T02:42:00Z", expected: { due: "2026-01-14T02:42:00.000Z" }, next: "2026-01-15T02:42:00.000Z" },
  { name: "Berlin in summer: 03:42 local is 01:42Z", schedule: "42 3 * * *", zone: "Europe/Berlin", since: "2026-06-14T00:00:00Z", now: "2026-06-14T01:42:00Z", expected: { due: "2026-06-14T01:42:00.000Z" }, next: "2026-06-15T01:42:00.000Z" },
  { name: "Berlin, a time the spring change skips (02:30) runs an hour later by the clock (03:30 CEST)", schedule: "30 2 * * *", zone: "Europe/Berlin", since: "2026-03-28T12:00:00Z", now: "2026-03-29T01:30:00Z", expected: { due: "2026-03-29T01:30:00.000Z" }, next: "2026-03-30T00:30:00.000Z" },
  { name: "Berlin, nothing runs in the skipped hour itself", schedule: "30 2 * * *", zone: "Europe/Berlin", since: "2026-03-28T12:00:00Z", now: "2026-03-29T01:29:59Z", expected: "NotDue", next: "2026-03-29T01:30:00.000Z" },
  { name: "Berlin, a time the autumn change repeats runs once, on its first pass (02:30 CEST)", schedule: "30 2 * * *", zone: "Europe/Berlin", since: "2026-10-25T00:30:00Z", now: "2026-10-25T01:45:00Z", expected: "NotDue", next: "2026-10-26T01:30:00.000Z" },
  { name: "Berlin, hourly across the autumn change: the repeated 02:00 is not a second tick", schedule: "0 * * * *", zone: "Europe/Berlin", since: "2026-10-25T00:00:00Z", now: "2026-10-25T01:30:00Z", expected: "NotDue", next: "2026-10-25T02:00:00.000Z" },
  { name: "New York, the morning after DST starts: 09:00 EDT is 13:00Z", schedule: "0 9 * * *", zone: "America/New_York", since: "2026-03-07T14:00:00Z", now: "2026-03-08T13:00:00Z", expected: { due: "2026-03-08T13:00:00.000Z" }, next: "2026-03-09T13:00:00.000Z" }
]

describe("dueTick", () => {
  for (const row of tickRows) {
    it(row.name, () => {
      const c = cron(row.schedule, row.zone)
      const tick = dueTick({ cron: c, sinceMillis: at(row.since), startingDeadlineSeconds: row.deadline, nowMillis: at(row.now) })
      const got = tick._tag === "NotDue" ? "NotDue" : tick._tag === "Due" ? { due: iso(tick.atMillis) } : { tooLate: iso(tick.atMillis) }
      assert.deepStrictEqual(got, row.expected)
      assert.strictEqual(iso(tick.nextMillis), row.next)
    })
  }
})

const base: ScheduleInput = {
  cron: cron("0 * * * *"),
  createdAtMillis: at("2026-01-14T09:30:00Z"),
  lastScheduleMillis: undefined,
  startingDeadlineSeconds: undefined,
  concurrencyPolicy: "Forbid",
  runOnCreateAtMillis: undefined,
  currentRun: undefined,
  pendingRetry: undefined,
  nowMillis: at("2026-01-14T09:45:00Z")
}

interface DecisionRow {
  readonly name: string
  readonly input: Partial<ScheduleInput>
  readonly action: string | undefined
  readonly lastSchedule: string | undefined
  readonly wake: string
}

const summarizeAction = (input: ScheduleInput) => {
  const action = decideRun(input).action
  if (action === undefined) return undefined
  if (action._tag === "Skip") return `Skip ${action.reason} ${iso(action.atMillis)}`
  return `Start ${action.trigger} ${action.executionId}${action.replaces !== undefined ? ` replacing ${action.replaces}` : ""}`
}

const running = { executionId: "20260114-090000", active: true }
const finished = { executionId: "20260114-090000", active: false }

const decisionRows: ReadonlyArray<DecisionRow> = [
  { name: "a new workload waits for its first tick", input: {}, action: undefined, lastSchedule: undefined, wake: "2026-01-14T10:00:00.000Z" },
  { name: "the first tick starts the first run", input: { nowMillis: at("2026-01-14T10:00:00Z") }, action: "Start Schedule 20260114-100000", lastSchedule: "2026-01-14T10:00:00.000Z", wake: "2026-01-14T11:00:00.000Z" },
  {
    name: "runOnCreate waits for its delay, and wakes for it before the tick",
    input: { runOnCreateAtMillis: at("2026-01-14T09:50:00Z") },
    action: undefined,
    lastSchedule: undefined,
    wake: "2026-01-14T09:50:00.000Z"
  },
  {
    name: "runOnCreate starts once its delay has passed",
    input: { runOnCreateAtMillis: at("2026-01-14T09:40:00Z") },
    action: "Start Create create-20260114-094000",
    lastSchedule: undefined,
    wake: "2026-01-14T10:00:00.000Z"
  },
  {
    name: "runOnCreate is not repeated once any run has happened",
    input: { runOnCreateAtMillis: at("2026-01-14T09:40:00Z"), currentRun: finished, lastScheduleMillis: at("2026-01-14T09:00:00Z") },
    action: undefined,
    lastSchedule: "2026-01-14T09:00:00.000Z",
    wake: "2026-01-14T10:00:00.000Z"
  },
  {
    name: "Forbid skips a tick while a run is under way, and counts it as acted on",
    input: { nowMillis: at("2026-01-14T10:00:10Z"), currentRun: running, lastScheduleMillis: at("2026-01-14T09:00:00Z") },
    action: "Skip RunActive 2026-01-14T10:00:00.000Z",
    lastSchedule: "2026-01-14T10:00:00.000Z",
    wake: "2026-01-14T11:00:00.000Z"
  },
  {
    name: "Forbid starts the tick when the last run is over",
    input: { nowMillis: at("2026-01-14T10:00:10Z"), currentRun: finished, lastScheduleMillis: at("2026-01-14T09:00:00Z") },
    action: "Start Schedule 20260114-100000",
    lastSchedule: "2026-01-14T10:00:00.000Z",
    wake: "2026-01-14T11:00:00.000Z"
  },
  {
    name: "Replace ends the run under way and starts the tick's",
    input: { nowMillis: at("2026-01-14T10:00:10Z"), currentRun: running, lastScheduleMillis: at("2026-01-14T09:00:00Z"), concurrencyPolicy: "Replace" },
    action: "Start Schedule 20260114-100000 replacing 20260114-090000",
    lastSchedule: "2026-01-14T10:00:00.000Z",
    wake: "2026-01-14T11:00:00.000Z"
  },
  {
    name: "a tick past startingDeadlineSeconds is skipped as too late",
    input: { nowMillis: at("2026-01-14T10:02:00Z"), currentRun: finished, lastScheduleMillis: at("2026-01-14T09:00:00Z"), startingDeadlineSeconds: 60 },
    action: "Skip TooLate 2026-01-14T10:00:00.000Z",
    lastSchedule: "2026-01-14T10:00:00.000Z",
    wake: "2026-01-14T11:00:00.000Z"
  },
  {
    name: "the retry annotation starts a run by hand, replacing the one under way, and leaves the schedule alone",
    input: { currentRun: running, lastScheduleMillis: at("2026-01-14T09:00:00Z"), pendingRetry: "1764630000" },
    action: `Start Manual ${executionIdFor("Manual", 0, "1764630000")} replacing 20260114-090000`,
    lastSchedule: "2026-01-14T09:00:00.000Z",
    wake: "2026-01-14T10:00:00.000Z"
  }
]

describe("decideRun", () => {
  for (const row of decisionRows) {
    it(row.name, () => {
      const input = { ...base, ...row.input }
      const decision = decideRun(input)
      assert.strictEqual(summarizeAction(input), row.action)
      assert.strictEqual(iso(decision.lastScheduleMillis), row.lastSchedule)
      assert.strictEqual(iso(decision.wakeAtMillis), row.wake)
    })
  }

  it("the same start decided twice (a crash before the status write) names the same run", () => {
    const first = summarizeAction({ ...base, nowMillis: at("2026-01-14T10:00:00Z") })
    assert.strictEqual(summarizeAction({ ...base, nowMillis: at("2026-01-14T10:00:30Z") }), first)
    assert.match(executionIdFor("Manual", 0, "a token with spaces"), /^manual-[0-9a-f]{10}$/)
  })
})

describe("run history", () => {
  const record = (executionId: string, outcome: RunRecord["outcome"] = "Succeeded"): RunRecord => ({
    executionId,
    trigger: "Schedule",
    startTime: "2026-01-14T10:00:00Z",
    outcome,
    totalNodes: 1,
    succeededNodes: 1,
    failedNodes: 0
  })

  it("puts the current run first, updates it in place, and keeps runHistoryLimit runs", () => {
    const history = [record("b"), record("a")]
    assert.deepStrictEqual(withRun(history, record("c", "Running"), 2).map((r) => r.executionId), ["c", "b"])
    assert.deepStrictEqual(withRun([record("c", "Running"), ...history], record("c"), 3).map((r) => `${r.executionId}:${r.outcome}`), ["c:Succeeded", "b:Succeeded", "a:Succeeded"])
  })
})

describe("schedule fields at decoding", () => {
  const decode = (spec: Record<string, unknown>) => Schema.decodeUnknownExit(BatchWorkloadSpec)({ image: "busybox", mode: "RunToCompletion", ...spec })

  it("defaults concurrencyPolicy to Forbid and runHistoryLimit to 30", () => {
    const decoded = Schema.decodeUnknownSync(BatchWorkloadSpec)({ image: "busybox", mode: "RunToCompletion", schedule: "42 3 * * *" })
    assert.strictEqual(decoded.concurrencyPolicy, "Forbid")
    assert.strictEqual(decoded.runHistoryLimit, 30)
    assert.strictEqual(decoded.runOnCreate, false)
  })

  it("refuses a six-field expression, a bad field, and a schedule on a LongRunning workload", () => {
    assert.isTrue(Exit.isFailure(decode({ schedule: "0 42 3 * * *" })))
    assert.isTrue(Exit.isFailure(decode({ schedule: "61 * * * *" })))
    assert.isTrue(Exit.isFailure(decode({ schedule: "42 3 * * *", mode: "LongRunning" })))
    assert.isTrue(Exit.isFailure(decode({ schedule: "42 3 * * *", timeZone: "Mars/Olympus" })))
    assert.isTrue(Exit.isSuccess(decode({ schedule: "*/15 2 * * MON-FRI", timeZone: "Europe/Berlin" })))
  })
})
