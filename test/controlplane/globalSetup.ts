// vitest globalSetup for the "integration" project: one control plane for all test files.
//
// It provides `controlPlane` (see TestControlPlaneInfo) to the tests; read it with
// `getTestControlPlane()` from test/controlplane/testing.ts (or `inject("controlPlane")`).
// Test files run in worker processes, so to restart kube-apiserver a test calls a tiny HTTP
// control endpoint on loopback served from this (the vitest main) process:
//   POST {controlUrl}/restart-apiserver?downMs=N&crash=true|false
//     -> 200 "ok" once /readyz is ok again, or 500 + the error
import * as http from "node:http"
import * as path from "node:path"
import type { TestProject } from "vitest/node"
import { startControlPlane, type ControlPlane } from "./controlPlane.ts"
import { resolveClientTool } from "./binaries.ts"
import type { TestControlPlaneInfo } from "./testing.ts"

declare module "vitest" {
  export interface ProvidedContext {
    controlPlane: TestControlPlaneInfo
  }
}

const startControlServer = (cp: ControlPlane): Promise<{ url: string; close: () => Promise<void> }> =>
  new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1")
      if (req.method === "POST" && url.pathname === "/restart-apiserver") {
        const downMs = Number(url.searchParams.get("downMs") ?? "0")
        const crash = url.searchParams.get("crash") === "true"
        cp.restartApiServer({ downMs: Number.isFinite(downMs) ? downMs : 0, crash }).then(
          () => {
            res.writeHead(200, { "content-type": "text/plain" }).end("ok")
          },
          (e: unknown) => {
            res.writeHead(500, { "content-type": "text/plain" }).end(e instanceof Error ? e.message : String(e))
          }
        )
        return
      }
      res.writeHead(404).end("not found")
    })
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address()
      const port = typeof addr === "object" && addr ? addr.port : 0
      server.unref()
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise<void>((r) => server.close(() => r()))
      })
    })
  })

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now()
  const cp = await startControlPlane()
  try {
    const control = cp.external ? undefined : await startControlServer(cp)
    const info: TestControlPlaneInfo = {
      kubeconfigPath: cp.kubeconfigPath,
      server: cp.server,
      caPath: cp.caPath ?? null,
      dir: cp.dir,
      external: cp.external,
      controlUrl: control?.url ?? null,
      kubectlPath: cp.binDir ? path.join(cp.binDir, "kubectl") : await resolveClientTool("kubectl"),
      helmPath: cp.binDir ? path.join(cp.binDir, "helm") : await resolveClientTool("helm")
    }
    project.provide("controlPlane", info)
    process.stderr.write(
      `[controlplane] ${cp.external ? "using existing cluster" : "started"} in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
        `KUBECONFIG=${cp.kubeconfigPath}\n`
    )
    return async () => {
      await control?.close()
      await cp.stop()
    }
  } catch (e) {
    await cp.stop()
    throw e
  }
}
