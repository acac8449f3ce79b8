import { randomBytes } from "node:crypto"
import { hostname } from "node:os"
import { Clock, Context, Duration, Effect, Layer, Queue, Schedule } from "effect"
import { apiVersion, kind } from "../api/BatchWorkload.ts"
import type { Event } from "../api/core.ts"
import { managerName, type WorkloadRef } from "../domain/pods.ts"
import { type KubeApiError, KubeClient } from "../kube/KubeClient.ts"

export type EventType = "Normal" | "Warning"

/** Identifies this operator process in the events it writes (`reportingInstance`) and in the leader Lease. */
export const InstanceName = Context.Reference<string>("batch-workload-operator/InstanceName", {
  defaultValue: () => `${hostname()}-${process.pid}`
})

/** How events are folded and limited; the defaults are client-go's (k8s.io/client-go/tools/record/events_cache.go). */
export interface EventRecorderOptions {
  /** Entries in each of the correlator's caches before the least recently used is forgotten. */
  readonly cacheSize: number
  /** Distinct messages of one object, type and reason written as they are; later ones are combined into one Event. */
  readonly maxSimilarEvents: number
  /** Similar events further apart than this start counting afresh. */
  readonly similarWindow: Duration.Duration
  /** Writes per object and reason that may go at once... */
  readonly burst: number
  /** ...and how often one more is allowed after that. */
  readonly refillEvery: Duration.Duration
  /** Events waiting for the writer; more are dropped (with a log line) rather than held. */
  readonly queueCapacity: number
}

export const defaultEventRecorderOptions: EventRecorderOptions = {
  cacheSize: 4096,
  maxSimilarEvents: 10,
  similarWindow: Duration.minutes(10),
  burst: 25,
  refillEvery: Duration.minutes(5),
  queueCapacity: 1000
}

const combinedPrefix = "(combined from similar events): "
const maxMessageLength = 1024

/** A map of at most `capacity` entries that forgets the least recently used one first, as client-go's lru.Cache. */
const makeLru = <V>(capacity: number) => {
  const entries = new Map<string, V>()
  return {
    get: (key: string): V | undefined => {
      const value = entries.get(key)
      if (value === undefined) return undefined
      // A Map iterates in insertion order: re-inserting marks the entry most recently used.
      entries.delete(key)
      entries.set(key, value)
      return value
    },
    set: (key: string, value: V) => {
      entries.delete(key)
      entries.set(key, value)
      const oldest = entries.keys().next()
      if (entries.size > capacity && oldest.done !== true) entries.delete(oldest.value)
    },
    size: () => entries.size
  }
}

const objectKey = (event: Event) => {
  const object = event.involvedObject
  return [event.source.component, object.apiVersion, object.kind, object.namespace, object.name, object.uid]
}

/** Identical events: same source, object, type, reason and message. */
const identityKey = (event: Event) => JSON.stringify([...objectKey(event), event.type, event.reason, event.message])

/** Similar events: the same but for the message (client-go's EventAggregatorByReasonFunc). */
const similarityKey = (event: Event) =>
  JSON.stringify([...objectKey(event), event.type, event.reason, event.reportingComponent, event.reportingInstance])

/**
 * The spam filter's bucket. client-go keys it by object alone; the reason is
 * added here because a workload's last events (Completed, Failed) come after
 * up to 1,000 node events and would otherwise find the bucket empty.
 */
const rateLimitKey = (event: Event) => JSON.stringify([...objectKey(event), event.reason])

const eventName = (objectName: string) => `${objectName}.${randomBytes(8).toString("hex")}`

/** What to write for one recorded event: a new Event, a new count on an existing one, or nothing. */
export type Correlated =
  | { readonly _tag: "Create"; readonly event: Event }
  | { readonly _tag: "Patch"; readonly event: Event }
  | { readonly _tag: "Skip" }
type EventWrite = Exclude<Correlated, { readonly _tag: "Skip" }>

interface SimilarEvents {
  readonly messages: Set<string>
  readonly lastMillis: number
}

interface WrittenEvent {
  readonly name: string
  readonly firstTimestamp: string
  readonly count: number
}

interface Bucket {
  readonly tokens: number
  readonly atMillis: number
}

/**
 * client-go's EventCorrelator: aggregation of similar events, then counting
 * of identical ones, then a per-object token bucket. All three caches are
 * LRU-bounded. Pure bookkeeping, driven by the times it is given.
 */
export const makeEventCorrelator = (options: EventRecorderOptions) => {
  const similar = makeLru<SimilarEvents>(options.cacheSize)
  const written = makeLru<WrittenEvent>(options.cacheSize)
  const buckets = makeLru<Bucket>(options.cacheSize)
  const windowMillis = Duration.toMillis(options.similarWindow)
  const refillMillis = Duration.toMillis(options.refillEvery)

  /** The event as it is, while its object has had few distinct messages for this reason lately; else the combined event. */
  const aggregate = (event: Event, nowMillis: number): { readonly event: Event; readonly key: string } => {
    const key = similarityKey(event)
    const previous = similar.get(key)
    const messages = previous !== undefined && nowMillis - previous.lastMillis <= windowMillis ? previous.messages : new Set<string>()
    messages.add(event.message)
    similar.set(key, { messages, lastMillis: nowMillis })
    if (messages.size <= options.maxSimilarEvents) return { event, key: identityKey(event) }
    // Keep the set at its limit: which message is forgotten only decides whether a repeat of it counts as new.
    const first = messages.values().next()
    if (first.done !== true) messages.delete(first.value)
    const now = new Date(nowMillis).toISOString()
    const combined: Event = {
      ...event,
      metadata: { ...event.metadata, name: eventName(event.involvedObject.name) },
      message: `${combinedPrefix}${event.message}`.slice(0, maxMessageLength),
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1
    }
    return { event: combined, key }
  }

  /** A repeat of an event already written becomes a new count on that Event (client-go's eventObserve). */
  const observe = (event: Event, key: string): EventWrite => {
    const previous = written.get(key)
    const observed: Event = previous === undefined ? event : {
      ...event,
      metadata: { ...event.metadata, name: previous.name },
      firstTimestamp: previous.firstTimestamp,
      count: previous.count + 1
    }
    // Counted even if the rate limit then drops the write, so the next write that gets through carries the full count.
    written.set(key, { name: observed.metadata.name, firstTimestamp: observed.firstTimestamp, count: observed.count })
    return previous === undefined ? { _tag: "Create", event: observed } : { _tag: "Patch", event: observed }
  }

  /** client-go's EventSourceObjectSpamFilter: a token bucket per object, `burst` deep, one token per `refillEvery`. */
  const allow = (event: Event, nowMillis: number) => {
    const key = rateLimitKey(event)
    const bucket = buckets.get(key) ?? { tokens: options.burst, atMillis: nowMillis }
    const tokens = Math.min(options.burst, bucket.tokens + (nowMillis - bucket.atMillis) / refillMillis)
    const allowed = tokens >= 1
    buckets.set(key, { tokens: allowed ? tokens - 1 : tokens, atMillis: nowMillis })
    return allowed
  }

  const correlate = (event: Event, nowMillis: number): Correlated => {
    const aggregated = aggregate(event, nowMillis)
    const outcome = observe(aggregated.event, aggregated.key)
    return allow(outcome.event, nowMillis) ? outcome : { _tag: "Skip" }
  }

  return { correlate, cacheSizes: () => [similar.size(), written.size(), buckets.size()] as const }
}

/** Transient failures (throttled, unreachable) are retried a few times; the writer then moves on. */
const writeRetry = Schedule.exponential("1 second").pipe(Schedule.upTo({ times: 3 }))

/**
 * Writes one correlated event. A count update for an Event the API server has
 * since dropped (Events expire after an hour) recreates it under its name.
 */
const writeEvent = (kube: (typeof KubeClient)["Service"], outcome: EventWrite): Effect.Effect<void, KubeApiError> => {
  const event = outcome.event
  if (outcome._tag === "Create") return Effect.asVoid(kube.create("events", event))
  const update = { count: event.count, lastTimestamp: event.lastTimestamp, message: event.message }
  return kube.patch("events", event.metadata.namespace, event.metadata.name, update).pipe(
    Effect.catchIf((error) => error.reason === "NotFound", () => kube.create("events", event)),
    Effect.asVoid
  )
}

interface Recorded {
  readonly event: Event
  readonly atMillis: number
}

export const makeEventRecorder = (options: EventRecorderOptions) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    const instance = yield* InstanceName
    const correlator = makeEventCorrelator(options)
    const pending = yield* Queue.dropping<Recorded>(options.queueCapacity)
    let dropped = 0

    const writeNext = Effect.gen(function*() {
      const { atMillis, event } = yield* Queue.take(pending)
      const outcome = correlator.correlate(event, atMillis)
      if (outcome._tag === "Skip") return
      yield* writeEvent(kube, outcome).pipe(
        Effect.retry({ schedule: writeRetry, while: (error) => error.retryable }),
        Effect.catch((error) => Effect.logWarning(`could not record event ${event.reason}: ${error.message}`))
      )
    })
    yield* Effect.forkScoped(Effect.forever(writeNext))

    /** One line for the first event dropped and then one per hundred, so a flood of events does not become a flood of logs. */
    const noteDropped = (event: Event) => {
      dropped += 1
      return dropped % 100 === 1
        ? Effect.logWarning(`event queue full (${options.queueCapacity}): dropped event ${event.reason} (${dropped} dropped so far)`)
        : Effect.void
    }

    return EventRecorder.of({
      record: (workload, type, reason, message) =>
        Effect.gen(function*() {
          const atMillis = yield* Clock.currentTimeMillis
          const now = new Date(atMillis).toISOString()
          const event: Event = {
            apiVersion: "v1",
            kind: "Event",
            metadata: { name: eventName(workload.name), namespace: workload.namespace },
            involvedObject: { apiVersion, kind, name: workload.name, namespace: workload.namespace, uid: workload.uid },
            reason,
            message: message.slice(0, maxMessageLength),
            type,
            source: { component: managerName },
            reportingComponent: `batch.example.com/${managerName}`,
            reportingInstance: instance,
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1
          }
          if (!Queue.offerUnsafe(pending, { event, atMillis })) yield* noteDropped(event)
        })
    })
  })

/**
 * Records Kubernetes Events on a workload. Recording never blocks or fails the
 * caller: events wait in a bounded queue and one background fiber folds them
 * as client-go's event correlator does (repeats become a count, more than
 * `maxSimilarEvents` distinct messages one combined Event, and a per-object
 * rate limit) before writing them, logging (not raising) any the API server
 * refuses.
 */
export class EventRecorder extends Context.Service<EventRecorder, {
  readonly record: (workload: WorkloadRef, type: EventType, reason: string, message: string) => Effect.Effect<void>
}>()("batch-workload-operator/EventRecorder") {
  static readonly layer = Layer.effect(EventRecorder, makeEventRecorder(defaultEventRecorderOptions))
}
