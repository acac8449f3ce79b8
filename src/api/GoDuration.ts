import { Duration, Effect, Option, Schema, SchemaIssue, SchemaTransformation } from "effect"

/**
 * Durations are written the way Kubernetes users already write them (Go's
 * `time.ParseDuration` syntax: `60s`, `5m`, `1h30m`, `1.5h`, `250ms`), because
 * that is what the original operator accepted and what the CRD's CEL rules
 * (`duration(self)`) understand.
 */
export const goDurationPattern = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"

const segment = /([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g
const wholeDuration = new RegExp(goDurationPattern, "u")

const millisPerUnit: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000
}

/** Parses a Go-style duration into milliseconds; `None` when the text is not one. */
export const parseGoDuration = (text: string): Option.Option<number> => {
  if (!wholeDuration.test(text)) return Option.none()
  let millis = 0
  for (const [, amount, unit] of text.matchAll(segment)) {
    millis += Number(amount) * (millisPerUnit[unit ?? ""] ?? 0)
  }
  return Option.some(Math.round(millis))
}

/** Formats milliseconds the way Go prints a duration, minus sub-millisecond precision: `1h30m0s`, `2.5s`, `250ms`. */
export const formatGoDuration = (millis: number): string => {
  if (millis < 1_000) return `${millis}ms`
  const hours = Math.floor(millis / 3_600_000)
  const minutes = Math.floor((millis % 3_600_000) / 60_000)
  const seconds = (millis % 60_000) / 1_000
  return `${hours > 0 ? `${hours}h` : ""}${hours > 0 || minutes > 0 ? `${minutes}m` : ""}${seconds}s`
}

const invalidDurationMessage = "expected a Go duration such as 30s, 5m or 1h30m"

/**
 * A Go-style duration field. The description sits on the encoded string so it
 * reaches the generated CRD, whose pattern check mirrors the decoder.
 */
export const goDuration = (description: string) =>
  Schema.String.check(Schema.isPattern(wholeDuration, { message: `invalid duration: ${invalidDurationMessage}` }))
    .annotate({ description })
    .pipe(
      Schema.decodeTo(
        Schema.Duration,
        SchemaTransformation.transformEffect<Duration.Duration, string>({
          decode: (text, options) =>
            Option.match(parseGoDuration(text), {
              onNone: () =>
                Effect.fail(
                  new SchemaIssue.InvalidValue({ message: `invalid duration "${text}": ${invalidDurationMessage}` }, text, options)
                ),
              onSome: (millis) => Effect.succeed(Duration.millis(millis))
            }),
          encode: (duration) => Effect.succeed(formatGoDuration(Duration.toMillis(duration)))
        })
      )
    )
