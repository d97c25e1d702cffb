import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Effect, type ParseResult, Schema } from "effect"
import type { DatabaseSize, EvictionClass } from "../domain/model.js"
import { SqlNumber, type SqlRunner, SqlText } from "./sqlRows.js"

// What a disk budget measures on PostgreSQL (docs/scaling.md "Disk budget and retention"), and how freed space is
// made reusable. Only core functions: no contrib extension (pgstattuple, pg_freespacemap) is needed.
//
// - `bytes`: the sum of pg_total_relation_size (heap, TOAST, indexes, free space and visibility maps) of the
//   tables of the schema BitScrape runs in — not pg_database_size, which counts the catalogs of an empty database
//   (7.5 MB) and every other schema.
// - `used`: what the live rows take. PostgreSQL never shrinks a table's files after DELETE: a plain VACUUM (not
//   FULL, which locks the table) records the space of deleted rows as free, and new rows fill it, so the files stop
//   growing. Each table's live bytes are read from its rows (pg_column_size of every row, or of a sample of
//   SAMPLE_PAGES pages of a larger table); its indexes count in the same share as its heap.
// - `free`: the space new rows reuse (left by VACUUM); what remains, bytes − used − free, is dead row versions
//   (deleted or updated rows, counted by pg_stat_user_tables) that only a VACUUM makes reusable.

/** A table larger than this many pages is measured on a sample of them (TABLESAMPLE SYSTEM). */
const SAMPLE_PAGES = 256
/** A sampled table's measure is reused this long (ms), unless a reclaim ran since. */
const SAMPLE_TTL = 5_000
/** A table is vacuumed at most once per this many times its last VACUUM took (at most 20 % of the time). */
const VACUUM_GAP = 4

/** The tables whose rows each eviction class deletes: their free space is reused by that class's rows only. */
const CLASS_OF: Readonly<Record<string, EvictionClass>> = {
  infohash_peers: "peers",
  infohashes: "infohashes",
  infohash_hours: "infohashes",
  nodes: "nodes",
  torrents: "torrents",
  files: "torrents",
  // Each torrent's words (migration 0012), deleted with it.
  torrent_words: "torrents"
}

const TableRow = Schema.Struct({
  name: SqlText,
  total: SqlNumber,
  main: SqlNumber,
  heap: SqlNumber,
  live: SqlNumber,
  dead: SqlNumber,
  block: SqlNumber
})
const LiveRow = Schema.Struct({ n: SqlNumber, bytes: SqlNumber })

/** BitScrape's tables (those of the current schema): sizes and the cumulative statistics' row counts. */
const TABLES = `SELECT quote_ident(c.relname) AS name, pg_total_relation_size(c.oid) AS total,
    pg_relation_size(c.oid) AS main,
    pg_relation_size(c.oid) + COALESCE(pg_total_relation_size(NULLIF(c.reltoastrelid, 0)), 0) AS heap,
    COALESCE(s.n_live_tup, 0) AS live, COALESCE(s.n_dead_tup, 0) AS dead,
    current_setting('block_size')::int AS block
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
  WHERE n.nspname = current_schema() AND c.relkind = 'r'`

/** One table's live rows: how many and their bytes in heap + TOAST (tuple, alignment, line pointer). */
interface Live {
  readonly rows: number
  readonly bytes: number
  readonly at: number
}

/** A table's share of the measure. */
export interface TableSpace {
  readonly total: number
  /** Bytes of the heap (with TOAST) that live rows fill; the rest is dead rows or free. */
  readonly heap: number
  readonly live: number
  readonly dead: number
}

/**
 * Splits a table's bytes into used, dead and free: the indexes count in the same shares as the heap. An empty
 * heap (a new table: its indexes' metapages) counts as used.
 */
export const splitTable = (t: TableSpace): { used: number; dead: number; free: number } => {
  if (t.heap <= 0) return { used: t.total, dead: 0, free: 0 }
  const live = Math.min(t.heap, t.live)
  const dead = Math.min(t.heap - live, t.dead)
  const used = t.total * live / t.heap
  const deadBytes = t.total * dead / t.heap
  return { used, dead: deadBytes, free: Math.max(0, t.total - used - deadBytes) }
}

/** The measure and VACUUM of one repository's PostgreSQL database (its sample cache and VACUUM timings). */
export const makePgSpace = () => {
  const sampled = new Map<string, Live>()
  const vacuumed = new Map<string, { readonly end: number; readonly took: number }>()

  const liveOf = (db: SqlRunner, name: string, pages: number, block: number, now: number) =>
    Effect.gen(function*() {
      const cached = sampled.get(name)
      if (cached !== undefined && now - cached.at < SAMPLE_TTL) return cached
      const share = pages <= SAMPLE_PAGES ? 1 : SAMPLE_PAGES / pages
      const [row] = yield* db.select(
        LiveRow,
        `SELECT count(*) AS n, COALESCE(sum(((pg_column_size(t.*) + 7) / 8) * 8 + 4), 0) AS bytes FROM ${name} t${
          share < 1 ? ` TABLESAMPLE SYSTEM (${(share * 100).toFixed(4)})` : ""
        }`
      )
      // Each page loses its 24-byte header to the rows.
      const live = { rows: row!.n / share, bytes: row!.bytes / share * block / (block - 24), at: now }
      if (share < 1) sampled.set(name, live)
      return live
    })

  const size = (db: SqlRunner): Effect.Effect<DatabaseSize, SqlError | ParseResult.ParseError> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const tables = yield* db.select(TableRow, TABLES)
      let bytes = 0
      let used = 0
      let free = 0
      const classes: Partial<Record<EvictionClass, { total: number; free: number }>> = {}
      for (const t of tables) {
        const live = t.heap === 0 ? { rows: 0, bytes: 0 } : yield* liveOf(db, t.name, t.main / t.block, t.block, now)
        const perRow = live.rows > 0 ? live.bytes / live.rows : t.heap / Math.max(1, t.live + t.dead)
        const s = splitTable({ total: t.total, heap: t.heap, live: live.bytes, dead: t.dead * perRow })
        bytes += t.total
        used += s.used
        free += s.free
        const what = CLASS_OF[t.name]
        if (what !== undefined) {
          const c = classes[what] ?? { total: 0, free: 0 }
          c.total += t.total
          c.free += s.free + s.dead
          classes[what] = c
        }
      }
      return { bytes, used: Math.round(used), free: Math.round(free), classes }
    })

  /**
   * VACUUMs (plain, SKIP_LOCKED: never waiting for another process's VACUUM or lock) each table with dead rows
   * (at least 1 % of its rows), so their space is reused; a large table at most 20 % of the time.
   */
  const reclaim = (db: SqlRunner): Effect.Effect<void, SqlError | ParseResult.ParseError> =>
    Effect.gen(function*() {
      sampled.clear()
      const tables = yield* db.select(TableRow, TABLES)
      for (const t of tables) {
        if (t.dead === 0 || t.dead < 0.01 * (t.live + t.dead)) continue
        const start = yield* Clock.currentTimeMillis
        const last = vacuumed.get(t.name)
        if (last !== undefined && start - last.end < VACUUM_GAP * last.took) continue
        yield* db.run(`VACUUM (SKIP_LOCKED) ${t.name}`)
        const end = yield* Clock.currentTimeMillis
        vacuumed.set(t.name, { end, took: end - start })
      }
    })

  return { size, reclaim }
}
