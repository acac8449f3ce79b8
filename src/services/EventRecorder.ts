import { randomBytes } from "node:crypto"
import { hostname } from "node:os"
import { Clock, Context, Effect, Layer, Queue } from "effect"
import { apiVersion, kind } from "../api/BatchWorkload.ts"
import type { Event } from "../api/core.ts"
import { managerName, type WorkloadRef } from "../domain/pods.ts"
import { KubeClient } from "../kube/KubeClient.ts"

export type EventType = "Normal" | "Warning"

/** Identifies this operator process in the events it writes (`reportingInstance`) and in the leader Lease. */
export const InstanceName = Context.Reference<string>("batch-workload-operator/InstanceName", {
  defaultValue: () => `${hostname()}-${process.pid}`
})

/**
 * Records Kubernetes Events on a workload. Recording never blocks or fails the
 * caller: events queue up and a background fiber writes them, logging (not
 * raising) any the API server refuses.
 */
export class EventRecorder extends Context.Service<EventRecorder, {
  readonly record: (workload: WorkloadRef, type: EventType, reason: string, message: string) => Effect.Effect<void>
}>()("batch-workload-operator/EventRecorder") {
  static readonly layer = Layer.effect(
    EventRecorder,
    Effect.gen(function*() {
      const kube = yield* KubeClient
      const instance = yield* InstanceName
      const pending = yield* Queue.unbounded<Event>()
      yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
        const event = yield* Queue.take(pending)
        yield* kube.create("events", event).pipe(
          Effect.catch((error) => Effect.logWarning(`could not record event ${event.reason}: ${error.message}`))
        )
      })))
      return EventRecorder.of({
        record: (workload, type, reason, message) =>
          Effect.gen(function*() {
            const now = new Date(yield* Clock.currentTimeMillis).toISOString()
            Queue.offerUnsafe(pending, {
              apiVersion: "v1",
              kind: "Event",
              metadata: { name: `${workload.name}.${randomBytes(8).toString("hex")}`, namespace: workload.namespace },
              involvedObject: { apiVersion, kind, name: workload.name, namespace: workload.namespace, uid: workload.uid },
              reason,
              message: message.slice(0, 1024),
              type,
              source: { component: managerName },
              reportingComponent: `batch.example.com/${managerName}`,
              reportingInstance: instance,
              firstTimestamp: now,
              lastTimestamp: now,
              count: 1
            })
          })
      })
    })
  )
}
