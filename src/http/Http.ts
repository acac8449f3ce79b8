import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Context, Effect, Layer, Ref } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { Caches } from "../services/Caches.ts"
import { ReportStore } from "../services/ReportStore.ts"

/** True once the caches have synced; a standby replica (not leading) is ready too. */
export class Readiness extends Context.Service<Readiness, Ref.Ref<boolean>>()("batch-workload-operator/Readiness") {
  static readonly layer = Layer.effect(Readiness, Ref.make(false))
}

export const listen = (port: number) => NodeHttpServer.layer(createServer, { port, gracefulShutdownTimeout: "2 seconds" })
export const quiet = { disableLogger: true, disableListenLog: true } as const

export const healthServer = (port: number) =>
  port === 0 ? Layer.empty : HttpRouter.serve(
    Layer.mergeAll(
      HttpRouter.add(
        "GET",
        "/healthz",
        Effect.gen(function*() {
          const failure = (yield* Caches).failure()
          return failure === undefined ? HttpServerResponse.text("ok") : HttpServerResponse.text(failure, { status: 500 })
        })
      ),
      HttpRouter.add(
        "GET",
        "/readyz",
        Effect.gen(function*() {
          const ready = yield* Ref.get(yield* Readiness)
          return ready ? HttpServerResponse.text("ok") : HttpServerResponse.text("caches not synced", { status: 503 })
        })
      )
    ),
    quiet
  ).pipe(Layer.provide(listen(port)))

/** The operator's own metrics, then the gauges reporting pods sent (spec.reports). */
const metricsText = Effect.gen(function*() {
  const own = yield* PrometheusMetrics.format()
  const reported = (yield* ReportStore).render()
  return HttpServerResponse.text(own.endsWith("\n") || own === "" ? own + reported : `${own}\n${reported}`, {
    contentType: "text/plain; version=0.0.4; charset=utf-8"
  })
})

export const metricsServer = (port: number) =>
  port === 0
    ? Layer.empty
    : HttpRouter.serve(HttpRouter.add("GET", "/metrics", metricsText), quiet).pipe(Layer.provide(listen(port)))
