// The disk-budget tests' crawl (issue 16 item 1): `bitscrape demo --profile realistic … --json` with a budget, stopped
// with Ctrl-C once it has evicted plenty and fetched more since it first evicted (a busy machine crawls slower, so
// this does not go by the clock; --duration is the backstop).
import { Effect } from "effect"
import { spawnCli } from "./cli.js"

/** The fields of a `--json` progress or summary line that the budget tests read. */
export interface BudgetLine {
  readonly elapsed?: number
  readonly summary?: boolean
  readonly written?: { readonly torrents: number }
  readonly database?: {
    readonly bytes: number
    readonly budget: number | null
    readonly evicted: Record<string, number>
    readonly expired: Record<string, number>
    readonly overBudget: boolean
  }
}

export const totalOf = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0)

/**
 * Runs the realistic demo into `db` with `args` (the budget and its options) until it has evicted `evictedAtLeast`
 * rows and written 5 more torrents since its first eviction; its exit code, stderr and `--json` lines.
 */
export const crawlPastBudget = (db: string, args: ReadonlyArray<string>, evictedAtLeast: number) =>
  Effect.async<{ code: number | null; lines: Array<BudgetLine>; stderr: string }>((resume) => {
    const child = spawnCli([
      "demo",
      ...["--profile", "realistic", "--duration", "170", "--max-pps", "1000", "--db", db, "--json", "--no-ui"],
      ...args
    ], { BITSCRAPE_PROGRESS_INTERVAL: "1", BITSCRAPE_HOUSEKEEPING_INTERVAL: "1" })
    let out = ""
    let stderr = ""
    let firstEvictionTorrents: number | undefined
    let stopping = false
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      out += t
      const last = out.split("\n").filter((l) => l.startsWith("{\"elapsed")).at(-1)
      if (last === undefined || stopping) return
      const l = JSON.parse(last) as BudgetLine
      const evicted = totalOf(l.database?.evicted ?? {})
      if (evicted > 0 && firstEvictionTorrents === undefined) firstEvictionTorrents = l.written!.torrents
      if (evicted >= evictedAtLeast && l.written!.torrents >= (firstEvictionTorrents ?? Infinity) + 5) {
        stopping = true
        child.kill("SIGINT")
      }
    })
    child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t))
    child.on("exit", (code) =>
      resume(Effect.succeed({
        code,
        stderr,
        lines: out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as BudgetLine)
      })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })
