// Runs the real `bitscrape` CLI (src/main.ts through tsx) as a subprocess, under the loopback guard.
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url))
const GUARD = fileURLToPath(new URL("./loopbackGuard.mjs", import.meta.url))

/** Tests run many CLIs at once: the dashboard takes any free port instead of the default 8881. */
const testEnv = { NO_COLOR: "1", BITSCRAPE_UI_PORT: "0" }

export interface CliResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the CLI to completion. Asynchronous on purpose: a synchronous spawn would block the test worker's event
 * loop for seconds, and vitest's worker RPC times out.
 */
export const runCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", GUARD, "--import", "tsx", MAIN, ...args], {
      env: { ...process.env, ...testEnv, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (t: string) => (stdout += t))
    child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("error", reject)
    child.on("close", (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  })

/** Starts the CLI without waiting; for long-running commands (crawl) driven by signals. */
export const spawnCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawn(process.execPath, ["--import", GUARD, "--import", "tsx", MAIN, ...args], {
    env: { ...process.env, ...testEnv, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
