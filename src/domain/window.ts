// When a maintenance window (spec.window) is open, from an instant in epoch
// milliseconds. Pure: the caller passes the time in, so tests use fixed instants.
//
// The arithmetic runs on "wall-clock millis": the reading of the zone's clock,
// written as if it were a UTC instant (Berlin 22:00 on 2026-03-28 is
// Date.UTC(2026, 2, 28, 22)). Calendar steps (the next day, 22:00 on a day) are
// then plain additions that DST cannot disturb, and only the conversions
// between an instant and its wall clock consult the zone's rules.
import { DateTime } from "effect"
import { type MaintenanceWindow, weekdays } from "../api/MaintenanceWindow.ts"

export type WindowState =
  | { readonly open: true; readonly closesAtMillis: number }
  | { readonly open: false; readonly opensAtMillis: number }

const minuteMillis = 60_000
const dayMillis = 86_400_000
/**
 * How many days ahead to look for the next opening: a week reaches the next
 * occurrence of any allowed weekday, and a second week covers the one that a
 * DST gap swallowed (a window lying entirely in the skipped hour).
 */
const daysToSearch = 14
/** 1970-01-01, day 0 of wall-clock millis, was a Thursday: index 3 in `weekdays`. */
const weekdayIndexOfDayZero = 3

/** "22:30" -> 1350. The decoder has checked the HH:MM shape. */
const minutesOfDay = (time: string): number => {
  const [hours = "", minutes = ""] = time.split(":")
  return Number(hours) * 60 + Number(minutes)
}

/** The zone's UTC offset at an instant, in milliseconds (Berlin in summer: +7,200,000). */
const offsetAt = (zone: DateTime.TimeZone, instant: number): number =>
  DateTime.zonedOffset(DateTime.makeZonedUnsafe(instant, { timeZone: zone }))

const wallClockAt = (zone: DateTime.TimeZone, instant: number): number => instant + offsetAt(zone, instant)

/**
 * The first instant at which the zone's clock reads `wall` or later. That one
 * rule settles both DST edge cases the way a person watching the clock would:
 * a time that happens twice (the hour repeated when DST ends) means its first
 * pass, and a time the clock skips (the hour lost when DST starts) means the
 * moment of the jump, the first instant the clock reads past it. It also keeps
 * later wall-clock times at later-or-equal instants, so windows never overlap.
 */
const instantAtWallClock = (zone: DateTime.TimeZone, wall: number): number => {
  // A day either side brackets the instant for any offset (at most ±14h), so
  // these are the offsets in force before and after a transition near `wall`.
  const offsetBefore = offsetAt(zone, wall - dayMillis)
  const offsetAfter = offsetAt(zone, wall + dayMillis)
  // The larger offset gives the earlier instant: the first pass of a repeated time.
  const candidates = [wall - Math.max(offsetBefore, offsetAfter), wall - Math.min(offsetBefore, offsetAfter)]
  const exact = candidates.find((instant) => wallClockAt(zone, instant) === wall)
  return exact ?? firstInstantReadingAtLeast(zone, wall, wall - offsetAfter, wall - offsetBefore)
}

/**
 * In a DST gap no instant reads exactly `wall`: the clock jumps over it between
 * `below` (reads earlier) and `atOrAbove` (reads later). Bisect for the jump.
 */
const firstInstantReadingAtLeast = (zone: DateTime.TimeZone, wall: number, below: number, atOrAbove: number): number => {
  let low = below
  let high = atOrAbove
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2)
    if (wallClockAt(zone, middle) >= wall) high = middle
    else low = middle
  }
  return high
}

const startOfDay = (wall: number): number => Math.floor(wall / dayMillis) * dayMillis

const weekdayOf = (day: number): number => {
  const index = (Math.floor(day / dayMillis) + weekdayIndexOfDayZero) % weekdays.length
  return index < 0 ? index + weekdays.length : index
}

/** `days` names the day a window opens on; without `days`, it opens every day. */
const opensOn = (window: MaintenanceWindow, day: number): boolean =>
  window.days === undefined || window.days.some((name) => weekdays.indexOf(name) === weekdayOf(day))

interface Occurrence {
  readonly opensAtMillis: number
  readonly closesAtMillis: number
}

/** The window that opens on `day` (wall-clock millis of its midnight); an endTime before startTime closes the next day. */
const occurrenceOn = (zone: DateTime.TimeZone, window: MaintenanceWindow, day: number): Occurrence => {
  const start = minutesOfDay(window.startTime)
  const end = minutesOfDay(window.endTime)
  const closingDay = end <= start ? day + dayMillis : day
  return {
    opensAtMillis: instantAtWallClock(zone, day + start * minuteMillis),
    closesAtMillis: instantAtWallClock(zone, closingDay + end * minuteMillis)
  }
}

/**
 * Whether attempts may start at `nowMillis`: open until `closesAtMillis`
 * (exclusive), or closed until `opensAtMillis` (inclusive). A window that
 * crosses midnight is still open after midnight even if the new day is not in
 * `days`. Across a DST change the window keeps its wall-clock times, so it is
 * an hour shorter or longer in real time that night.
 */
export const windowState = (window: MaintenanceWindow, nowMillis: number): WindowState => {
  // The brand on timeZone means the decoder found the name in Intl's list, so this cannot throw.
  const zone = DateTime.zoneMakeNamedUnsafe(window.timeZone)
  const today = startOfDay(wallClockAt(zone, nowMillis))
  // Start at yesterday: its window may cross midnight and still be open. Occurrences
  // come in order and never overlap, so the first that has not closed yet decides.
  for (let dayOffset = -1; dayOffset <= daysToSearch; dayOffset++) {
    const day = today + dayOffset * dayMillis
    if (!opensOn(window, day)) continue
    const { opensAtMillis, closesAtMillis } = occurrenceOn(zone, window, day)
    // Skip windows already over, and ones a DST gap left empty (closing no later than they open).
    if (closesAtMillis <= Math.max(opensAtMillis, nowMillis)) continue
    return opensAtMillis <= nowMillis ? { open: true, closesAtMillis } : { open: false, opensAtMillis }
  }
  // Only a window with an empty `days` list gets here (the decoder rejects one): it never opens.
  return { open: false, opensAtMillis: Number.POSITIVE_INFINITY }
}

/** The window for messages and Events: "Mon,Tue 22:00–04:00 Europe/Berlin", "every day 09:00–17:00 UTC". */
export const describeWindow = (window: MaintenanceWindow): string => {
  const days = window.days === undefined || window.days.length === weekdays.length
    ? "every day"
    : weekdays.filter((name) => window.days?.includes(name) === true).join(",")
  return `${days} ${window.startTime}–${window.endTime} ${window.timeZone}`
}
