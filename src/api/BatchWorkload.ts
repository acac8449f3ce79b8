import { Effect, Schema } from "effect"
import { goDuration } from "./GoDuration.ts"
import { MaintenanceWindow, timeZoneName } from "./MaintenanceWindow.ts"
import { Reports } from "./Reports.ts"
import { CronSchedule } from "./Schedule.ts"
import { PodTemplateSpec } from "./PodTemplate.ts"

export const group = "batch.example.com"
export const version = "v1alpha1"
export const apiVersion = `${group}/${version}`
export const kind = "BatchWorkload"
export const plural = "batchworkloads"
export const singular = "batchworkload"
export const shortNames = ["bwl"]

/** The finalizer that lets the operator delete a workload's pods before the workload goes away. */
export const finalizer = `${group}/finalizer`
/** Setting this annotation to a new value starts a new run over every node. */
export const retryAnnotation = `${group}/retry`
/**
 * `<token>:<node>,<node>…`: a new value gives only the named nodes a new
 * attempt (their count starts again), leaving the rest of the run as it is.
 */
export const retryNodesAnnotation = `${group}/retry-nodes`

/**
 * Defaults the decoder applies when a field is absent. The CRD generator writes
 * the same values into the OpenAPI schema, so the API server stores them too and
 * `kubectl get -o yaml` shows the effective spec.
 */
export const specDefaults = {
  includeUnschedulableNodes: false,
  mode: "LongRunning",
  batchSize: 1,
  timeout: "5m",
  maxRetries: 3,
  initialBackoff: "10s",
  maxBackoff: "5m",
  paused: false,
  minReadySeconds: 0
} as const

const withDefault = <S extends Schema.Top>(value: S["Encoded"]) => (self: S) =>
  self.pipe(Schema.withDecodingDefaultKey(Effect.succeed(value)))

const describe = (description: string) => <S extends Schema.Top>(self: S) => self.annotate({ description })

const NonEmptyString = Schema.String.check(Schema.isNonEmpty())
const StringMap = Schema.Record(Schema.String, Schema.String)

/**
 * A Kubernetes resource quantity: `100m`, `64Mi`, or a bare number such as `1`.
 * The pattern is resource.Quantity's own, character for character as
 * controller-gen writes it, so the decoder and the API server (which gets it in
 * the CRD) agree on every value.
 */
const Quantity = Schema.Union([
  Schema.String.check(
    Schema.isPattern(/^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/u)
  ),
  Schema.Int
])

export const Toleration = Schema.Struct({
  key: Schema.optionalKey(Schema.String),
  operator: Schema.optionalKey(Schema.Literals(["Exists", "Equal"])),
  value: Schema.optionalKey(Schema.String),
  effect: Schema.optionalKey(Schema.Literals(["NoSchedule", "PreferNoSchedule", "NoExecute"])),
  tolerationSeconds: Schema.optionalKey(Schema.Int)
})
export type Toleration = typeof Toleration.Type

export const EnvVar = Schema.Struct({
  name: NonEmptyString,
  value: Schema.optionalKey(Schema.String)
})

export const ResourceRequirements = Schema.Struct({
  requests: Schema.optionalKey(Schema.Record(Schema.String, Quantity)),
  limits: Schema.optionalKey(Schema.Record(Schema.String, Quantity))
})

/** How many nodes may fail for good: a count, or a percentage of the run's nodes (`"10%"`, at most 100%). */
const FailureBudget = Schema.Union([
  Schema.String.check(Schema.isPattern(/^(100|[1-9]?[0-9])%$/u)),
  Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
])

export const FailureAction = Schema.Literals(["Pause", "Abort", "Continue"])
export type FailureAction = typeof FailureAction.Type

export const failurePolicyDefaults = { maxFailedNodes: 0, action: "Pause" } as const

export const FailurePolicy = Schema.Struct({
  maxFailedNodes: FailureBudget.pipe(
    describe("Nodes that may fail for good (a count or a percentage); once that many have, no further node starts."),
    withDefault(failurePolicyDefaults.maxFailedNodes)
  ),
  action: FailureAction.pipe(
    describe("Pause: start nothing more until a person acts. Abort: end the run Failed, skipping the nodes not started. Continue: carry on."),
    withDefault(failurePolicyDefaults.action)
  )
})
export type FailurePolicy = typeof FailurePolicy.Type

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/**
 * Forbid: a tick that comes while a run is under way is skipped (RunSkipped).
 * Replace: the run under way ends (its pods are replaced) and a new one starts.
 * There is no CronJob-style Allow: a workload has one pod per node, so two runs
 * cannot overlap.
 */
export const ConcurrencyPolicy = Schema.Literals(["Forbid", "Replace"])
export type ConcurrencyPolicy = typeof ConcurrencyPolicy.Type

/**
 * Defaults of the schedule fields, applied by the decoder only: the CRD does
 * not default them, so the stored spec of a workload without a schedule does
 * not grow fields that mean nothing to it.
 */
export const scheduleDefaults = { concurrencyPolicy: "Forbid", runHistoryLimit: 30, runOnCreate: false } as const

export const WorkloadMode = Schema.Literals(["LongRunning", "RunToCompletion"])
export type WorkloadMode = typeof WorkloadMode.Type

export const BatchWorkloadSpec = Schema.Struct({
  replicas: Schema.optionalKey(
    Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })).pipe(
      describe("How many nodes to deploy to (1-1000). Without it, every selected node.")
    )
  ),
  nodeNames: Schema.optionalKey(
    Schema.Array(NonEmptyString).check(Schema.isMaxLength(1000), Schema.isUnique()).pipe(
      describe("Explicit node names, in order. Overrides nodeSelector; a missing or unready node is reported in its nodeStatus.")
    )
  ),
  nodeSelector: Schema.optionalKey(
    StringMap.pipe(describe("Node labels that must all match. With neither nodeNames nor nodeSelector, every eligible node."))
  ),
  includeUnschedulableNodes: Schema.Boolean.pipe(describe("Also deploy to cordoned (unschedulable) nodes."), withDefault(specDefaults.includeUnschedulableNodes)),
  tolerations: Schema.optionalKey(
    Schema.Array(Toleration).pipe(
      describe("Taints these tolerate do not exclude a node; they are also set on the pods.")
    )
  ),
  image: Schema.optionalKey(NonEmptyString.pipe(describe("Container image to run on every node. Required unless template is set."))),
  imagePullPolicy: Schema.optionalKey(Schema.Literals(["Always", "IfNotPresent", "Never"])),
  command: Schema.optionalKey(Schema.Array(Schema.String).pipe(describe("Container entrypoint."))),
  args: Schema.optionalKey(Schema.Array(Schema.String).pipe(describe("Arguments to the entrypoint."))),
  env: Schema.optionalKey(Schema.Array(EnvVar).pipe(describe("Environment variables for the container."))),
  resources: Schema.optionalKey(ResourceRequirements.pipe(describe("Container resource requests and limits."))),
  podLabels: Schema.optionalKey(StringMap.pipe(describe("Extra labels for every pod."))),
  podAnnotations: Schema.optionalKey(StringMap.pipe(describe("Extra annotations for every pod."))),
  template: Schema.optionalKey(PodTemplateSpec),
  mode: WorkloadMode.pipe(describe(
      "LongRunning: a node succeeds when its pod is Ready, pods keep running, and nodes that become eligible later get a pod. RunToCompletion: a node succeeds when its pod exits 0."
    ), withDefault(specDefaults.mode)),
  batchSize: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 })).pipe(describe("How many nodes are processed at once (1-100)."), withDefault(specDefaults.batchSize)),
  timeout: goDuration("Per-node limit for one attempt, as a Go duration (60s, 5m, 1h30m).").pipe(withDefault(specDefaults.timeout)),
  maxRetries: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10 })).pipe(describe("Retries per node after its first attempt fails or times out (0-10)."), withDefault(specDefaults.maxRetries)),
  initialBackoff: goDuration("Delay before a node's first retry; doubles on each further retry.").pipe(withDefault(specDefaults.initialBackoff)),
  maxBackoff: goDuration("Upper bound of the delay between retries (before ±20% jitter).").pipe(withDefault(specDefaults.maxBackoff)),
  failurePolicy: Schema.optionalKey(FailurePolicy.pipe(
    describe("What to do when nodes fail for good. Without it, the run carries on (Continue), as before this field existed.")
  )),
  paused: Schema.Boolean.pipe(
    describe("No new attempt starts while true; pods already running keep running. Set back to false to resume."),
    withDefault(specDefaults.paused)
  ),
  minReadySeconds: NonNegativeInt.pipe(
    describe("A node counts as done only once its pod has been Ready (or Succeeded) this long; until then it holds its batch slot."),
    withDefault(specDefaults.minReadySeconds)
  ),
  activeDeadlineSeconds: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).pipe(
    describe("Once the run has lasted this long, nothing new starts, running attempts are stopped, and the run fails (DeadlineExceeded).")
  )),
  window: Schema.optionalKey(MaintenanceWindow.pipe(
    describe("Attempts start only inside this window; outside it the workload is Waiting, with the next opening time.")
  )),
  ttlSecondsAfterFinished: Schema.optionalKey(NonNegativeInt.pipe(
    describe("RunToCompletion: delete the run's pods this long after it finished. The workload and its status stay as the record.")
  )),
  schedule: Schema.optionalKey(CronSchedule),
  timeZone: Schema.optionalKey(timeZoneName({ description: "IANA time zone the schedule is read in, such as Europe/Berlin. Default UTC." })),
  runOnCreate: Schema.Boolean.pipe(
    describe("With a schedule: also run once when the workload is created (after runOnCreateDelay), not only at the first tick. Default false."),
    withDefault(scheduleDefaults.runOnCreate)
  ),
  runOnCreateDelay: Schema.optionalKey(goDuration("How long after the workload's creation the runOnCreate run starts, as a Go duration. Default 0s.")),
  concurrencyPolicy: ConcurrencyPolicy.pipe(
    describe("A tick while a run is under way: Forbid (default) skips it, Replace ends the run and starts a new one."),
    withDefault(scheduleDefaults.concurrencyPolicy)
  ),
  startingDeadlineSeconds: Schema.optionalKey(NonNegativeInt.pipe(
    describe("A tick missed (say, while the operator was down) still starts a run if at most this many seconds late; later ones are skipped. Default: no limit.")
  )),
  runHistoryLimit: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 })).pipe(
    describe("How many runs status.runHistory keeps, newest first (1-100). Default 30."),
    withDefault(scheduleDefaults.runHistoryLimit)
  ),
  reports: Schema.optionalKey(Reports)
}).check(
  // The CRD's CEL rules say the same at admission; these catch a resource stored under an older CRD.
  Schema.makeFilter((spec) =>
    spec.image !== undefined || spec.template !== undefined ? undefined : { path: ["image"], issue: "image is required (or a pod template in template)" }
  ),
  Schema.makeFilter((spec) =>
    spec.schedule === undefined || spec.mode === "RunToCompletion" ? undefined : { path: ["schedule"], issue: scheduleNeedsRunToCompletion }
  )
)
export type BatchWorkloadSpec = typeof BatchWorkloadSpec.Type

const scheduleNeedsRunToCompletion =
  "a schedule needs mode RunToCompletion: a LongRunning workload's pods keep running, so there is no run to repeat"

/** Fields that only mean something with spec.schedule. */
const scheduleFields = ["timeZone", "runOnCreateDelay", "concurrencyPolicy", "startingDeadlineSeconds", "runHistoryLimit"] as const

/** Validation the OpenAPI schema cannot express, as CEL rules on the spec object (run by the API server). */
export const specValidationRules: ReadonlyArray<{ readonly rule: string; readonly message: string; readonly fieldPath?: string }> = [
  {
    // An int-or-string keeps only its string pattern in a structural schema, so the integer's lower bound is a rule.
    rule: "!has(self.failurePolicy) || !has(self.failurePolicy.maxFailedNodes) || type(self.failurePolicy.maxFailedNodes) != int || self.failurePolicy.maxFailedNodes >= 0",
    message: "maxFailedNodes must be a count of 0 or more, or a percentage such as 10%",
    fieldPath: ".failurePolicy.maxFailedNodes"
  },
  { rule: "!has(self.timeout) || duration(self.timeout) >= duration('1s')", message: "timeout must be at least 1s" },
  {
    rule: "!has(self.initialBackoff) || !has(self.maxBackoff) || duration(self.initialBackoff) <= duration(self.maxBackoff)",
    message: "initialBackoff must not exceed maxBackoff"
  },
  {
    rule: "!has(self.nodeNames) || !has(self.replicas) || self.replicas <= size(self.nodeNames)",
    message: "replicas must not exceed the number of nodeNames"
  },
  { rule: "!has(self.schedule) || self.mode == 'RunToCompletion'", message: scheduleNeedsRunToCompletion, fieldPath: ".schedule" },
  {
    rule: `has(self.schedule) || !(${["runOnCreate", ...scheduleFields].map((field) => `has(self.${field})`).join(" || ")})`,
    message: `runOnCreate, ${scheduleFields.join(", ")} apply to a schedule: set spec.schedule too`
  }
]

/**
 * Degraded: a LongRunning pod that had been Ready lost readiness (it is kept,
 * not replaced). Cancelled: the node was deleted or deselected before its
 * attempt finished, so the run went on without it. Skipped: the run was
 * aborted (failure budget) before the node's turn.
 */
export const NodePhase = Schema.Literals(["Pending", "Running", "Succeeded", "Failed", "Degraded", "Cancelled", "Skipped"])
export type NodePhase = typeof NodePhase.Type
/** Paused: nothing new starts (spec.paused or the failure budget); Waiting: outside the maintenance window. */
export const WorkloadPhase = Schema.Literals(["Pending", "Running", "Succeeded", "Failed", "Degraded", "Paused", "Waiting"])
export type WorkloadPhase = typeof WorkloadPhase.Type

export const NodeStatus = Schema.Struct({
  nodeName: Schema.String,
  phase: NodePhase,
  attempts: Schema.Int,
  podName: Schema.optionalKey(Schema.String),
  message: Schema.optionalKey(Schema.String),
  lastTransitionTime: Schema.optionalKey(Schema.String),
  nextAttemptTime: Schema.optionalKey(Schema.String.pipe(describe("When the node's next attempt may start, while it waits out its backoff.")))
})
export type NodeStatus = typeof NodeStatus.Type

/** How a run came about: a tick of the schedule, runOnCreate, or the retry annotation. */
export const RunTrigger = Schema.Literals(["Schedule", "Create", "Manual"])
export type RunTrigger = typeof RunTrigger.Type
/** Replaced: a newer run (concurrencyPolicy Replace, or the retry annotation) ended it. */
export const RunOutcome = Schema.Literals(["Running", "Succeeded", "Failed", "Replaced"])
export type RunOutcome = typeof RunOutcome.Type

export const RunRecord = Schema.Struct({
  executionId: Schema.String,
  trigger: RunTrigger,
  scheduledTime: Schema.optionalKey(Schema.String.pipe(describe("The tick (or runOnCreate moment) the run was started for."))),
  startTime: Schema.String,
  completionTime: Schema.optionalKey(Schema.String),
  outcome: RunOutcome,
  totalNodes: Schema.Int,
  succeededNodes: Schema.Int,
  failedNodes: Schema.Int
})
export type RunRecord = typeof RunRecord.Type

export const Condition = Schema.Struct({
  type: Schema.String,
  status: Schema.Literals(["True", "False", "Unknown"]),
  reason: Schema.String,
  message: Schema.String,
  lastTransitionTime: Schema.String,
  observedGeneration: Schema.optionalKey(Schema.Int)
})
export type Condition = typeof Condition.Type

export const BatchWorkloadStatus = Schema.Struct({
  phase: Schema.optionalKey(WorkloadPhase),
  observedGeneration: Schema.optionalKey(Schema.Int),
  revision: Schema.optionalKey(Schema.String.pipe(describe("Hash of the pod template and retry token the nodes were run with."))),
  handledRetry: Schema.optionalKey(Schema.String.pipe(describe("Last value of the batch.example.com/retry annotation acted on."))),
  handledRetryNodes: Schema.optionalKey(Schema.String.pipe(describe("Last value of the batch.example.com/retry-nodes annotation acted on."))),
  desiredNodes: Schema.optionalKey(Schema.Int),
  totalNodes: Schema.optionalKey(Schema.Int),
  succeededNodes: Schema.optionalKey(Schema.Int),
  failedNodes: Schema.optionalKey(Schema.Int),
  runningNodes: Schema.optionalKey(Schema.Int),
  pendingNodes: Schema.optionalKey(Schema.Int),
  progress: Schema.optionalKey(Schema.String.pipe(describe("succeeded/total, for kubectl get."))),
  startTime: Schema.optionalKey(Schema.String),
  completionTime: Schema.optionalKey(Schema.String),
  nodeStatus: Schema.optionalKey(Schema.Array(NodeStatus)),
  conditions: Schema.optionalKey(Schema.Array(Condition)),
  executionId: Schema.optionalKey(Schema.String.pipe(describe("With a schedule: the id of the current run (or the last one)."))),
  lastScheduleTime: Schema.optionalKey(Schema.String.pipe(describe("With a schedule: the last tick acted on, run or skipped."))),
  nextScheduleTime: Schema.optionalKey(Schema.String.pipe(describe("With a schedule: when the next tick falls."))),
  runHistory: Schema.optionalKey(Schema.Array(RunRecord).pipe(describe("With a schedule: the last runHistoryLimit runs, newest first.")))
})
export type BatchWorkloadStatus = typeof BatchWorkloadStatus.Type

export const printerColumns = [
  { name: "Phase", type: "string", jsonPath: ".status.phase" },
  { name: "Progress", type: "string", jsonPath: ".status.progress", description: "Succeeded nodes / selected nodes" },
  { name: "Failed", type: "integer", jsonPath: ".status.failedNodes" },
  { name: "Paused", type: "boolean", jsonPath: ".spec.paused", priority: 1 },
  { name: "Running", type: "integer", jsonPath: ".status.runningNodes", priority: 1 },
  { name: "Batch", type: "integer", jsonPath: ".spec.batchSize", priority: 1 },
  { name: "Image", type: "string", jsonPath: ".spec.image", priority: 1 },
  { name: "Last Schedule", type: "date", jsonPath: ".status.lastScheduleTime", priority: 1 },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
] as const
