// Child processes of the control plane: each runs in its own process group, logs to a file,
// and is killed (the whole group) by stop(), on parent exit, and on SIGINT/SIGTERM.
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"

export interface ManagedProcess {
  readonly name: string
  readonly pid: number
  readonly logPath: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  /** Resolves with the exit code (or the signal name) when the process exits. */
  readonly exited: Promise<number | string>
  isRunning(): boolean
  /** SIGTERM to the process group, SIGKILL after `graceMs` (0: at once); resolves when it has exited. */
  stop(graceMs?: number): Promise<void>
  logTail(lines?: number): string
}

export interface StartProcessOptions {
  readonly name: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly logPath: string
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
}

const live = new Set<ManagedProcess>()
let hooksInstalled = false

const killGroup = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(-pid, signal)
  } catch {
    try {
      process.kill(pid, signal)
    } catch {
      // already gone
    }
  }
}

/** Kill every live child process group at once (synchronous; used on exit and signals). */
export const killAllNow = (): void => {
  for (const p of live) killGroup(p.pid, "SIGKILL")
  live.clear()
}

const installExitHooks = (): void => {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on("exit", killAllNow)
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const handler = (): void => {
      // Someone else handles this signal (vitest, scripts/dev.ts): leave the shutdown to them;
      // the "exit" hook still kills whatever is left when the process exits.
      if (process.listenerCount(signal) > 1) return
      // Nobody else: keep the default behaviour (terminate), but kill the children first.
      killAllNow()
      process.removeListener(signal, handler)
      process.kill(process.pid, signal)
    }
    process.on(signal, handler)
  }
}

export const readTail = (path: string, lines = 40): string => {
  try {
    const text = fs.readFileSync(path, "utf8")
    return text.split("\n").slice(-lines - 1).join("\n").trimEnd()
  } catch {
    return "(no log)"
  }
}

export const startProcess = (opts: StartProcessOptions): ManagedProcess => {
  installExitHooks()
  fs.appendFileSync(opts.logPath, `\n=== ${new Date().toISOString()} ${opts.command} ${opts.args.join(" ")}\n`)
  const fd = fs.openSync(opts.logPath, "a")
  let child: ChildProcess
  try {
    child = spawn(opts.command, [...opts.args], {
      detached: true, // own process group: stop() kills the group
      stdio: ["ignore", fd, fd],
      env: opts.env ?? process.env,
      cwd: opts.cwd
    })
  } finally {
    fs.closeSync(fd)
  }
  let running = true
  let resolveExit: (code: number | string) => void = () => {}
  const exited = new Promise<number | string>((resolve) => {
    resolveExit = resolve
  })
  child.on("exit", (code, signal) => {
    running = false
    resolveExit(code ?? signal ?? "unknown")
  })
  child.on("error", (err) => {
    running = false
    fs.appendFileSync(opts.logPath, `\nspawn error: ${err.message}\n`)
    resolveExit(`spawn error: ${err.message}`)
  })
  const pid = child.pid ?? -1
  const managed: ManagedProcess = {
    name: opts.name,
    pid,
    logPath: opts.logPath,
    command: opts.command,
    args: opts.args,
    exited,
    isRunning: () => running,
    stop: async (graceMs = 5_000) => {
      if (pid > 0) {
        // The group may outlive its leader (children of children): always signal the group.
        killGroup(pid, graceMs > 0 ? "SIGTERM" : "SIGKILL")
        const timer = setTimeout(() => killGroup(pid, "SIGKILL"), graceMs)
        // The child is unref'd: keep the event loop alive until its exit event arrives.
        const keepAlive = setInterval(() => {}, 1_000)
        await exited
        clearTimeout(timer)
        clearInterval(keepAlive)
        killGroup(pid, "SIGKILL")
      }
      live.delete(managed)
    },
    logTail: (lines) => readTail(opts.logPath, lines)
  }
  if (pid > 0) live.add(managed)
  // A child must never keep the parent's event loop alive.
  child.unref()
  return managed
}

/**
 * A watchdog that outlives a SIGKILLed parent: it polls the parent pid and, when the parent is
 * gone, SIGKILLs every process group listed in `pgidFile` and removes `removeDir` (if given).
 */
export const startReaper = (opts: { readonly pgidFile: string; readonly removeDir?: string; readonly logPath: string }): ManagedProcess => {
  const script = [
    `parent=${process.pid}`,
    `while kill -0 "$parent" 2>/dev/null; do sleep 1; done`,
    `if [ -f "$1" ]; then for pg in $(cat "$1"); do kill -9 "-$pg" 2>/dev/null; done; fi`,
    `if [ -n "$2" ]; then sleep 1; rm -rf -- "$2"; fi`
  ].join("\n")
  return startProcess({
    name: "reaper",
    command: "/bin/sh",
    args: ["-c", script, "reaper", opts.pgidFile, opts.removeDir ?? ""],
    logPath: opts.logPath
  })
}
