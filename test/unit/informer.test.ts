import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { Node } from "../../src/api/core.ts"
import { sameNodeContent, trimNode } from "../../src/domain/trim.ts"
import { makeInformer } from "../../src/kube/Informer.ts"
import { KubeApiError, KubeClient, type WatchEvent } from "../../src/kube/KubeClient.ts"
import { advanceUntil } from "./support/harness.ts"
import { fakeNode } from "./support/FakeCluster.ts"

const versioned = (name: string, resourceVersion: string): Node => {
  const node = fakeNode(name)
  return { ...node, metadata: { ...node.metadata, resourceVersion } }
}

/** An API server that answers with a script: successive lists, and one watch stream per watch call. */
const scriptedClient = (
  lists: Array<ReadonlyArray<Node>>,
  watches: Array<Stream.Stream<WatchEvent<Node>, KubeApiError>>,
  calls: Array<string>
) => {
  const unused = () => Effect.die(new Error("not used by the informer"))
  return KubeClient.of({
    get: unused,
    create: unused,
    remove: unused,
    patch: unused,
    reviewToken: unused,
    list: () =>
      Effect.sync(() => {
        const items = lists.shift() ?? []
        const resourceVersion = items.at(-1)?.metadata.resourceVersion ?? "0"
        calls.push(`list@${resourceVersion}`)
        return { items: items as never, resourceVersion }
      }),
    watch: (_kind, options) => {
      calls.push(`watch@${options.resourceVersion}`)
      return (watches.shift() ?? Stream.never) as never
    }
  })
}

describe("informer", () => {
  it.effect("resumes an ended watch from the last version, and relists only after 410 Gone", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const client = scriptedClient(
        [[versioned("a", "5"), versioned("b", "6")], [versioned("a", "9"), versioned("c", "10")]],
        [
          Stream.make<Array<WatchEvent<Node>>>({ type: "MODIFIED", object: versioned("b", "7") }, { type: "BOOKMARK", resourceVersion: "8" }),
          Stream.fail(new KubeApiError({ reason: "Gone", message: "too old resource version: 8 (9)", status: 410 }))
        ],
        calls
      )
      const informer = yield* makeInformer("nodes").pipe(Effect.provideService(KubeClient, client))
      yield* informer.synced
      yield* advanceUntil(Effect.sync(() => calls.length >= 5), "10 seconds")
      assert.deepStrictEqual(calls.slice(0, 5), ["list@6", "watch@6", "watch@8", "list@10", "watch@10"])
      assert.deepStrictEqual([...informer.store.keys()].sort(), ["a", "c"], "the relist dropped b")
      assert.strictEqual(informer.get("a")?.metadata.resourceVersion, "9")
    }).pipe(Effect.scoped))

  it.effect("keeps its keys in order as objects come and go, and only reorders when a key changes", () =>
    Effect.gen(function*() {
      const client = scriptedClient(
        [[versioned("c", "1"), versioned("a", "2")]],
        [Stream.fromEffect(Effect.sleep("1 second")).pipe(Stream.flatMap(() =>
          Stream.make<Array<WatchEvent<Node>>>(
            { type: "ADDED", object: versioned("b", "3") },
            { type: "DELETED", object: versioned("c", "4") },
            { type: "MODIFIED", object: versioned("a", "5") }
          )
        ))],
        []
      )
      const informer = yield* makeInformer("nodes").pipe(Effect.provideService(KubeClient, client))
      yield* informer.synced
      assert.deepStrictEqual(informer.sortedKeys(), ["a", "c"])
      yield* advanceUntil(Effect.sync(() => informer.get("a")?.metadata.resourceVersion === "5"), "10 seconds")
      const keys = informer.sortedKeys()
      assert.deepStrictEqual(keys, ["a", "b"])
      assert.strictEqual(informer.sortedKeys(), keys, "an update that adds no key keeps the same list")
    }).pipe(Effect.scoped))

  it.effect("keeps the stored node through a status heartbeat, and takes the next change that a decision can see", () =>
    Effect.gen(function*() {
      // As a kubelet or kwok writes it: the heartbeat moves only lastHeartbeatTime, which the trimmed node drops.
      const beat = (resourceVersion: string, status: string, lastHeartbeatTime: string): Node => {
        const ready = { type: "Ready", status, lastHeartbeatTime }
        return { ...versioned("a", resourceVersion), status: { conditions: [ready] } }
      }
      const after = (seconds: number, event: WatchEvent<Node>) =>
        Stream.fromEffect(Effect.sleep(`${seconds} seconds`)).pipe(Stream.map(() => event))
      const client = scriptedClient(
        [[beat("1", "True", "10:00:00")]],
        [Stream.concat(
          after(1, { type: "MODIFIED", object: beat("2", "True", "10:05:00") }),
          after(1, { type: "MODIFIED", object: beat("3", "False", "10:05:40") })
        )],
        []
      )
      const informer = yield* makeInformer("nodes", { transform: trimNode, sameContent: sameNodeContent }).pipe(
        Effect.provideService(KubeClient, client)
      )
      yield* informer.synced
      const stored = informer.get("a")
      const version = informer.version()
      yield* TestClock.adjust("1500 millis")
      assert.strictEqual(informer.get("a"), stored, "the heartbeat kept the stored node")
      assert.strictEqual(informer.version(), version, "the heartbeat is not counted as a change")
      yield* advanceUntil(Effect.sync(() => informer.get("a")?.status?.conditions?.[0]?.status === "False"), "10 seconds")
      assert.strictEqual(informer.version(), version + 1, "the readiness change is counted")
      assert.strictEqual(informer.get("a")?.metadata.resourceVersion, "3")
    }).pipe(Effect.scoped))
})
