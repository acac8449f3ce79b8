import { Duration, Effect, Layer, Logger, References, Ref } from "effect"
import { logLevelFromEnv, optionalValue, type Settings } from "./Config.ts"
import { runController } from "./controller/Controller.ts"
import { StatusFlushInterval } from "./controller/StatusBoard.ts"
import { healthServer, metricsServer, Readiness } from "./http/Http.ts"
import { kubeClientLayer } from "./kube/KubeClientLive.ts"
import { Caches, WatchNamespace } from "./services/Caches.ts"
import { EventRecorder } from "./services/EventRecorder.ts"
import { NodeSelector } from "./services/NodeSelector.ts"
import { PodDeployer } from "./services/PodDeployer.ts"

/** Runs the controller for the life of the app and marks the process ready once its caches are synced. */
const ControllerLive = Layer.effectDiscard(Effect.gen(function*() {
  const caches = yield* Caches
  const readiness = yield* Readiness
  yield* Effect.forkScoped(caches.synced.pipe(Effect.andThen(Ref.set(readiness, true))))
  yield* Effect.forkScoped(runController)
}))

/** The one place the live layers are composed. */
export const appLayer = (settings: Settings) => {
  const kube = kubeClientLayer(
    {
      kubeconfigPath: optionalValue(settings.kubeconfig),
      serviceAccountRoot: optionalValue(settings.serviceAccountRoot)
    },
    { maxConcurrentRequests: settings.maxConcurrentRequests, watchTimeoutSeconds: 25 }
  )
  const services = Layer.mergeAll(NodeSelector.layer, PodDeployer.layer, EventRecorder.layer).pipe(
    Layer.provideMerge(Caches.layer),
    Layer.provideMerge(kube)
  )
  const logger = Logger.layer([settings.logFormat === "json" ? Logger.consoleJson : Logger.consolePretty()])
  return Layer.mergeAll(
    ControllerLive,
    healthServer(settings.healthPort),
    metricsServer(settings.metricsPort)
  ).pipe(
    Layer.provide(services),
    Layer.provideMerge(Readiness.layer),
    Layer.provide(Layer.succeed(WatchNamespace, optionalValue(settings.namespace))),
    Layer.provide(Layer.succeed(StatusFlushInterval, Duration.seconds(settings.statusFlushSeconds))),
    Layer.provide(Layer.unwrap(Effect.gen(function*() {
      const level = yield* logLevelFromEnv
      return level._tag === "Some" ? Layer.succeed(References.MinimumLogLevel, level.value) : Layer.empty
    }))),
    Layer.provide(logger)
  )
}
