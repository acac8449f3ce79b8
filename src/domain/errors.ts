import { Schema } from "effect"

/** An attempt on a node ended in a way that will not fix itself: the reason says why, for the node's status. */
export class AttemptFailed extends Schema.TaggedError<AttemptFailed>()("AttemptFailed", {
  reason: Schema.String
}) {}

/** An attempt on a node ran past the workload's per-node timeout. */
export class AttemptTimedOut extends Schema.TaggedError<AttemptTimedOut>()("AttemptTimedOut", {
  afterMillis: Schema.Number
}) {}

export type AttemptError = AttemptFailed | AttemptTimedOut

export const timeoutMessage = (timeoutMillis: number) => `attempt timed out after ${timeoutMillis / 1000}s`

export const describeAttemptError = (error: AttemptError) =>
  error._tag === "AttemptFailed" ? error.reason : timeoutMessage(error.afterMillis)
