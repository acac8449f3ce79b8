// Running the kubectl built with the control plane (v1.34, same as the API server), and helm
// the same way (both read $KUBECONFIG).
import { spawn } from "node:child_process"
import { resolveKubectl } from "./binaries.ts"

export interface KubectlOptions {
  readonly kubeconfig: string
  /** Written to kubectl's stdin (e.g. a manifest for `apply -f -`). */
  readonly input?: string
  readonly cwd?: string
  /** Kill kubectl after this long (default 120 s); the result then has code null. */
  readonly timeoutMs?: number
  /** kubectl binary (default: resolveKubectl(): $BWO_KUBECTL or the built one). */
  readonly kubectlPath?: string
}

export interface KubectlResult {
  readonly stdout: string
  readonly stderr: string
  /** Exit code, or null when kubectl was killed (timeout or signal). */
  readonly code: number | null
}

/** Runs `kubectl <args>` against `kubeconfig`. Never throws for a non-zero exit: check `code`. */
export const kubectl = async (args: ReadonlyArray<string>, opts: KubectlOptions): Promise<KubectlResult> =>
  runClientTool(opts.kubectlPath ?? (await resolveKubectl()), args, opts)

/** Runs `bin <args>` (kubectl, helm) with KUBECONFIG=`kubeconfig`. Never throws for a non-zero exit. */
export const runClientTool = (bin: string, args: ReadonlyArray<string>, opts: KubectlOptions): Promise<KubectlResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(bin, [...args], {
      cwd: opts.cwd,
      env: { ...process.env, KUBECONFIG: opts.kubeconfig },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(new Error(`could not run ${bin}: ${e.message}`))
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ stdout, stderr, code })
    })
    child.stdin.on("error", () => {}) // kubectl may exit before reading stdin
    child.stdin.end(opts.input ?? "")
  })

/** Like kubectl(), but throws (with stderr) unless kubectl exits 0; returns stdout. */
export const kubectlOk = async (args: ReadonlyArray<string>, opts: KubectlOptions): Promise<string> => {
  const r = await kubectl(args, opts)
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited with ${r.code}:\n${r.stderr}${r.stdout}`)
  return r.stdout
}

/**
 * A service-account token bound to one pod (TokenRequest with a bound object reference), for
 * `audience`: what the kubelet's projected token volume gives that pod. Throws unless kubectl
 * made one.
 */
export const boundPodToken = async (
  opts: KubectlOptions,
  pod: { readonly namespace: string; readonly name: string; readonly uid: string; readonly serviceAccount?: string | undefined },
  audience: string
): Promise<string> =>
  (await kubectlOk([
    "-n", pod.namespace, "create", "token", pod.serviceAccount ?? "default",
    "--bound-object-kind", "Pod", "--bound-object-name", pod.name, "--bound-object-uid", pod.uid,
    "--audience", audience, "--duration", "10m"
  ], opts)).trim()
