import { Duration, Effect, FiberSet, type Scope } from "effect"
import type { Pod } from "../api/core.ts"
import type { KubeApiError } from "../kube/KubeClient.ts"

/** One pod to create, and the name to use if another workload's pod holds its own. */
export interface PodCreate {
  readonly pod: Pod
  readonly fallbackName: string
}

/**
 * Pods this process is creating (client-go's "expectations"). A pass starts
 * its creates and goes on: the next pass may start at once, while they are in
 * flight, and its plan (PlanInput.creating) lets each hold its node's batch
 * slot until the cache shows the real pod, so it neither creates it again nor
 * hands the slot to another node. Nothing here outlives the process, and
 * nothing needs to: after a restart the cache shows every pod whose create
 * went through, and a create that did not is planned again.
 */
export interface PodCreations {
  /** The workload's pods being created that the cache (`cached`) does not show yet. */
  readonly unseen: (key: string, cached: ReadonlyArray<Pod>) => ReadonlyArray<Pod>
  /** Starts the creates in the background. */
  readonly start: (key: string, creates: ReadonlyArray<PodCreate>) => Effect.Effect<void>
  /** How many of the workload's creates are still in flight. */
  readonly inFlight: (key: string) => number
  /** Drops the workload's bookkeeping (it is gone). */
  readonly forget: (key: string) => void
}

export interface PodCreationsOptions {
  /** Creates the pod and returns once the cache shows it (PodDeployer.create). */
  readonly create: (pod: Pod, fallbackName: string) => Effect.Effect<void, KubeApiError>
  /** Told of a failed create, with how long to wait before planning the workload again (doubling while creates keep failing). */
  readonly onFailure: (key: string, error: KubeApiError, retryAfter: Duration.Duration) => Effect.Effect<void>
}

const firstRetryMillis = 500
const maxRetryMillis = 60_000

export const makePodCreations = (options: PodCreationsOptions): Effect.Effect<PodCreations, never, Scope.Scope> =>
  Effect.gen(function*() {
    const creators = yield* FiberSet.make()
    const pending = new Map<string, Map<string, Pod>>()
    const failures = new Map<string, number>()

    const pendingOf = (key: string) => {
      const known = pending.get(key)
      if (known !== undefined) return known
      const fresh = new Map<string, Pod>()
      pending.set(key, fresh)
      return fresh
    }

    const unseen = (key: string, cached: ReadonlyArray<Pod>): ReadonlyArray<Pod> => {
      const creating = pending.get(key)
      if (creating === undefined || creating.size === 0) return []
      // Only the few names being created are collected, not the whole fleet's pods.
      const seen = new Set<string>()
      for (let index = 0; index < cached.length; index++) {
        const name = cached[index]?.metadata.name
        if (name !== undefined && creating.has(name)) seen.add(name)
      }
      return seen.size === creating.size ? [] : [...creating.values()].filter((pod) => !seen.has(pod.metadata.name))
    }

    const failed = (key: string, error: KubeApiError) =>
      Effect.suspend(() => {
        const count = failures.get(key) ?? 0
        failures.set(key, count + 1)
        return options.onFailure(key, error, Duration.millis(Math.min(firstRetryMillis * 2 ** count, maxRetryMillis)))
      })

    /** Runs one create; its pod was already counted as pending, so a pass that starts meanwhile sees it. */
    const createOne = (key: string, creating: Map<string, Pod>, { fallbackName, pod }: PodCreate) =>
      options.create(pod, fallbackName).pipe(
        Effect.tap(() => Effect.sync(() => failures.delete(key))),
        Effect.catch((error: KubeApiError) => failed(key, error)),
        Effect.ensuring(Effect.sync(() => creating.delete(pod.metadata.name)))
      )

    const start = (key: string, creates: ReadonlyArray<PodCreate>) =>
      Effect.suspend(() => {
        const creating = pendingOf(key)
        for (const { pod } of creates) creating.set(pod.metadata.name, pod)
        return Effect.forEach(creates, (create) => FiberSet.run(creators, createOne(key, creating, create)), { discard: true })
      })

    return {
      unseen,
      start,
      inFlight: (key) => pending.get(key)?.size ?? 0,
      forget: (key) => {
        pending.delete(key)
        failures.delete(key)
      }
    } satisfies PodCreations
  })
