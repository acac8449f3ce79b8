import { Cron, Result, Schema } from "effect"

/**
 * Five space-separated fields, as a CronJob's schedule: the shape the API
 * server can check at admission. Effect's Cron also takes a sixth (seconds)
 * field, which CronJob users never write, so it is refused here. `maxLength`
 * lets the API server's CEL cost estimator bound the pattern.
 */
export const cronShapePattern = /^\S+( +\S+){4}$/u

const cronMessage = "expected a five-field cron expression (minute hour day-of-month month day-of-week), such as 42 3 * * *"

/** Whether effect's Cron parses the expression; its own message when not (the shape was checked first). */
const parsesAsCron = Schema.makeFilter(
  (expression: string) => {
    const parsed = Cron.parse(expression, "UTC")
    return Result.isSuccess(parsed) || `invalid schedule "${expression}": ${parsed.failure.message}`
  },
  // The pattern above is what admission can check; the full parse happens in the decoder, so a bad field reads InvalidSpec.
  { toJsonSchema: () => [{}, true] }
)

/** `spec.schedule`: a standard five-field cron expression, read in `spec.timeZone`. */
export const CronSchedule = Schema.String.annotate({
  description: "Start a run on this five-field cron schedule (minute hour day-of-month month day-of-week), read in timeZone. Needs mode RunToCompletion."
}).check(
  Schema.isPattern(cronShapePattern, { message: cronMessage }),
  Schema.isMaxLength(100),
  parsesAsCron
)
