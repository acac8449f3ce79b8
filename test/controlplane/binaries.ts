// Locating (and if needed building) the control-plane binaries.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot: string = fileURLToPath(new URL("../../", import.meta.url))
export const buildScript: string = path.join(repoRoot, "scripts", "build-control-plane.sh")

export const binaryNames = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok", "helm"] as const
export type BinaryName = (typeof binaryNames)[number]

const missingIn = (dir: string): Array<string> =>
  binaryNames.filter((b) => {
    try {
      fs.accessSync(path.join(dir, b), fs.constants.X_OK)
      return false
    } catch {
      return true
    }
  })

const runScript = (args: ReadonlyArray<string>, onLog: (line: string) => void): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn("bash", [buildScript, ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    let partial = ""
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on("data", (d: Buffer) => {
      const text = d.toString()
      stderr += text
      partial += text
      const lines = partial.split("\n")
      partial = lines.pop() ?? ""
      for (const line of lines) onLog(line)
    })
    child.on("error", reject)
    child.on("exit", (code) => {
      if (partial) onLog(partial)
      resolve({ code, stdout, stderr })
    })
  })

/** The bin directory the build script would use (nothing is built). */
export const expectedBinDir = async (): Promise<string> => {
  const r = await runScript(["--print-bin-dir"], () => {})
  const dir = r.stdout.trim().split("\n").pop() ?? ""
  if (r.code !== 0 || dir === "") throw new Error(`${buildScript} --print-bin-dir failed:\n${r.stderr}`)
  return dir
}

/**
 * Returns a directory holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
 * kubectl, kwok and helm. BWO_CONTROLPLANE_BIN_DIR wins; otherwise scripts/build-control-plane.sh
 * builds them (a no-op when they are cached).
 */
export const ensureBinaries = async (onLog: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<string> => {
  const fromEnv = process.env["BWO_CONTROLPLANE_BIN_DIR"]
  if (fromEnv) {
    const missing = missingIn(fromEnv)
    if (missing.length > 0) throw new Error(`BWO_CONTROLPLANE_BIN_DIR=${fromEnv} lacks: ${missing.join(", ")}`)
    return fromEnv
  }
  const r = await runScript([], onLog)
  const dir = r.stdout.trim().split("\n").pop() ?? ""
  if (r.code !== 0 || dir === "") {
    throw new Error(
      `building the control-plane binaries failed (${buildScript} exited with ${r.code}).\n` +
        `--- last lines of its output ---\n${r.stderr.split("\n").slice(-30).join("\n")}`
    )
  }
  const missing = missingIn(dir)
  if (missing.length > 0) throw new Error(`${buildScript} finished but ${dir} lacks: ${missing.join(", ")}`)
  return dir
}

/** The client tools the tests run beside the control plane, with the variable that overrides each. */
const clientTools = { kubectl: "BWO_KUBECTL", helm: "BWO_HELM" } as const
export type ClientTool = keyof typeof clientTools

const clientToolCache = new Map<ClientTool, string>()

/**
 * The kubectl or helm to use: $BWO_KUBECTL / $BWO_HELM, else the one built by the build script
 * (built if needed), else the tool from PATH when nothing can be built (existing-cluster mode
 * without Go).
 */
export const resolveClientTool = async (tool: ClientTool): Promise<string> => {
  const cached = clientToolCache.get(tool)
  if (cached) return cached
  const found = await findClientTool(tool)
  clientToolCache.set(tool, found)
  return found
}

const findClientTool = async (tool: ClientTool): Promise<string> => {
  const fromEnv = process.env[clientTools[tool]]
  if (fromEnv) return fromEnv
  const binDir = process.env["BWO_CONTROLPLANE_BIN_DIR"] ?? (await expectedBinDir())
  const candidate = path.join(binDir, tool)
  if (fs.existsSync(candidate)) return candidate
  try {
    return path.join(await ensureBinaries(), tool)
  } catch (e) {
    if (process.env["KUBECONFIG_FOR_TESTS"]) return tool
    throw e
  }
}

export const resolveKubectl = (): Promise<string> => resolveClientTool("kubectl")
