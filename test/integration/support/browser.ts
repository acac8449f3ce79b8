// Pages as a browser renders them: Debian's headless Chromium (package chromium, which .ci/run
// installs with apt-get). A test that needs it fails when it is missing; it never skips.
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"

const chromium = process.env["CHROMIUM"] ?? "/usr/bin/chromium"

const runChromium = (args: ReadonlyArray<string>) => {
  if (!existsSync(chromium)) {
    return Promise.reject(new Error(`no Chromium at ${chromium}: run .ci/run, or apt-get install chromium (CHROMIUM= names another)`))
  }
  return new Promise<string>((resolve, reject) =>
    execFile(
      chromium,
      ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", ...args],
      { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => (error ? reject(new Error(`chromium ${args.join(" ")}: ${error.message}\n${stderr}`)) : resolve(stdout))
    )
  )
}

/** The page's DOM after Chromium loaded and laid it out. */
export const renderedDom = (url: string) => runChromium(["--dump-dom", url])

/** A PNG of the page at the given window size. */
export const screenshot = (url: string, file: string, size = "1100,700") => runChromium([`--screenshot=${file}`, `--window-size=${size}`, url])
