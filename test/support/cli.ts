// Runs the real `bitscrape` CLI (dist/main.js, built by test/globalSetup.ts) as a subprocess, under the loopback guard.
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { runProcess } from "./process.js"

/** The built CLI, as the package's `bin` runs it. */
export const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url))
/** The loopback guard, loaded into every CLI process with `--import`. */
export const GUARD = fileURLToPath(new URL("./loopbackGuard.mjs", import.meta.url))

/** Tests run many CLIs at once: the dashboard takes any free port instead of the default 8881. */
const testEnv = { NO_COLOR: "1", BITSCRAPE_UI_PORT: "0" }

export interface CliResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the CLI to completion (killed after `timeoutMs`, default 60 s). */
export const runCli = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  timeoutMs?: number,
  input?: string
): Promise<CliResult> =>
  runProcess(process.execPath, ["--import", GUARD, MAIN, ...args], {
    env: { ...testEnv, ...env },
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(input === undefined ? {} : { input })
  }).then((r) => ({ status: r.code, stdout: r.stdout, stderr: r.stderr }))

/** Starts the CLI without waiting; for long-running commands (crawl) driven by signals. */
export const spawnCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawn(process.execPath, ["--import", GUARD, MAIN, ...args], {
    env: { ...process.env, ...testEnv, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
