import { Clock, Duration, Effect, Metric, Schedule } from "effect"
import type { BatchWorkloadSpec } from "../api/BatchWorkload.ts"
import { type AttemptError, AttemptTimedOut, describeAttemptError } from "../domain/errors.ts"
import type { NodeStart } from "../domain/plan.ts"
import { buildPod, type WorkloadRef } from "../domain/pods.ts"
import { EventRecorder } from "../services/EventRecorder.ts"
import { PodDeployer } from "../services/PodDeployer.ts"
import { nodeAttemptSeconds, nodeOutcomes, nodeRetries } from "./metrics.ts"
import { formatDelay, nodeRetrySchedule } from "./retryPolicy.ts"
import type { StatusBoard } from "./StatusBoard.ts"

export interface RunContext {
  readonly workload: WorkloadRef
  readonly spec: BatchWorkloadSpec
  readonly revision: string
  readonly board: StatusBoard
}

/** A node still to work on: one that needs a pod, or whose pod of this revision is still going. */
export type OpenNode = Extract<NodeStart, { readonly _tag: "NeedsPod" | "InProgress" }>

/**
 * Takes one node to success or to failure: creates its pod, waits for it
 * within the per-node timeout, and on failure replaces it after a backoff
 * until the retries run out. Never fails: the outcome lands in the node's
 * status, so one node cannot abort the others.
 */
export const runNode = (context: RunContext, start: OpenNode) =>
  Effect.gen(function*() {
    const deployer = yield* PodDeployer
    const events = yield* EventRecorder
    const { board, spec, workload } = context
    const { nodeName, podName } = start
    const maxAttempts = spec.maxRetries + 1
    const timeoutMillis = Duration.toMillis(spec.timeout)

    let attempt = start._tag === "InProgress" ? start.attempt - 1 : start.attemptsUsed
    // A pod of this revision already working on its attempt is waited for, not replaced.
    let resumeStartedAt = start._tag === "InProgress" ? start.startedAtMillis : undefined

    const oneAttempt = Effect.gen(function*() {
      attempt += 1
      const now = yield* Clock.currentTimeMillis
      const startedAt = resumeStartedAt ?? now
      const resuming = resumeStartedAt !== undefined
      resumeStartedAt = undefined
      const thisAttempt = attempt
      const deployAndWait = Effect.gen(function*() {
        if (!resuming) {
          yield* board.setNode(nodeName, {
            phase: "Pending",
            attempts: thisAttempt,
            podName,
            message: `attempt ${thisAttempt} of ${maxAttempts}: creating pod`
          })
          yield* deployer.deploy(buildPod(workload, spec, nodeName, thisAttempt, context.revision))
        }
        yield* board.setNode(nodeName, { phase: "Pending", attempts: thisAttempt, podName, message: `attempt ${thisAttempt} of ${maxAttempts}: pod pending` })
        yield* deployer.awaitOutcome(
          workload.namespace,
          podName,
          spec.mode,
          board.setNode(nodeName, { phase: "Running", attempts: thisAttempt, message: `attempt ${thisAttempt} of ${maxAttempts}: pod running` })
        )
      })
      yield* deployAndWait.pipe(
        Effect.timeoutOrElse({
          duration: Duration.millis(Math.max(0, startedAt + timeoutMillis - now)),
          orElse: () => Effect.fail(new AttemptTimedOut({ afterMillis: timeoutMillis }))
        }),
        Effect.onExit((exit) =>
          Effect.gen(function*() {
            const seconds = ((yield* Clock.currentTimeMillis) - startedAt) / 1000
            const result = exit._tag === "Success" ? "success" : "failure"
            yield* Metric.update(Metric.withAttributes(nodeAttemptSeconds, { result }), seconds)
          })
        )
      )
    })

    const retries = nodeRetrySchedule(spec, maxAttempts - attempt - 1).pipe(
      Schedule.setInputType<AttemptError>(),
      Schedule.tap(({ duration, input }) =>
        Effect.gen(function*() {
          const message = `attempt ${attempt} of ${maxAttempts} failed: ${describeAttemptError(input)}; retrying in ${formatDelay(duration)}`
          yield* board.setNode(nodeName, { phase: "Pending", attempts: attempt, message })
          yield* events.record(workload, "Warning", "NodeRetrying", `node ${nodeName}: ${message}`)
          yield* Metric.update(nodeRetries, 1)
        })
      )
    )

    yield* oneAttempt.pipe(
      Effect.retry(retries),
      Effect.matchEffect({
        onSuccess: () =>
          Effect.gen(function*() {
            const message = spec.mode === "LongRunning" ? "pod is Ready" : "pod completed"
            yield* board.setNode(nodeName, { phase: "Succeeded", attempts: attempt, message })
            yield* events.record(workload, "Normal", "NodeSucceeded", `node ${nodeName}: ${message} (attempt ${attempt})`)
            yield* Metric.update(Metric.withAttributes(nodeOutcomes, { outcome: "succeeded" }), 1)
          }),
        onFailure: (error) =>
          Effect.gen(function*() {
            const message = `failed after ${attempt} attempt${attempt === 1 ? "" : "s"}: ${describeAttemptError(error)}`
            yield* board.setNode(nodeName, { phase: "Failed", attempts: attempt, message })
            yield* events.record(workload, "Warning", "NodeFailed", `node ${nodeName}: ${message}`)
            yield* Metric.update(Metric.withAttributes(nodeOutcomes, { outcome: "failed" }), 1)
          })
      }),
      Effect.annotateLogs({ node: nodeName }),
      Effect.withSpan("BatchWorkload.node", { attributes: { "node.name": nodeName } })
    )
  })
