import { DateTime, Effect, Option, Schema } from "effect"

const describe = (description: string) => <S extends Schema.Top>(self: S) => self.annotate({ description })

/** Days of the week, Monday first, as they are written in `spec.window.days`. */
export const weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const
export const Weekday = Schema.Literals(weekdays)
export type Weekday = typeof Weekday.Type

/**
 * A 24-hour wall-clock time, 00:00 to 23:59. The `u` flag is what lets Effect
 * export the pattern into the JSON Schema (and so into the CRD); `maxLength`
 * repeats what the pattern already implies because the API server's CEL cost
 * estimator cannot read patterns, only lengths.
 */
export const clockTimePattern = /^([01][0-9]|2[0-3]):[0-5][0-9]$/u

const ClockTime = (description: string) =>
  Schema.String.annotate({ description }).check(
    Schema.isPattern(clockTimePattern, { message: "expected a 24-hour time HH:MM from 00:00 to 23:59, such as 22:00" }),
    Schema.isMaxLength(5)
  )

/**
 * IANA names that the IANA database treats as primary but ICU's
 * `Intl.supportedValuesOf("timeZone")` lists under an older alias (CLDR keeps
 * the first name it adopted: Asia/Calcutta, Europe/Kiev, ...). Users write the
 * current names, so they are admitted too, but only when this runtime's Intl
 * resolves them to a zone it lists, so nothing here can outrun the ICU data.
 */
const currentNamesOfRenamedZones = [
  "Africa/Asmara",
  "America/Argentina/Buenos_Aires",
  "America/Argentina/Catamarca",
  "America/Argentina/Cordoba",
  "America/Argentina/Jujuy",
  "America/Argentina/Mendoza",
  "America/Atikokan",
  "America/Indiana/Indianapolis",
  "America/Kentucky/Louisville",
  "America/Nuuk",
  "Asia/Ho_Chi_Minh",
  "Asia/Kathmandu",
  "Asia/Kolkata",
  "Asia/Yangon",
  "Atlantic/Faroe",
  "Europe/Kyiv",
  "Pacific/Chuuk",
  "Pacific/Kanton",
  "Pacific/Pohnpei"
]

const resolvesToListedZone = (listed: ReadonlySet<string>) => (name: string): boolean =>
  Option.exists(DateTime.zoneMakeNamed(name), (zone) => listed.has(zone.id))

/**
 * Every time-zone name `spec.window.timeZone` accepts: the zones this Node's
 * ICU data lists, "UTC" (which `Intl.supportedValuesOf` leaves out), and the
 * current names above. The API server's CEL has no time-zone check, so the CRD
 * carries this list as an `enum`, which makes an unknown name fail at admission
 * with the field named. The list is computed from Intl, so it is as new as the
 * ICU data of the Node that runs `npm run manifests`; the operator's decoder
 * uses the same list from its own Node, which is the same pinned Node 24
 * (package.json), so the two agree. A Node upgrade can change the list, and the
 * byte-for-byte CRD test then asks for the manifests to be regenerated.
 */
export const timeZoneNames: ReadonlyArray<string> = (() => {
  const listed = new Set(Intl.supportedValuesOf("timeZone"))
  const current = currentNamesOfRenamedZones.filter(resolvesToListedZone(listed))
  return Array.from(new Set([...listed, "UTC", ...current])).sort()
})()

export const defaultTimeZone = "UTC"

/**
 * An IANA time-zone name from {@link timeZoneNames}. Branded so that only a
 * decoded name reaches the window arithmetic, which relies on Intl knowing it.
 * The `default` annotation becomes the CRD's default: `spec.schedule`'s zone
 * has none, so a workload without a schedule stores no time zone.
 */
export const timeZoneName = (annotations: { readonly description: string; readonly default?: string }) =>
  Schema.Literals(timeZoneNames).annotate({
    ...annotations,
    message: "unknown time zone: expected an IANA name such as Europe/Berlin, America/New_York or UTC"
  }).pipe(Schema.brand("TimeZoneName"))

export const TimeZoneName = timeZoneName({
  description: "IANA time zone the times are read in, such as Europe/Berlin or America/New_York. Default UTC.",
  default: defaultTimeZone
})
export type TimeZoneName = typeof TimeZoneName.Type

const emptyWindowMessage =
  "startTime and endTime must differ: a window that closes when it opens is empty (to allow attempts at any time, leave out spec.window)"

const startAndEndDiffer = Schema.makeFilter(
  (window: { readonly startTime: string; readonly endTime: string }) =>
    window.startTime !== window.endTime || { path: ["endTime"], issue: emptyWindowMessage },
  // The API server enforces this through windowValidationRules (CEL); JSON Schema cannot compare two fields.
  { toJsonSchema: () => [{}, true] }
)

/**
 * `spec.window`: attempts start only inside this window, as in rancher's
 * system-upgrade-controller. An endTime before startTime crosses midnight
 * (22:00 to 04:00 the next morning); `days` names the day a window opens on.
 */
export const MaintenanceWindow = Schema.Struct({
  days: Schema.optionalKey(
    Schema.Array(Weekday).check(Schema.isMinLength(1), Schema.isUnique()).pipe(
      describe("Days the window opens on (Mon-Sun, no repeats). A window that crosses midnight stays open into the next day even if that day is not listed. Default: every day.")
    )
  ),
  startTime: ClockTime("When the window opens, 24-hour HH:MM local time."),
  endTime: ClockTime("When the window closes, 24-hour HH:MM local time. Earlier than startTime: the window closes the next day."),
  timeZone: TimeZoneName.pipe(Schema.withDecodingDefaultKey(Effect.succeed(defaultTimeZone)))
}).annotate({
  description: "Maintenance window: attempts start only inside it. endTime before startTime crosses midnight; days names the day the window opens on."
}).check(startAndEndDiffer)
export type MaintenanceWindow = typeof MaintenanceWindow.Type

/** Validation of the window the OpenAPI schema cannot express, as CEL rules on the window object (run by the API server). */
export const windowValidationRules: ReadonlyArray<{ readonly rule: string; readonly message: string }> = [
  { rule: "self.startTime != self.endTime", message: emptyWindowMessage }
]
