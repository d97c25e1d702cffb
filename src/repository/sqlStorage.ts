import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { statSync } from "node:fs"
import type { DatabaseSize, EvictionClass } from "../domain/model.js"
import type { SqlBlocklist, SqlContext } from "./sqlBlocklist.js"

// Retention and eviction over SQL (docs/scaling.md "Disk budget and retention"): deleting old rows in bounded
// chunks (each its own short transaction, so writers are never held up for long), measuring the database, and
// giving freed pages back to the file system (SQLite incremental vacuum, WAL truncation).

type Row = Record<string, unknown>

const num = (x: unknown) => Number(x)

/** Rows deleted per eviction transaction. */
const EVICT_CHUNK = 500

export const makeSqlStorage = (
  c: SqlContext & {
    readonly transaction: <A, E>(operation: string, effect: Effect.Effect<A, E>) => Effect.Effect<A, unknown>
  },
  bl: SqlBlocklist
) => {
  const { dialect, placeholders, query } = c
  const [p1] = placeholders(1)

  /** Deletes up to `limit` rows of a class, oldest first (only those seen before `before`, when given). */
  const deleteOldest = (what: EvictionClass, limit: number, before?: number): Effect.Effect<number, SqlError> => {
    const params = before === undefined ? [limit] : [before, limit]
    const [a, b] = placeholders(2)
    const cut = (column: string, extra = "") =>
      before === undefined
        ? `${extra === "" ? "" : `WHERE ${extra}`} ORDER BY ${column} LIMIT ${p1}`
        : `WHERE ${column} < ${a}${extra === "" ? "" : ` AND ${extra}`} ORDER BY ${column} LIMIT ${b}`
    switch (what) {
      case "peers":
        return Effect.map(
          query(
            `DELETE FROM infohash_peers WHERE (hash, host, port) IN
             (SELECT hash, host, port FROM infohash_peers ${cut("last_seen")}) RETURNING hash`,
            params
          ),
          (rows) => rows.length
        )
      case "nodes":
        return Effect.map(
          query(
            `DELETE FROM nodes WHERE (id, host, port) IN (SELECT id, host, port FROM nodes ${cut("last_seen")})
             RETURNING id`,
            params
          ),
          (rows) => rows.length
        )
      case "infohashes":
        return Effect.gen(function*() {
          const rows = yield* query(`SELECT hash FROM infohashes ${cut("last_seen", "status <> 'fetched'")}`, params)
          return yield* bl.deleteInfohashes(rows.map((r) => Buffer.from(r.hash as Uint8Array)))
        })
      case "torrents":
        return Effect.gen(function*() {
          const rows: ReadonlyArray<Row> = yield* query(`SELECT id, hash FROM torrents ${cut("fetched_at")}`, params)
          yield* bl.deleteTorrents(rows.map((r) => num(r.id)))
          yield* bl.deleteInfohashes(rows.map((r) => Buffer.from(r.hash as Uint8Array)))
          return rows.length
        })
    }
  }

  /**
   * Deletes up to `limit` rows of a class, oldest first, EVICT_CHUNK rows per transaction. Eviction runs only under
   * a disk budget, where the WAL counts too: on SQLite each chunk's pages are checkpointed out of the WAL before the
   * next (one transaction deleting thousands of rows grew the WAL to a third of a 3 MB budget).
   */
  const evict = (what: EvictionClass, limit: number) =>
    Effect.gen(function*() {
      let left = Math.max(1, Math.floor(limit))
      let total = 0
      while (left > 0) {
        const want = Math.min(EVICT_CHUNK, left)
        const n = yield* c.transaction(`evict ${what}`, deleteOldest(what, want))
        if (dialect === "sqlite") yield* query("PRAGMA wal_checkpoint(TRUNCATE)")
        total += n
        left -= want
        if (n < want) break
      }
      return total
    })

  /** Deletes the rows of a class older than `before`, `chunk` rows per transaction; returns how many. */
  const expire = (what: EvictionClass, before: number, chunk = 5000) =>
    Effect.gen(function*() {
      let total = 0
      for (;;) {
        const n = yield* c.transaction(`expire ${what}`, deleteOldest(what, chunk, before))
        total += n
        if (n < chunk) return total
      }
    })

  /** Rows in each class (for proportional eviction and the dashboard). */
  const rows = Effect.gen(function*() {
    const n = (text: string) => Effect.map(query(text), (r) => num(r[0]!.n))
    return {
      peers: yield* n("SELECT count(*) AS n FROM infohash_peers"),
      infohashes: yield* n("SELECT count(*) AS n FROM infohashes WHERE status <> 'fetched'"),
      nodes: yield* n("SELECT count(*) AS n FROM nodes"),
      torrents: yield* n("SELECT count(*) AS n FROM torrents")
    } satisfies Record<EvictionClass, number>
  })

  const fileSize = (f: string) => {
    try {
      return statSync(f).size
    } catch {
      return 0
    }
  }

  const size: Effect.Effect<DatabaseSize, SqlError> = dialect === "pg"
    ? Effect.map(query("SELECT pg_database_size(current_database()) AS n"), (r) => {
      const bytes = num(r[0]!.n)
      return { bytes, used: bytes }
    })
    : Effect.gen(function*() {
      const [pages] = yield* query("PRAGMA page_count")
      const [free] = yield* query("PRAGMA freelist_count")
      const [pageSize] = yield* query("PRAGMA page_size")
      const files = yield* query("PRAGMA database_list")
      const file = String(files.find((f) => f.name === "main")?.file ?? "")
      const p = num(pageSize!.page_size)
      const used = (num(pages!.page_count) - num(free!.freelist_count)) * p
      const bytes = file === "" ? num(pages!.page_count) * p : fileSize(file) + fileSize(`${file}-wal`)
      return { bytes, used }
    })

  /**
   * Gives free pages back to the file system (SQLite; PostgreSQL's autovacuum makes them reusable). With a
   * budget, the WAL is kept to about 1/40 of it (checkpoints every that many pages, truncated to that size).
   */
  const reclaim = (budget: number | undefined): Effect.Effect<void, SqlError> =>
    dialect === "pg" ? Effect.void : Effect.gen(function*() {
      let walPages = 1000
      if (budget !== undefined) {
        const [pageSize] = yield* query("PRAGMA page_size")
        walPages = Math.min(1000, Math.max(16, Math.floor(budget / 40 / num(pageSize!.page_size))))
        yield* query(`PRAGMA wal_autocheckpoint = ${walPages}`)
        yield* query(`PRAGMA journal_size_limit = ${Math.floor(budget / 40)}`)
      }
      // Through a prepared statement (better-sqlite3's run()), each execution frees one page: run it once per free
      // page (at most 25,000 pages, ~100 MB, per pass; a no-op unless auto_vacuum is INCREMENTAL). Moving pages
      // writes them through the WAL, so it is truncated after every WAL's worth.
      const [free] = yield* query("PRAGMA freelist_count")
      const [mode] = yield* query("PRAGMA auto_vacuum")
      if (num(mode!.auto_vacuum) === 2) {
        for (let i = Math.min(25_000, num(free!.freelist_count)); i > 0; i--) {
          yield* query("PRAGMA incremental_vacuum")
          if (i % walPages === 0) yield* query("PRAGMA wal_checkpoint(TRUNCATE)")
        }
      }
      // The WAL grows to hold a checkpoint's worth of pages and then stays that size: truncate it after a pass.
      yield* query("PRAGMA wal_checkpoint(TRUNCATE)")
    })

  return { evict, expire, rows, size, reclaim }
}
