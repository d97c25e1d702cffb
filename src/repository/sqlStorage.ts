import type { SqlError } from "@effect/sql/SqlError"
import { Effect, type ParseResult } from "effect"
import type { DatabaseSize, EvictionClass } from "../domain/model.js"
import { placeholdersOf } from "./dialect.js"
import type { SqlBlocklist, SqlContext } from "./sqlBlocklist.js"
import { CountRow, HashRow, TorrentHashRow } from "./sqlRows.js"

// Retention and eviction over SQL (docs/scaling.md "Disk budget and retention"): deleting old rows in bounded
// chunks (each its own short transaction, so writers are never held up for long), measuring the database, and
// giving freed pages back to the file system (SQLite incremental vacuum, WAL truncation; dialect.ts).

/** Rows deleted per eviction transaction. */
const EVICT_CHUNK = 500

export const makeSqlStorage = (
  c: SqlContext & {
    readonly transaction: <A, E>(operation: string, effect: Effect.Effect<A, E>) => Effect.Effect<A, unknown>
  },
  bl: SqlBlocklist
) => {
  const { dialect, run: query, select } = c
  const placeholders = (count: number, start = 0) => placeholdersOf(dialect, count, start)
  const [p1] = placeholders(1)

  /** Deletes up to `limit` rows of a class, oldest first (only those seen before `before`, when given). */
  const deleteOldest = (
    what: EvictionClass,
    limit: number,
    before?: number
  ): Effect.Effect<number, SqlError | ParseResult.ParseError> => {
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
          const rows = yield* select(
            HashRow,
            `SELECT hash FROM infohashes ${cut("last_seen", "status <> 'fetched'")}`,
            params
          )
          return yield* bl.deleteInfohashes(rows.map((r) => Buffer.from(r.hash)))
        })
      case "torrents":
        return Effect.gen(function*() {
          const rows = yield* select(TorrentHashRow, `SELECT id, hash FROM torrents ${cut("fetched_at")}`, params)
          yield* bl.deleteTorrents(rows.map((r) => r.id))
          yield* bl.deleteInfohashes(rows.map((r) => Buffer.from(r.hash)))
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
        for (const statement of dialect.afterEvictChunk) yield* query(statement)
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
    const n = (text: string) => Effect.map(select(CountRow, text), (r) => r[0]!.n)
    return {
      peers: yield* n("SELECT count(*) AS n FROM infohash_peers"),
      infohashes: yield* n("SELECT count(*) AS n FROM infohashes WHERE status <> 'fetched'"),
      nodes: yield* n("SELECT count(*) AS n FROM nodes"),
      torrents: yield* n("SELECT count(*) AS n FROM torrents")
    } satisfies Record<EvictionClass, number>
  })

  const db = { run: query, select }
  const size: Effect.Effect<DatabaseSize, SqlError | ParseResult.ParseError> = dialect.size(db)

  /**
   * Gives free pages back to the file system (SQLite; PostgreSQL's autovacuum makes them reusable). With a
   * budget, the WAL is kept to about 1/40 of it (checkpoints every that many pages, truncated to that size).
   */
  const reclaim = (budget: number | undefined) => dialect.reclaim(budget, db)

  return { evict, expire, rows, size, reclaim }
}
