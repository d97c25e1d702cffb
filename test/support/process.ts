// Runs a child process to completion for tests. Asynchronous on purpose: a synchronous spawn would block the test
// worker's event loop for seconds, and vitest's worker RPC times out.
import { spawn } from "node:child_process"

export interface ProcessResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `command args` (killed after `timeoutMs`), collecting its output. */
export const runProcess = (
  command: string,
  args: ReadonlyArray<string>,
  options: {
    readonly cwd?: string
    readonly env?: Record<string, string>
    readonly timeoutMs?: number
    /** Written to the child's standard input (else it has none). */
    readonly input?: string
  } = {}
): Promise<ProcessResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"]
    })
    if (options.input !== undefined) child.stdin!.end(options.input)
    let stdout = ""
    let stderr = ""
    child.stdout!.setEncoding("utf8").on("data", (t: string) => (stdout += t))
    child.stderr!.setEncoding("utf8").on("data", (t: string) => (stderr += t))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
