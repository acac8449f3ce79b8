// Scheduled runs (spec.schedule), decided as the Kubernetes CronJob controller
// decides them (pkg/controller/cronjob: mostRecentScheduleTime,
// nextScheduleTime, the startingDeadlineSeconds check), as pure functions of
// the spec, the status and the time, so a restarted operator, or one that was
// down for a while, reaches the same answer from what the status recorded.
import { createHash } from "node:crypto"
import { Cron, Duration, Result } from "effect"
import type {
  BatchWorkloadSpec,
  BatchWorkloadStatus,
  ConcurrencyPolicy,
  RunOutcome,
  RunRecord,
  RunTrigger
} from "../api/BatchWorkload.ts"
import { defaultTimeZone } from "../api/MaintenanceWindow.ts"
import { isoAt } from "./rollout.ts"
import { conditionTypes, mergeConditions } from "./status.ts"

/** The workload's schedule in its time zone, or the parser's message; undefined without spec.schedule. */
export const scheduleOf = (spec: BatchWorkloadSpec): Result.Result<Cron.Cron, string> | undefined => {
  if (spec.schedule === undefined) return undefined
  const parsed = Cron.parse(spec.schedule, spec.timeZone ?? defaultTimeZone)
  return Result.isSuccess(parsed) ? Result.succeed(parsed.success) : Result.fail(`invalid schedule "${spec.schedule}": ${parsed.failure.message}`)
}

/**
 * Where the schedule stands at `now`: which tick (if any) is owed a decision,
 * whether it is too late to start, and the tick after it (`nextMillis`, after now).
 */
export type Tick =
  | { readonly _tag: "NotDue"; readonly nextMillis: number }
  | { readonly _tag: "Due"; readonly atMillis: number; readonly nextMillis: number }
  | { readonly _tag: "TooLate"; readonly atMillis: number; readonly nextMillis: number }

export interface TickInput {
  readonly cron: Cron.Cron
  /** The last tick acted on (run or skipped); before the first one, the workload's creation. */
  readonly sinceMillis: number
  readonly startingDeadlineSeconds: number | undefined
  readonly nowMillis: number
}

/**
 * The most recent tick after `since` and at or before `now`. As in CronJob,
 * several ticks missed in a row (the operator was down) fold into the latest
 * one: a late run is run once, not once per tick. It is too late when
 * `startingDeadlineSeconds` have passed since it.
 *
 * The next tick is counted on from the last one, not from `now`: effect's
 * Cron shifts a time the spring DST change skips (02:30 in Berlin) to an hour
 * later by the clock, but only when it is asked from before the jump, so a
 * question asked inside the skipped hour would pass that day's tick by.
 */
export const dueTick = (input: TickInput): Tick => {
  const { cron, nowMillis } = input
  const first = Cron.next(cron, input.sinceMillis).getTime()
  if (first > nowMillis) return { _tag: "NotDue", nextMillis: first }
  // Cron.prev is strictly before its argument; one millisecond past now includes a tick at now itself.
  const atMillis = Cron.prev(cron, nowMillis + 1).getTime()
  const following = Cron.next(cron, atMillis).getTime()
  const nextMillis = following > nowMillis ? following : Cron.next(cron, nowMillis).getTime()
  const deadline = input.startingDeadlineSeconds
  return deadline !== undefined && nowMillis - atMillis > deadline * 1000
    ? { _tag: "TooLate", atMillis, nextMillis }
    : { _tag: "Due", atMillis, nextMillis }
}

/**
 * A run's execution id, derived from what started it so that deciding the
 * same start twice (an operator that crashed before writing the status) names
 * the same run: the tick's (or runOnCreate moment's) UTC time, or a hash of the
 * retry annotation's value. Lowercase letters, digits and dashes.
 */
export const executionIdFor = (trigger: RunTrigger, atMillis: number, retryToken: string) => {
  const compact = isoAt(atMillis).replace(/\.\d+Z$/, "").replace(/[-:]/g, "").replace("T", "-")
  if (trigger === "Schedule") return compact
  if (trigger === "Create") return `create-${compact}`
  return `manual-${createHash("sha256").update(retryToken).digest("hex").slice(0, 10)}`
}

export interface RunStart {
  readonly _tag: "Start"
  readonly trigger: RunTrigger
  readonly executionId: string
  /** The tick or runOnCreate moment it was started for (the time of the decision, for the retry annotation). */
  readonly scheduledAtMillis: number
  /** The run under way that this one ends (Replace, or the retry annotation). */
  readonly replaces: string | undefined
}

export interface RunSkip {
  readonly _tag: "Skip"
  readonly atMillis: number
  readonly reason: "RunActive" | "TooLate"
  readonly message: string
}

export interface ScheduleInput {
  readonly cron: Cron.Cron
  readonly createdAtMillis: number
  /** status.lastScheduleTime. */
  readonly lastScheduleMillis: number | undefined
  readonly startingDeadlineSeconds: number | undefined
  readonly concurrencyPolicy: ConcurrencyPolicy
  /** With runOnCreate: when that run is due (creation plus runOnCreateDelay). */
  readonly runOnCreateAtMillis: number | undefined
  /** The current (or last) run, and whether it is still under way. */
  readonly currentRun: { readonly executionId: string; readonly active: boolean } | undefined
  /** A retry annotation value not acted on yet. */
  readonly pendingRetry: string | undefined
  readonly nowMillis: number
}

export interface ScheduleDecision {
  readonly action: RunStart | RunSkip | undefined
  /** status.lastScheduleTime after this decision. */
  readonly lastScheduleMillis: number | undefined
  /** status.nextScheduleTime: the next tick after now (counted on from the last one). */
  readonly nextScheduleMillis: number
  /** When to look again by the clock alone: the next tick, or a runOnCreate run still to come. */
  readonly wakeAtMillis: number
}

const plainTime = (millis: number) => isoAt(millis).replace(".000Z", "Z")

/**
 * Is a run to start now, which and why, or is a tick skipped? In order: the
 * retry annotation (a person asked: it always starts, ending a run under way),
 * a due tick (under concurrencyPolicy, unless it is too late), then the
 * runOnCreate run (only if no run has happened yet). A skipped tick counts as
 * acted on, so it is reported once and never started later: Forbid skips, it
 * does not postpone (CronJob instead runs the tick once the active job ends,
 * if still within startingDeadlineSeconds).
 */
export const decideRun = (input: ScheduleInput): ScheduleDecision => {
  const { cron, nowMillis } = input
  const tick = dueTick({
    cron,
    sinceMillis: input.lastScheduleMillis ?? input.createdAtMillis,
    startingDeadlineSeconds: input.startingDeadlineSeconds,
    nowMillis
  })
  const nextScheduleMillis = tick.nextMillis
  const active = input.currentRun?.active === true ? input.currentRun.executionId : undefined
  const createPending = input.currentRun === undefined && input.runOnCreateAtMillis !== undefined
  const wakeAtMillis = createPending && input.runOnCreateAtMillis !== undefined && input.runOnCreateAtMillis > nowMillis
    ? Math.min(input.runOnCreateAtMillis, nextScheduleMillis)
    : nextScheduleMillis
  const decided = (action: RunStart | RunSkip | undefined, lastScheduleMillis = input.lastScheduleMillis): ScheduleDecision => ({
    action,
    lastScheduleMillis,
    nextScheduleMillis,
    wakeAtMillis
  })
  const start = (trigger: RunTrigger, atMillis: number, replaces: string | undefined): RunStart => ({
    _tag: "Start",
    trigger,
    executionId: executionIdFor(trigger, atMillis, input.pendingRetry ?? ""),
    scheduledAtMillis: atMillis,
    replaces
  })

  if (input.pendingRetry !== undefined) return decided(start("Manual", nowMillis, active))
  if (tick._tag === "TooLate") {
    const message = `skipped the tick at ${plainTime(tick.atMillis)}: more than startingDeadlineSeconds (${input.startingDeadlineSeconds}s) late`
    return decided({ _tag: "Skip", atMillis: tick.atMillis, reason: "TooLate", message }, tick.atMillis)
  }
  if (tick._tag === "Due") {
    if (active !== undefined && input.concurrencyPolicy === "Forbid") {
      const message = `skipped the tick at ${plainTime(tick.atMillis)}: run ${active} is still under way (concurrencyPolicy Forbid)`
      return decided({ _tag: "Skip", atMillis: tick.atMillis, reason: "RunActive", message }, tick.atMillis)
    }
    return decided(start("Schedule", tick.atMillis, active), tick.atMillis)
  }
  if (createPending && input.runOnCreateAtMillis !== undefined && nowMillis >= input.runOnCreateAtMillis) {
    return decided(start("Create", input.runOnCreateAtMillis, undefined))
  }
  return decided(undefined)
}

/** When the runOnCreate run is due, if the spec asks for one. */
export const runOnCreateAt = (spec: BatchWorkloadSpec, createdAtMillis: number) =>
  spec.runOnCreate ? createdAtMillis + (spec.runOnCreateDelay !== undefined ? Duration.toMillis(spec.runOnCreateDelay) : 0) : undefined

/** A run still has work to do (or is held with work to do); Pending means no eligible node, which never ends by itself. */
export const isRunActive = (phase: BatchWorkloadStatus["phase"]) => phase === "Running" || phase === "Paused" || phase === "Waiting"

const outcomeOf = (phase: BatchWorkloadStatus["phase"]): RunOutcome =>
  phase === "Succeeded" ? "Succeeded" : phase === "Failed" || phase === "Degraded" ? "Failed" : "Running"

/** What a run record keeps of how it started. */
export type RunOrigin = Pick<RunRecord, "executionId" | "trigger" | "scheduledTime">

/** The history entry of the run a status describes. */
export const runRecordOf = (origin: RunOrigin, status: BatchWorkloadStatus, now: string): RunRecord => ({
  ...origin,
  startTime: status.startTime ?? now,
  ...(status.completionTime !== undefined ? { completionTime: status.completionTime } : {}),
  outcome: outcomeOf(status.phase),
  totalNodes: status.totalNodes ?? 0,
  succeededNodes: status.succeededNodes ?? 0,
  failedNodes: status.failedNodes ?? 0
})

/** The history with this run's entry first (added, or updated in place), cut to `limit` runs. */
export const withRun = (history: ReadonlyArray<RunRecord>, record: RunRecord, limit: number): Array<RunRecord> =>
  [record, ...history.filter((entry) => entry.executionId !== record.executionId)].slice(0, limit)

/** A run ended by a newer one: outcome Replaced, finished now. */
export const markReplaced = (history: ReadonlyArray<RunRecord>, executionId: string, now: string): Array<RunRecord> =>
  history.map((entry) => entry.executionId === executionId ? { ...entry, outcome: "Replaced", completionTime: now } : entry)

/** The status of a scheduled workload before its first run: Waiting, with when the first run starts. */
export const awaitingFirstRunStatus = (
  previous: BatchWorkloadStatus | undefined,
  generation: number,
  firstRunAtMillis: number,
  now: string
): BatchWorkloadStatus => {
  const message = `the first run starts at ${isoAt(firstRunAtMillis)}`
  return {
    phase: "Waiting",
    observedGeneration: generation,
    conditions: mergeConditions(previous?.conditions ?? [], [
      { type: conditionTypes.waiting, status: "True", reason: "AwaitingSchedule", message, observedGeneration: generation },
      { type: conditionTypes.ready, status: "False", reason: "AwaitingSchedule", message, observedGeneration: generation }
    ], now)
  }
}
