import type { BatchWorkloadSpec, FailurePolicy } from "../api/BatchWorkload.ts"
import type { WindowState } from "./window.ts"

/**
 * Whether a run may start new attempts now, and if not, why. The controls a
 * fleet operator reaches for when a rollout goes wrong (OpenKruise
 * BroadcastJob's failure policy, a Job's suspend and activeDeadlineSeconds,
 * system-upgrade-controller's maintenance windows), as one decision:
 *
 * - Open: attempts may start.
 * - Held: nothing new starts, pods already running keep running; the run
 *   goes on once the cause goes away (resume, a window opening, a raised budget).
 * - Ended: the run is over; nodes not started are skipped (Abort) or failed (deadline).
 */
export type StartGate =
  | { readonly _tag: "Open" }
  | {
    readonly _tag: "Held"
    readonly reason: "Paused" | "FailureBudgetExceeded" | "OutsideWindow"
    readonly message: string
    /** When the hold lifts by itself (a window opening). */
    readonly untilMillis?: number
  }
  | { readonly _tag: "Ended"; readonly reason: "FailureBudgetExceeded" | "DeadlineExceeded"; readonly message: string }


export interface GateInput {
  readonly spec: BatchWorkloadSpec
  /** Nodes failed for good in this run, and the nodes it covers. */
  readonly failedNodes: number
  readonly totalNodes: number
  readonly runStartedAtMillis: number
  readonly nowMillis: number
  /** Absent without `spec.window`. */
  readonly window?: WindowState | undefined
}

/** How many nodes may fail for good: a count, or a percentage of the run's nodes rounded down (as a DaemonSet's maxUnavailable). */
export const failureBudget = (policy: FailurePolicy, totalNodes: number) => {
  const budget = policy.maxFailedNodes
  if (typeof budget === "number") return budget
  return Math.floor((Number(budget.slice(0, -1)) / 100) * totalNodes)
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`

export const isoAt = (millis: number) => new Date(millis).toISOString()

/** When the run's deadline falls, if it has one. */
export const deadlineAt = (spec: BatchWorkloadSpec, runStartedAtMillis: number) =>
  spec.activeDeadlineSeconds !== undefined ? runStartedAtMillis + spec.activeDeadlineSeconds * 1000 : undefined

/** The first control that says no wins, most final first. */
export const startGate = (input: GateInput): StartGate => {
  const { spec } = input
  const deadline = deadlineAt(spec, input.runStartedAtMillis)
  if (deadline !== undefined && input.nowMillis >= deadline) {
    return {
      _tag: "Ended",
      reason: "DeadlineExceeded",
      message: `the run exceeded activeDeadlineSeconds (${spec.activeDeadlineSeconds}s) at ${isoAt(deadline)}`
    }
  }
  const policy = spec.failurePolicy
  if (policy !== undefined && policy.action !== "Continue") {
    const budget = failureBudget(policy, input.totalNodes)
    if (input.failedNodes > 0 && input.failedNodes >= budget) {
      const message = `${plural(input.failedNodes, "node")} failed, the failure budget is ${plural(budget, "node")} (maxFailedNodes ${policy.maxFailedNodes})`
      return policy.action === "Abort"
        ? { _tag: "Ended", reason: "FailureBudgetExceeded", message: `${message}: run aborted` }
        : {
          _tag: "Held",
          reason: "FailureBudgetExceeded",
          message: `${message}: paused; fix the spec, raise maxFailedNodes or set action Continue to go on`
        }
    }
  }
  if (spec.paused) return { _tag: "Held", reason: "Paused", message: "spec.paused is true: no new attempt starts" }
  if (input.window !== undefined && !input.window.open) {
    return {
      _tag: "Held",
      reason: "OutsideWindow",
      message: `outside the maintenance window; it opens at ${isoAt(input.window.opensAtMillis)}`,
      untilMillis: input.window.opensAtMillis
    }
  }
  return { _tag: "Open" }
}
