// Test-side access to the control plane started by globalSetup.ts (for files in test/integration/).
import { inject } from "vitest"
import * as k8s from "@kubernetes/client-node"
import { kubectl, type KubectlResult, runClientTool } from "./kubectl.ts"

/** What globalSetup.ts provides as `controlPlane` (must be serializable). */
export interface TestControlPlaneInfo {
  readonly kubeconfigPath: string
  readonly server: string
  readonly caPath: string | null
  readonly dir: string
  /** true with KUBECONFIG_FOR_TESTS (existing cluster): the API server cannot be restarted. */
  readonly external: boolean
  /** Loopback control endpoint of the vitest main process (null for an existing cluster). */
  readonly controlUrl: string | null
  readonly kubectlPath: string
  /** helm, found as kubectl is (built beside the control plane, or $BWO_HELM). */
  readonly helmPath: string
}

export interface TestControlPlane extends TestControlPlaneInfo {
  /** A fresh KubeConfig loaded from kubeconfigPath. */
  kubeConfig(): k8s.KubeConfig
  /** kubectl with this control plane's kubeconfig. */
  kubectl(args: ReadonlyArray<string>, input?: string): Promise<KubectlResult>
  /** helm with this control plane's kubeconfig. */
  helm(args: ReadonlyArray<string>): Promise<KubectlResult>
  /**
   * Stops kube-apiserver (gracefully, or SIGKILL with `crash: true`), waits `downMs`, starts it
   * again on the same port and resolves once /readyz is ok. etcd keeps running, so all objects
   * and resourceVersions survive; open watches are cut.
   */
  restartApiServer(options?: { readonly downMs?: number; readonly crash?: boolean }): Promise<void>
}

export const getTestControlPlane = (): TestControlPlane => {
  const info = inject("controlPlane")
  if (!info) {
    throw new Error("no control plane: run this file in the vitest project \"integration\" (globalSetup test/controlplane/globalSetup.ts)")
  }
  return {
    ...info,
    kubeConfig: () => {
      const kc = new k8s.KubeConfig()
      kc.loadFromFile(info.kubeconfigPath)
      return kc
    },
    kubectl: (args, input) => kubectl(args, { kubeconfig: info.kubeconfigPath, kubectlPath: info.kubectlPath, ...(input === undefined ? {} : { input }) }),
    helm: (args) => runClientTool(info.helmPath, args, { kubeconfig: info.kubeconfigPath, timeoutMs: 300_000 }),
    restartApiServer: async (options) => {
      if (!info.controlUrl) throw new Error("restartApiServer is not available with KUBECONFIG_FOR_TESTS (an existing cluster)")
      const query = `downMs=${options?.downMs ?? 0}&crash=${options?.crash === true}`
      const res = await fetch(`${info.controlUrl}/restart-apiserver?${query}`, {
        method: "POST",
        signal: AbortSignal.timeout(180_000)
      })
      if (!res.ok) throw new Error(`restarting kube-apiserver failed: ${await res.text()}`)
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls until `check` returns a value (not undefined); on timeout fails with the last error seen. */
export const eventually = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last !== undefined ? `; last: ${String(last)}` : ""}`)
    await sleep(200)
  }
}
