import * as NodePath from "@effect/platform-node/NodePath"
import { Duration, Effect, FileSystem, Layer, Random } from "effect"
import { TestClock } from "effect/testing"
import { apiVersion, type BatchWorkloadStatus, kind } from "../../../src/api/BatchWorkload.ts"
import type { BatchWorkloadObject } from "../../../src/api/core.ts"
import { runController } from "../../../src/controller/Controller.ts"
import { Caches } from "../../../src/services/Caches.ts"
import { EventRecorder } from "../../../src/services/EventRecorder.ts"
import { NodeSelector } from "../../../src/services/NodeSelector.ts"
import { ReportDirectory } from "../../../src/services/ReportDirectory.ts"
import { ReportStore } from "../../../src/services/ReportStore.ts"
import { PodDeployer } from "../../../src/services/PodDeployer.ts"
import { FakeCluster } from "./FakeCluster.ts"

/** An empty report directory on a file system that does nothing: real I/O would take real time, which the TestClock's steps do not wait for. */
const emptyReportDirectory = ReportDirectory.layer("/reports").pipe(Layer.provideMerge(Layer.merge(FileSystem.layerNoop({}), NodePath.layer)))

/** The operator's real services, over whatever FakeCluster is provided: rebuild it to simulate an operator restart. */
export const operatorServices = Layer.mergeAll(NodeSelector.layer, PodDeployer.layer, EventRecorder.layer, ReportStore.layer).pipe(
  Layer.provideMerge(Caches.layer),
  Layer.provideMerge(FakeCluster.kubeClient),
  Layer.provideMerge(emptyReportDirectory)
)

/** The operator's real services over a fresh in-memory cluster. */
export const operatorLayer = operatorServices.pipe(Layer.provideMerge(FakeCluster.layer))

/** Jitter factor exactly 1.0, so backoff delays are the schedule's nominal ones. */
export const noJitter = Effect.provideService(Random.Random, { nextDoubleUnsafe: () => 0.5, nextIntUnsafe: () => 0 })

export const startOperator = Effect.forkScoped(runController)

export const namespace = "default"

export const workload = (name: string, spec: Record<string, unknown>, annotations?: Record<string, string>): BatchWorkloadObject => ({
  apiVersion,
  kind,
  metadata: { name, namespace, ...(annotations !== undefined ? { annotations } : {}) },
  spec
})

export const statusOf = (name: string) =>
  Effect.gen(function*() {
    const cluster = yield* FakeCluster
    const object = yield* cluster.get("batchworkloads", namespace, name)
    return object?.status as BatchWorkloadStatus | undefined
  })

/** Moves the TestClock forward in small steps until `check` holds; fails after `limit` of virtual time. */
export const advanceUntil = <R>(check: Effect.Effect<boolean, never, R>, limit: Duration.Input = "10 minutes", step: Duration.Input = "100 millis") =>
  Effect.gen(function*() {
    const steps = Math.ceil(Duration.toMillis(limit) / Duration.toMillis(step))
    for (let i = 0; i <= steps; i++) {
      for (let j = 0; j < 5; j++) yield* Effect.yieldNow
      if (yield* check) return
      yield* TestClock.adjust(step)
    }
    return yield* Effect.die(new Error(`condition not reached within ${Duration.format(Duration.fromInputUnsafe(limit))}`))
  })

export const eventsFor = (name: string) =>
  Effect.gen(function*() {
    const cluster = yield* FakeCluster
    const events = yield* cluster.list("events")
    return events.filter((event) => event.involvedObject.name === name).map((event) => `${event.reason}: ${event.message}`)
  })

export const phaseIs = (name: string, phase: BatchWorkloadStatus["phase"]) =>
  Effect.map(statusOf(name), (status) => status?.phase === phase)
