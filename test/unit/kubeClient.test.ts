import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, type Duration, Effect, Exit, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { Pod } from "../../src/api/core.ts"
import { KubeClient, LeaderElectionKubeClient } from "../../src/kube/KubeClient.ts"
import { kubeClientLayer, type KubeClientOptions, makeRequestRateLimiter } from "../../src/kube/KubeClientLive.ts"

/** Starts `count` requests at once through the limiter and returns when (virtual ms) each got its token, in order. */
const grantTimes = (qps: number, burst: number, count: number, runFor: Duration.Input) =>
  Effect.gen(function*() {
    const waitForToken = yield* makeRequestRateLimiter(qps, burst)
    const granted: Array<number> = []
    const request = Effect.andThen(waitForToken, Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => granted.push(now))))
    const fiber = yield* Effect.forkChild(Effect.all(Array.from({ length: count }, () => request), { concurrency: "unbounded" }))
    yield* TestClock.adjust(runFor)
    yield* Fiber.interrupt(fiber)
    return granted.sort((a, b) => a - b)
  })

describe("client-side rate limit (token bucket, as client-go's QPS and Burst)", () => {
  it.effect("lets a burst through at once, then paces requests at qps", () =>
    Effect.gen(function*() {
      const granted = yield* grantTimes(10, 5, 12, "2 seconds")
      assert.deepStrictEqual(granted, [0, 0, 0, 0, 0, 100, 200, 300, 400, 500, 600, 700])
    }))

  it.effect("refills while idle, up to the burst and no further", () =>
    Effect.gen(function*() {
      const waitForToken = yield* makeRequestRateLimiter(10, 5)
      yield* Effect.all(Array.from({ length: 5 }, () => waitForToken))
      yield* TestClock.adjust("10 seconds")
      const fiber = yield* Effect.forkChild(Effect.all(Array.from({ length: 6 }, () => waitForToken)))
      yield* TestClock.adjust("99 millis")
      assert.isUndefined(fiber.pollUnsafe(), "the sixth request waits for a refill")
      yield* TestClock.adjust("1 millis")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
    }))

  it.effect("the defaults (100/s, burst 200) start a batch of 100 pod creates and their events without waiting", () =>
    Effect.gen(function*() {
      const granted = yield* grantTimes(100, 200, 400, "5 seconds")
      assert.strictEqual(granted.filter((at) => at === 0).length, 200)
      assert.strictEqual(granted.at(-1), 2_000)
    }))

  it.effect("qps 0 turns the limit off", () =>
    Effect.gen(function*() {
      const granted = yield* grantTimes(0, 0, 1_000, "0 millis")
      assert.strictEqual(granted.length, 1_000)
    }))
})

interface FakeApiServer {
  readonly url: string
  /** Every request as "METHOD path", in arrival order. */
  readonly requests: Array<string>
  /** How many requests the server holds unanswered right now. */
  readonly hanging: () => number
}

/** Listens on a free loopback port for the scope's life; returns the server's URL. */
const serve = (server: Server) =>
  Effect.gen(function*() {
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.sync(() => {
          server.closeAllConnections()
          server.close()
        })
    )
    const address = server.address()
    return `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
  })

/** A stand-in API server: pod creates hang (a slow or overloaded server), everything else answers at once. */
const fakeApiServer = Effect.gen(function*() {
  const requests: Array<string> = []
  const hanging = new Set<ServerResponse>()
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests.push(`${request.method} ${request.url}`)
    if (request.method === "POST" && request.url?.endsWith("/pods") === true) {
      hanging.add(response)
      response.on("close", () => hanging.delete(response))
      return
    }
    response.writeHead(200, { "content-type": "application/json" })
    response.end(JSON.stringify({ apiVersion: "v1", kind: "Status", metadata: { name: "x", resourceVersion: "1" } }))
  })
  return { url: yield* serve(server), requests, hanging: () => hanging.size } satisfies FakeApiServer
})

const kubeconfigFor = (url: string) => {
  const path = join(mkdtempSync(join(tmpdir(), "bwo-kubeclient-")), "kubeconfig")
  writeFileSync(path, JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "fake", cluster: { server: url, "insecure-skip-tls-verify": true } }],
    users: [{ name: "fake", user: { token: "t" } }],
    contexts: [{ name: "fake", context: { cluster: "fake", user: "fake" } }],
    "current-context": "fake"
  }))
  return path
}

const pod = (name: string): Pod => ({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "ns" }, spec: { containers: [] } })

const liveClients = (url: string, options: KubeClientOptions) =>
  Layer.build(kubeClientLayer({ kubeconfigPath: kubeconfigFor(url) }, options))

describe("live client", () => {
  it.live("leader election has its own path: a Lease read goes through while pod creates hold every permit", () =>
    Effect.gen(function*() {
      const api = yield* fakeApiServer
      const context = yield* liveClients(api.url, { maxConcurrentRequests: 2, qps: 100, burst: 200, watchTimeoutSeconds: 25 })
      const controller = Context.get(context, KubeClient)
      const elector = Context.get(context, LeaderElectionKubeClient)
      yield* Effect.forkChild(Effect.all(Array.from({ length: 10 }, (_, i) => controller.create("pods", pod(`p${i}`))), { concurrency: "unbounded" }))
      while (api.hanging() < 2) yield* Effect.sleep("10 millis")
      const controllerRead = yield* controller.get("leases", "ns", "lease").pipe(Effect.timeout("300 millis"), Effect.exit)
      assert.isTrue(Exit.isFailure(controllerRead), "the controller's own client is saturated")
      const lease = yield* elector.get("leases", "ns", "lease").pipe(Effect.timeout("2 seconds"))
      assert.strictEqual(lease.metadata.name, "x")
      assert.strictEqual(api.hanging(), 2, "the controller's bound on requests in flight still holds")
    }).pipe(Effect.scoped))

  it.live("paces requests at --kube-api-qps after the burst", () =>
    Effect.gen(function*() {
      const api = yield* fakeApiServer
      const context = yield* liveClients(api.url, { maxConcurrentRequests: 32, qps: 20, burst: 2, watchTimeoutSeconds: 25 })
      const controller = Context.get(context, KubeClient)
      const started = Date.now()
      yield* Effect.all(Array.from({ length: 8 }, () => controller.get("leases", "ns", "lease")), { concurrency: "unbounded" })
      // Two at once, then one every 50 ms: the eighth goes at 300 ms.
      assert.isAtLeast(Date.now() - started, 280)
      assert.strictEqual(api.requests.length, 8)
    }).pipe(Effect.scoped))

  it.live("reads a watch as the API server streams it: events split across chunks, a character split in two, bookmarks, the end", () =>
    Effect.gen(function*() {
      const events = [
        { type: "ADDED", object: { kind: "Pod", metadata: { name: "café", resourceVersion: "5" } } },
        { type: "BOOKMARK", object: { kind: "Pod", metadata: { resourceVersion: "6" } } },
        { type: "DELETED", object: { kind: "Pod", metadata: { name: "b", resourceVersion: "7" } } }
      ]
      const wire = Buffer.from(events.map((event) => JSON.stringify(event)).join("\n") + "\n")
      const split = wire.indexOf(Buffer.from("é")) + 1 // inside the two bytes of "é"
      const server = createServer((request, response) => {
        assert.include(request.url ?? "", "watch=1&resourceVersion=4")
        response.writeHead(200, { "content-type": "application/json" })
        response.write(wire.subarray(0, split))
        setTimeout(() => response.end(wire.subarray(split)), 50)
      })
      const context = yield* liveClients(yield* serve(server), { maxConcurrentRequests: 2, qps: 0, burst: 0, watchTimeoutSeconds: 25 })
      const received = yield* Stream.runCollect(Context.get(context, KubeClient).watch("pods", { namespace: "ns", resourceVersion: "4" }))
      assert.deepStrictEqual(received.map((event) => (event.type === "BOOKMARK" ? `BOOKMARK ${event.resourceVersion}` : `${event.type} ${event.object.metadata.name}`)), [
        "ADDED café",
        "BOOKMARK 6",
        "DELETED b"
      ])
    }).pipe(Effect.scoped))

  it.live("a delete carries its DeleteOptions (the uid precondition), and the connection stays usable after it", () =>
    Effect.gen(function*() {
      const received: Array<string> = []
      const server = createServer((request, response) => {
        let body = ""
        request.on("data", (chunk) => (body += String(chunk)))
        request.on("end", () => {
          received.push(`${request.method} ${body}`)
          response.writeHead(200, { "content-type": "application/json" })
          response.end(JSON.stringify({ metadata: { name: "x" } }))
        })
      })
      const context = yield* liveClients(yield* serve(server), { maxConcurrentRequests: 1, qps: 0, burst: 0, watchTimeoutSeconds: 25 })
      const client = Context.get(context, KubeClient)
      yield* client.remove("pods", "ns", "p1", { uid: "uid-1" })
      yield* client.get("pods", "ns", "p1")
      assert.strictEqual(received.length, 2)
      assert.deepInclude(JSON.parse(received[0]?.slice("DELETE ".length) ?? "{}"), { preconditions: { uid: "uid-1" } })
      assert.strictEqual(received[1], "GET ")
    }).pipe(Effect.scoped))
})
