import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Duration, Effect, Layer, Logger, Option, References, Ref } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpSerialization, OtlpTracer } from "effect/observability"
import { optionalValue, type Settings } from "./Config.ts"
import { runController } from "./controller/Controller.ts"
import { makeLeaderElector } from "./controller/LeaderElection.ts"
import { markLeader, parsePodRef } from "./controller/LeaderLabel.ts"
import { StatusFlushInterval } from "./controller/StatusFlush.ts"
import { callbackServer } from "./http/Callback.ts"
import { healthServer, metricsServer, Readiness } from "./http/Http.ts"
import { kubeClientLayer } from "./kube/KubeClientLive.ts"
import { Caches, WatchNamespace } from "./services/Caches.ts"
import { EventRecorder, InstanceName } from "./services/EventRecorder.ts"
import { NodeSelector } from "./services/NodeSelector.ts"
import { ReportDirectory } from "./services/ReportDirectory.ts"
import { ReportFiles } from "./services/ReportFiles.ts"
import { Callback, ReportStore } from "./services/ReportStore.ts"
import { PodDeployer } from "./services/PodDeployer.ts"

/**
 * Runs the controller for the life of the app (only while leading, with leader
 * election) and marks the process ready once its caches are synced: a standby
 * with synced caches is ready too, so it can take over at once.
 */
const controllerLive = (settings: Settings) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const caches = yield* Caches
    const readiness = yield* Readiness
    yield* Effect.forkScoped(caches.synced.pipe(Effect.andThen(Ref.set(readiness, true))))
    const label = yield* leaderLabelling(settings)
    if (!settings.leaderElect) {
      yield* Effect.forkScoped(label(true).pipe(Effect.andThen(runController)))
      return
    }
    const elector = yield* makeLeaderElector({
      leaseName: settings.leaseName,
      namespace: optionalValue(settings.leaseNamespace) ?? optionalValue(settings.namespace) ?? "default",
      identity: yield* InstanceName,
      leaseDuration: Duration.seconds(settings.leaseDurationSeconds),
      renewDeadline: Duration.seconds(settings.renewDeadlineSeconds),
      retryPeriod: Duration.seconds(settings.retryPeriodSeconds)
    })
    // A replica restarted in the same pod must not keep the label from when it led.
    const leading = label(true).pipe(Effect.andThen(runController), Effect.ensuring(label(false)))
    yield* Effect.forkScoped(label(false).pipe(Effect.andThen(elector.runWhileLeader(leading))))
  }))

/** Labels (true) or unlabels (false) this replica's pod as the leader's, when --leader-label-pod names it. */
const leaderLabelling = (settings: Settings) =>
  Effect.gen(function*() {
    const text = optionalValue(settings.leaderLabelPod)
    if (text === undefined) return (_leading: boolean) => Effect.void
    const pod = parsePodRef(text)
    if (pod === undefined) return yield* Effect.die(new Error(`--leader-label-pod must be NAMESPACE/NAME, got "${text}"`))
    return (leading: boolean) => markLeader(pod, leading)
  })

/** The one place the live layers are composed. */
export const appLayer = (settings: Settings) => {
  const kube = kubeClientLayer(
    {
      kubeconfigPath: optionalValue(settings.kubeconfig),
      serviceAccountRoot: optionalValue(settings.serviceAccountRoot)
    },
    {
      maxConcurrentRequests: settings.maxConcurrentRequests,
      qps: settings.kubeApiQps,
      burst: settings.kubeApiBurst,
      watchTimeoutSeconds: 25
    }
  )
  const reportDirectory = ReportDirectory.layer(settings.reportDirectory).pipe(Layer.provideMerge(Layer.merge(NodeFileSystem.layer, NodePath.layer)))
  const services = Layer.mergeAll(NodeSelector.layer, PodDeployer.layer, EventRecorder.layer, ReportStore.layer).pipe(
    Layer.provideMerge(Caches.layer),
    Layer.provideMerge(kube),
    Layer.provideMerge(reportDirectory)
  )
  const tracing = Option.match(settings.otlpEndpoint, {
    onNone: () => Layer.empty,
    onSome: (endpoint) =>
      OtlpTracer.layer({
        url: `${endpoint.replace(/\/$/, "")}/v1/traces`,
        resource: { serviceName: "batch-workload-operator", serviceVersion: "0.1.0" }
      }).pipe(Layer.provide(OtlpSerialization.layerJson), Layer.provide(FetchHttpClient.layer))
  })
  const logger = Logger.layer([settings.logFormat === "json" ? Logger.consoleJson : Logger.consolePretty()])
  return Layer.mergeAll(
    controllerLive(settings),
    healthServer(settings.healthPort),
    metricsServer(settings.metricsPort),
    callbackServer(settings.callbackPort).pipe(Layer.provide(ReportFiles.layer({
      maxFileBytes: settings.maxFileBytes,
      maxRunBytes: settings.maxRunBytes
    })))
  ).pipe(
    Layer.provide(services),
    Layer.provideMerge(Readiness.layer),
    Layer.provide(Layer.succeed(WatchNamespace, optionalValue(settings.namespace))),
    Layer.provide(Option.match(settings.identity, { onNone: () => Layer.empty, onSome: (name) => Layer.succeed(InstanceName, name) })),
    Layer.provide(Layer.succeed(Callback, {
      host: settings.callbackServiceName,
      // Pods reach the Service's port, which manifests/ maps to the same number.
      port: settings.callbackPort,
      audience: settings.callbackAudience
    })),
    Layer.provide(Layer.succeed(StatusFlushInterval, Duration.seconds(settings.statusFlushSeconds))),
    Layer.provide(Layer.succeed(References.MinimumLogLevel, settings.logLevel)),
    Layer.provide(logger),
    Layer.provide(tracing)
  )
}
