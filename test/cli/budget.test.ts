// Issue 16 item 1: a crawl that would write well beyond a small disk budget stays within it (±10 %) and keeps
// fetching. The realistic demo (docs/model.md) writes a few MB a minute; the budget is 3 MB.
import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { mkdtempSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { crawlPastBudget, totalOf as total } from "../support/budgetDemo.js"

const BUDGET = 3_000_000

const fileSize = (f: string) => {
  try {
    return statSync(f).size
  } catch {
    return 0
  }
}

describe("disk budget (--max-db-size)", () => {
  it.live(
    "a crawl writing several times its budget stays within it (±10 %) and keeps fetching",
    () =>
      Effect.gen(function*() {
        const db = join(mkdtempSync(join(tmpdir(), "bitscrape-budget-")), "crawl.db")
        const samples: Array<number> = []
        const detail: Array<string> = []
        // What the file system holds, sampled four times a second: the database file and its WAL.
        const sampler = setInterval(() => {
          samples.push(fileSize(db) + fileSize(`${db}-wal`))
          detail.push(`${fileSize(db)}+${fileSize(`${db}-wal`)}`)
        }, 250)
        // Fetched torrents may be evicted for the budget too (by default they never are).
        const run = yield* crawlPastBudget(db, ["--max-db-size", "3MB", "--keep-torrents", "365d"], 12_000).pipe(
          Effect.ensuring(Effect.sync(() => clearInterval(sampler)))
        )
        assert.strictEqual(run.code, 0, run.stderr)
        const summary = run.lines.find((l) => l.summary === true)!
        const progress = run.lines.filter((l) => l.elapsed !== undefined && l.database !== undefined)

        // Within the budget (+10 %) the whole time, on disk.
        const largest = Math.max(...samples)
        yield* Effect.log(
          `largest ${largest} B of ${BUDGET} B budget; evicted ${JSON.stringify(summary.database!.evicted)}; ` +
            `torrents ${summary.written!.torrents}`
        )
        const at = samples.indexOf(largest)
        assert.isAtMost(
          largest,
          BUDGET * 1.1,
          `database file + WAL: ${detail.slice(Math.max(0, at - 8), at + 4).join(" ")}`
        )
        assert.isFalse(summary.database!.overBudget)

        // Well beyond it: more rows were evicted than the database holds at the end.
        const file = new Database(db, { readonly: true })
        const kept = ["infohash_peers", "infohashes", "nodes", "torrents"].reduce(
          (n, t) => n + (file.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n,
          0
        )
        const ok = file.pragma("integrity_check", { simple: true })
        file.close()
        assert.strictEqual(ok, "ok")
        assert.isAbove(total(summary.database!.evicted), kept, `evicted vs ${kept} rows kept`)

        // And it kept fetching after the budget was reached.
        const reached = progress.find((l) => total(l.database!.evicted) > 0)
        assert.isDefined(reached, "the budget was reached")
        assert.isAbove(summary.written!.torrents, reached!.written!.torrents, "torrents fetched after that")
      }),
    240_000
  )
})
