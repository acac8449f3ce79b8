import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { loadClusterAccess } from "../../src/kube/KubeConfig.ts"

const folder = () => mkdtempSync(join(tmpdir(), "bwo-kubeconfig-"))

const base64 = (text: string) => Buffer.from(text).toString("base64")

/** Writes a kubeconfig with two contexts: "main" (current) and "other". */
const writeKubeconfig = (dir: string, users: Record<string, unknown>) => {
  const path = join(dir, "config")
  writeFileSync(path, `
apiVersion: v1
kind: Config
current-context: main
clusters:
  - name: c1
    cluster:
      server: https://10.0.0.1:6443/
      certificate-authority-data: ${base64("CA ONE")}
  - name: c2
    cluster:
      server: https://c2.example:443
      certificate-authority: ca.crt
      tls-server-name: api.c2
contexts:
  - name: main
    context: { cluster: c1, user: main, namespace: team-a }
  - name: other
    context: { cluster: c2, user: other }
users:
${Object.entries(users).map(([name, user]) => `  - name: ${name}\n    user: ${JSON.stringify(user)}`).join("\n")}
`)
  return path
}

const failureMessage = <A>(effect: Effect.Effect<A, { readonly message: string }>) =>
  Effect.map(Effect.flip(effect), (error) => error.message)

describe("kubeconfig loading (kubectl's rules, without client-node)", () => {
  it.effect("the current context gives the server, the namespace, the CA and the client certificate", () =>
    Effect.gen(function*() {
      const path = writeKubeconfig(folder(), {
        main: { "client-certificate-data": base64("CERT"), "client-key-data": base64("KEY") },
        other: { token: "t" }
      })
      const access = yield* loadClusterAccess({ kubeconfigPath: path })
      assert.strictEqual(access.server, "https://10.0.0.1:6443")
      assert.strictEqual(access.namespace, "team-a")
      assert.strictEqual(access.tls.ca?.toString(), "CA ONE")
      assert.strictEqual(access.tls.cert?.toString(), "CERT")
      assert.strictEqual(access.tls.key?.toString(), "KEY")
      assert.isTrue(access.tls.rejectUnauthorized)
      assert.isUndefined(yield* access.authorization)
    }))

  it.effect("--context picks another context; its CA file is read relative to the kubeconfig", () =>
    Effect.gen(function*() {
      const dir = folder()
      writeFileSync(join(dir, "ca.crt"), "CA TWO")
      const path = writeKubeconfig(dir, { main: {}, other: { token: "secret" } })
      const access = yield* loadClusterAccess({ kubeconfigPath: path, context: "other" })
      assert.strictEqual(access.server, "https://c2.example:443")
      assert.strictEqual(access.tls.ca?.toString(), "CA TWO")
      assert.strictEqual(access.tls.servername, "api.c2")
      assert.strictEqual(yield* access.authorization, "Bearer secret")
    }))

  it.effect("names what is missing: an unknown context, a missing user, a file that is not there", () =>
    Effect.gen(function*() {
      const dir = folder()
      const path = writeKubeconfig(dir, { main: {} })
      assert.include(yield* failureMessage(loadClusterAccess({ kubeconfigPath: path, context: "nope" })), `no context named "nope"`)
      assert.include(yield* failureMessage(loadClusterAccess({ kubeconfigPath: path, context: "other" })), `no user named "other"`)
      assert.include(yield* failureMessage(loadClusterAccess({ kubeconfigPath: join(dir, "absent") })), "cannot read")
    }))

  it.effect("refuses the legacy auth-provider plugins with the way out", () =>
    Effect.gen(function*() {
      const path = writeKubeconfig(folder(), { main: { "auth-provider": { name: "gcp" } } })
      assert.include(yield* failureMessage(loadClusterAccess({ kubeconfigPath: path })), "use an exec credential plugin")
    }))

  it.effect("basic auth is sent as a Basic header", () =>
    Effect.gen(function*() {
      const path = writeKubeconfig(folder(), { main: { username: "admin", password: "pw" } })
      const access = yield* loadClusterAccess({ kubeconfigPath: path })
      assert.strictEqual(yield* access.authorization, `Basic ${base64("admin:pw")}`)
    }))

  it.effect("a token file is re-read after a minute, as bound service-account tokens rotate", () =>
    Effect.gen(function*() {
      const dir = folder()
      writeFileSync(join(dir, "token"), "first\n")
      const access = yield* loadClusterAccess({ kubeconfigPath: writeKubeconfig(dir, { main: { tokenFile: "token" } }) })
      assert.strictEqual(yield* access.authorization, "Bearer first")
      writeFileSync(join(dir, "token"), "second\n")
      assert.strictEqual(yield* access.authorization, "Bearer first", "still cached")
      yield* TestClock.adjust("61 seconds")
      assert.strictEqual(yield* access.authorization, "Bearer second")
    }))

  it.effect("an exec plugin runs once, its token is used until it expires or the server answers 401", () =>
    Effect.gen(function*() {
      const dir = folder()
      const runs = join(dir, "runs")
      const plugin = join(dir, "plugin.sh")
      writeFileSync(runs, "")
      writeFileSync(plugin, [
        "#!/bin/sh",
        `echo run >> ${runs}`,
        `echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"'$TOKEN_PREFIX'-1"}}'`
      ].join("\n"))
      chmodSync(plugin, 0o755)
      const path = writeKubeconfig(dir, {
        main: { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, env: [{ name: "TOKEN_PREFIX", value: "tk" }] } }
      })
      const access = yield* loadClusterAccess({ kubeconfigPath: path })
      assert.strictEqual(yield* access.authorization, "Bearer tk-1")
      assert.strictEqual(yield* access.authorization, "Bearer tk-1")
      assert.strictEqual(readFileSync(runs, "utf8").split("\n").filter(Boolean).length, 1)
      yield* access.invalidate
      yield* access.authorization
      assert.strictEqual(readFileSync(runs, "utf8").split("\n").filter(Boolean).length, 2)
    }))

  it.effect("in a pod: the service environment, the mounted CA and token, the pod's namespace", () =>
    Effect.gen(function*() {
      const root = folder()
      const dir = join(root, "var/run/secrets/kubernetes.io/serviceaccount")
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, "ca.crt"), "CLUSTER CA")
      writeFileSync(join(dir, "token"), "sa-token")
      writeFileSync(join(dir, "namespace"), "operators")
      const saved = { ...process.env }
      process.env["KUBERNETES_SERVICE_HOST"] = "fd00::1"
      process.env["KUBERNETES_SERVICE_PORT"] = "443"
      delete process.env["KUBECONFIG"]
      const access = yield* loadClusterAccess({ serviceAccountRoot: root }).pipe(
        Effect.ensuring(Effect.sync(() => {
          process.env = saved
        }))
      )
      assert.strictEqual(access.server, "https://[fd00::1]:443")
      assert.strictEqual(access.namespace, "operators")
      assert.strictEqual(access.tls.ca?.toString(), "CLUSTER CA")
      assert.strictEqual(yield* access.authorization, "Bearer sa-token")
    }))
})
