import { Duration, Schedule } from "effect"
import type { BatchWorkloadSpec } from "../api/BatchWorkload.ts"

/**
 * The delays between a node's attempts: `initialBackoff`, doubling each time,
 * never above `maxBackoff`, then ±20% jitter so nodes that failed together do
 * not retry in lockstep; at most `retries` of them.
 */
export const nodeRetrySchedule = (spec: BatchWorkloadSpec, retries: number) =>
  Schedule.min([
    Schedule.exponential(spec.initialBackoff, 2),
    Schedule.spaced(spec.maxBackoff)
  ]).pipe(
    Schedule.jittered,
    Schedule.upTo({ times: Math.max(0, retries) })
  )

export const formatDelay = (delay: Duration.Duration) => `${Math.round(Duration.toMillis(delay) / 100) / 10}s`
