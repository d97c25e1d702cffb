import { SqlClient } from "@effect/sql"
import { Clock, Effect, Option, Stream } from "effect"
import { type Category, categoryOf, extensionOf } from "../domain/categories.js"
import type { InfoHash, NodeId } from "../domain/ids.js"
import { toHex } from "../domain/ids.js"
import type {
  Discovery,
  ExportItem,
  ExportQuery,
  FetchFailure,
  InfohashRecord,
  MetadataStatus,
  NodeRecord,
  NodeSighting,
  SavedSearchCursor,
  SearchQuery,
  Torrent,
  TorrentDetail,
  TorrentFile
} from "../domain/model.js"
import { DISCOVERY_SOURCES, RANK_WINDOW, SEARCH_CAP, WHOLE_WORDS_ABOVE } from "../domain/model.js"
import type { AnalysisOptions } from "./analysisModel.js"
import type { ResponseRate } from "./analysisModel.js"
import { HOUR_MS, MINUTE_MS, POPULARITY_RETENTION_MS, RESPONSE_RATE_RETENTION_MS } from "./analysisModel.js"
import { makeSqlAnalyses } from "./analysisSql.js"
import { sessionIsDead, thisProcess } from "./liveness.js"
import { Repository, RepositoryError, SavedSearchExists, TorrentNotFound } from "./Repository.js"
import { savedSearchOf } from "./savedSearchRows.js"
import { makeSqlBlocklist } from "./sqlBlocklist.js"
import { makeSqlStorage } from "./sqlStorage.js"
import { chunkRows, fts5Query, MAX_QUERY_WORDS, searchWords, tsQuery } from "./sqlText.js"

// One SQL implementation of the Repository for SQLite and PostgreSQL; the dialects differ only in placeholders,
// MIN/MAX spelling, the full-text index, and id generation. Batches are aggregated in memory first (so one
// statement never touches a row twice, which PostgreSQL forbids) and sorted by key (so concurrent writers to
// one PostgreSQL take row locks in the same order and cannot deadlock).

type Dialect = "sqlite" | "pg"
type Row = Record<string, unknown>

const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength)
const num = (x: unknown): number => Number(x)
const optNum = (x: unknown): number | undefined => x === null || x === undefined ? undefined : Number(x)
const bytes = (x: unknown): Uint8Array => x instanceof Uint8Array ? new Uint8Array(x) : new Uint8Array(0)
const compareBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(buf(a), buf(b))
/** Longest text of file paths put into the full-text index per torrent. */
const MAX_INDEXED_PATHS = 64 * 1024
const PAGE = 500

export const makeSqlRepository = (dialect: Dialect) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // SQLite: ~500-row statements keep each statement journal small (measured: no worse than 4,000-row ones).
    const maxParams = dialect === "pg" ? 60_000 : 3_500
    const MIN = dialect === "pg" ? "LEAST" : "min"
    const MAX = dialect === "pg" ? "GREATEST" : "max"
    const placeholders = (count: number, start = 0) =>
      Array.from({ length: count }, (_, i) => dialect === "pg" ? `$${start + i + 1}` : "?")
    const tuples = (rows: number, width: number, start = 0) =>
      Array.from({ length: rows }, (_, r) => `(${placeholders(width, start + r * width).join(",")})`).join(",")
    const query = (text: string, params: ReadonlyArray<unknown> = []) => sql.unsafe<Row>(text, params as Array<unknown>)
    const fail = (operation: string) => (cause: unknown) => new RepositoryError({ operation, cause })
    const transaction = <A, E>(operation: string, effect: Effect.Effect<A, E>) =>
      sql.withTransaction(effect).pipe(
        Effect.mapError((e) => e instanceof RepositoryError ? e : fail(operation)(e)),
        // @effect/sql turns a failed COMMIT into a defect; on a full disk that is an ordinary failure. SQLite
        // keeps the transaction open after a failed COMMIT: it is rolled back, so the connection stays usable.
        Effect.catchSomeDefect((defect) =>
          (defect as { _tag?: unknown } | null)?._tag === "SqlError"
            ? Option.some(
              Effect.zipRight(
                dialect === "sqlite" ? Effect.ignore(query("ROLLBACK")) : Effect.void,
                Effect.fail(fail(operation)(defect))
              )
            )
            : Option.none()
        ),
        Effect.uninterruptible
      )
    const bl = makeSqlBlocklist({
      dialect,
      query,
      placeholders,
      maxParams,
      indexedPaths: (paths) => paths.join("\n").slice(0, MAX_INDEXED_PATHS)
    })
    const storage = makeSqlStorage({
      dialect,
      query,
      placeholders,
      maxParams,
      indexedPaths: (paths) => paths.join("\n").slice(0, MAX_INDEXED_PATHS),
      transaction
    }, bl)
    /**
     * Runs `write` on the items the blocklist lets through, deciding inside the write's transaction (so an
     * infohash blocked by a torrent saved just before is not written back by a batch that was already waiting).
     */
    const unblocked = <A>(
      operation: string,
      items: ReadonlyArray<A>,
      hash: (a: A) => Uint8Array,
      write: (kept: ReadonlyArray<A>) => Effect.Effect<void, RepositoryError>
    ) =>
      transaction(
        operation,
        Effect.flatMap(bl.current(), (b) => {
          const kept = b.size === 0 ? items : items.filter((a) => !bl.blockedHash(toHex(hash(a))))
          return kept.length === 0 ? Effect.void : write(kept)
        })
      )

    if (dialect === "sqlite") {
      // Wait for other processes' write locks instead of failing at once; WAL + NORMAL keeps every committed
      // transaction across a process crash (kill -9), fsyncing at checkpoints.
      yield* query("PRAGMA busy_timeout = 10000").pipe(Effect.orDie)
      yield* query("PRAGMA synchronous = NORMAL").pipe(Effect.orDie)
      // A multi-row upsert journals each page it changes so the statement can be undone alone; keeping that
      // statement journal in memory instead of a temp file raised ingest by ~25% (docs/benchmarks.md).
      yield* query("PRAGMA temp_store = MEMORY").pipe(Effect.orDie)
    }

    // Columns added by migration 0005 (a database opened read-only is not migrated, so they may be missing).
    const hasColumn = (table: string, column: string) =>
      query(
        dialect === "pg"
          ? "SELECT 1 AS x FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2"
          : "SELECT 1 AS x FROM pragma_table_info(?) WHERE name = ?",
        [table, column]
      ).pipe(Effect.map((rows) => rows.length > 0), Effect.mapError(fail("open")))
    const hasTable = (table: string) =>
      query(
        dialect === "pg"
          ? "SELECT 1 AS x FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
          : "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = ?",
        [table]
      ).pipe(Effect.map((rows) => rows.length > 0), Effect.mapError(fail("open")))
    const columns = {
      category: yield* hasColumn("torrents", "category"),
      bep51: yield* hasColumn("nodes", "bep51"),
      extensions: yield* hasTable("file_extensions"),
      popularity: yield* hasTable("infohash_hours"),
      responseRates: yield* hasTable("response_rates")
    }
    const categoryColumn = columns.category ? "t.category" : "NULL AS category"

    // === Writes ===

    const upsertNodes = (nodes: ReadonlyArray<NodeSighting>) => {
      const merged = new Map<string, Array<unknown>>()
      for (const n of nodes) {
        const key = `${toHex(n.id)}|${n.host}|${n.port}`
        const prev = merged.get(key)
        const bep42 = n.bep42 === undefined ? null : n.bep42 ? 1 : 0
        const version = n.version === undefined ? null : buf(n.version)
        const bep51 = n.bep51 === undefined ? null : n.bep51 ? 1 : 0
        if (prev === undefined) {
          merged.set(key, [
            buf(n.id),
            n.host,
            n.port,
            n.seenAt,
            n.seenAt,
            n.respondedAt ?? null,
            1,
            bep42,
            version,
            n.readOnly ? 1 : 0,
            bep51
          ])
        } else {
          prev[3] = Math.min(prev[3] as number, n.seenAt)
          prev[4] = Math.max(prev[4] as number, n.seenAt)
          if (n.respondedAt !== undefined) prev[5] = Math.max((prev[5] as number | null) ?? 0, n.respondedAt)
          prev[6] = (prev[6] as number) + 1
          if (bep42 !== null) prev[7] = bep42
          if (version !== null) prev[8] = version
          if (bep51 !== null) prev[10] = bep51
        }
      }
      const rows = [...merged.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([, r]) => r)
      return transaction(
        "upsertNodes",
        Effect.forEach(chunkRows(rows, 11, maxParams), (chunk) =>
          query(
            `INSERT INTO nodes (id, host, port, first_seen, last_seen, last_response, times_seen, bep42, version, read_only, bep51)
             VALUES ${tuples(chunk.length, 11)}
             ON CONFLICT (id, host, port) DO UPDATE SET
               first_seen = ${MIN}(nodes.first_seen, excluded.first_seen),
               last_seen = ${MAX}(nodes.last_seen, excluded.last_seen),
               last_response = COALESCE(${MAX}(nodes.last_response, excluded.last_response), nodes.last_response, excluded.last_response),
               times_seen = nodes.times_seen + excluded.times_seen,
               bep42 = COALESCE(excluded.bep42, nodes.bep42),
               version = COALESCE(excluded.version, nodes.version),
               read_only = excluded.read_only,
               bep51 = COALESCE(excluded.bep51, nodes.bep51)`,
            chunk.flat()
          ), { discard: true })
      )
    }

    const recordDiscoveries = (discoveries: ReadonlyArray<Discovery>) =>
      unblocked("recordDiscoveries", discoveries, (d) => d.infoHash, recordAllowedDiscoveries)

    const recordAllowedDiscoveries = (discoveries: ReadonlyArray<Discovery>) => {
      const byHash = new Map<string, { hash: Uint8Array; first: number; last: number; counts: Array<number> }>()
      const peers = new Map<string, Array<unknown>>()
      for (const d of discoveries) {
        const key = toHex(d.infoHash)
        let agg = byHash.get(key)
        if (agg === undefined) {
          agg = { hash: d.infoHash, first: d.at, last: d.at, counts: [0, 0, 0, 0] }
          byHash.set(key, agg)
        }
        agg.first = Math.min(agg.first, d.at)
        agg.last = Math.max(agg.last, d.at)
        agg.counts[DISCOVERY_SOURCES.indexOf(d.source)]!++
        if (d.peer !== undefined && d.peer.port > 0) {
          const pk = `${key}|${d.peer.host}|${d.peer.port}`
          const prev = peers.get(pk)
          if (prev === undefined) peers.set(pk, [buf(d.infoHash), d.peer.host, d.peer.port, d.at, d.at])
          else {
            prev[3] = Math.min(prev[3] as number, d.at)
            prev[4] = Math.max(prev[4] as number, d.at)
          }
        }
      }
      const hashRows = [...byHash.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
        .map(([, a]) => [buf(a.hash), a.first, a.last, ...a.counts])
      // Sightings per hour, infohash and source; each infohash's latest swarm estimate of the batch.
      const hours = new Map<string, Array<unknown>>()
      const swarms = new Map<string, Array<unknown>>()
      let newestHour = 0
      for (const d of discoveries) {
        const hour = Math.floor(d.at / HOUR_MS) * HOUR_MS
        newestHour = Math.max(newestHour, hour)
        const key = `${hour}|${toHex(d.infoHash)}|${d.source}`
        const prev = hours.get(key)
        if (prev === undefined) hours.set(key, [hour, buf(d.infoHash), d.source, 1])
        else prev[3] = (prev[3] as number) + 1
        if (d.swarm !== undefined) {
          const sk = toHex(d.infoHash)
          const s = swarms.get(sk)
          if (s === undefined || (s[2] as number) <= d.at) {
            swarms.set(sk, [Math.round(d.swarm.seeders), Math.round(d.swarm.leechers), d.at, buf(d.infoHash)])
          }
        }
      }
      const hourRows = columns.popularity ?
        [...hours.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
          .map(([, r]) => r) :
        []
      const swarmRows = columns.popularity ?
        [...swarms.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
          .map(([, r]) => r) :
        []
      const prune = columns.popularity && newestHour > prunedHour
      const peerRows = [...peers.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([, r]) => r)
      const touched = [...new Set([...peers.keys()].map((k) => k.slice(0, 40)))].sort()
        .map((h) => Buffer.from(h, "hex"))
      return transaction(
        "recordDiscoveries",
        Effect.gen(function*() {
          for (const chunk of chunkRows(hashRows, 7, maxParams)) {
            yield* query(
              `INSERT INTO infohashes (hash, first_seen, last_seen, seen_sample, seen_get_peers, seen_announce, seen_lookup)
               VALUES ${tuples(chunk.length, 7)}
               ON CONFLICT (hash) DO UPDATE SET
                 first_seen = ${MIN}(infohashes.first_seen, excluded.first_seen),
                 last_seen = ${MAX}(infohashes.last_seen, excluded.last_seen),
                 seen_sample = infohashes.seen_sample + excluded.seen_sample,
                 seen_get_peers = infohashes.seen_get_peers + excluded.seen_get_peers,
                 seen_announce = infohashes.seen_announce + excluded.seen_announce,
                 seen_lookup = infohashes.seen_lookup + excluded.seen_lookup`,
              chunk.flat()
            )
          }
          for (const chunk of chunkRows(peerRows, 5, maxParams)) {
            yield* query(
              `INSERT INTO infohash_peers (hash, host, port, first_seen, last_seen) VALUES ${tuples(chunk.length, 5)}
               ON CONFLICT (hash, host, port) DO UPDATE SET last_seen = ${MAX}(infohash_peers.last_seen, excluded.last_seen)`,
              chunk.flat()
            )
          }
          for (const chunk of chunkRows(touched, 1, maxParams)) {
            yield* query(
              `UPDATE infohashes SET peers_seen = (SELECT count(*) FROM infohash_peers p WHERE p.hash = infohashes.hash)
               WHERE hash IN (${placeholders(chunk.length).join(",")})`,
              chunk
            )
          }
          for (const chunk of chunkRows(hourRows, 4, maxParams)) {
            yield* query(
              `INSERT INTO infohash_hours (hour, hash, source, sightings) VALUES ${tuples(chunk.length, 4)}
               ON CONFLICT (hour, hash, source) DO UPDATE SET sightings = infohash_hours.sightings + excluded.sightings`,
              chunk.flat()
            )
          }
          for (const row of swarmRows) {
            const [a, b, c, d, e] = placeholders(5)
            yield* query(
              `UPDATE infohashes SET seeders = ${a}, leechers = ${b}, scraped_at = ${c}
               WHERE hash = ${d} AND (scraped_at IS NULL OR scraped_at <= ${e})`,
              [...row, row[2]]
            )
          }
          // Hourly counts older than the retention go, at most once per hour of data.
          if (prune) {
            yield* query(`DELETE FROM infohash_hours WHERE hour < ${placeholders(1)[0]}`, [
              newestHour - POPULARITY_RETENTION_MS
            ])
          }
        }).pipe(Effect.tap(() => {
          if (prune) prunedHour = newestHour
        }))
      )
    }
    /** The newest hour whose retention was applied. */
    let prunedHour = 0

    const recordResponseRates = (rates: ReadonlyArray<ResponseRate>) => {
      const byMinute = new Map<number, Array<number>>()
      for (const r of rates) {
        const minute = Math.floor(r.at / MINUTE_MS) * MINUTE_MS
        const x = byMinute.get(minute) ?? [minute, 0, 0, 0]
        x[1]! += r.queries
        x[2]! += r.responses
        x[3]! += r.timeouts
        byMinute.set(minute, x)
      }
      const rows = [...byMinute.values()].sort((a, b) => a[0]! - b[0]!)
      if (rows.length === 0 || !columns.responseRates) return Effect.void
      return transaction(
        "recordResponseRates",
        Effect.gen(function*() {
          for (const chunk of chunkRows(rows, 4, maxParams)) {
            yield* query(
              `INSERT INTO response_rates (minute, queries, responses, timeouts) VALUES ${tuples(chunk.length, 4)}
               ON CONFLICT (minute) DO UPDATE SET queries = response_rates.queries + excluded.queries,
                 responses = response_rates.responses + excluded.responses,
                 timeouts = response_rates.timeouts + excluded.timeouts`,
              chunk.flat()
            )
          }
          yield* query(`DELETE FROM response_rates WHERE minute < ${placeholders(1)[0]}`, [
            rows[rows.length - 1]![0]! - RESPONSE_RATE_RETENTION_MS
          ])
        })
      )
    }

    type ExtensionCounts = Map<string, { files: number; bytes: number }>
    const saveTorrent = (t: Torrent, extensions: ExtensionCounts) =>
      Effect.gen(function*() {
        yield* query(
          `INSERT INTO infohashes (hash, first_seen, last_seen, status) VALUES (${placeholders(4).join(",")})
           ON CONFLICT (hash) DO UPDATE SET status = excluded.status`,
          [buf(t.infoHash), t.fetchedAt, t.fetchedAt, "fetched"]
        )
        const [ih] = yield* query(`SELECT first_seen FROM infohashes WHERE hash = ${placeholders(1)[0]}`, [
          buf(t.infoHash)
        ])
        const discoveredAt = num(ih!.first_seen)
        const paths = t.files.map((f) => f.path).join("\n").slice(0, MAX_INDEXED_PATHS)
        const values = [
          buf(t.infoHash),
          t.infoHashV2 === undefined ? null : buf(t.infoHashV2),
          t.name,
          buf(t.nameRaw),
          t.totalLength,
          t.pieceLength ?? null,
          t.private ? 1 : 0,
          t.version,
          t.files.length,
          buf(t.info),
          discoveredAt,
          t.fetchedAt,
          t.sourcePeer?.host ?? null,
          t.sourcePeer?.port ?? null,
          t.sourceClient ?? null,
          categoryOf(t.files)
        ]
        const columns =
          "hash, hash_v2, name, name_raw, total_length, piece_length, private, version, file_count, info, discovered_at, fetched_at, source_host, source_port, source_client, category"
        const inserted = dialect === "pg"
          ? yield* query(
            `INSERT INTO torrents (${columns}, search) VALUES (${placeholders(16).join(",")},
               to_tsvector('simple', $17)) ON CONFLICT (hash) DO NOTHING RETURNING id`,
            // Tokenised here exactly as queries are (searchWords), so paths like "a/b/c.srt" index each word.
            [...values, searchWords(`${t.name}\n${paths}`.slice(0, MAX_INDEXED_PATHS)).join(" ")]
          )
          : yield* query(
            `INSERT INTO torrents (${columns}) VALUES (${placeholders(16).join(",")})
             ON CONFLICT (hash) DO NOTHING RETURNING id`,
            values
          )
        if (inserted.length === 0) return
        const id = num(inserted[0]!.id)
        for (const f of t.files) {
          const ext = extensionOf(f.path)
          const e = extensions.get(ext) ?? { files: 0, bytes: 0 }
          e.files++
          e.bytes += f.length
          extensions.set(ext, e)
        }
        const fileRows = t.files.map((
          f,
          i
        ) => [id, i, f.path, f.pathRaw === undefined ? null : buf(f.pathRaw), f.length])
        for (const chunk of chunkRows(fileRows, 5, maxParams)) {
          yield* query(
            `INSERT INTO files (torrent_id, idx, path, path_raw, length) VALUES ${tuples(chunk.length, 5)}`,
            chunk.flat()
          )
        }
        if (dialect === "sqlite") {
          yield* query(`INSERT INTO torrents_fts (rowid, name, paths) VALUES (?, ?, ?)`, [id, t.name, paths])
        }
      })

    // A torrent whose name matches a blocked pattern is not stored: its infohash is blocked (via the pattern)
    // and forgotten, so it is never fetched again.
    const saveTorrents = (torrents: ReadonlyArray<Torrent>) =>
      unblocked("saveTorrents", torrents, (t) => t.infoHash, (kept) =>
        transaction(
          "saveTorrents",
          Effect.gen(function*() {
            const extensions: ExtensionCounts = new Map()
            for (const t of [...kept].sort((a, b) => compareBytes(a.infoHash, b.infoHash))) {
              const pattern = bl.blockedName(t.name)
              if (pattern === undefined) {
                yield* saveTorrent(t, extensions)
                continue
              }
              yield* bl.insert([{
                kind: "infohash",
                value: toHex(t.infoHash),
                reason: `name matches "${pattern}"`,
                via: pattern
              }], t.fetchedAt)
              yield* bl.deleteInfohashes([buf(t.infoHash)])
            }
            // The batch's extension counts at the end, in key order (concurrent writers lock rows in one order).
            const rows = [...extensions].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([ext, e]) => [
              ext,
              e.files,
              e.bytes
            ])
            for (const chunk of chunkRows(rows, 3, maxParams)) {
              yield* query(
                `INSERT INTO file_extensions (ext, files, bytes) VALUES ${tuples(chunk.length, 3)}
                 ON CONFLICT (ext) DO UPDATE SET files = file_extensions.files + excluded.files,
                   bytes = file_extensions.bytes + excluded.bytes`,
                chunk.flat()
              )
            }
          })
        ))

    const recordFailures = (failures: ReadonlyArray<FetchFailure>) =>
      unblocked("recordFailures", failures, (f) => f.infoHash, recordAllowedFailures)

    const recordAllowedFailures = (failures: ReadonlyArray<FetchFailure>) => {
      const sorted = [...failures].sort((a, b) => compareBytes(a.infoHash, b.infoHash))
      return transaction(
        "recordFailures",
        Effect.forEach(sorted, (f) =>
          query(
            `INSERT INTO infohashes (hash, first_seen, last_seen, status, attempts, last_attempt, last_error)
             VALUES (${placeholders(7).join(",")})
             ON CONFLICT (hash) DO UPDATE SET
               attempts = infohashes.attempts + 1, last_attempt = excluded.last_attempt, last_error = excluded.last_error,
               status = CASE WHEN infohashes.status = 'fetched' THEN 'fetched' ELSE 'failed' END`,
            [buf(f.infoHash), f.at, f.at, "failed", 1, f.at, f.error.slice(0, 500)]
          ), { discard: true })
      )
    }

    // === Reads ===

    /**
     * FROM and WHERE of a search or export. `visible`: the blocklist's condition (no parameters); `bounded`: the
     * words match more than SEARCH_CAP torrents, so only their `bounded` most recent are considered (SEARCH_CAP, or
     * fewer for a relevance ranking); `whole`: every word whole, the last too (see WHOLE_WORDS_ABOVE).
     */
    const filtersOf = (
      q: SearchQuery | ExportQuery,
      params: Array<unknown>,
      visible = "",
      bounded: number | false = false,
      whole = false,
      ranked = true
    ) => {
      const where: Array<string> = visible === "" ? [] : [visible]
      const p = (v: unknown) => {
        params.push(v)
        return dialect === "pg" ? `$${params.length}` : "?"
      }
      let from = "torrents t"
      let rank: string | undefined
      const words = q.text === undefined ? [] : searchWords(q.text).slice(0, MAX_QUERY_WORDS)
      // The text first: with SQLite's positional placeholders, a bounded FROM's parameter comes before WHERE's.
      if (words.length > 0) {
        if (dialect === "pg") {
          const tq = p(tsQuery(words, whole))
          if (bounded !== false) {
            from =
              `(SELECT * FROM torrents WHERE search @@ to_tsquery('simple', ${tq}) ORDER BY id DESC LIMIT ${bounded}) t`
          } else {
            where.push(`t.search @@ to_tsquery('simple', ${tq})`)
          }
          rank = `ts_rank(t.search, to_tsquery('simple', ${tq})) DESC`
        } else if (bounded !== false) {
          // The rank (bm25) is computed for each row the subquery yields: only when the order needs it.
          from = `(SELECT rowid${ranked ? ", rank" : ""} FROM torrents_fts WHERE torrents_fts MATCH ${
            p(fts5Query(words, whole))
          } ORDER BY rowid DESC LIMIT ${bounded}) f JOIN torrents t ON t.id = f.rowid`
          rank = ranked ? "f.rank" : undefined
        } else {
          from = "torrents_fts f JOIN torrents t ON t.id = f.rowid"
          where.push(`torrents_fts MATCH ${p(fts5Query(words, whole))}`)
          rank = "f.rank"
        }
      }
      if (q.minSize !== undefined) where.push(`t.total_length >= ${p(q.minSize)}`)
      if (q.maxSize !== undefined) where.push(`t.total_length <= ${p(q.maxSize)}`)
      if (q.minFiles !== undefined) where.push(`t.file_count >= ${p(q.minFiles)}`)
      if (q.maxFiles !== undefined) where.push(`t.file_count <= ${p(q.maxFiles)}`)
      if (q.since !== undefined) where.push(`t.discovered_at >= ${p(q.since)}`)
      if (q.until !== undefined) where.push(`t.discovered_at < ${p(q.until)}`)
      if (q.category !== undefined) where.push(`t.category = ${p(q.category)}`)
      if (q.text !== undefined && q.text.trim() !== "" && words.length === 0) where.push("1 = 0")
      return { from, where: where.length > 0 ? `WHERE ${where.join(" AND ")}` : "", rank, p }
    }

    // Refused rather than answered wrongly: only a migrated database knows the categories.
    const categoryKnown = (q: SearchQuery | ExportQuery) =>
      q.category === undefined || columns.category ? Effect.void : Effect.fail(
        new Error("this database predates content categories: open it once for writing (e.g. crawl) to add them")
      )

    const summaryOf = (r: Row) => ({
      infoHash: bytes(r.hash) as InfoHash,
      name: String(r.name),
      totalLength: num(r.total_length),
      fileCount: num(r.file_count),
      discoveredAt: num(r.discovered_at),
      fetchedAt: num(r.fetched_at),
      category: r.category === null || r.category === undefined ? undefined : String(r.category) as Category
    })

    /** How many rows `from where` holds, counting at most SEARCH_CAP + 1. */
    const cappedCount = (from: string, where: string, params: ReadonlyArray<unknown>) =>
      Effect.map(
        query(`SELECT count(*) AS n FROM (SELECT 1 FROM ${from} ${where} LIMIT ${SEARCH_CAP + 1}) c`, params),
        ([row]) => {
          const n = num(row!.n)
          return { total: Math.min(n, SEARCH_CAP), capped: n > SEARCH_CAP }
        }
      )

    /** How many torrents the words match (text alone, blocklist ignored), counting at most `atMost`. */
    const textCount = (words: ReadonlyArray<string>, whole: boolean, atMost: number) =>
      Effect.map(
        dialect === "sqlite"
          ? query(
            `SELECT count(*) AS n FROM (SELECT 1 FROM torrents_fts WHERE torrents_fts MATCH ? LIMIT ${atMost}) c`,
            [fts5Query(words, whole)]
          )
          : query(
            `SELECT count(*) AS n FROM (SELECT 1 FROM torrents WHERE search @@ to_tsquery('simple', $1) LIMIT ${atMost}) c`,
            [tsQuery(words, whole)]
          ),
        ([row]) => num(row!.n)
      )

    const search = (q: SearchQuery) =>
      Effect.gen(function*() {
        yield* categoryKnown(q)
        const visible = yield* bl.visible()
        const limit = Math.min(Math.max(1, q.limit ?? 20), 500)
        const offset = Math.max(0, q.offset ?? 0)
        const words = q.text === undefined ? [] : searchWords(q.text).slice(0, MAX_QUERY_WORDS)
        const sort = q.sort ?? "relevance"
        const textOnly = visible === "" && words.length > 0 && q.minSize === undefined && q.maxSize === undefined &&
          q.minFiles === undefined && q.maxFiles === undefined && q.since === undefined && q.until === undefined &&
          q.category === undefined
        // A common word as a prefix visits every match of every longer word: when the last word taken whole
        // already matches more than WHOLE_WORDS_ABOVE torrents, it is searched whole.
        const whole = words.length > 0 &&
          (yield* textCount(words.slice(-1), true, WHOLE_WORDS_ABOVE + 1)) > WHOLE_WORDS_ABOVE
        // SQLite, text alone, not known to be capped yet: one pass over the full-text index collects the matching
        // ids (at most SEARCH_CAP + 1; with their rank when the order needs it and several words intersect, where a
        // second pass would intersect them again) and serves the count and, below the cap, the page.
        const order = {
          relevance: "t.discovered_at DESC",
          newest: "t.discovered_at DESC",
          oldest: "t.discovered_at ASC",
          largest: "t.total_length DESC",
          smallest: "t.total_length ASC",
          name: "t.name ASC",
          // The larger of distinct peers seen and the BEP 33 swarm estimate. PostgreSQL reads the infohash row
          // through a join (alias ip, added to FROM below); SQLite looks each one up.
          popular: dialect === "pg"
            ? `COALESCE(${MAX}(ip.peers_seen, ${columns.popularity ? "ip.seeders + ip.leechers" : "0"}), 0) DESC`
            : columns.popularity
            ? `(SELECT ${MAX}(i.peers_seen, COALESCE(i.seeders + i.leechers, 0)) FROM infohashes i WHERE i.hash = t.hash) DESC`
            : "(SELECT i.peers_seen FROM infohashes i WHERE i.hash = t.hash) DESC"
        }
        let onePass: { total: number; capped: boolean } | undefined
        if (dialect === "sqlite" && textOnly && !(whole && words.length === 1)) {
          const ranked = sort === "relevance" && words.length > 1
          const hits = yield* query(
            `SELECT rowid AS id${ranked ? ", rank" : ""} FROM torrents_fts WHERE torrents_fts MATCH ? LIMIT ${
              SEARCH_CAP + 1
            }`,
            [fts5Query(words, whole)]
          )
          onePass = { total: Math.min(hits.length, SEARCH_CAP), capped: hits.length > SEARCH_CAP }
          if (!onePass.capped && (ranked || sort !== "relevance")) {
            const columns =
              `t.id, t.hash, t.name, t.total_length, t.file_count, t.discovered_at, t.fetched_at, ${categoryColumn}`
            if (ranked) {
              // As ORDER BY f.rank, t.id: the page's ids, then their rows.
              const page = hits.map((h) => ({ id: num(h.id), rank: Number(h.rank) }))
                .sort((a, b) => a.rank - b.rank || a.id - b.id).slice(offset, offset + limit).map((h) => h.id)
              const rows = page.length === 0 ? [] : yield* query(
                `SELECT ${columns} FROM torrents t WHERE t.id IN (SELECT value FROM json_each(?))`,
                [JSON.stringify(page)]
              )
              const byId = new Map(rows.map((r) => [num(r.id), r]))
              return { ...onePass, items: page.flatMap((id) => byId.has(id) ? [summaryOf(byId.get(id)!)] : []) }
            }
            const rows = yield* query(
              `SELECT ${columns} FROM torrents t WHERE t.id IN (SELECT value FROM json_each(?))
               ORDER BY ${order[sort]}, t.id LIMIT ? OFFSET ?`,
              [JSON.stringify(hits.map((h) => num(h.id))), limit, offset]
            )
            return { ...onePass, items: rows.map(summaryOf) }
          }
        }
        // The count first (capped). SQLite counts text alone in the full-text index, without touching `torrents`.
        const countParams: Array<unknown> = []
        const counted = filtersOf(q, countParams, visible, false, whole)
        const count = onePass !== undefined
          ? onePass
          : textOnly && whole && words.length === 1
          ? { total: SEARCH_CAP, capped: true } // the probe counted this very word past SEARCH_CAP
          : textOnly
          ? yield* Effect.map(textCount(words, whole, SEARCH_CAP + 1), (n) => ({
            total: Math.min(n, SEARCH_CAP),
            capped: n > SEARCH_CAP
          }))
          : yield* cappedCount(counted.from, counted.where, countParams)
        // When the words match more than SEARCH_CAP, the page comes from their SEARCH_CAP most recent matches; on
        // text alone, relevance and newest from fewer (RANK_WINDOW, or as many as the page reaches).
        const bounded = words.length > 0 && count.capped
        const window = bounded && textOnly && (sort === "relevance" || sort === "newest")
          ? Math.min(SEARCH_CAP, Math.max(RANK_WINDOW, offset + limit))
          : SEARCH_CAP
        if (dialect === "sqlite" && textOnly && sort === "relevance") {
          // Relevance on text alone (SQLite): the page from the index first, joining only its rows.
          const match = fts5Query(words, whole)
          const candidates = bounded
            ? `(SELECT rowid, rank FROM torrents_fts WHERE torrents_fts MATCH ? ORDER BY rowid DESC LIMIT ${window})`
            : "torrents_fts WHERE torrents_fts MATCH ?"
          const rows = yield* query(
            `SELECT t.hash, t.name, t.total_length, t.file_count, t.discovered_at, t.fetched_at, ${categoryColumn}
             FROM (SELECT rowid, rank FROM ${candidates} ORDER BY rank LIMIT ? OFFSET ?) f
             JOIN torrents t ON t.id = f.rowid ORDER BY f.rank, t.id`,
            [match, limit, offset]
          )
          return { ...count, items: rows.map(summaryOf) }
        }
        const params: Array<unknown> = []
        const f = filtersOf(q, params, visible, bounded ? window : false, whole, sort === "relevance")
        const by = sort === "relevance" ? (f.rank ?? order.relevance) : order[sort]
        // PostgreSQL joins the infohash rows for "popular" (a hash join: 1 M index lookups took 27 s, see
        // docs/benchmarks.md); SQLite's plan is the same lookups either way.
        const from = sort === "popular" && dialect === "pg"
          ? `${f.from} LEFT JOIN infohashes ip ON ip.hash = t.hash`
          : f.from
        const rows = yield* query(
          `SELECT t.hash, t.name, t.total_length, t.file_count, t.discovered_at, t.fetched_at, ${categoryColumn} FROM ${from}
           ${f.where} ORDER BY ${by}, t.id LIMIT ${f.p(limit)} OFFSET ${f.p(offset)}`,
          params
        )
        return { ...count, items: rows.map(summaryOf) }
      }).pipe(Effect.mapError(fail("search")))

    const filesOf = (ids: ReadonlyArray<number>) =>
      ids.length === 0 ? Effect.succeed(new Map<number, Array<TorrentFile>>()) : Effect.map(
        query(
          `SELECT torrent_id, idx, path, path_raw, length FROM files WHERE torrent_id IN (${
            placeholders(ids.length).join(",")
          }) ORDER BY torrent_id, idx`,
          ids
        ),
        (rows) => {
          const out = new Map<number, Array<TorrentFile>>()
          for (const r of rows) {
            const id = num(r.torrent_id)
            const list = out.get(id) ?? []
            list.push({
              path: String(r.path),
              pathRaw: r.path_raw === null ? undefined : bytes(r.path_raw),
              length: num(r.length)
            })
            out.set(id, list)
          }
          return out
        }
      )

    const torrentOf = (r: Row, files: ReadonlyArray<TorrentFile>) => ({
      infoHash: bytes(r.hash) as InfoHash,
      infoHashV2: r.hash_v2 === null ? undefined : bytes(r.hash_v2),
      name: String(r.name),
      nameRaw: bytes(r.name_raw),
      totalLength: num(r.total_length),
      pieceLength: optNum(r.piece_length),
      private: num(r.private) === 1,
      version: String(r.version) as Torrent["version"],
      files,
      info: bytes(r.info),
      fetchedAt: num(r.fetched_at),
      discoveredAt: num(r.discovered_at),
      sourcePeer: r.source_host === null ? undefined : { host: String(r.source_host), port: num(r.source_port) },
      sourceClient: r.source_client === null ? undefined : String(r.source_client),
      category: r.category === null || r.category === undefined ? undefined : String(r.category) as Category
    })

    const infohashOf = (r: Row): InfohashRecord => ({
      infoHash: bytes(r.hash) as InfoHash,
      firstSeen: num(r.first_seen),
      lastSeen: num(r.last_seen),
      seen: {
        sample: num(r.seen_sample),
        get_peers: num(r.seen_get_peers),
        announce: num(r.seen_announce),
        lookup: num(r.seen_lookup)
      },
      peersSeen: num(r.peers_seen),
      status: String(r.status) as MetadataStatus,
      attempts: num(r.attempts),
      lastError: r.last_error === null ? undefined : String(r.last_error),
      swarm: r.scraped_at === null || r.scraped_at === undefined
        ? undefined
        : { seeders: num(r.seeders), leechers: num(r.leechers), at: num(r.scraped_at) }
    })

    const getInfohash = (infoHash: InfoHash) =>
      query(`SELECT * FROM infohashes WHERE hash = ${placeholders(1)[0]}`, [buf(infoHash)]).pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), infohashOf)),
        Effect.mapError(fail("getInfohash"))
      )

    const getTorrent = (infoHash: InfoHash) =>
      Effect.gen(function*() {
        const visible = yield* Effect.mapError(bl.visible(), fail("getTorrent"))
        const [row] = yield* query(
          `SELECT * FROM torrents t WHERE hash = ${placeholders(1)[0]}${visible === "" ? "" : ` AND ${visible}`}`,
          [buf(infoHash)]
        ).pipe(Effect.mapError(fail("getTorrent")))
        if (row === undefined) return yield* Effect.fail(new TorrentNotFound({ infoHash: toHex(infoHash) }))
        const files = yield* filesOf([num(row.id)]).pipe(Effect.mapError(fail("getTorrent")))
        const ih = yield* getInfohash(infoHash)
        const peers = yield* query(
          `SELECT host, port, last_seen FROM infohash_peers WHERE hash = ${
            placeholders(1)[0]
          } ORDER BY last_seen DESC LIMIT 100`,
          [buf(infoHash)]
        ).pipe(Effect.mapError(fail("getTorrent")))
        const record = Option.getOrUndefined(ih)
        const detail: TorrentDetail = {
          ...torrentOf(row, files.get(num(row.id)) ?? []),
          fileCount: num(row.file_count),
          seen: record?.seen ?? { sample: 0, get_peers: 0, announce: 0, lookup: 0 },
          peersSeen: record?.peersSeen ?? 0,
          swarm: record?.swarm,
          peers: peers.map((p) => ({ host: String(p.host), port: num(p.port), lastSeen: num(p.last_seen) }))
        }
        return detail
      })

    const pendingMetadata = (limit: number) =>
      query(
        `SELECT * FROM infohashes WHERE status <> 'fetched'
         ORDER BY peers_seen DESC, (seen_announce + seen_get_peers + seen_sample + seen_lookup) DESC, attempts ASC
         LIMIT ${placeholders(1)[0]}`,
        [limit]
      ).pipe(Effect.map((rows) => rows.map(infohashOf)), Effect.mapError(fail("pendingMetadata")))

    const settledInfohashes = (
      hashes: ReadonlyArray<InfoHash>,
      giveUp: { readonly minAttempts: number; readonly since: number }
    ) =>
      hashes.length === 0 ? Effect.succeed(new Set<string>()) : Effect.gen(function*() {
        const list = placeholders(hashes.length).join(",")
        const params = hashes.map(buf)
        const [a, b] = placeholders(2, hashes.length)
        // Blocked infohashes are settled too: never fetched.
        const rows = yield* query(
          `SELECT hash FROM torrents WHERE hash IN (${list})
           UNION SELECT hash FROM blocklist WHERE hash IN (${list})
           UNION SELECT hash FROM infohashes WHERE hash IN (${list}) AND status = 'failed'
             AND attempts >= ${a} AND last_attempt >= ${b}`,
          dialect === "pg" ? [...params, giveUp.minAttempts, giveUp.since] : [
            ...params,
            ...params,
            ...params,
            giveUp.minAttempts,
            giveUp.since
          ]
        )
        return new Set(rows.map((r) => toHex(bytes(r.hash))))
      }).pipe(Effect.mapError(fail("settledInfohashes")))

    // Bans that have run out are deleted whenever new ones are recorded: the table holds only live bans.
    const recordBans = (hosts: ReadonlyArray<string>, ban: { at: number; until: number; reason: string }) =>
      hosts.length === 0 ? Effect.void : transaction(
        "recordBans",
        Effect.zipRight(
          query(`DELETE FROM bans WHERE until <= ${placeholders(1)[0]}`, [ban.at]),
          Effect.forEach([...new Set(hosts)].sort(), (host) =>
            query(
              `INSERT INTO bans (host, at, until, reason) VALUES (${placeholders(4).join(",")})
             ON CONFLICT (host) DO UPDATE SET at = excluded.at, until = excluded.until, reason = excluded.reason`,
              [host, ban.at, ban.until, ban.reason]
            ), { discard: true })
        )
      )

    const activeBans = (now: number) =>
      query(`SELECT host FROM bans WHERE until > ${placeholders(1)[0]} LIMIT 100000`, [now]).pipe(
        Effect.map((rows) => rows.map((r) => String(r.host))),
        Effect.mapError(fail("activeBans"))
      )

    const recentNodes = (limit: number) =>
      query(
        `SELECT host, port FROM nodes WHERE last_response IS NOT NULL ORDER BY last_response DESC LIMIT ${
          placeholders(1)[0]
        }`,
        [limit]
      ).pipe(
        Effect.map((rows) => rows.map((r) => ({ host: String(r.host), port: num(r.port) }))),
        Effect.mapError(fail("recentNodes"))
      )

    const nodes = (limit: number) =>
      query(
        `SELECT id, host, port, first_seen, last_seen, last_response, times_seen, bep42, version FROM nodes
         ORDER BY last_seen DESC LIMIT ${placeholders(1)[0]}`,
        [limit]
      ).pipe(
        Effect.map((rows) =>
          rows.map((r): NodeRecord => ({
            id: bytes(r.id) as NodeId,
            host: String(r.host),
            port: num(r.port),
            firstSeen: num(r.first_seen),
            lastSeen: num(r.last_seen),
            lastResponse: optNum(r.last_response),
            timesSeen: num(r.times_seen),
            bep42: r.bep42 === null || r.bep42 === undefined ? undefined : num(r.bep42) === 1,
            version: r.version === null || r.version === undefined ? undefined : bytes(r.version)
          }))
        ),
        Effect.mapError(fail("nodes"))
      )

    const stats = Effect.gen(function*() {
      const one = (text: string) => Effect.map(query(text), (rows) => rows[0]!)
      const ih = yield* one(
        `SELECT count(*) AS n, sum(CASE WHEN seen_sample > 0 THEN 1 ELSE 0 END) AS sample,
          sum(CASE WHEN seen_get_peers > 0 THEN 1 ELSE 0 END) AS get_peers,
          sum(CASE WHEN seen_announce > 0 THEN 1 ELSE 0 END) AS announce,
          sum(CASE WHEN seen_lookup > 0 THEN 1 ELSE 0 END) AS lookup,
          sum(CASE WHEN peers_seen > 0 THEN 1 ELSE 0 END) AS with_peers,
          sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed FROM infohashes`
      )
      // The family is read from the address (an IPv6 literal has a colon): see RepositoryStats.byFamily.
      const v6 = "sum(CASE WHEN host LIKE '%:%' THEN 1 ELSE 0 END) AS v6"
      const nodes = yield* one(`SELECT count(*) AS n, ${v6} FROM nodes`)
      const peers = yield* one(`SELECT count(*) AS n, ${v6} FROM infohash_peers`)
      const split = (r: Record<string, unknown>) => ({ ipv4: num(r.n) - num(r.v6 ?? 0), ipv6: num(r.v6 ?? 0) })
      const torrents = yield* one("SELECT count(*) AS n, COALESCE(sum(file_count), 0) AS files FROM torrents")
      const sessions = yield* one("SELECT count(*) AS n FROM sessions")
      return {
        nodes: num(nodes.n),
        infohashes: num(ih.n),
        bySource: {
          sample: num(ih.sample ?? 0),
          get_peers: num(ih.get_peers ?? 0),
          announce: num(ih.announce ?? 0),
          lookup: num(ih.lookup ?? 0)
        },
        withPeers: num(ih.with_peers ?? 0),
        torrents: num(torrents.n),
        files: num(torrents.files),
        failed: num(ih.failed ?? 0),
        sessions: num(sessions.n),
        byFamily: { nodes: split(nodes), peers: split(peers) }
      }
    }).pipe(Effect.mapError(fail("stats")))

    const exportTorrents = (q: ExportQuery) =>
      Stream.paginateEffect(0, (afterId: number) =>
        Effect.gen(function*() {
          yield* categoryKnown(q)
          const params: Array<unknown> = []
          const f = filtersOf(q, params, yield* bl.visible())
          const where = f.where === "" ? `WHERE t.id > ${f.p(afterId)}` : `${f.where} AND t.id > ${f.p(afterId)}`
          const rows = yield* query(`SELECT t.* FROM ${f.from} ${where} ORDER BY t.id LIMIT ${PAGE}`, params)
          const files = yield* filesOf(rows.map((r) => num(r.id)))
          const items: Array<ExportItem> = rows.map((r) => ({
            infoHash: bytes(r.hash) as InfoHash,
            discoveredAt: num(r.discovered_at),
            torrent: torrentOf(r, files.get(num(r.id)) ?? [])
          }))
          const next = rows.length < PAGE ? Option.none<number>() : Option.some(num(rows[rows.length - 1]!.id))
          return [items, next] as const
        }).pipe(Effect.mapError(fail("export")))).pipe(Stream.flatMap((chunk) => Stream.fromIterable(chunk)))

    const exportInfohashes = (q: ExportQuery) =>
      Stream.paginateEffect(Buffer.alloc(0), (after: Buffer) =>
        Effect.gen(function*() {
          const params: Array<unknown> = [after]
          const where: Array<string> = [`i.hash > ${placeholders(1)[0]}`]
          const p = (v: unknown) => {
            params.push(v)
            return dialect === "pg" ? `$${params.length}` : "?"
          }
          if (q.hasMetadata === false) where.push("i.status <> 'fetched'")
          const visible = yield* bl.visible("i.hash", "t.name")
          if (visible !== "") where.push(visible)
          if (q.since !== undefined) where.push(`i.first_seen >= ${p(q.since)}`)
          if (q.until !== undefined) where.push(`i.first_seen < ${p(q.until)}`)
          const rows = yield* query(
            `SELECT i.hash AS ih, i.first_seen, t.* FROM infohashes i LEFT JOIN torrents t ON t.hash = i.hash
             WHERE ${where.join(" AND ")} ORDER BY i.hash LIMIT ${PAGE}`,
            params
          )
          const files = yield* filesOf(rows.filter((r) => r.id !== null).map((r) => num(r.id)))
          const items: Array<ExportItem> = rows.map((r) => ({
            infoHash: bytes(r.ih) as InfoHash,
            discoveredAt: num(r.first_seen),
            torrent: r.id === null ? undefined : torrentOf(r, files.get(num(r.id)) ?? [])
          }))
          const next = rows.length < PAGE ? Option.none<Buffer>() : Option.some(buf(bytes(rows[rows.length - 1]!.ih)))
          return [items, next] as const
        }).pipe(Effect.mapError(fail("export")))).pipe(Stream.flatMap((chunk) => Stream.fromIterable(chunk)))

    const hasTorrentFilters = (q: ExportQuery) =>
      q.text !== undefined || q.minSize !== undefined || q.maxSize !== undefined || q.minFiles !== undefined ||
      q.maxFiles !== undefined || q.category !== undefined

    const startSession = (settings: unknown) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const me = thisProcess()
        const [row] = yield* query(
          `INSERT INTO sessions (started_at, settings, state, host, pid, alive_at) VALUES (${
            placeholders(6).join(",")
          }) RETURNING id`,
          [now, JSON.stringify(settings ?? null), "running", me.host, me.pid, now]
        )
        return num(row!.id)
      }).pipe(Effect.mapError(fail("startSession")))

    const endSession = (id: number, totals: unknown) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const [a, b, c, d] = placeholders(4)
        yield* query(
          `UPDATE sessions SET ended_at = ${a}, totals = ${b}, state = 'ended', alive_at = ${c} WHERE id = ${d}`,
          [now, JSON.stringify(totals ?? null), now, id]
        )
      }).pipe(Effect.mapError(fail("endSession")))

    const heartbeat = (id: number) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const [a, b] = placeholders(2)
        yield* query(`UPDATE sessions SET alive_at = ${a} WHERE id = ${b} AND ended_at IS NULL`, [now, id])
      }).pipe(Effect.mapError(fail("heartbeat")))

    const closeInterruptedSessions = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const open = yield* query("SELECT id, host, pid, alive_at, started_at FROM sessions WHERE ended_at IS NULL")
      const dead = open.filter((r) =>
        sessionIsDead({
          host: r.host === null ? null : String(r.host),
          pid: r.pid === null ? null : num(r.pid),
          aliveAt: r.alive_at === null ? null : num(r.alive_at)
        }, now)
      )
      for (const r of dead) {
        const [a, b] = placeholders(2)
        yield* query(
          `UPDATE sessions SET state = 'interrupted', ended_at = ${a} WHERE id = ${b} AND ended_at IS NULL`,
          [optNum(r.alive_at) ?? num(r.started_at), num(r.id)]
        )
      }
      return dead.map((r) => num(r.id))
    }).pipe(Effect.mapError(fail("closeInterruptedSessions")))

    const sessions = (limit: number) =>
      query(`SELECT * FROM sessions ORDER BY id DESC LIMIT ${placeholders(1)[0]}`, [limit]).pipe(
        Effect.map((rows) =>
          rows.map((r) => ({
            id: num(r.id),
            startedAt: num(r.started_at),
            endedAt: optNum(r.ended_at),
            state: r.state === "interrupted"
              ? "interrupted" as const
              : r.ended_at === null || r.ended_at === undefined
              ? "running" as const
              : "ended" as const,
            settings: r.settings === null ? null : JSON.parse(String(r.settings)),
            totals: r.totals === null ? null : JSON.parse(String(r.totals))
          }))
        ),
        Effect.mapError(fail("sessions"))
      )

    // === Saved searches ===

    const newMatches = (q: SearchQuery, after: SavedSearchCursor, until: number, limit: number) =>
      Effect.gen(function*() {
        const params: Array<unknown> = []
        // Blocked torrents are never delivered either.
        const f = filtersOf({ ...q, sort: undefined, limit: undefined, offset: undefined }, params, yield* bl.visible())
        const at = f.p(after.fetchedAt)
        const position = after.infoHash === undefined
          ? `t.fetched_at > ${at}`
          : `(t.fetched_at > ${at} OR (t.fetched_at = ${f.p(after.fetchedAt)} AND t.hash > ${
            f.p(buf(after.infoHash))
          }))`
        const conditions = `${position} AND t.fetched_at <= ${f.p(until)}`
        const rows = yield* query(
          `SELECT t.hash, t.name, t.total_length, t.file_count, t.discovered_at, t.fetched_at FROM ${f.from}
           ${f.where === "" ? `WHERE ${conditions}` : `${f.where} AND ${conditions}`}
           ORDER BY t.fetched_at, t.hash LIMIT ${f.p(Math.max(1, limit))}`,
          params
        )
        return rows.map(summaryOf)
      }).pipe(Effect.mapError(fail("newMatches")))

    const savedSearches = query("SELECT * FROM saved_searches ORDER BY id").pipe(
      Effect.map((rows) => rows.map(savedSearchOf)),
      Effect.mapError(fail("savedSearches"))
    )

    const addSavedSearch = (
      s: { readonly name: string; readonly query: string; readonly webhook: string; readonly createdAt: number }
    ) =>
      Effect.gen(function*() {
        const [existing] = yield* query(`SELECT id FROM saved_searches WHERE name = ${placeholders(1)[0]}`, [s.name])
        if (existing !== undefined) return yield* Effect.fail(new SavedSearchExists({ name: s.name }))
        const [row] = yield* query(
          `INSERT INTO saved_searches (name, query, webhook, created_at, cursor_at) VALUES (${
            placeholders(5).join(",")
          }) RETURNING *`,
          [s.name, s.query, s.webhook, s.createdAt, s.createdAt]
        )
        return savedSearchOf(row!)
      }).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(fail("addSavedSearch")(e))))

    const removeSavedSearch = (name: string) =>
      query(`DELETE FROM saved_searches WHERE name = ${placeholders(1)[0]} RETURNING id`, [name]).pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.mapError(fail("removeSavedSearch"))
      )

    const recordDelivery = (
      id: number,
      o:
        | { readonly at: number; readonly cursor: SavedSearchCursor; readonly delivered: number }
        | { readonly at: number; readonly error: string }
    ) =>
      ("error" in o
        ? query(
          `UPDATE saved_searches SET last_attempt_at = ${placeholders(1)[0]}, last_error = ${placeholders(1, 1)[0]}
           WHERE id = ${placeholders(1, 2)[0]}`,
          [o.at, o.error.slice(0, 1000), id]
        )
        : query(
          `UPDATE saved_searches SET last_attempt_at = ${placeholders(1)[0]}, last_error = NULL,
           cursor_at = ${placeholders(1, 1)[0]}, cursor_hash = ${placeholders(1, 2)[0]},
           delivered = delivered + ${placeholders(1, 3)[0]} WHERE id = ${placeholders(1, 4)[0]}`,
          [o.at, o.cursor.fetchedAt, o.cursor.infoHash === undefined ? null : buf(o.cursor.infoHash), o.delivered, id]
        )).pipe(Effect.asVoid, Effect.mapError(fail("recordDelivery")))

    // === Imports waiting for the next crawl ===

    const queueImports = (hashes: ReadonlyArray<InfoHash>, at: number) =>
      transaction(
        "queueImports",
        Effect.map(
          Effect.forEach(
            [...new Map(hashes.map((h) => [toHex(h), h])).values()].sort(compareBytes),
            (h) =>
              query(
                `INSERT INTO import_queue (hash, queued_at) VALUES (${placeholders(2).join(",")})
                 ON CONFLICT (hash) DO NOTHING RETURNING hash`,
                [buf(h), at]
              )
          ),
          (results) => results.filter((r) => r.length > 0).length
        )
      )

    const importQueue = (limit: number) =>
      Effect.gen(function*() {
        yield* query("DELETE FROM import_queue WHERE hash IN (SELECT hash FROM torrents)")
        const rows = yield* query(
          `SELECT hash FROM import_queue ORDER BY queued_at, hash LIMIT ${placeholders(1)[0]}`,
          [Math.max(1, limit)]
        )
        return rows.map((r) => bytes(r.hash) as InfoHash)
      }).pipe(Effect.mapError(fail("importQueue")))

    const analyses = makeSqlAnalyses(dialect, query, columns)
    const analysis = <A>(name: string, f: (o: AnalysisOptions) => Effect.Effect<A, unknown>) => (o: AnalysisOptions) =>
      f(o).pipe(Effect.mapError(fail(name)))

    return Repository.of({
      queueImports,
      importQueue,
      newMatches,
      savedSearches,
      addSavedSearch,
      removeSavedSearch,
      recordDelivery,
      backend: dialect === "pg" ? "postgres" : "sqlite",
      upsertNodes,
      recordDiscoveries,
      recordResponseRates,
      saveTorrents,
      recordFailures,
      search,
      getTorrent,
      getInfohash,
      pendingMetadata,
      settledInfohashes,
      recordBans,
      activeBans,
      recentNodes,
      nodes,
      stats,
      export: (q) =>
        q.hasMetadata === true || (q.hasMetadata === undefined && hasTorrentFilters(q))
          ? exportTorrents(q)
          : q.hasMetadata === false && hasTorrentFilters(q)
          ? Stream.empty
          : exportInfohashes(q),
      startSession,
      endSession,
      sessions,
      analyzeContent: analysis("analyzeContent", analyses.analyzeContent),
      analyzeSources: analysis("analyzeSources", analyses.analyzeSources),
      analyzeNodes: analysis("analyzeNodes", analyses.analyzeNodes),
      analyzeChurn: analysis("analyzeChurn", analyses.analyzeChurn),
      analyzePopularity: analysis("analyzePopularity", analyses.analyzePopularity),
      heartbeat,
      closeInterruptedSessions,
      block: (entries) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const r = yield* transaction("block", bl.block(entries, now))
          yield* Effect.mapError(bl.current(true), fail("block"))
          return r
        }),
      unblock: (text) =>
        Effect.tap(transaction("unblock", bl.unblock(text)), () => Effect.mapError(bl.current(true), fail("unblock"))),
      blocklist: Effect.mapError(bl.list, fail("blocklist")),
      size: Effect.mapError(storage.size, fail("size")),
      rowCounts: Effect.mapError(storage.rows, fail("rowCounts")),
      expire: (what, before) => Effect.mapError(storage.expire(what, before), fail(`expire ${what}`)),
      evict: (what, rows) => Effect.mapError(storage.evict(what, rows), fail(`evict ${what}`)),
      reclaim: (budget) => Effect.mapError(storage.reclaim(budget), fail("reclaim"))
    })
  })
