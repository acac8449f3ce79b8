/**
 * Finding the cluster and the credentials, the way kubectl and client-go do:
 * a kubeconfig file (flag, then $KUBECONFIG, then ~/.kube/config) or the pod's
 * service account. Our own, not client-node's KubeConfig: importing that loads
 * every generated API model (about 75 MB resident before the first object),
 * which alone broke the memory budget. See README "Decisions".
 */
import { execFile } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { homedir } from "node:os"
import { delimiter, dirname, isAbsolute, join } from "node:path"
import { isIPv6 } from "node:net"
import { Clock, Effect, Schema } from "effect"
import { load as parseYaml } from "js-yaml"
import { KubeApiError } from "./KubeClient.ts"

const NameValue = Schema.Struct({ name: Schema.String, value: Schema.String })

const ExecConfig = Schema.Struct({
  command: Schema.String,
  args: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.String))),
  env: Schema.optionalKey(Schema.NullOr(Schema.Array(NameValue))),
  apiVersion: Schema.optionalKey(Schema.String)
})

const ClusterEntry = Schema.Struct({
  server: Schema.String,
  "certificate-authority": Schema.optionalKey(Schema.String),
  "certificate-authority-data": Schema.optionalKey(Schema.String),
  "insecure-skip-tls-verify": Schema.optionalKey(Schema.Boolean),
  "tls-server-name": Schema.optionalKey(Schema.String),
  "proxy-url": Schema.optionalKey(Schema.String)
})

const UserEntry = Schema.Struct({
  token: Schema.optionalKey(Schema.String),
  tokenFile: Schema.optionalKey(Schema.String),
  username: Schema.optionalKey(Schema.String),
  password: Schema.optionalKey(Schema.String),
  "client-certificate": Schema.optionalKey(Schema.String),
  "client-certificate-data": Schema.optionalKey(Schema.String),
  "client-key": Schema.optionalKey(Schema.String),
  "client-key-data": Schema.optionalKey(Schema.String),
  exec: Schema.optionalKey(ExecConfig),
  "auth-provider": Schema.optionalKey(Schema.Struct({ name: Schema.String }))
})

const ContextEntry = Schema.Struct({
  cluster: Schema.String,
  user: Schema.optionalKey(Schema.String),
  namespace: Schema.optionalKey(Schema.String)
})

const KubeconfigFile = Schema.Struct({
  clusters: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.Struct({ name: Schema.String, cluster: ClusterEntry })))),
  users: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.Struct({ name: Schema.String, user: UserEntry })))),
  contexts: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.Struct({ name: Schema.String, context: ContextEntry })))),
  "current-context": Schema.optionalKey(Schema.String)
})
type KubeconfigFile = typeof KubeconfigFile.Type
type UserEntry = typeof UserEntry.Type

/** What a request needs to reach the API server as the configured user. */
export interface ClusterAccess {
  /** https://host:port, no trailing slash. */
  readonly server: string
  /** The context's namespace, if it names one (the service account's own in a pod). */
  readonly namespace: string | undefined
  readonly tls: {
    readonly ca?: Buffer | undefined
    readonly cert?: Buffer | undefined
    readonly key?: Buffer | undefined
    readonly rejectUnauthorized: boolean
    readonly servername?: string | undefined
  }
  /** The Authorization header for the next request, if the user has one; re-read or re-run as its source requires. */
  readonly authorization: Effect.Effect<string | undefined, KubeApiError>
  /** Forget a cached credential after the server answered 401, so the next request fetches a fresh one. */
  readonly invalidate: Effect.Effect<void>
}

export interface KubeConfigSource {
  /** A kubeconfig file; otherwise $KUBECONFIG, then the pod's service account, then ~/.kube/config. */
  readonly kubeconfigPath?: string | undefined
  /** A context other than the file's current-context (kubectl's --context). */
  readonly context?: string | undefined
  /** Where the service-account files are mounted, as a prefix of /var/run/secrets/...; "" in a real pod. */
  readonly serviceAccountRoot?: string | undefined
}

const invalid = (message: string) => new KubeApiError({ reason: "Invalid", message: `cannot load kubeconfig: ${message}` })

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const readFile = (path: string) =>
  Effect.try({ try: () => readFileSync(path), catch: (cause) => invalid(`cannot read ${path}: ${describe(cause)}`) })

/** A `-data` field (base64) or a file path relative to the kubeconfig's folder; data wins, as in client-go. */
const material = (data: string | undefined, file: string | undefined, base: string) =>
  data !== undefined
    ? Effect.succeed<Buffer | undefined>(Buffer.from(data, "base64"))
    : file !== undefined
    ? readFile(isAbsolute(file) ? file : join(base, file))
    : Effect.succeed(undefined)

/** A bearer token file, re-read at most once a minute: bound service-account tokens rotate (client-go does the same). */
const tokenFromFile = (path: string) => {
  let cached: { readonly token: string; readonly readAt: number } | undefined
  return Effect.flatMap(Clock.currentTimeMillis, (now) => {
    if (cached !== undefined && now - cached.readAt < 60_000) return Effect.succeed(cached.token)
    return Effect.map(readFile(path), (content) => {
      cached = { token: content.toString("utf8").trim(), readAt: now }
      return cached.token
    })
  })
}

const ExecCredential = Schema.Struct({
  status: Schema.Struct({
    token: Schema.optionalKey(Schema.String),
    expirationTimestamp: Schema.optionalKey(Schema.String)
  })
})
const decodeExecCredential = Schema.decodeUnknownEffect(Schema.fromJsonString(ExecCredential))

/**
 * An exec credential plugin (client.authentication.k8s.io): run the command,
 * use its token until the credential's expiry. Plugins that hand out client
 * certificates are not supported; the error says so.
 */
const execCredential = (exec: typeof ExecConfig.Type) => {
  let cached: { readonly token: string; readonly expiresAt: number } | undefined
  const run = Effect.callback<string, KubeApiError>((resume) => {
    const env = { ...process.env, ...Object.fromEntries((exec.env ?? []).map(({ name, value }) => [name, value])) }
    execFile(exec.command, [...(exec.args ?? [])], { env, timeout: 60_000 }, (error, stdout, stderr) => {
      resume(
        error !== null
          ? Effect.fail(invalid(`exec credential plugin ${exec.command} failed: ${stderr.trim() || error.message}`))
          : decodeExecCredential(stdout).pipe(
            Effect.mapError(() => invalid(`exec credential plugin ${exec.command} printed no ExecCredential`)),
            Effect.flatMap(({ status }) =>
              status.token === undefined
                ? Effect.fail(invalid(`exec credential plugin ${exec.command} gave no token (client certificates from plugins are not supported)`))
                : Effect.sync(() => {
                  const expiresAt = status.expirationTimestamp !== undefined ? Date.parse(status.expirationTimestamp) : Infinity
                  cached = { token: status.token ?? "", expiresAt }
                  return cached.token
                })
            )
          )
      )
    })
  })
  return {
    token: Effect.flatMap(Clock.currentTimeMillis, (now) => (cached !== undefined && cached.expiresAt > now ? Effect.succeed(cached.token) : run)),
    invalidate: Effect.sync(() => {
      cached = undefined
    })
  }
}

const bearer = (token: Effect.Effect<string, KubeApiError>) => Effect.map(token, (value) => `Bearer ${value}`)

/** The Authorization header source of a kubeconfig user; basic auth and static tokens are fixed. */
const authorizationOf = (user: UserEntry, base: string): Pick<ClusterAccess, "authorization" | "invalidate"> => {
  if (user.exec !== undefined) {
    const plugin = execCredential(user.exec)
    return { authorization: bearer(plugin.token), invalidate: plugin.invalidate }
  }
  const fixed = (header: string | undefined) => ({ authorization: Effect.succeed(header), invalidate: Effect.void })
  if (user.token !== undefined) return fixed(`Bearer ${user.token}`)
  if (user.tokenFile !== undefined) {
    return { authorization: bearer(tokenFromFile(isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile))), invalidate: Effect.void }
  }
  if (user.username !== undefined) {
    return fixed(`Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`)
  }
  return fixed(undefined)
}

const decodeKubeconfig = Schema.decodeUnknownEffect(KubeconfigFile)

const parseKubeconfig = (path: string) =>
  Effect.gen(function*() {
    const text = (yield* readFile(path)).toString("utf8")
    const raw = yield* Effect.try({ try: () => parseYaml(text), catch: (cause) => invalid(`${path} is not YAML: ${describe(cause)}`) })
    return yield* decodeKubeconfig(raw ?? {}).pipe(Effect.mapError((issue) => invalid(`${path}: ${issue.message}`)))
  })

const findNamed = <T extends { readonly name: string }>(list: ReadonlyArray<T> | null | undefined, name: string, what: string) =>
  Effect.suspend(() => {
    const found = (list ?? []).find((item) => item.name === name)
    return found === undefined ? Effect.fail(invalid(`no ${what} named "${name}"`)) : Effect.succeed(found)
  })

/** The access a kubeconfig's context describes. */
export const accessFromKubeconfig = (config: KubeconfigFile, path: string, contextName?: string) =>
  Effect.gen(function*() {
    const name = contextName ?? config["current-context"]
    if (name === undefined || name === "") return yield* invalid(`${path} has no current-context`)
    const { context } = yield* findNamed(config.contexts, name, "context")
    const { cluster } = yield* findNamed(config.clusters, context.cluster, "cluster")
    const user: UserEntry = context.user === undefined ? {} : (yield* findNamed(config.users, context.user, "user")).user
    if (user["auth-provider"] !== undefined) {
      return yield* invalid(
        `user "${context.user}" uses the auth-provider "${user["auth-provider"].name}", which kubectl dropped in 1.26; use an exec credential plugin`
      )
    }
    if (cluster["proxy-url"] !== undefined) return yield* invalid(`cluster "${context.cluster}" sets proxy-url, which is not supported`)
    const base = dirname(path)
    const access: ClusterAccess = {
      server: cluster.server.replace(/\/$/, ""),
      namespace: context.namespace,
      tls: {
        ca: yield* material(cluster["certificate-authority-data"], cluster["certificate-authority"], base),
        cert: yield* material(user["client-certificate-data"], user["client-certificate"], base),
        key: yield* material(user["client-key-data"], user["client-key"], base),
        rejectUnauthorized: cluster["insecure-skip-tls-verify"] !== true,
        servername: cluster["tls-server-name"]
      },
      ...authorizationOf(user, base)
    }
    return access
  })

const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

/** In a pod: the API server from the service environment, the mounted CA and the (rotating) service-account token. */
const inClusterAccess = (root: string) =>
  Effect.gen(function*() {
    const host = process.env["KUBERNETES_SERVICE_HOST"] ?? ""
    const port = process.env["KUBERNETES_SERVICE_PORT"] ?? "443"
    const dir = `${root}${serviceAccountDir}`
    const namespaceFile = `${dir}/namespace`
    const access: ClusterAccess = {
      server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
      namespace: existsSync(namespaceFile) ? readFileSync(namespaceFile, "utf8").trim() : undefined,
      tls: { ca: yield* readFile(`${dir}/ca.crt`), rejectUnauthorized: true },
      authorization: bearer(tokenFromFile(`${dir}/token`)),
      invalidate: Effect.void
    }
    return access
  })

/**
 * The first file of $KUBECONFIG that exists. (kubectl merges all of them;
 * one file is what the operator and the tests use.)
 */
const kubeconfigFromEnvironment = () =>
  (process.env["KUBECONFIG"] ?? "").split(delimiter).find((path) => path !== "" && existsSync(path))

/**
 * Finds the cluster the way kubectl does (flag, $KUBECONFIG, in-cluster,
 * ~/.kube/config) and fails with what is missing, never falling back to
 * localhost:8080 as client-node does.
 */
export const loadClusterAccess = (source: KubeConfigSource): Effect.Effect<ClusterAccess, KubeApiError> =>
  Effect.suspend(() => {
    const path = source.kubeconfigPath ?? kubeconfigFromEnvironment()
    if (path === undefined && (process.env["KUBERNETES_SERVICE_HOST"] ?? "") !== "" && source.context === undefined) {
      return inClusterAccess(source.serviceAccountRoot ?? "")
    }
    const home = join(homedir(), ".kube", "config")
    const file = path ?? (existsSync(home) ? home : undefined)
    if (file === undefined) {
      return Effect.fail(invalid("no kubeconfig found: set KUBECONFIG, create ~/.kube/config, or run in a pod with a service account"))
    }
    return Effect.flatMap(parseKubeconfig(file), (config) => accessFromKubeconfig(config, file, source.context))
  })
