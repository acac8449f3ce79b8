import { Duration, Effect, Schedule } from "effect"
import type { BatchWorkloadSpec } from "../api/BatchWorkload.ts"

/**
 * The delays between a node's attempts: `initialBackoff`, doubling each time,
 * never above `maxBackoff`, then ±20% jitter so nodes that failed together do
 * not retry in lockstep; at most `maxRetries` of them.
 */
export const nodeRetrySchedule = (spec: BatchWorkloadSpec) =>
  Schedule.min([
    Schedule.exponential(spec.initialBackoff, 2),
    Schedule.spaced(spec.maxBackoff)
  ]).pipe(
    Schedule.jittered,
    Schedule.upTo({ times: spec.maxRetries })
  )

/**
 * The schedule stepped through once, as milliseconds: element n-1 is the
 * delay before retry n. The reconciler is level-based (it does not sleep in
 * a retry loop), so it reads the delay for the retry at hand from here and
 * records when that retry is due in the node's status.
 */
export const retryDelays = (spec: BatchWorkloadSpec) =>
  Effect.gen(function*() {
    const step = yield* Schedule.toStep(nodeRetrySchedule(spec))
    const delays: Array<number> = []
    for (let retry = 1; retry <= spec.maxRetries; retry++) {
      const [, delay] = yield* Effect.orDie(step(0, undefined))
      delays.push(Duration.toMillis(delay))
    }
    return delays
  })
