// Issue 16 item 1 on PostgreSQL: a crawl that would write well beyond a small disk budget stays within it (±10 %)
// and keeps fetching. The realistic demo (docs/model.md) writes about 10 MB into PostgreSQL in its first minute and
// a half (its torrents' full-text index is larger than SQLite's); the budget is 5 MB. What is measured is what the
// budget bounds (docs/scaling.md): the sum of pg_total_relation_size of BitScrape's tables, sampled by this test on
// its own connection twice a second.
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Redacted, Schedule } from "effect"
import { crawlPastBudget, totalOf as total } from "../support/budgetDemo.js"
import { makePostgresServer } from "../support/postgres.js"

const BUDGET = 5_000_000

const TABLES_SIZE = `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint AS n
  FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
  WHERE s.nspname = current_schema() AND c.relkind = 'r'`

describe("disk budget (--max-db-size) on PostgreSQL", () => {
  it.scopedLive(
    "a crawl writing well beyond its budget stays within it (±10 %) and keeps fetching",
    () =>
      Effect.gen(function*() {
        const server = yield* makePostgresServer()
        const url = yield* server.createDatabase(`budget_${process.pid}`)
        const sql = yield* Effect.map(
          Layer.build(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })),
          Context.get(SqlClient.SqlClient)
        )
        const samples: Array<number> = []
        const sampler = yield* sql.unsafe<{ n: string }>(TABLES_SIZE).pipe(
          Effect.tap((rows) => Effect.sync(() => samples.push(Number(rows[0]!.n)))),
          Effect.ignore,
          Effect.repeat(Schedule.spaced("500 millis")),
          Effect.fork
        )
        const run = yield* crawlPastBudget(url, [
          // Fetched torrents may be evicted for the budget too (by default they never are).
          ...["--max-db-size", "5MB", "--keep-torrents", "365d"],
          // Torrents arrive a few at a time: unbounded, the demo delivers batches of 50–100 torrents (1.5–3 MB
          // in PostgreSQL), more than the torrents' tables of a 5 MB database can make room for (docs/scaling.md).
          ...["--max-connections", "4"]
        ], 3_000)
        yield* Fiber.interrupt(sampler)
        assert.strictEqual(run.code, 0, run.stderr)
        const summary = run.lines.find((l) => l.summary === true)!
        const progress = run.lines.filter((l) => l.elapsed !== undefined && l.database !== undefined)

        // Within the budget (+10 %) the whole time, as PostgreSQL reports its files.
        const largest = Math.max(...samples)
        const final = Number((yield* sql.unsafe<{ n: string }>(TABLES_SIZE))[0]!.n)
        yield* Effect.log(
          `largest ${largest} B of ${BUDGET} B budget (${samples.length} samples; ${final} B at the end); evicted ` +
            `${JSON.stringify(summary.database!.evicted)}; torrents ${summary.written!.torrents}`
        )
        assert.isAtLeast(samples.length, 20)
        assert.isAtMost(largest, BUDGET * 1.1, `samples: ${samples.join(" ")}`)
        assert.isFalse(summary.database!.overBudget)
        // The crawl's own measure is the same as this one (the progress line and the dashboard show it).
        assert.strictEqual(summary.database!.budget, BUDGET)
        assert.isAtMost(Math.abs(summary.database!.bytes - final), BUDGET * 0.1)

        // Well beyond it: thousands of rows were evicted.
        assert.isAtLeast(total(summary.database!.evicted), 3_000)
        // And it kept fetching after the budget was reached.
        const reached = progress.find((l) => total(l.database!.evicted) > 0)
        assert.isDefined(reached, "the budget was reached")
        assert.isAbove(summary.written!.torrents, reached!.written!.torrents, "torrents fetched after that")
      }),
    240_000
  )
})
