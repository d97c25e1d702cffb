// Runs the real `bitscrape` CLI (src/main.ts through tsx) as a subprocess, under the loopback guard.
import { spawn, spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url))
const GUARD = fileURLToPath(new URL("./loopbackGuard.mjs", import.meta.url))

export interface CliResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

export const runCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}): CliResult => {
  const r = spawnSync(process.execPath, ["--import", GUARD, "--import", "tsx", MAIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...env },
    timeout: 60_000
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Starts the CLI without waiting; for long-running commands (crawl) driven by signals. */
export const spawnCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawn(process.execPath, ["--import", GUARD, "--import", "tsx", MAIN, ...args], {
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
