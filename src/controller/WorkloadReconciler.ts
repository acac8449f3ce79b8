import { Clock, Duration, Effect, Metric, PubSub, Schedule, Schema } from "effect"
import {
  type BatchWorkloadSpec,
  BatchWorkloadSpec as SpecSchema,
  BatchWorkloadStatus,
  finalizer,
  type NodeStatus,
  retryAnnotation
} from "../api/BatchWorkload.ts"
import type { BatchWorkloadObject, Node, Pod } from "../api/core.ts"
import type { NodeSelection } from "../domain/nodeSelection.ts"
import { isSettled, type NodeStart, planRun } from "../domain/plan.ts"
import { revision as podRevisionOf, workloadRef, workloadUidLabel, type WorkloadRef } from "../domain/pods.ts"
import { invalidSpecStatus } from "../domain/status.ts"
import type { Change } from "../kube/Informer.ts"
import { KubeClient } from "../kube/KubeClient.ts"
import { Caches } from "../services/Caches.ts"
import { EventRecorder } from "../services/EventRecorder.ts"
import { NodeSelector } from "../services/NodeSelector.ts"
import { PodDeployer } from "../services/PodDeployer.ts"
import { reconcileErrors, reconcileSeconds, reconcileTotal } from "./metrics.ts"
import { type OpenNode, runNode } from "./nodeRun.ts"
import { makeStatusBoard } from "./StatusBoard.ts"

const controllerName = "batchworkload"

const takeMatching = <A>(subscription: PubSub.Subscription<A>, predicate: (change: A) => boolean) =>
  Effect.gen(function*() {
    while (true) {
      const change = yield* PubSub.take(subscription)
      if (predicate(change)) return change
    }
  })

const readyStatus = (node: Node) => node.status?.conditions?.find((c) => c.type === "Ready")?.status

/** Heartbeats rewrite nodes all the time; only labels, cordons, taints and readiness decide where pods go. */
const eligibilityMayHaveChanged = (change: Change<Node>) =>
  change.type === "delete" || change.previous === undefined ||
  JSON.stringify(change.previous.metadata.labels) !== JSON.stringify(change.object.metadata.labels) ||
  JSON.stringify(change.previous.spec) !== JSON.stringify(change.object.spec) ||
  readyStatus(change.previous) !== readyStatus(change.object)

/** What makes a workload start a new run: a new spec, a new retry token, or deletion. Status writes change none of it. */
export const runKey = (workload: BatchWorkloadObject) =>
  [
    workload.metadata.uid,
    workload.metadata.generation ?? 0,
    workload.metadata.annotations?.[retryAnnotation] ?? "",
    workload.metadata.deletionTimestamp !== undefined
  ].join("|")

const decodeStatus = Schema.decodeUnknownOption(BatchWorkloadStatus)
const decodeSpec = Schema.decodeUnknownEffect(SpecSchema)

const isoNow = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis).toISOString())

/** The status each node starts the run with; a node whose phase is unchanged keeps its previous entry. */
const initialNodeStatus = (start: NodeStart, previous: NodeStatus | undefined, now: string): NodeStatus => {
  const fresh = (() => {
    switch (start._tag) {
      case "Unavailable":
        return { nodeName: start.nodeName, phase: "Failed" as const, attempts: 0, message: start.reason }
      case "Succeeded":
        return { nodeName: start.nodeName, phase: "Succeeded" as const, attempts: start.attempts, podName: start.podName }
      case "Exhausted":
        return {
          nodeName: start.nodeName,
          phase: "Failed" as const,
          attempts: start.attempts,
          podName: start.podName,
          message: `failed after ${start.attempts} attempts: ${start.reason}`
        }
      case "InProgress":
        return { nodeName: start.nodeName, phase: "Running" as const, attempts: start.attempt, podName: start.podName }
      case "NeedsPod":
        return {
          nodeName: start.nodeName,
          phase: "Pending" as const,
          attempts: start.attemptsUsed,
          message: start.lastFailure === undefined
            ? "waiting for its batch"
            : `attempt ${start.attemptsUsed} failed: ${start.lastFailure}; waiting to retry`
        }
    }
  })()
  return previous !== undefined && previous.phase === fresh.phase
    ? { ...previous, ...fresh, ...(previous.message !== undefined && fresh.phase !== "Failed" ? { message: previous.message } : {}) }
    : { ...fresh, lastTransitionTime: now }
}

/**
 * Drives one workload to its desired state, level-based: every pass reads the
 * workload, nodes and pods from the caches, plans, and acts. A pass is
 * interrupted (and a new one started) when the run key changes.
 */
export const reconcileWorkload = (key: string) =>
  Effect.scoped(Effect.gen(function*() {
    const caches = yield* Caches
    const kube = yield* KubeClient
    const selector = yield* NodeSelector
    const deployer = yield* PodDeployer
    const events = yield* EventRecorder

    const removeFinalizer = (workload: BatchWorkloadObject) =>
      kube.patch("batchworkloads", workload.metadata.namespace, workload.metadata.name, {
        metadata: {
          finalizers: (workload.metadata.finalizers ?? []).filter((name) => name !== finalizer),
          resourceVersion: workload.metadata.resourceVersion
        }
      })

    const cleanUp = (workload: BatchWorkloadObject) =>
      Effect.gen(function*() {
        const pods = yield* deployer.podsOf(workload.metadata.uid ?? "")
        // Pods on a dead node can stay Terminating for a long time; past a minute, garbage collection
        // through their owner reference finishes the job and the workload is not held hostage.
        const gone = yield* Effect.forEach(pods, deployer.remove, { concurrency: 20, discard: true }).pipe(
          Effect.timeoutOption("60 seconds")
        )
        if (workload.metadata.finalizers?.includes(finalizer)) yield* removeFinalizer(workload)
        yield* Effect.logInfo(
          `deleted ${pods.length} pods${gone._tag === "None" ? " (some still terminating)" : ""}; released the workload`
        )
      })

    const addFinalizer = (workload: BatchWorkloadObject) =>
      kube.patch("batchworkloads", workload.metadata.namespace, workload.metadata.name, {
        metadata: { finalizers: [...(workload.metadata.finalizers ?? []), finalizer], resourceVersion: workload.metadata.resourceVersion }
      })

    const reportInvalidSpec = (workload: BatchWorkloadObject, message: string) =>
      Effect.gen(function*() {
        const previous = decodeStatus(workload.status)
        const status = invalidSpecStatus(
          previous._tag === "Some" ? previous.value : undefined,
          workload.metadata.generation ?? 0,
          message,
          yield* isoNow
        )
        const alreadyReported = previous._tag === "Some" &&
          previous.value.conditions?.some((c) => c.type === "InvalidSpec" && c.message === message && c.status === "True") &&
          previous.value.observedGeneration === workload.metadata.generation
        if (alreadyReported) return
        yield* kube.patch("batchworkloads", workload.metadata.namespace, workload.metadata.name, { status }, { subresource: "status" })
        yield* events.record(workloadRef(workload.metadata), "Warning", "InvalidSpec", message)
      })

    /** One pass: returns whether the workload should keep following node and pod changes. */
    const pass = (workload: BatchWorkloadObject, spec: BatchWorkloadSpec) =>
      Effect.scoped(Effect.gen(function*() {
        const ref = workloadRef(workload.metadata)
        const retryToken = workload.metadata.annotations?.[retryAnnotation] ?? ""
        const revision = podRevisionOf(spec, retryToken)
        const previousOption = decodeStatus(workload.status)
        const previous = previousOption._tag === "Some" ? previousOption.value : undefined
        const generation = workload.metadata.generation ?? 0
        const settledBefore = previous?.observedGeneration === generation && previous.revision === revision &&
          (previous.phase === "Succeeded" || previous.phase === "Failed")
        if (spec.mode === "RunToCompletion" && settledBefore) return false

        const selection: NodeSelection = yield* selector.select(spec)
        const pods: ReadonlyArray<Pod> = yield* deployer.podsOf(ref.uid)
        const plan = planRun({
          spec,
          workloadName: ref.name,
          revision,
          selection,
          pods,
          nowMillis: yield* Clock.currentTimeMillis,
          timeoutMillis: Duration.toMillis(spec.timeout)
        })
        if (plan.podsToRemove.length > 0) {
          yield* Effect.logInfo(`removing ${plan.podsToRemove.length} pods that are outdated or on nodes no longer selected`)
          yield* Effect.forEach(plan.podsToRemove, deployer.remove, { concurrency: spec.batchSize, discard: true })
        }

        const now = yield* isoNow
        const previousNodes = new Map((previous?.nodeStatus ?? []).map((node) => [node.nodeName, node]))
        const open = plan.nodes.filter((node): node is OpenNode => !isSettled(node))
        const sameRun = previous?.revision === revision && previous.observedGeneration === generation
        const board = yield* makeStatusBoard({
          workload: ref,
          current: previous,
          nodes: plan.nodes.map((node) => initialNodeStatus(node, previousNodes.get(node.nodeName), now)),
          base: {
            generation,
            revision,
            handledRetry: retryToken === "" ? previous?.handledRetry : retryToken,
            desired: selection.desired,
            skipped: selection.skipped,
            startTime: open.length > 0 && !(sameRun && previous?.phase === "Running")
              ? now
              : previous?.startTime ?? now
          }
        })

        if (open.length > 0 && !(sameRun && previous?.phase === "Running")) {
          yield* events.record(
            ref,
            "Normal",
            "Started",
            `deploying ${spec.image} to ${open.length} of ${plan.nodes.length} nodes, ${spec.batchSize} at a time`
          )
        }
        yield* Effect.forEach(open, (node) => runNode({ workload: ref, spec, revision, board }, node), {
          concurrency: spec.batchSize,
          discard: true
        })
        const final = yield* board.finish
        if (final.phase !== previous?.phase || !sameRun) {
          if (final.phase === "Succeeded") {
            yield* events.record(ref, "Normal", "Completed", `all ${final.totalNodes} nodes succeeded`)
          } else if (final.phase === "Failed") {
            const failed = final.conditions?.find((c) => c.type === "Failed")
            yield* events.record(ref, "Warning", "Failed", failed?.message ?? "nodes failed")
          }
        }
        return spec.mode === "LongRunning"
      })).pipe(Effect.withSpan("BatchWorkload.reconcile", {
        attributes: { "workload.namespace": workload.metadata.namespace, "workload.name": workload.metadata.name }
      }))

    const nodeChanges = yield* selector.changes
    const podChanges = yield* caches.pods.subscribe
    while (true) {
      const workload = caches.workloads.get(key)
      if (workload === undefined) return
      const ref: WorkloadRef = workloadRef(workload.metadata)
      const follow = yield* Effect.gen(function*() {
        if (workload.metadata.deletionTimestamp !== undefined) {
          yield* cleanUp(workload)
          return false
        }
        if (!workload.metadata.finalizers?.includes(finalizer)) {
          yield* addFinalizer(workload)
          return "again" as const
        }
        const decoded = yield* Effect.result(decodeSpec(workload.spec, { errors: "all" }))
        if (decoded._tag === "Failure") {
          yield* reportInvalidSpec(workload, `spec is invalid: ${decoded.failure.message.replaceAll("\n", " ")}`)
          return false
        }
        return yield* pass(workload, decoded.success)
      }).pipe(
        Effect.trackDuration(Metric.withAttributes(reconcileSeconds, { controller: controllerName }), (d) => Duration.toMillis(d) / 1000),
        Effect.tap(() => Metric.update(Metric.withAttributes(reconcileTotal, { controller: controllerName, result: "success" }), 1)),
        Effect.tapError((error) =>
          Effect.gen(function*() {
            yield* Metric.update(Metric.withAttributes(reconcileTotal, { controller: controllerName, result: "error" }), 1)
            yield* Metric.update(Metric.withAttributes(reconcileErrors, { controller: controllerName }), 1)
            yield* Effect.logWarning(`reconcile failed, will retry: ${error.message}`)
          })
        ),
        Effect.retry(Schedule.min([Schedule.exponential("500 millis"), Schedule.spaced("1 minute")]).pipe(Schedule.jittered)),
        Effect.annotateLogs({ workload: `${ref.namespace}/${ref.name}` })
      )
      if (follow === "again") {
        // Let the cache catch up with our own write before reading the workload again.
        yield* Effect.sleep("100 millis")
        continue
      }
      if (!follow) return
      // Long-running workloads follow the cluster: wait for a change that could alter the plan, let a burst settle, plan again.
      yield* Effect.raceFirst(
        takeMatching(nodeChanges, eligibilityMayHaveChanged),
        takeMatching(podChanges, (change) => change.object.metadata.labels?.[workloadUidLabel] === ref.uid)
      )
      yield* Effect.sleep("1 second")
      yield* PubSub.takeAll(nodeChanges)
      yield* PubSub.takeAll(podChanges)
    }
  }))
