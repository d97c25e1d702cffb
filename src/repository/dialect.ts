import type { SqlError } from "@effect/sql/SqlError"
import { Effect, type ParseResult, Schema } from "effect"
import { statSync } from "node:fs"
import type { DatabaseSize } from "../domain/model.js"
import { SIGHTINGS_INDEXED_FROM } from "./analysisAggregates.js"
import { makePgSpace } from "./pgSpace.js"
import { SqlNumber, type SqlRunner, SqlText } from "./sqlRows.js"
import { fts5Query, searchWords, tsQuery } from "./sqlText.js"

// Every difference between the two SQL backends, in one place: one object per dialect, used by the rest of the
// SQL repository (sqlRepository.ts, sqlBlocklist.ts, sqlStorage.ts, analysisSql.ts), which never asks which
// dialect it runs on. The differences: placeholders ($n or ?), parameter limits, MIN/MAX of two values, LIKE's
// case, the full-text index (PostgreSQL: a tsvector column of `torrents`; SQLite: a contentless FTS5 table kept
// beside it, with faster paths of its own for text-only searches), connection settings, the catalog queries,
// the popular sort's plan, the extension of a path, and measuring and shrinking the database.

/** Longest text of a torrent's file paths (and, on PostgreSQL, name and paths) put into the full-text index. */
export const MAX_INDEXED_TEXT = 64 * 1024

/** A statement and its parameters. */
export interface Statement {
  readonly text: string
  readonly params: ReadonlyArray<unknown>
}

/** Collects parameters while a statement's text is built; each value's placeholder in the order it is bound. */
export interface Binder {
  readonly params: Array<unknown>
  /** Binds a value; its placeholder. */
  readonly bind: (value: unknown) => string
  /**
   * Binds a list (`a,b,c`); `again()` gives the text for the same list at a later place of the statement
   * (PostgreSQL reuses its numbered placeholders, SQLite binds the values once more).
   */
  readonly list: (values: ReadonlyArray<unknown>) => { readonly text: string; readonly again: () => string }
}

/** Where a text search finds its torrents. */
export interface TextMatch {
  /** The FROM clause (torrents aliased `t`). */
  readonly from: string
  /** A WHERE condition, when the match is not in FROM. */
  readonly where: string | undefined
  /** An ORDER BY term ranking by relevance (absent when not computed). */
  readonly rank: string | undefined
  /** The relevance as a value (absent when not computed) and whether larger is better. */
  readonly score: { readonly expr: string; readonly descending: boolean } | undefined
}

export interface FullText {
  /** INSERT of a torrent (`columns` and their `values`), RETURNING id, nothing when it is stored already. */
  readonly insertTorrent: (
    columns: string,
    values: ReadonlyArray<unknown>,
    name: string,
    paths: string
  ) => Statement
  /** What indexes a torrent just inserted, when the index is apart from the row. */
  readonly indexTorrent: ((id: number, name: string, paths: string) => Statement) | undefined
  /** What removes a torrent from the index before its row goes, when the index needs the indexed text for it. */
  readonly unindexTorrent: ((id: number, name: string, paths: string) => Statement) | undefined
  /**
   * The match of `words` (`whole`: every word whole): `bounded`, only the most recent `bounded` matches;
   * `ranked`: whether the order needs the rank; `covered`: the statement reads of `t` only the columns of the
   * covering index `torrents_cover` (migration 0012), which then serves the join (SQLite).
   */
  readonly match: (
    b: Binder,
    words: ReadonlyArray<string>,
    whole: boolean,
    bounded: number | false,
    ranked: boolean,
    covered?: boolean
  ) => TextMatch
  /** How many torrents the words match, counting at most `atMost` (rows: CountRow). */
  readonly count: (words: ReadonlyArray<string>, whole: boolean, atMost: number) => Statement
  /**
   * The index's own listing of matching ids, newest (largest id) first (rows: HitRow, with `rank` when `ranked`),
   * cheap enough for a one-pass
   * count and page on text alone; undefined when the index has none.
   */
  readonly hits:
    | ((words: ReadonlyArray<string>, whole: boolean, ranked: boolean, limit: number) => Statement)
    | undefined
  /**
   * Relevance order on text alone straight from the index: the page's `columns` (of `t`) joined to the index's
   * best `limit` from `offset` (among its newest `window` matches, when given); undefined when the index has none.
   */
  readonly rankedPage:
    | ((
      words: ReadonlyArray<string>,
      whole: boolean,
      window: number | false,
      columns: string,
      limit: number,
      offset: number
    ) => Statement)
    | undefined
  /** A condition on `t`: its id is in the list (bound as one parameter), for `hits`; undefined without them. */
  readonly byIds: ((b: Binder, ids: ReadonlyArray<number>) => string) | undefined
}

/**
 * PostgreSQL's work_mem for an analysis' statements: the day window's sort of ~350 k hourly rows stays in memory
 * (docs/benchmarks.md, "popularity on PostgreSQL, sort-based").
 */
export const PG_ANALYSIS_WORK_MEM = "64MB"

export interface Dialect {
  readonly name: "sqlite" | "pg"
  /** The Repository's `backend`. */
  readonly backend: "sqlite" | "postgres"
  /** Most parameters bound to one statement (SQLite: ~500-row statements keep each statement journal small). */
  readonly maxParams: number
  /** The smaller / larger of two values. */
  readonly least: string
  readonly greatest: string
  /** Case-insensitive LIKE. */
  readonly ilike: string
  /** The n-th placeholder, from 1. */
  readonly placeholder: (n: number) => string
  readonly binder: () => Binder
  /** Statements run once when the repository opens for writing or reading. */
  readonly setup: ReadonlyArray<string>
  /** Does table $1 have column $2 / does table $1 exist (rows: any when it does). */
  readonly hasColumn: string
  readonly hasTable: string
  /** Does index $1 exist (rows: any when it does). */
  readonly hasIndex: string
  /** What undoes a failed COMMIT (SQLite keeps the transaction open after one). */
  readonly afterFailedCommit: string | undefined
  readonly fullText: FullText
  /** The full text of a database from before the current layout, when it differs (opened read-only, unmigrated). */
  readonly fullTextBefore?: FullText
  /**
   * The "popular" sort: the larger of distinct peers seen and the BEP 33 swarm estimate (`swarm`: the columns exist),
   * with the FROM it needs.
   */
  readonly popular: (from: string, swarm: boolean) => { readonly from: string; readonly order: string }
  /**
   * Set (SET LOCAL) in the transaction of an analysis that groups a large window (popularity's week): PostgreSQL
   * sums it in index order rather than in a hash table of millions of infohashes.
   */
  readonly analysisSettings: ReadonlyArray<string>
  /**
   * Infohashes with at least this many sightings are in an index by sightings (SQLite, migration 0011), which serves
   * the all-time top when enough qualify; undefined: no such index (PostgreSQL ranks every row).
   */
  readonly sightingsIndexedFrom: number | undefined
  /**
   * A column in a condition or grouping that should not pick an index: SQLite sums a day or week of
   * `infohash_hours` in one pass in key (infohash) order rather than looking each hour's rows up and sorting them,
   * and scans `torrents` rather than reading it in category order through an index.
   */
  readonly scanned: (column: string) => string
  /** A query of every file's `ext` (as categories.ts extensionOf) and `length`. */
  readonly fileExtensions: string
  /** Run at the end of each eviction chunk's transaction (PostgreSQL: its statistics reach the server at once). */
  readonly inEvictTransaction: ReadonlyArray<string>
  /** After each eviction chunk: give the WAL's pages back (a disk budget counts the WAL). */
  readonly afterEvictChunk: ReadonlyArray<string>
  /**
   * The lock that lets one process at a time apply retention and the budget to a database several crawlers share
   * (PostgreSQL: a session advisory lock, `acquire` yields `ok`); undefined where there is none to take.
   */
  readonly housekeepingLock: { readonly acquire: string; readonly release: string } | undefined
  /** Measuring and reclaiming a database's space (one per repository: it may keep state). */
  readonly space: () => Space
}

/** Measuring and reclaiming space. */
export interface Space {
  /** The database's size on disk and the bytes its live rows use. */
  readonly size: (db: SqlRunner) => Effect.Effect<DatabaseSize, SqlError | ParseResult.ParseError>
  /**
   * Makes freed space reusable (PostgreSQL: VACUUM) or gives it back to the file system (SQLite: incremental
   * vacuum, keeping the WAL to about 1/40 of a budget).
   */
  readonly reclaim: (
    budget: number | undefined,
    db: SqlRunner
  ) => Effect.Effect<void, SqlError | ParseResult.ParseError>
}

const placeholders = (d: Pick<Dialect, "placeholder">, count: number, start = 0) =>
  Array.from({ length: count }, (_, i) => d.placeholder(start + i + 1))

/** `count` placeholders from the `start`-th (0-based). */
export const placeholdersOf = placeholders

/** `rows` tuples of `width` placeholders each: `(?,?),(?,?)`. */
export const tuplesOf = (d: Pick<Dialect, "placeholder">, rows: number, width: number) =>
  Array.from({ length: rows }, (_, r) => `(${placeholders(d, width, r * width).join(",")})`).join(",")

const fileSize = (f: string) => {
  try {
    return statSync(f).size
  } catch {
    return 0
  }
}

const PageSize = Schema.Struct({ page_size: SqlNumber })
const PageCount = Schema.Struct({ page_count: SqlNumber })
const FreelistCount = Schema.Struct({ freelist_count: SqlNumber })
const AutoVacuum = Schema.Struct({ auto_vacuum: SqlNumber })
const DatabaseFile = Schema.Struct({ name: SqlText, file: SqlText })

// === SQLite ===

export const sqlite: Dialect = {
  name: "sqlite",
  backend: "sqlite",
  maxParams: 3_500,
  least: "min",
  greatest: "max",
  ilike: "LIKE",
  placeholder: () => "?",
  binder: () => {
    const params: Array<unknown> = []
    const bind = (v: unknown) => {
      params.push(v)
      return "?"
    }
    return {
      params,
      bind,
      list: (values) => {
        const once = () => values.map(bind).join(",")
        return { text: once(), again: once }
      }
    }
  },
  setup: [
    // Wait for other processes' write locks instead of failing at once; WAL + NORMAL keeps every committed
    // transaction across a process crash (kill -9), fsyncing at checkpoints.
    "PRAGMA busy_timeout = 10000",
    "PRAGMA synchronous = NORMAL",
    // A multi-row upsert journals each page it changes so the statement can be undone alone; keeping that
    // statement journal in memory instead of a temp file raised ingest by ~25% (docs/benchmarks.md).
    "PRAGMA temp_store = MEMORY"
  ],
  hasColumn: "SELECT 1 AS x FROM pragma_table_info(?) WHERE name = ?",
  hasTable: "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = ?",
  hasIndex: "SELECT 1 AS x FROM sqlite_master WHERE type = 'index' AND name = ?",
  afterFailedCommit: "ROLLBACK",
  fullText: {
    insertTorrent: (columns, values) => ({
      text: `INSERT INTO torrents (${columns}) VALUES (${values.map(() => "?").join(",")})
             ON CONFLICT (hash) DO NOTHING RETURNING id`,
      params: values
    }),
    indexTorrent: (id, name, paths) => ({
      text: "INSERT INTO torrents_fts (rowid, name, paths) VALUES (?, ?, ?)",
      params: [id, name, paths]
    }),
    // A contentless FTS5 index forgets a row only when given the exact text it indexed.
    unindexTorrent: (id, name, paths) => ({
      text: "INSERT INTO torrents_fts (torrents_fts, rowid, name, paths) VALUES ('delete', ?, ?, ?)",
      params: [id, name, paths]
    }),
    match: (b, words, whole, bounded, ranked, covered = false) => {
      if (bounded !== false) {
        // The rank (bm25) is computed for each row the subquery yields: only when the order needs it.
        return {
          from: `(SELECT rowid${ranked ? ", rank" : ""} FROM torrents_fts WHERE torrents_fts MATCH ${
            b.bind(fts5Query(words, whole))
          } ORDER BY rowid DESC LIMIT ${bounded}) f JOIN torrents t${
            covered ? " INDEXED BY torrents_cover" : ""
          } ON t.id = f.rowid`,
          where: undefined,
          rank: ranked ? "f.rank" : undefined,
          score: ranked ? { expr: "f.rank", descending: false } : undefined
        }
      }
      // Each match is looked up in `torrents` for its filters and sort key: through the covering index, ~10× denser
      // than the table's rows, when it holds all the statement reads (SQLite would take the table's rowid otherwise),
      // or all its filters (a page: only the rows that pass them are then read from the table).
      return {
        from: `torrents_fts f JOIN torrents t${covered ? " INDEXED BY torrents_cover" : ""} ON t.id = f.rowid`,
        where: `torrents_fts MATCH ${b.bind(fts5Query(words, whole))}`,
        rank: "f.rank",
        score: { expr: "f.rank", descending: false }
      }
    },
    count: (words, whole, atMost) => ({
      text: `SELECT count(*) AS n FROM (SELECT 1 FROM torrents_fts WHERE torrents_fts MATCH ? LIMIT ${atMost}) c`,
      params: [fts5Query(words, whole)]
    }),
    hits: (words, whole, ranked, limit) => ({
      text: `SELECT rowid AS id${
        ranked ? ", rank" : ""
      } FROM torrents_fts WHERE torrents_fts MATCH ? ORDER BY rowid DESC LIMIT ${limit}`,
      params: [fts5Query(words, whole)]
    }),
    rankedPage: (words, whole, window, columns, limit, offset) => {
      const candidates = window !== false
        ? `(SELECT rowid, rank FROM torrents_fts WHERE torrents_fts MATCH ? ORDER BY rowid DESC LIMIT ${window})`
        : "torrents_fts WHERE torrents_fts MATCH ?"
      return {
        text: `SELECT ${columns}
             FROM (SELECT rowid, rank FROM ${candidates} ORDER BY rank LIMIT ? OFFSET ?) f
             JOIN torrents t ON t.id = f.rowid ORDER BY f.rank, t.id`,
        params: [fts5Query(words, whole), limit, offset]
      }
    },
    byIds: (b, ids) => `t.id IN (SELECT value FROM json_each(${b.bind(JSON.stringify(ids))}))`
  },
  // SQLite looks each infohash up (its plan is the same lookups with a join).
  popular: (from, swarm) => ({
    from,
    order: swarm
      ? "(SELECT max(i.peers_seen, COALESCE(i.seeders + i.leechers, 0)) FROM infohashes i WHERE i.hash = t.hash) DESC"
      : "(SELECT i.peers_seen FROM infohashes i WHERE i.hash = t.hash) DESC"
  }),
  analysisSettings: [],
  sightingsIndexedFrom: SIGHTINGS_INDEXED_FROM,
  scanned: (column) => `+${column}`,
  fileExtensions: `SELECT CASE WHEN length(pre) <= 1 OR length(base) - length(pre) > 8 OR length(base) = length(pre)
           OR substr(base, length(pre) + 1) GLOB '*[^A-Za-z0-9]*' THEN ''
         ELSE lower(substr(base, length(pre) + 1)) END AS ext, length
       FROM (SELECT base, length, rtrim(base, replace(base, '.', '')) AS pre
             FROM (SELECT substr(path, length(rtrim(path, replace(path, '/', ''))) + 1) AS base, length FROM files) a) b`,
  // Eviction chunk by chunk: each chunk's pages are checkpointed out of the WAL before the next (one transaction
  // deleting thousands of rows grew the WAL to a third of a 3 MB budget).
  inEvictTransaction: [],
  afterEvictChunk: ["PRAGMA wal_checkpoint(TRUNCATE)"],
  housekeepingLock: undefined,
  space: () => ({ size: sqliteSize, reclaim: sqliteReclaim })
}

const sqliteSize: Space["size"] = (db) =>
  Effect.gen(function*() {
    const [pages] = yield* db.select(PageCount, "PRAGMA page_count")
    const [free] = yield* db.select(FreelistCount, "PRAGMA freelist_count")
    const [pageSize] = yield* db.select(PageSize, "PRAGMA page_size")
    const files = yield* db.select(DatabaseFile, "PRAGMA database_list")
    const file = files.find((f) => f.name === "main")?.file ?? ""
    const p = pageSize!.page_size
    const used = (pages!.page_count - free!.freelist_count) * p
    const bytes = file === "" ? pages!.page_count * p : fileSize(file) + fileSize(`${file}-wal`)
    return { bytes, used }
  })

const sqliteReclaim: Space["reclaim"] = (budget, db) =>
  Effect.gen(function*() {
    let walPages = 1000
    if (budget !== undefined) {
      const [pageSize] = yield* db.select(PageSize, "PRAGMA page_size")
      walPages = Math.min(1000, Math.max(16, Math.floor(budget / 40 / pageSize!.page_size)))
      yield* db.run(`PRAGMA wal_autocheckpoint = ${walPages}`)
      yield* db.run(`PRAGMA journal_size_limit = ${Math.floor(budget / 40)}`)
    }
    // Through a prepared statement (better-sqlite3's run()), each execution frees one page: run it once per free
    // page (at most 25,000 pages, ~100 MB, per pass; a no-op unless auto_vacuum is INCREMENTAL). Moving pages
    // writes them through the WAL, so it is truncated after every WAL's worth.
    const [free] = yield* db.select(FreelistCount, "PRAGMA freelist_count")
    const [mode] = yield* db.select(AutoVacuum, "PRAGMA auto_vacuum")
    if (mode!.auto_vacuum === 2) {
      for (let i = Math.min(25_000, free!.freelist_count); i > 0; i--) {
        yield* db.run("PRAGMA incremental_vacuum")
        if (i % walPages === 0) yield* db.run("PRAGMA wal_checkpoint(TRUNCATE)")
      }
    }
    // The WAL grows to hold a checkpoint's worth of pages and then stays that size: truncate it after a pass.
    yield* db.run("PRAGMA wal_checkpoint(TRUNCATE)")
  })

// === PostgreSQL ===

const pgMatch = (tq: string) => `search @@ to_tsquery('simple', ${tq})`

/** A torrent's words as `to_tsvector` indexes them: tokenised exactly as queries are (searchWords). */
const pgIndexedText = (name: string, paths: string) =>
  searchWords(`${name}\n${paths}`.slice(0, MAX_INDEXED_TEXT)).join(" ")

/**
 * Matching and counting in the table that holds the words (`search`): `torrents` itself (alias t) before migration
 * 0012, `torrent_words` (alias w, joined to its torrent) since.
 */
const pgWordsIn = (table: "torrents" | "torrent_words"): Pick<FullText, "match" | "count"> => {
  const own = table === "torrents"
  const alias = own ? "t" : "w"
  const columns = own ? "*" : "id, search"
  const join = own ? "" : " JOIN torrents t ON t.id = w.id"
  return {
    match: (b, words, whole, bounded) => {
      const tq = b.bind(tsQuery(words, whole))
      const score = { expr: `ts_rank(${alias}.search, to_tsquery('simple', ${tq}))`, descending: true }
      const rank = `${score.expr} DESC`
      return bounded !== false
        ? {
          from: `(SELECT ${columns} FROM ${table} WHERE ${
            pgMatch(tq)
          } ORDER BY id DESC LIMIT ${bounded}) ${alias}${join}`,
          where: undefined,
          rank,
          score
        }
        : { from: `${table} ${alias}${join}`, where: `${alias}.${pgMatch(tq)}`, rank, score }
    },
    count: (words, whole, atMost) => ({
      text: `SELECT count(*) AS n FROM (SELECT 1 FROM ${table} WHERE ${pgMatch("$1")} LIMIT ${atMost}) c`,
      params: [tsQuery(words, whole)]
    })
  }
}

/** Full text in the `search` column of `torrents` (before migration 0012; a read-only open of an older database). */
const pgColumnFullText: FullText = {
  // Tokenised here exactly as queries are (searchWords), so paths like "a/b/c.srt" index each word.
  insertTorrent: (columns, values, name, paths) => ({
    text: `INSERT INTO torrents (${columns}, search) VALUES (${
      values.map((_, i) => `$${i + 1}`).join(",")
    }, to_tsvector('simple', $${values.length + 1})) ON CONFLICT (hash) DO NOTHING RETURNING id`,
    params: [...values, pgIndexedText(name, paths)]
  }),
  indexTorrent: undefined,
  unindexTorrent: undefined,
  ...pgWordsIn("torrents"),
  hits: undefined,
  rankedPage: undefined,
  byIds: undefined
}

/** Full text in `torrent_words` (id, search), one row per torrent (migration 0012). */
const pgWordsFullText: FullText = {
  insertTorrent: (columns, values) => ({
    text: `INSERT INTO torrents (${columns}) VALUES (${
      values.map((_, i) => `$${i + 1}`).join(",")
    }) ON CONFLICT (hash) DO NOTHING RETURNING id`,
    params: values
  }),
  // Tokenised here exactly as queries are (searchWords), so paths like "a/b/c.srt" index each word.
  indexTorrent: (id, name, paths) => ({
    text: "INSERT INTO torrent_words (id, search) VALUES ($1, to_tsvector('simple', $2))",
    params: [id, pgIndexedText(name, paths)]
  }),
  // Its row goes with the torrent's (ON DELETE CASCADE).
  unindexTorrent: undefined,
  ...pgWordsIn("torrent_words"),
  hits: undefined,
  // Ranked within torrent_words (the newest `window` matches, when given); only the page's rows are joined.
  rankedPage: (words, whole, window, columns, limit, offset) => {
    const candidates = window !== false
      ? `(SELECT id, search FROM torrent_words WHERE ${pgMatch("$1")} ORDER BY id DESC LIMIT ${window}) c`
      : `torrent_words c WHERE c.${pgMatch("$1")}`
    return {
      text: `SELECT ${columns}
             FROM (SELECT c.id, ts_rank(c.search, to_tsquery('simple', $1)) AS r FROM ${candidates}
                   ORDER BY r DESC, c.id LIMIT $2 OFFSET $3) w
             JOIN torrents t ON t.id = w.id ORDER BY w.r DESC, t.id`,
      params: [tsQuery(words, whole), limit, offset]
    }
  },
  byIds: undefined
}

export const postgres: Dialect = {
  name: "pg",
  backend: "postgres",
  maxParams: 60_000,
  least: "LEAST",
  greatest: "GREATEST",
  ilike: "ILIKE",
  placeholder: (n) => `$${n}`,
  binder: () => {
    const params: Array<unknown> = []
    const bind = (v: unknown) => {
      params.push(v)
      return `$${params.length}`
    }
    return {
      params,
      bind,
      list: (values) => {
        const text = values.map(bind).join(",")
        return { text, again: () => text }
      }
    }
  },
  setup: [],
  hasColumn:
    "SELECT 1 AS x FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
  hasTable: "SELECT 1 AS x FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1",
  hasIndex: "SELECT 1 AS x FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1",
  afterFailedCommit: undefined,
  // The words of each torrent in a table of their own (migration 0012): the GIN index's matches are counted,
  // listed newest first and ranked on rows a quarter the size of a torrent's, and a filter on `torrents` is applied
  // per match (through `torrents_cover`) instead of as a second bitmap of a non-selective range.
  fullText: pgWordsFullText,
  fullTextBefore: pgColumnFullText,
  // PostgreSQL joins the infohash rows (alias ip): a hash join, where 1 M index lookups took 27 s
  // (docs/benchmarks.md).
  popular: (from, swarm) => ({
    from: `${from} LEFT JOIN infohashes ip ON ip.hash = t.hash`,
    order: `COALESCE(GREATEST(ip.peers_seen, ${swarm ? "ip.seeders + ip.leechers" : "0"}), 0) DESC`
  }),
  // Sums per infohash by walking the (hash, hour) index in order (migration 0013): a hash aggregate of a week's
  // 1.75 M infohashes took 8–12 s in memory, the ordered walk 0.9–1.7 s (docs/benchmarks.md).
  analysisSettings: [`SET LOCAL enable_hashagg = off`, `SET LOCAL work_mem = '${PG_ANALYSIS_WORK_MEM}'`],
  sightingsIndexedFrom: undefined,
  scanned: (column) => column,
  fileExtensions:
    `SELECT CASE WHEN base ~ '^.+\\.[A-Za-z0-9]{1,8}$' THEN lower(substring(base from '\\.([A-Za-z0-9]{1,8})$'))
         ELSE '' END AS ext, length FROM (SELECT substring(path from '[^/]*$') AS base, length FROM files) b`,
  // The deletes' row counts reach the cumulative statistics when the transaction ends (instead of up to seconds
  // later), so the VACUUM after it is counted against them (pgSpace.ts). PostgreSQL 15+; a no-op before.
  inEvictTransaction: [
    "DO $$ BEGIN PERFORM pg_stat_force_next_flush(); EXCEPTION WHEN undefined_function THEN NULL; END $$"
  ],
  afterEvictChunk: [],
  // One key for every BitScrape database (advisory locks are per database).
  housekeepingLock: {
    acquire: "SELECT pg_try_advisory_lock(7526470352834651) AS ok",
    release: "SELECT pg_advisory_unlock(7526470352834651) AS ok"
  },
  space: () => {
    const space = makePgSpace()
    return { size: space.size, reclaim: (_budget, db) => space.reclaim(db) }
  }
}
