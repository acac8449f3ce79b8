// Pods being created are known until the cache shows them or their create ends, so a pass that
// starts while creates are in flight neither creates them again nor gives their slots away.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import type { Pod } from "../../src/api/core.ts"
import { makePodCreations } from "../../src/controller/PodCreations.ts"
import { KubeApiError } from "../../src/kube/KubeClient.ts"

const pod = (name: string, uid?: string): Pod => ({ metadata: { name, namespace: "default", ...(uid !== undefined ? { uid } : {}) } })
const names = (pods: ReadonlyArray<Pod>) => pods.map((p) => p.metadata.name)
const refused = new KubeApiError({ reason: "Forbidden", message: "exceeded quota", status: 403 })

/** Creations whose creates wait for `release`, then succeed, or fail with `refused` for pods named in `failing`. */
const harness = (failing: ReadonlySet<string> = new Set()) =>
  Effect.gen(function*() {
    const release = yield* Deferred.make<void>()
    const retries: Array<{ readonly key: string; readonly afterMillis: number }> = []
    const creations = yield* makePodCreations({
      create: (created) => Deferred.await(release).pipe(Effect.andThen(failing.has(created.metadata.name) ? Effect.fail(refused) : Effect.void)),
      onFailure: (key, _error, after) => Effect.sync(() => retries.push({ key, afterMillis: Duration.toMillis(after) }))
    })
    return { creations, release, retries }
  })

describe("pod creations", () => {
  it.effect("a pod being created is known as the workload's until its create ends", () =>
    Effect.scoped(Effect.gen(function*() {
      const { creations, release } = yield* harness()
      yield* creations.start("ns/w", [{ pod: pod("w-a"), fallbackName: "w-a-x" }])
      assert.deepStrictEqual(names(creations.unseen("ns/w", [pod("w-b", "uid-b")])), ["w-a"])
      assert.deepStrictEqual(names(creations.unseen("ns/other", [])), [], "another workload's creates are not this one's")
      assert.strictEqual(creations.inFlight("ns/w"), 1)
      yield* Deferred.succeed(release, undefined)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(creations.inFlight("ns/w"), 0)
      assert.deepStrictEqual(names(creations.unseen("ns/w", [])), [])
    })))

  it.effect("once the cache shows the pod, it is no longer among those being created", () =>
    Effect.scoped(Effect.gen(function*() {
      const { creations } = yield* harness()
      yield* creations.start("ns/w", [{ pod: pod("w-a"), fallbackName: "w-a-x" }])
      assert.deepStrictEqual(names(creations.unseen("ns/w", [pod("w-a", "uid-a")])), [])
      assert.strictEqual(creations.inFlight("ns/w"), 1, "its create has not returned yet")
    })))

  it.effect("a failed create stops counting and asks for the workload to be planned again, later each time it keeps failing", () =>
    Effect.scoped(Effect.gen(function*() {
      const { creations, release, retries } = yield* harness(new Set(["w-a"]))
      yield* Deferred.succeed(release, undefined)
      for (let i = 0; i < 3; i++) {
        yield* creations.start("ns/w", [{ pod: pod("w-a"), fallbackName: "w-a-x" }])
        yield* TestClock.adjust("1 millis")
      }
      assert.strictEqual(creations.inFlight("ns/w"), 0)
      assert.deepStrictEqual(retries, [{ key: "ns/w", afterMillis: 500 }, { key: "ns/w", afterMillis: 1000 }, { key: "ns/w", afterMillis: 2000 }])
    })))
})
