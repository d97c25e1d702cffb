// Issue 16 item 5: kill -9 of the real `crawl` CLI, 20 times at random moments (starting up, migrating,
// crawling, fetching), against one SQLite file and one PostgreSQL database. Every restart opens cleanly, the
// database passes its integrity check after every kill (SQLite `integrity_check`; PostgreSQL amcheck over every
// B-tree index), nothing the crawl reported as written is missing, and the next start marks the sessions left
// open as interrupted.
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Redacted } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeDemoSwarm } from "../../src/demo/swarm.js"
import { spawnCli } from "../support/cli.js"
import { makePostgresServer } from "../support/postgres.js"

const KILLS = 20

interface Written {
  readonly discoveries: number
  readonly nodes: number
  readonly torrents: number
  readonly failures: number
}
const none: Written = { discoveries: 0, nodes: 0, torrents: 0, failures: 0 }
const add = (a: Written, b: Written): Written => ({
  discoveries: a.discoveries + b.discoveries,
  nodes: a.nodes + b.nodes,
  torrents: a.torrents + b.torrents,
  failures: a.failures + b.failures
})

interface Run {
  readonly code: number | null
  readonly signal: string | null
  /** The last `written` totals the crawl printed before it ended. */
  readonly written: Written
  readonly stderr: string
}

/**
 * Runs `crawl` on `db` and kills it with SIGKILL `killAfter.ms` after it started, or after its first progress line
 * (`from: "crawling"`); without `killAfter`, --duration ends it.
 */
const crawl = (
  db: string,
  bootstrap: string,
  bind: string,
  killAfter: { readonly ms: number; readonly from: "spawn" | "crawling" } | undefined
) =>
  Effect.async<Run>((resume) => {
    const child = spawnCli([
      "crawl",
      "--json",
      "--no-ui",
      ...["--allow", "127.0.0.0/8", "--bootstrap", bootstrap, "--bind", bind, "--port", "0", "--db", db],
      ...(killAfter === undefined ? ["--duration", "3"] : [])
    ], { BITSCRAPE_PROGRESS_INTERVAL: "1" })
    let written = none
    let pending = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      pending += t
      const lines = pending.split("\n")
      pending = lines.pop()!
      for (const l of lines) {
        if (!l.startsWith("{")) continue
        const w = (JSON.parse(l) as { written?: Written }).written
        if (w === undefined) continue
        if (killAfter?.from === "crawling" && timer === undefined) {
          timer = setTimeout(() => child.kill("SIGKILL"), killAfter.ms)
        }
        written = w
      }
    })
    child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t))
    let timer = killAfter?.from === "spawn" ? setTimeout(() => child.kill("SIGKILL"), killAfter.ms) : undefined
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, signal, written, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** What is stored, in the units `written` counts (each sighting adds to a counter). */
interface Stored extends Written {
  readonly ok: string
  readonly sessions: ReadonlyArray<{ readonly id: number; readonly state: string | null; readonly ended: boolean }>
}

const STORED_SQL = {
  discoveries:
    "SELECT COALESCE(sum(seen_sample + seen_get_peers + seen_announce + seen_lookup), 0) AS n FROM infohashes",
  nodes: "SELECT COALESCE(sum(times_seen), 0) AS n FROM nodes",
  torrents: "SELECT count(*) AS n FROM torrents",
  failures: "SELECT COALESCE(sum(attempts), 0) AS n FROM infohashes",
  sessions: "SELECT id, state, ended_at FROM sessions ORDER BY id"
}

const sqliteStored = (file: string): Stored => {
  // Opening it read-write is what the next start does (it also replays the WAL).
  const db = new Database(file)
  try {
    const ok = String(db.pragma("integrity_check", { simple: true }))
    // Killed before its first migration committed: no tables yet (the next start migrates).
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'bitscrape_migrations'").get() === undefined) {
      return { ok, ...none, sessions: [] }
    }
    const n = (q: string) => Number((db.prepare(q).get() as { n: number }).n)
    const sessions =
      (db.prepare(STORED_SQL.sessions).all() as Array<{ id: number; state: string | null; ended_at: number | null }>)
        .map((r) => ({ id: r.id, state: r.state, ended: r.ended_at !== null }))
    return {
      ok,
      discoveries: n(STORED_SQL.discoveries),
      nodes: n(STORED_SQL.nodes),
      torrents: n(STORED_SQL.torrents),
      failures: n(STORED_SQL.failures),
      sessions
    }
  } finally {
    db.close()
  }
}

const pgStored = (url: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe("CREATE EXTENSION IF NOT EXISTS amcheck")
    // Every B-tree index of our tables, checked with its heap (bt_index_check … heapallindexed).
    const indexes = yield* sql.unsafe<{ name: string }>(
      `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE a.amname = 'btree' AND n.nspname = 'public'`
    )
    for (const i of indexes) yield* sql.unsafe(`SELECT bt_index_check('${i.name}'::regclass, true)`)
    const [migrated] = yield* sql.unsafe<{ t: string | null }>("SELECT to_regclass('sessions')::text AS t")
    if (migrated?.t == null) return { ok: "ok", ...none, sessions: [] } satisfies Stored
    const n = (q: string) => Effect.map(sql.unsafe<{ n: string }>(q), (rows) => Number(rows[0]!.n))
    const sessions = yield* sql.unsafe<{ id: string; state: string | null; ended_at: string | null }>(
      STORED_SQL.sessions
    )
    return {
      ok: indexes.length > 0 ? "ok" : "no indexes",
      discoveries: yield* n(STORED_SQL.discoveries),
      nodes: yield* n(STORED_SQL.nodes),
      torrents: yield* n(STORED_SQL.torrents),
      failures: yield* n(STORED_SQL.failures),
      sessions: sessions.map((r) => ({ id: Number(r.id), state: r.state, ended: r.ended_at !== null }))
    } satisfies Stored
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })), Effect.scoped)

/** 20 kills at random moments, a clean run, and the checks after each. */
const killTwenty = (db: string, bind: string, bootstrap: string, stored: () => Effect.Effect<Stored, unknown>) =>
  Effect.gen(function*() {
    let reported = none
    for (let k = 0; k < KILLS; k++) {
      // Half the kills at a random moment of start-up (loading, opening, migrating, joining), half at a random
      // moment of the first 2 s of crawling (writing, fetching).
      const after = k % 2 === 0
        ? { ms: 300 + Math.floor(Math.random() * 2700), from: "spawn" as const }
        : { ms: Math.floor(Math.random() * 2000), from: "crawling" as const }
      const run = yield* crawl(db, bootstrap, bind, after)
      assert.strictEqual(run.signal, "SIGKILL", `run ${k} ended by itself (code ${run.code}): ${run.stderr}`)
      reported = add(reported, run.written)
      const s = yield* stored()
      assert.strictEqual(s.ok, "ok", `integrity after kill ${k}`)
      // Counters only grow, and every batch the crawl reported is committed.
      for (const key of ["discoveries", "nodes", "torrents", "failures"] as const) {
        assert.isAtLeast(
          s[key],
          reported[key],
          `${key} reported as written after kill ${k} (${after.ms} ms after ${after.from})`
        )
      }
    }
    const final = yield* crawl(db, bootstrap, bind, undefined)
    assert.strictEqual(final.code, 0, `the run after ${KILLS} kills: ${final.stderr}`)
    reported = add(reported, final.written)
    const s = yield* stored()
    assert.strictEqual(s.ok, "ok")
    for (const key of ["discoveries", "nodes", "torrents", "failures"] as const) {
      assert.isAtLeast(s[key], reported[key], key)
    }
    // Every session but the last was killed: the starts after them marked them interrupted.
    const last = s.sessions[s.sessions.length - 1]!
    assert.deepStrictEqual({ state: last.state, ended: last.ended }, { state: "ended", ended: true })
    const killed = s.sessions.slice(0, -1)
    assert.deepStrictEqual(killed.filter((x) => x.state !== "interrupted" || !x.ended), [], "killed sessions")
    assert.isAtLeast(killed.length, KILLS / 2, "half the kills came while crawling")
    assert.isAbove(reported.discoveries, 0)
    assert.isAbove(reported.torrents, 0, "metadata was fetched and reported between kills")
    return { reported, stored: s }
  })

describe("kill -9 of the real crawl, 20 times", () => {
  it.scopedLive(
    "SQLite and PostgreSQL: clean restarts, intact databases, nothing reported missing, sessions interrupted",
    () =>
      Effect.gen(function*() {
        const server = yield* makePostgresServer()
        const swarm = yield* makeDemoSwarm({ nodes: 40, torrents: 30, seeders: 4, log: () => Effect.void })
        const bootstrap = `${swarm.bootstrap.host}:${swarm.bootstrap.port}`
        const file = join(mkdtempSync(join(tmpdir(), "bitscrape-kill9-")), "crawl.db")
        const url = yield* server.createDatabase(`kill9_${process.pid}`)
        const [sqlite, pg] = yield* Effect.all([
          killTwenty(file, "127.66.0.1", bootstrap, () => Effect.sync(() => sqliteStored(file))),
          killTwenty(url, "127.66.0.2", bootstrap, () => pgStored(url))
        ], { concurrency: 2 })
        yield* Effect.log(
          `sqlite: reported ${JSON.stringify(sqlite.reported)}, stored ${
            JSON.stringify({ ...sqlite.stored, sessions: sqlite.stored.sessions.length })
          }`
        )
        yield* Effect.log(
          `postgres: reported ${JSON.stringify(pg.reported)}, stored ${
            JSON.stringify({ ...pg.stored, sessions: pg.stored.sessions.length })
          }`
        )
      }),
    400_000
  )
})
