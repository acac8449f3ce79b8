// `npm run dev`'s stand-in for a kubelet that runs reporting pods. kwok's fake pods run nothing,
// so a workload with `spec.reports` (samples/node-report.yaml) would never report on the dev
// cluster. For each pod that carries the callback environment, the pod's own command runs here,
// once, on the host: with the pod's environment and a token bound to the pod (a TokenRequest for
// its service account and the operator's audience, what the kubelet's projected volume holds).
// The operator then sees exactly the calls the pod would make.
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { boundPodToken, kubectl } from "../test/controlplane/index.ts"

interface PodEnv {
  readonly name: string
  readonly value?: string
}
interface DevPod {
  readonly metadata: { readonly name: string; readonly namespace: string; readonly uid: string }
  readonly spec: {
    readonly nodeName?: string
    readonly serviceAccountName?: string
    readonly containers: ReadonlyArray<{ readonly command?: ReadonlyArray<string>; readonly args?: ReadonlyArray<string>; readonly env?: ReadonlyArray<PodEnv> }>
    readonly volumes?: ReadonlyArray<{ readonly projected?: { readonly sources?: ReadonlyArray<{ readonly serviceAccountToken?: { readonly audience?: string } }> } }>
  }
}

/** The audience of the pod's projected service-account token: the one the operator checks. */
const tokenAudience = (pod: DevPod) =>
  pod.spec.volumes?.flatMap((volume) => volume.projected?.sources ?? []).find((source) => source.serviceAccountToken !== undefined)
    ?.serviceAccountToken?.audience

/** Runs the pod's command with its environment; resolves to what to say about it. */
const runAsPod = (command: ReadonlyArray<string>, env: Record<string, string>) =>
  new Promise<string>((resolve) => {
    const [file = "sh", ...args] = command
    execFile(file, args, { env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...env }, timeout: 60_000 }, (error, _stdout, stderr) =>
      resolve(error ? `its command failed: ${error.message.split("\n")[0]} ${stderr.trim()}` : "its command ran and reported"))
  })

/** Plays each reporting pod once, every 2 s looking for new ones, until the process ends. */
export const playReportingPods = (kubeconfig: string, say: (message: string) => void) => {
  const played = new Set<string>()
  const tokens = fs.mkdtempSync(path.join(os.tmpdir(), "bwo-dev-tokens-"))
  const playOne = async (pod: DevPod) => {
    const container = pod.spec.containers[0]
    const env = Object.fromEntries((container?.env ?? []).flatMap((entry) => entry.value === undefined ? [] : [[entry.name, entry.value]]))
    const audience = tokenAudience(pod)
    if (env["CALLBACK_SERVICE_RESULT_URL"] === undefined || audience === undefined || pod.spec.nodeName === undefined) return
    played.add(pod.metadata.uid)
    const command = [...(container?.command ?? []), ...(container?.args ?? [])]
    if (command.length === 0) return say(`pod ${pod.metadata.name} reports, but sets no command to run here (its image's entrypoint)`)
    const tokenFile = path.join(tokens, pod.metadata.uid)
    const { name, namespace, uid } = pod.metadata
    fs.writeFileSync(tokenFile, await boundPodToken({ kubeconfig }, { name, namespace, uid, serviceAccount: pod.spec.serviceAccountName }, audience))
    say(`pod ${pod.metadata.namespace}/${pod.metadata.name} on ${pod.spec.nodeName}: ${await runAsPod(command, { ...env, CALLBACK_SERVICE_TOKEN_FILE: tokenFile })}`)
  }
  const tick = async () => {
    const listed = await kubectl(["get", "pods", "-A", "-o", "json"], { kubeconfig })
    if (listed.code !== 0) return
    const pods: ReadonlyArray<DevPod> = JSON.parse(listed.stdout).items
    for (const pod of pods) if (!played.has(pod.metadata.uid)) await playOne(pod).catch((error: unknown) => say(`playing pod ${pod.metadata.name}: ${String(error)}`))
  }
  const timer = setInterval(() => void tick(), 2_000)
  return () => {
    clearInterval(timer)
    fs.rmSync(tokens, { recursive: true, force: true })
  }
}
