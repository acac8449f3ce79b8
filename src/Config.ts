import * as os from "node:os"
import * as path from "node:path"
import { Config, type LogLevel, Option } from "effect"
import { CliConfig, Flag, GlobalFlag } from "effect/cli"

/**
 * Operator settings. Each comes from a flag, else an environment variable,
 * else the default, so the same image works from kubectl-style flags, a
 * Deployment's env, or `npm start` with nothing set.
 */
const setting = <A>(flag: Flag.Flag<A>, env: Config.Config<A>, description: string, fallback: A) =>
  flag.pipe(Flag.withDescription(description), Flag.withFallbackConfig(env), Flag.withDefault(fallback))

const logLevels = ["All", "Trace", "Debug", "Info", "Warn", "Error", "Fatal", "None"] as const satisfies ReadonlyArray<LogLevel.LogLevel>

/** A log level in any case (`debug`, `Debug`, `DEBUG`), since the README, Deployments and habit all differ. */
export const parseLogLevel = (text: string): LogLevel.LogLevel | undefined =>
  logLevels.find((level) => level.toLowerCase() === text.trim().toLowerCase())

const logLevelSetting = Flag.String("log-level").pipe(
  Flag.withMetavar("level"),
  Flag.withDescription(`Minimum log level: ${logLevels.join(", ")}, in any case`),
  Flag.withFallbackConfig(Config.String("LOG_LEVEL")),
  Flag.withDefault("Info"),
  // Applies to the flag, LOG_LEVEL and the default alike, so a typo in either is refused at start-up.
  Flag.filterMap(
    (text) => Option.fromUndefinedOr(parseLogLevel(text)),
    () => `one of ${logLevels.join(", ")} (any case)`
  )
)

/**
 * The CLI's built-in flags without its own `--log-level`, which takes lower case
 * only and no LOG_LEVEL; `settingsFlags.logLevel` replaces it, so `--help` lists
 * the flag once.
 */
export const cliConfig = CliConfig.layer({
  builtIns: GlobalFlag.BuiltIns.filter((flag) => flag !== GlobalFlag.LogLevel)
})

const optionalSetting = (name: string, env: string, description: string) =>
  Flag.String(name).pipe(Flag.withDescription(description), Flag.withFallbackConfig(Config.String(env)), Flag.optional)

export const settingsFlags = {
  kubeconfig: optionalSetting("kubeconfig", "KUBECONFIG_PATH", "Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)"),
  serviceAccountRoot: optionalSetting(
    "service-account-root",
    "SERVICE_ACCOUNT_ROOT",
    "In a pod: directory the service-account files are under, as a prefix of /var/run/secrets/... (default: /)"
  ),
  namespace: optionalSetting("namespace", "WATCH_NAMESPACE", "Only serve BatchWorkloads in this namespace (default: all)"),
  metricsPort: setting(Flag.Int("metrics-port"), Config.Int("METRICS_PORT"), "Port for /metrics (0 turns it off)", 8080),
  healthPort: setting(Flag.Int("health-port"), Config.Int("HEALTH_PORT"), "Port for /healthz and /readyz (0 turns it off)", 8081),
  logLevel: logLevelSetting,
  logFormat: setting(
    Flag.Literals("log-format", ["json", "pretty"]),
    Config.Literals(["json", "pretty"], "LOG_FORMAT"),
    "json: one JSON object per line; pretty: for a terminal",
    "json"
  ),
  leaderElect: setting(
    Flag.Boolean("leader-elect"),
    Config.Boolean("LEADER_ELECT"),
    "Act only while holding the Lease, so several replicas can run",
    false
  ),
  leaseName: setting(Flag.String("lease-name"), Config.String("LEASE_NAME"), "Name of the leader-election Lease", "batch-workload-operator"),
  leaseNamespace: optionalSetting("lease-namespace", "POD_NAMESPACE", "Namespace of the Lease (default: the watched namespace, else default)"),
  leaseDurationSeconds: setting(
    Flag.Finite("lease-duration-seconds"),
    Config.Number("LEASE_DURATION_SECONDS"),
    "A standby takes over a lease not renewed for this long",
    15
  ),
  renewDeadlineSeconds: setting(
    Flag.Finite("renew-deadline-seconds"),
    Config.Number("RENEW_DEADLINE_SECONDS"),
    "The leader stops acting when it could not renew for this long",
    10
  ),
  retryPeriodSeconds: setting(
    Flag.Finite("retry-period-seconds"),
    Config.Number("RETRY_PERIOD_SECONDS"),
    "How often the lease is renewed, or tried for",
    2
  ),
  identity: optionalSetting("identity", "POD_NAME", "This replica's name in the Lease and in Events (default: hostname-pid)"),
  leaderLabelPod: optionalSetting(
    "leader-label-pod",
    "LEADER_LABEL_POD",
    "NAMESPACE/NAME of this replica's own pod: labelled batch.example.com/leader=true while it leads, for the callback Service"
  ),
  maxConcurrentRequests: setting(
    Flag.Int("kube-max-concurrent-requests"),
    Config.Int("KUBE_MAX_CONCURRENT_REQUESTS"),
    "API requests in flight at once; more wait",
    32
  ),
  kubeApiQps: setting(
    Flag.Finite("kube-api-qps"),
    Config.Number("KUBE_API_QPS"),
    "Sustained API requests per second, as kube-controller-manager's flag; watches not counted; 0 turns it off",
    100
  ),
  kubeApiBurst: setting(
    Flag.Int("kube-api-burst"),
    Config.Int("KUBE_API_BURST"),
    "API requests that may go at once above --kube-api-qps",
    200
  ),
  statusFlushSeconds: setting(
    Flag.Finite("status-flush-seconds"),
    Config.Number("STATUS_FLUSH_SECONDS"),
    "How long node progress gathers before one status write",
    1
  ),
  callbackPort: setting(
    Flag.Int("callback-port"),
    Config.Int("CALLBACK_PORT"),
    "Port of the callback API reporting pods call (spec.reports); 0 turns it off",
    8082
  ),
  callbackServiceName: setting(
    Flag.String("callback-service-name"),
    Config.String("CALLBACK_SERVICE_NAME"),
    "Host name reporting pods reach the callback API at (the callback Service)",
    "batch-workload-operator-callback.batch-workload-operator-system.svc"
  ),
  callbackAudience: setting(
    Flag.String("callback-audience"),
    Config.String("CALLBACK_AUDIENCE"),
    "Audience of the projected token reporting pods send; tokens for other audiences are refused",
    "batch-workload-operator"
  ),
  reportDirectory: setting(
    Flag.String("report-dir"),
    Config.String("REPORT_DIR"),
    "Directory reported files are stored under, one directory per workload and run",
    path.join(os.tmpdir(), "batch-workload-operator-reports")
  ),
  maxFileBytes: setting(Flag.Int("max-file-bytes"), Config.Int("MAX_FILE_BYTES"), "Largest file a pod may report (413 above)", 10 * 1024 * 1024),
  maxRunBytes: setting(
    Flag.Int("max-run-bytes"),
    Config.Int("MAX_RUN_BYTES"),
    "Most bytes of files one run may report, all nodes together (413 above)",
    100 * 1024 * 1024
  ),
  otlpEndpoint: optionalSetting("otlp-endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "Send traces to this OTLP/HTTP endpoint (default: off)")
}

type FlagValue<F> = F extends Flag.Flag<infer A> ? A : never
export type Settings = { readonly [K in keyof typeof settingsFlags]: FlagValue<(typeof settingsFlags)[K]> }

export const optionalValue = <A>(option: Option.Option<A>) => Option.getOrUndefined(option)
