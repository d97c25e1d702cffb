import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Effect, Option, type Schema, Stream } from "effect"
import { categoryOf, extensionOf } from "../domain/categories.js"
import type { InfoHash, NodeId } from "../domain/ids.js"
import { toHex } from "../domain/ids.js"
import type {
  Discovery,
  ExportItem,
  ExportQuery,
  FetchFailure,
  InfohashRecord,
  NodeRecord,
  NodeSighting,
  SavedSearchCursor,
  SearchQuery,
  Torrent,
  TorrentDetail,
  TorrentFile
} from "../domain/model.js"
import { DISCOVERY_SOURCES, RANK_WINDOW, SEARCH_CAP, WHOLE_WORDS_ABOVE } from "../domain/model.js"
import {
  addByInterval,
  type AnalysisOptions,
  HOUR_MS,
  POPULARITY_RETENTION_MS,
  RESPONSE_RATE_RETENTION_MS,
  type ResponseRate
} from "./analysisModel.js"
import { makeSqlAnalyses } from "./analysisSql.js"
import { type Binder, type Dialect, MAX_INDEXED_TEXT, placeholdersOf, type Statement, tuplesOf } from "./dialect.js"
import { sessionIsDead, thisProcess } from "./liveness.js"
import { Repository, RepositoryError, SavedSearchExists, TorrentNotFound } from "./Repository.js"
import { savedSearchOf } from "./savedSearchRows.js"
import { makeSqlBlocklist } from "./sqlBlocklist.js"
import {
  AddressRow,
  CountRow,
  decodeRows,
  FamilyRow,
  FileRow,
  FirstSeenRow,
  HashRow,
  HitRow,
  HostRow,
  IdRow,
  InfohashExportRow,
  InfohashRow,
  InfohashTotalsRow,
  LockRow,
  NodeRow,
  OpenSessionRow,
  PageRow,
  PassRow,
  PeerRow,
  SavedSearchRow,
  SessionRow,
  SummaryRow,
  TorrentRow,
  TorrentTotalsRow
} from "./sqlRows.js"
import { makeSqlStorage } from "./sqlStorage.js"
import { chunkRows, MAX_QUERY_WORDS, searchWords } from "./sqlText.js"

// One SQL implementation of the Repository for SQLite and PostgreSQL; what differs between them is in dialect.ts,
// and every row read is decoded through its Schema in sqlRows.ts. Batches are aggregated in memory first (so one
// statement never touches a row twice, which PostgreSQL forbids) and sorted by key (so concurrent writers to
// one PostgreSQL take row locks in the same order and cannot deadlock).

const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength)
const compareBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(buf(a), buf(b))
const byKey = <A>([a]: readonly [string, A], [b]: readonly [string, A]) => a < b ? -1 : a > b ? 1 : 0
const PAGE = 500
/** A torrent's file paths as put into the full-text index (SQLite's contentless index needs the same text back). */
const indexedPaths = (paths: ReadonlyArray<string>) => paths.join("\n").slice(0, MAX_INDEXED_TEXT)

/** A node's sightings of a batch, merged. */
interface NodeUpsert {
  readonly id: Uint8Array
  readonly host: string
  readonly port: number
  firstSeen: number
  lastSeen: number
  lastResponse: number | null
  timesSeen: number
  bep42: 0 | 1 | null
  version: Buffer | null
  readOnly: 0 | 1
  bep51: 0 | 1 | null
}
/** An infohash's peer of a batch, merged. */
interface PeerUpsert {
  readonly hash: Uint8Array
  readonly host: string
  readonly port: number
  firstSeen: number
  lastSeen: number
}
/** Sightings of an infohash by one source in one hour. */
interface HourUpsert {
  readonly hour: number
  readonly hash: Uint8Array
  readonly source: string
  sightings: number
}
/** An infohash's latest swarm estimate of a batch. */
interface SwarmUpdate {
  readonly hash: Uint8Array
  readonly seeders: number
  readonly leechers: number
  readonly at: number
}

export const makeSqlRepository = (dialect: Dialect) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const maxParams = dialect.maxParams
    const MIN = dialect.least
    const MAX = dialect.greatest
    const placeholders = (count: number, start = 0) => placeholdersOf(dialect, count, start)
    const tuples = (rows: number, width: number) => tuplesOf(dialect, rows, width)
    /** Runs a statement whose rows are not read. */
    const query = (text: string, params: ReadonlyArray<unknown> = []) =>
      sql.unsafe<object>(text, params as Array<unknown>)
    /** Runs a query and decodes its rows. */
    const select = <A, I>(schema: Schema.Schema<A, I, never>, text: string, params: ReadonlyArray<unknown> = []) =>
      Effect.flatMap(query(text, params), (rows) => decodeRows(schema, rows))
    const run = (s: Statement) => query(s.text, s.params)
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
                dialect.afterFailedCommit === undefined ? Effect.void : Effect.ignore(query(dialect.afterFailedCommit)),
                Effect.fail(fail(operation)(defect))
              )
            )
            : Option.none()
        ),
        Effect.uninterruptible
      )
    const context = { dialect, run: query, select, indexedPaths }
    const bl = makeSqlBlocklist(context)
    const storage = makeSqlStorage({ ...context, transaction }, bl)
    /** This process's turn at the housekeeping lock. */
    const local = yield* Effect.makeSemaphore(1)
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

    for (const statement of dialect.setup) yield* query(statement).pipe(Effect.orDie)

    // Columns added by migration 0005 (a database opened read-only is not migrated, so they may be missing).
    const hasColumn = (table: string, column: string) =>
      query(dialect.hasColumn, [table, column]).pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.mapError(fail("open"))
      )
    const hasTable = (table: string) =>
      query(dialect.hasTable, [table]).pipe(Effect.map((rows) => rows.length > 0), Effect.mapError(fail("open")))
    const columns = {
      category: yield* hasColumn("torrents", "category"),
      bep51: yield* hasColumn("nodes", "bep51"),
      extensions: yield* hasTable("file_extensions"),
      popularity: yield* hasTable("infohash_hours"),
      responseRates: yield* hasTable("response_rates"),
      // Migration 0011's aggregates (analysisAggregates.ts); SQLite's indexes for the all-time tops come with them.
      aggregates: yield* hasTable("source_groups"),
      cover: yield* query(dialect.hasIndex, ["torrents_cover"]).pipe(
        Effect.map((rows) => rows.length > 0),
        Effect.mapError(fail("open"))
      ),
      // PostgreSQL's words in their own table (migration 0012), else in `torrents.search`.
      words: yield* hasTable("torrent_words")
    }
    const fullText = dialect.fullTextBefore !== undefined && !columns.words ? dialect.fullTextBefore : dialect.fullText
    const categoryColumn = columns.category ? "t.category" : "NULL AS category"

    // === Writes ===

    const upsertNodes = (nodes: ReadonlyArray<NodeSighting>) => {
      const merged = new Map<string, NodeUpsert>()
      for (const n of nodes) {
        const key = `${toHex(n.id)}|${n.host}|${n.port}`
        const prev = merged.get(key)
        const bep42 = n.bep42 === undefined ? null : n.bep42 ? 1 : 0
        const version = n.version === undefined ? null : buf(n.version)
        const bep51 = n.bep51 === undefined ? null : n.bep51 ? 1 : 0
        if (prev === undefined) {
          merged.set(key, {
            id: n.id,
            host: n.host,
            port: n.port,
            firstSeen: n.seenAt,
            lastSeen: n.seenAt,
            lastResponse: n.respondedAt ?? null,
            timesSeen: 1,
            bep42,
            version,
            readOnly: n.readOnly ? 1 : 0,
            bep51
          })
        } else {
          prev.firstSeen = Math.min(prev.firstSeen, n.seenAt)
          prev.lastSeen = Math.max(prev.lastSeen, n.seenAt)
          if (n.respondedAt !== undefined) prev.lastResponse = Math.max(prev.lastResponse ?? 0, n.respondedAt)
          prev.timesSeen++
          if (bep42 !== null) prev.bep42 = bep42
          if (version !== null) prev.version = version
          if (bep51 !== null) prev.bep51 = bep51
        }
      }
      const rows = [...merged.entries()].sort(byKey).map((
        [, n]
      ) => [
        buf(n.id),
        n.host,
        n.port,
        n.firstSeen,
        n.lastSeen,
        n.lastResponse,
        n.timesSeen,
        n.bep42,
        n.version,
        n.readOnly,
        n.bep51
      ])
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
      const peers = new Map<string, PeerUpsert>()
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
          if (prev === undefined) {
            peers.set(pk, { hash: d.infoHash, host: d.peer.host, port: d.peer.port, firstSeen: d.at, lastSeen: d.at })
          } else {
            prev.firstSeen = Math.min(prev.firstSeen, d.at)
            prev.lastSeen = Math.max(prev.lastSeen, d.at)
          }
        }
      }
      const hashRows = [...byHash.entries()].sort(byKey).map(([, a]) => [buf(a.hash), a.first, a.last, ...a.counts])
      // Sightings per hour, infohash and source; each infohash's latest swarm estimate of the batch.
      const hours = new Map<string, HourUpsert>()
      const swarms = new Map<string, SwarmUpdate>()
      let newestHour = 0
      for (const d of discoveries) {
        const hour = Math.floor(d.at / HOUR_MS) * HOUR_MS
        newestHour = Math.max(newestHour, hour)
        const key = `${hour}|${toHex(d.infoHash)}|${d.source}`
        const prev = hours.get(key)
        if (prev === undefined) hours.set(key, { hour, hash: d.infoHash, source: d.source, sightings: 1 })
        else prev.sightings++
        if (d.swarm !== undefined) {
          const sk = toHex(d.infoHash)
          const s = swarms.get(sk)
          if (s === undefined || s.at <= d.at) {
            swarms.set(sk, {
              hash: d.infoHash,
              seeders: Math.round(d.swarm.seeders),
              leechers: Math.round(d.swarm.leechers),
              at: d.at
            })
          }
        }
      }
      const hourRows = columns.popularity
        ? [...hours.entries()].sort(byKey).map(([, h]) => [h.hour, buf(h.hash), h.source, h.sightings])
        : []
      const swarmRows = columns.popularity ? [...swarms.entries()].sort(byKey).map(([, s]) => s) : []
      const prune = columns.popularity && newestHour > prunedHour
      const peerRows = [...peers.entries()].sort(byKey).map((
        [, p]
      ) => [buf(p.hash), p.host, p.port, p.firstSeen, p.lastSeen])
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
          for (const s of swarmRows) {
            const [a, b, c, d, e] = placeholders(5)
            yield* query(
              `UPDATE infohashes SET seeders = ${a}, leechers = ${b}, scraped_at = ${c}
               WHERE hash = ${d} AND (scraped_at IS NULL OR scraped_at <= ${e})`,
              [s.seeders, s.leechers, s.at, buf(s.hash), s.at]
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
      const sorted = [...addByInterval(new Map(), rates).values()].sort((a, b) => a.at - b.at)
      const rows = sorted.map((x) => [x.at, x.queries, x.responses, x.timeouts])
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
            sorted[sorted.length - 1]!.at - RESPONSE_RATE_RETENTION_MS
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
        const [ih] = yield* select(
          FirstSeenRow,
          `SELECT first_seen FROM infohashes WHERE hash = ${placeholders(1)[0]}`,
          [
            buf(t.infoHash)
          ]
        )
        const discoveredAt = ih!.first_seen
        const paths = indexedPaths(t.files.map((f) => f.path))
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
        const inserted = yield* Effect.flatMap(
          run(fullText.insertTorrent(columns, values, t.name, paths)),
          (rows) => decodeRows(IdRow, rows)
        )
        if (inserted.length === 0) return
        const id = inserted[0]!.id
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
        if (fullText.indexTorrent !== undefined) yield* run(fullText.indexTorrent(id, t.name, paths))
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
            const rows = [...extensions].sort(byKey).map(([ext, e]) => [
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
     * fewer for a relevance ranking); `whole`: every word whole, the last too (see WHOLE_WORDS_ABOVE); `covered`:
     * the statement reads only the id, the filters' columns and a sort key of `t` (see FullText.match).
     */
    const filtersOf = (
      q: SearchQuery | ExportQuery,
      binder: Binder,
      visible = "",
      bounded: number | false = false,
      whole = false,
      ranked = true,
      covered = false
    ) => {
      const where: Array<string> = visible === "" ? [] : [visible]
      const p = binder.bind
      let from = "torrents t"
      let rank: string | undefined
      let score: { readonly expr: string; readonly descending: boolean } | undefined
      const words = q.text === undefined ? [] : searchWords(q.text).slice(0, MAX_QUERY_WORDS)
      // The text first: with SQLite's positional placeholders, a bounded FROM's parameter comes before WHERE's.
      if (words.length > 0) {
        const match = fullText.match(binder, words, whole, bounded, ranked, covered)
        from = match.from
        rank = match.rank
        score = match.score
        if (match.where !== undefined) where.push(match.where)
      }
      if (q.minSize !== undefined) where.push(`t.total_length >= ${p(q.minSize)}`)
      if (q.maxSize !== undefined) where.push(`t.total_length <= ${p(q.maxSize)}`)
      if (q.minFiles !== undefined) where.push(`t.file_count >= ${p(q.minFiles)}`)
      if (q.maxFiles !== undefined) where.push(`t.file_count <= ${p(q.maxFiles)}`)
      if (q.since !== undefined) where.push(`t.discovered_at >= ${p(q.since)}`)
      if (q.until !== undefined) where.push(`t.discovered_at < ${p(q.until)}`)
      if (q.category !== undefined) where.push(`t.category = ${p(q.category)}`)
      if (q.text !== undefined && q.text.trim() !== "" && words.length === 0) where.push("1 = 0")
      return { from, where: where.length > 0 ? `WHERE ${where.join(" AND ")}` : "", rank, score, p }
    }

    // Refused rather than answered wrongly: only a migrated database knows the categories.
    const categoryKnown = (q: SearchQuery | ExportQuery) =>
      q.category === undefined || columns.category ? Effect.void : Effect.fail(
        new Error("this database predates content categories: open it once for writing (e.g. crawl) to add them")
      )

    const summaryOf = (r: typeof SummaryRow.Type) => ({
      infoHash: r.hash as InfoHash,
      name: r.name,
      totalLength: r.total_length,
      fileCount: r.file_count,
      discoveredAt: r.discovered_at,
      fetchedAt: r.fetched_at,
      category: r.category
    })
    const summaries = (text: string, params: ReadonlyArray<unknown>) =>
      Effect.map(select(SummaryRow, text, params), (rows) => rows.map(summaryOf))

    /** How many rows `from where` holds, counting at most SEARCH_CAP + 1. */
    const cappedCount = (from: string, where: string, params: ReadonlyArray<unknown>) =>
      Effect.map(
        select(
          CountRow,
          `SELECT count(*) AS n FROM (SELECT 1 FROM ${from} ${where} LIMIT ${SEARCH_CAP + 1}) c`,
          params
        ),
        ([row]) => {
          const n = row!.n
          return { total: Math.min(n, SEARCH_CAP), capped: n > SEARCH_CAP }
        }
      )

    /** How many torrents the words match (text alone, blocklist ignored), counting at most `atMost`. */
    const textCount = (words: ReadonlyArray<string>, whole: boolean, atMost: number) => {
      const s = fullText.count(words, whole, atMost)
      return Effect.map(select(CountRow, s.text, s.params), ([row]) => row!.n)
    }

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
        // The larger of distinct peers seen and the BEP 33 swarm estimate (dialect.popular).
        // Kept on the torrent row (migration 0011), else looked up in its infohash row.
        const popular = (from: string) =>
          columns.aggregates ? { from, order: "t.popularity DESC" } : dialect.popular(from, columns.popularity)
        const order = {
          relevance: "t.discovered_at DESC",
          newest: "t.discovered_at DESC",
          oldest: "t.discovered_at ASC",
          largest: "t.total_length DESC",
          smallest: "t.total_length ASC",
          name: "t.name ASC",
          popular: popular("").order
        }
        const summaryColumns =
          `t.hash, t.name, t.total_length, t.file_count, t.discovered_at, t.fetched_at, ${categoryColumn}`
        // An index that lists its hits (SQLite's FTS5), text alone, not known to be capped yet: one pass over the
        // full-text index collects the matching ids, newest first (at most SEARCH_CAP + 1; with their rank when the
        // order needs it and several words intersect, where a second pass would intersect them again) and serves
        // the count and the page (past the cap, from the first of them: the bounded window).
        let onePass: { total: number; capped: boolean } | undefined
        const { byIds, hits: listHits, rankedPage } = fullText
        if (listHits !== undefined && byIds !== undefined && textOnly && !(whole && words.length === 1)) {
          const ranked = sort === "relevance" && words.length > 1
          const s = listHits(words, whole, ranked, SEARCH_CAP + 1)
          const hits = yield* select(HitRow, s.text, s.params)
          onePass = { total: Math.min(hits.length, SEARCH_CAP), capped: hits.length > SEARCH_CAP }
          if (ranked || sort !== "relevance") {
            // The hits come newest first: past the cap, the first ones are the bounded window of the page (below).
            const window = onePass.capped && (sort === "relevance" || sort === "newest")
              ? Math.min(SEARCH_CAP, Math.max(RANK_WINDOW, offset + limit))
              : SEARCH_CAP
            const candidates = onePass.capped ? hits.slice(0, window) : hits
            const pageColumns = `t.id, ${summaryColumns}`
            // A sort by size or date: the page's ids from the covering index (the candidates' keys without their
            // rows), then the rows of those (below). As ORDER BY f.rank, t.id for a ranked order.
            const covered = columns.cover && sort !== "relevance" && sort !== "name" && sort !== "popular"
            if (ranked || covered) {
              let page: ReadonlyArray<number>
              if (ranked) {
                page = candidates.map((h) => ({ id: h.id, rank: h.rank ?? 0 }))
                  .sort((a, b) => a.rank - b.rank || a.id - b.id).slice(offset, offset + limit).map((h) => h.id)
              } else {
                const b = dialect.binder()
                page = (yield* select(
                  IdRow,
                  `SELECT t.id FROM torrents t INDEXED BY torrents_cover WHERE ${byIds(b, candidates.map((h) => h.id))}
                   ORDER BY ${order[sort]}, t.id LIMIT ${b.bind(limit)} OFFSET ${b.bind(offset)}`,
                  b.params
                )).map((r) => r.id)
              }
              const b = dialect.binder()
              const rows = page.length === 0
                ? []
                : yield* select(PageRow, `SELECT ${pageColumns} FROM torrents t WHERE ${byIds(b, page)}`, b.params)
              const byId = new Map(rows.map((r) => [r.id, r]))
              return { ...onePass, items: page.flatMap((id) => byId.has(id) ? [summaryOf(byId.get(id)!)] : []) }
            }
            const b = dialect.binder()
            const items = yield* summaries(
              `SELECT ${pageColumns} FROM torrents t WHERE ${byIds(b, candidates.map((h) => h.id))}
               ORDER BY ${order[sort]}, t.id LIMIT ${b.bind(limit)} OFFSET ${b.bind(offset)}`,
              b.params
            )
            return { ...onePass, items }
          }
        }
        // Words with filters (or the blocklist), or any text on an index that cannot list its hits (PostgreSQL):
        // one statement collects the matches once (at most SEARCH_CAP + 1, with the sort key) for the count and
        // the page's ids, where a count and a page query would each visit every match below the cap. A relevance
        // order on text alone is left to the bounded window below (its rank over SEARCH_CAP rows costs more).
        let passCount: { total: number; capped: boolean } | undefined
        const passKey = {
          newest: { expr: "t.discovered_at", descending: true },
          oldest: { expr: "t.discovered_at", descending: false },
          largest: { expr: "t.total_length", descending: true },
          smallest: { expr: "t.total_length", descending: false },
          relevance: undefined as { expr: string; descending: boolean } | undefined
        }
        const knownCapped = textOnly && whole && words.length === 1
        if (
          onePass === undefined && words.length > 0 && !knownCapped && sort !== "name" && sort !== "popular" &&
          !(sort === "relevance" && textOnly && words.length === 1)
        ) {
          const b = dialect.binder()
          const f = filtersOf(q, b, visible, false, whole, sort === "relevance", columns.cover)
          const key = sort === "relevance" ? f.score : passKey[sort]
          if (key !== undefined) {
            const dir = key.descending ? "DESC" : "ASC"
            const rows = yield* select(
              PassRow,
              `WITH m AS MATERIALIZED (SELECT t.id AS id, ${key.expr} AS k FROM ${f.from} ${f.where} LIMIT ${
                SEARCH_CAP + 1
              })
               SELECT id, (SELECT count(*) FROM m) AS n FROM m ORDER BY k ${dir}, id LIMIT ${f.p(limit)} OFFSET ${
                f.p(offset)
              }`,
              b.params
            )
            const n = rows[0]?.n ?? (offset === 0 ? 0 : undefined)
            if (n !== undefined) {
              passCount = { total: Math.min(n, SEARCH_CAP), capped: n > SEARCH_CAP }
              if (!passCount.capped) {
                const ids = rows.map((r) => r.id)
                if (ids.length === 0) return { ...passCount, items: [] }
                const page = yield* select(
                  PageRow,
                  `SELECT t.id, ${summaryColumns} FROM torrents t WHERE t.id IN (${
                    placeholders(ids.length).join(",")
                  })`,
                  ids
                )
                const byId = new Map(page.map((r) => [r.id, r]))
                return { ...passCount, items: ids.flatMap((id) => byId.has(id) ? [summaryOf(byId.get(id)!)] : []) }
              }
            }
          }
        }
        // The count first (capped). SQLite counts text alone in the full-text index, without touching `torrents`.
        const countBinder = dialect.binder()
        const counted = filtersOf(q, countBinder, visible, false, whole, true, columns.cover)
        const count = onePass !== undefined
          ? onePass
          : passCount !== undefined
          ? passCount
          : knownCapped
          ? { total: SEARCH_CAP, capped: true } // the probe counted this very word past SEARCH_CAP
          : textOnly
          ? yield* Effect.map(textCount(words, whole, SEARCH_CAP + 1), (n) => ({
            total: Math.min(n, SEARCH_CAP),
            capped: n > SEARCH_CAP
          }))
          : yield* cappedCount(counted.from, counted.where, countBinder.params)
        // When the words match more than SEARCH_CAP, the page comes from their SEARCH_CAP most recent matches; on
        // text alone, relevance and newest from fewer (RANK_WINDOW, or as many as the page reaches).
        const bounded = words.length > 0 && count.capped
        const window = bounded && textOnly && (sort === "relevance" || sort === "newest")
          ? Math.min(SEARCH_CAP, Math.max(RANK_WINDOW, offset + limit))
          : SEARCH_CAP
        if (rankedPage !== undefined && textOnly && sort === "relevance") {
          // Relevance on text alone (SQLite): the page from the index first, joining only its rows.
          const s = rankedPage(words, whole, bounded ? window : false, summaryColumns, limit, offset)
          return { ...count, items: yield* summaries(s.text, s.params) }
        }
        const binder = dialect.binder()
        const f = filtersOf(
          q,
          binder,
          visible,
          bounded ? window : false,
          whole,
          sort === "relevance",
          columns.cover && !textOnly
        )
        const by = sort === "relevance" ? (f.rank ?? order.relevance) : order[sort]
        const from = sort === "popular" ? popular(f.from).from : f.from
        const items = yield* summaries(
          `SELECT ${summaryColumns} FROM ${from}
           ${f.where} ORDER BY ${by}, t.id LIMIT ${f.p(limit)} OFFSET ${f.p(offset)}`,
          binder.params
        )
        return { ...count, items }
      }).pipe(Effect.mapError(fail("search")))

    const filesOf = (ids: ReadonlyArray<number>) =>
      ids.length === 0 ? Effect.succeed(new Map<number, Array<TorrentFile>>()) : Effect.map(
        select(
          FileRow,
          `SELECT torrent_id, idx, path, path_raw, length FROM files WHERE torrent_id IN (${
            placeholders(ids.length).join(",")
          }) ORDER BY torrent_id, idx`,
          ids
        ),
        (rows) => {
          const out = new Map<number, Array<TorrentFile>>()
          for (const r of rows) {
            const list = out.get(r.torrent_id) ?? []
            list.push({ path: r.path, pathRaw: r.path_raw, length: r.length })
            out.set(r.torrent_id, list)
          }
          return out
        }
      )

    const torrentOf = (r: TorrentRow, files: ReadonlyArray<TorrentFile>) => ({
      infoHash: r.hash as InfoHash,
      infoHashV2: r.hash_v2,
      name: r.name,
      nameRaw: r.name_raw,
      totalLength: r.total_length,
      pieceLength: r.piece_length,
      private: r.private,
      version: r.version,
      files,
      info: r.info,
      fetchedAt: r.fetched_at,
      discoveredAt: r.discovered_at,
      sourcePeer: r.source_host === undefined ? undefined : { host: r.source_host, port: r.source_port ?? 0 },
      sourceClient: r.source_client,
      category: r.category
    })

    const infohashOf = (r: typeof InfohashRow.Type): InfohashRecord => ({
      infoHash: r.hash as InfoHash,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      seen: {
        sample: r.seen_sample,
        get_peers: r.seen_get_peers,
        announce: r.seen_announce,
        lookup: r.seen_lookup
      },
      peersSeen: r.peers_seen,
      status: r.status,
      attempts: r.attempts,
      lastError: r.last_error,
      swarm: r.scraped_at === undefined
        ? undefined
        : { seeders: r.seeders ?? 0, leechers: r.leechers ?? 0, at: r.scraped_at }
    })

    const getInfohash = (infoHash: InfoHash) =>
      select(InfohashRow, `SELECT * FROM infohashes WHERE hash = ${placeholders(1)[0]}`, [buf(infoHash)]).pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), infohashOf)),
        Effect.mapError(fail("getInfohash"))
      )

    const getTorrent = (infoHash: InfoHash) =>
      Effect.gen(function*() {
        const visible = yield* Effect.mapError(bl.visible(), fail("getTorrent"))
        const [row] = yield* select(
          TorrentRow,
          `SELECT * FROM torrents t WHERE hash = ${placeholders(1)[0]}${visible === "" ? "" : ` AND ${visible}`}`,
          [buf(infoHash)]
        ).pipe(Effect.mapError(fail("getTorrent")))
        if (row === undefined) return yield* Effect.fail(new TorrentNotFound({ infoHash: toHex(infoHash) }))
        const files = yield* filesOf([row.id]).pipe(Effect.mapError(fail("getTorrent")))
        const ih = yield* getInfohash(infoHash)
        const peers = yield* select(
          PeerRow,
          `SELECT host, port, last_seen FROM infohash_peers WHERE hash = ${
            placeholders(1)[0]
          } ORDER BY last_seen DESC LIMIT 100`,
          [buf(infoHash)]
        ).pipe(Effect.mapError(fail("getTorrent")))
        const record = Option.getOrUndefined(ih)
        const detail: TorrentDetail = {
          ...torrentOf(row, files.get(row.id) ?? []),
          fileCount: row.file_count,
          seen: record?.seen ?? { sample: 0, get_peers: 0, announce: 0, lookup: 0 },
          peersSeen: record?.peersSeen ?? 0,
          swarm: record?.swarm,
          peers: peers.map((p) => ({ host: p.host, port: p.port, lastSeen: p.last_seen }))
        }
        return detail
      })

    const pendingMetadata = (limit: number) =>
      select(
        InfohashRow,
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
        const b = dialect.binder()
        const list = b.list(hashes.map(buf))
        // Blocked infohashes are settled too: never fetched.
        const text = `SELECT hash FROM torrents WHERE hash IN (${list.text})
           UNION SELECT hash FROM blocklist WHERE hash IN (${list.again()})
           UNION SELECT hash FROM infohashes WHERE hash IN (${list.again()}) AND status = 'failed'
             AND attempts >= ${b.bind(giveUp.minAttempts)} AND last_attempt >= ${b.bind(giveUp.since)}`
        const rows = yield* select(HashRow, text, b.params)
        return new Set(rows.map((r) => toHex(r.hash)))
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
      select(HostRow, `SELECT host FROM bans WHERE until > ${placeholders(1)[0]} LIMIT 100000`, [now]).pipe(
        Effect.map((rows) => rows.map((r) => r.host)),
        Effect.mapError(fail("activeBans"))
      )

    const recentNodes = (limit: number) =>
      select(
        AddressRow,
        `SELECT host, port FROM nodes WHERE last_response IS NOT NULL ORDER BY last_response DESC LIMIT ${
          placeholders(1)[0]
        }`,
        [limit]
      ).pipe(
        Effect.map((rows) => rows.map((r) => ({ host: r.host, port: r.port }))),
        Effect.mapError(fail("recentNodes"))
      )

    const nodes = (limit: number) =>
      select(
        NodeRow,
        `SELECT id, host, port, first_seen, last_seen, last_response, times_seen, bep42, version FROM nodes
         ORDER BY last_seen DESC LIMIT ${placeholders(1)[0]}`,
        [limit]
      ).pipe(
        Effect.map((rows) =>
          rows.map((r): NodeRecord => ({
            id: r.id as NodeId,
            host: r.host,
            port: r.port,
            firstSeen: r.first_seen,
            lastSeen: r.last_seen,
            lastResponse: r.last_response,
            timesSeen: r.times_seen,
            bep42: r.bep42,
            version: r.version
          }))
        ),
        Effect.mapError(fail("nodes"))
      )

    const stats = Effect.gen(function*() {
      const one = <A, I>(schema: Schema.Schema<A, I, never>, text: string) =>
        Effect.map(select(schema, text), (rows) => rows[0]!)
      // From migration 0011's kept groups when they exist (at most 96 rows), else a scan of every infohash.
      const byGroup = (cond: string) => `COALESCE(sum(CASE WHEN ${cond} THEN n ELSE 0 END), 0)`
      const ih = columns.aggregates
        ? yield* one(
          InfohashTotalsRow,
          `SELECT COALESCE(sum(n), 0) AS n, ${byGroup("s0 = 1")} AS sample, ${byGroup("s1 = 1")} AS get_peers,
            ${byGroup("s2 = 1")} AS announce, ${byGroup("s3 = 1")} AS lookup, ${byGroup("wp = 1")} AS with_peers,
            ${byGroup("st = 2")} AS failed FROM source_groups`
        )
        : yield* one(
          InfohashTotalsRow,
          `SELECT count(*) AS n, sum(CASE WHEN seen_sample > 0 THEN 1 ELSE 0 END) AS sample,
          sum(CASE WHEN seen_get_peers > 0 THEN 1 ELSE 0 END) AS get_peers,
          sum(CASE WHEN seen_announce > 0 THEN 1 ELSE 0 END) AS announce,
          sum(CASE WHEN seen_lookup > 0 THEN 1 ELSE 0 END) AS lookup,
          sum(CASE WHEN peers_seen > 0 THEN 1 ELSE 0 END) AS with_peers,
          sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed FROM infohashes`
        )
      // The family is read from the address (an IPv6 literal has a colon): see RepositoryStats.byFamily.
      const v6 = "sum(CASE WHEN host LIKE '%:%' THEN 1 ELSE 0 END) AS v6"
      const nodes = yield* one(FamilyRow, `SELECT count(*) AS n, ${v6} FROM nodes`)
      const peers = yield* one(FamilyRow, `SELECT count(*) AS n, ${v6} FROM infohash_peers`)
      const split = (r: typeof FamilyRow.Type) => ({ ipv4: r.n - r.v6, ipv6: r.v6 })
      const torrents = yield* one(
        TorrentTotalsRow,
        "SELECT count(*) AS n, COALESCE(sum(file_count), 0) AS files FROM torrents"
      )
      const sessions = yield* one(CountRow, "SELECT count(*) AS n FROM sessions")
      return {
        nodes: nodes.n,
        infohashes: ih.n,
        bySource: { sample: ih.sample, get_peers: ih.get_peers, announce: ih.announce, lookup: ih.lookup },
        withPeers: ih.with_peers,
        torrents: torrents.n,
        files: torrents.files,
        failed: ih.failed,
        sessions: sessions.n,
        byFamily: { nodes: split(nodes), peers: split(peers) }
      }
    }).pipe(Effect.mapError(fail("stats")))

    const exportTorrents = (q: ExportQuery) =>
      Stream.paginateEffect(0, (afterId: number) =>
        Effect.gen(function*() {
          yield* categoryKnown(q)
          const binder = dialect.binder()
          const f = filtersOf(q, binder, yield* bl.visible())
          const where = f.where === "" ? `WHERE t.id > ${f.p(afterId)}` : `${f.where} AND t.id > ${f.p(afterId)}`
          const rows = yield* select(
            TorrentRow,
            `SELECT t.* FROM ${f.from} ${where} ORDER BY t.id LIMIT ${PAGE}`,
            binder.params
          )
          const files = yield* filesOf(rows.map((r) => r.id))
          const items: Array<ExportItem> = rows.map((r) => ({
            infoHash: r.hash as InfoHash,
            discoveredAt: r.discovered_at,
            torrent: torrentOf(r, files.get(r.id) ?? [])
          }))
          const next = rows.length < PAGE ? Option.none<number>() : Option.some(rows[rows.length - 1]!.id)
          return [items, next] as const
        }).pipe(Effect.mapError(fail("export")))).pipe(Stream.flatMap((chunk) => Stream.fromIterable(chunk)))

    const exportInfohashes = (q: ExportQuery) =>
      Stream.paginateEffect(Buffer.alloc(0), (after: Buffer) =>
        Effect.gen(function*() {
          const b = dialect.binder()
          const where: Array<string> = [`i.hash > ${b.bind(after)}`]
          if (q.hasMetadata === false) where.push("i.status <> 'fetched'")
          const visible = yield* bl.visible("i.hash", "t.name")
          if (visible !== "") where.push(visible)
          if (q.since !== undefined) where.push(`i.first_seen >= ${b.bind(q.since)}`)
          if (q.until !== undefined) where.push(`i.first_seen < ${b.bind(q.until)}`)
          const raw = yield* query(
            `SELECT i.hash AS ih, i.first_seen, t.* FROM infohashes i LEFT JOIN torrents t ON t.hash = i.hash
             WHERE ${where.join(" AND ")} ORDER BY i.hash LIMIT ${PAGE}`,
            b.params
          )
          // Each row is an infohash, and its torrent's columns when it has one (NULL otherwise).
          const rows = yield* decodeRows(InfohashExportRow, raw)
          const torrents = yield* decodeRows(TorrentRow, raw.filter((_, i) => rows[i]!.id !== undefined))
          const files = yield* filesOf(torrents.map((t) => t.id))
          const byId = new Map(torrents.map((t) => [t.id, t]))
          const items: Array<ExportItem> = rows.map((r) => {
            const t = r.id === undefined ? undefined : byId.get(r.id)
            return {
              infoHash: r.ih as InfoHash,
              discoveredAt: r.first_seen,
              torrent: t === undefined ? undefined : torrentOf(t, files.get(t.id) ?? [])
            }
          })
          const next = rows.length < PAGE ? Option.none<Buffer>() : Option.some(buf(rows[rows.length - 1]!.ih))
          return [items, next] as const
        }).pipe(Effect.mapError(fail("export")))).pipe(Stream.flatMap((chunk) => Stream.fromIterable(chunk)))

    const hasTorrentFilters = (q: ExportQuery) =>
      q.text !== undefined || q.minSize !== undefined || q.maxSize !== undefined || q.minFiles !== undefined ||
      q.maxFiles !== undefined || q.category !== undefined

    const startSession = (settings: unknown) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const me = thisProcess()
        const [row] = yield* select(
          IdRow,
          `INSERT INTO sessions (started_at, settings, state, host, pid, alive_at) VALUES (${
            placeholders(6).join(",")
          }) RETURNING id`,
          [now, JSON.stringify(settings ?? null), "running", me.host, me.pid, now]
        )
        return row!.id
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
      const open = yield* select(
        OpenSessionRow,
        "SELECT id, host, pid, alive_at, started_at FROM sessions WHERE ended_at IS NULL"
      )
      const dead = open.filter((r) =>
        sessionIsDead({ host: r.host ?? null, pid: r.pid ?? null, aliveAt: r.alive_at ?? null }, now)
      )
      for (const r of dead) {
        const [a, b] = placeholders(2)
        yield* query(
          `UPDATE sessions SET state = 'interrupted', ended_at = ${a} WHERE id = ${b} AND ended_at IS NULL`,
          [r.alive_at ?? r.started_at, r.id]
        )
      }
      return dead.map((r) => r.id)
    }).pipe(Effect.mapError(fail("closeInterruptedSessions")))

    const sessions = (limit: number) =>
      select(SessionRow, `SELECT * FROM sessions ORDER BY id DESC LIMIT ${placeholders(1)[0]}`, [limit]).pipe(
        Effect.map((rows) =>
          rows.map((r) => ({
            id: r.id,
            startedAt: r.started_at,
            endedAt: r.ended_at,
            state: r.state === "interrupted"
              ? "interrupted" as const
              : r.ended_at === undefined
              ? "running" as const
              : "ended" as const,
            settings: r.settings,
            totals: r.totals
          }))
        ),
        Effect.mapError(fail("sessions"))
      )

    // === Saved searches ===

    const newMatches = (q: SearchQuery, after: SavedSearchCursor, until: number, limit: number) =>
      Effect.gen(function*() {
        const binder = dialect.binder()
        // Blocked torrents are never delivered either.
        const f = filtersOf({ ...q, sort: undefined, limit: undefined, offset: undefined }, binder, yield* bl.visible())
        const at = f.p(after.fetchedAt)
        const position = after.infoHash === undefined
          ? `t.fetched_at > ${at}`
          : `(t.fetched_at > ${at} OR (t.fetched_at = ${f.p(after.fetchedAt)} AND t.hash > ${
            f.p(buf(after.infoHash))
          }))`
        const conditions = `${position} AND t.fetched_at <= ${f.p(until)}`
        return yield* summaries(
          `SELECT t.hash, t.name, t.total_length, t.file_count, t.discovered_at, t.fetched_at FROM ${f.from}
           ${f.where === "" ? `WHERE ${conditions}` : `${f.where} AND ${conditions}`}
           ORDER BY t.fetched_at, t.hash LIMIT ${f.p(Math.max(1, limit))}`,
          binder.params
        )
      }).pipe(Effect.mapError(fail("newMatches")))

    const savedSearches = select(SavedSearchRow, "SELECT * FROM saved_searches ORDER BY id").pipe(
      Effect.map((rows) => rows.map(savedSearchOf)),
      Effect.mapError(fail("savedSearches"))
    )

    const addSavedSearch = (
      s: { readonly name: string; readonly query: string; readonly webhook: string; readonly createdAt: number }
    ) =>
      Effect.gen(function*() {
        const [existing] = yield* query(`SELECT id FROM saved_searches WHERE name = ${placeholders(1)[0]}`, [s.name])
        if (existing !== undefined) return yield* Effect.fail(new SavedSearchExists({ name: s.name }))
        const [row] = yield* select(
          SavedSearchRow,
          `INSERT INTO saved_searches (name, query, webhook, created_at, cursor_at) VALUES (${
            placeholders(5).join(",")
          }) RETURNING *`,
          [s.name, s.query, s.webhook, s.createdAt, s.createdAt]
        )
        return savedSearchOf(row!)
      }).pipe(Effect.catchTags({
        SqlError: (e) => Effect.fail(fail("addSavedSearch")(e)),
        ParseError: (e) => Effect.fail(fail("addSavedSearch")(e))
      }))

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
        const rows = yield* select(
          HashRow,
          `SELECT hash FROM import_queue ORDER BY queued_at, hash LIMIT ${placeholders(1)[0]}`,
          [Math.max(1, limit)]
        )
        return rows.map((r) => r.hash as InfoHash)
      }).pipe(Effect.mapError(fail("importQueue")))

    const analyses = makeSqlAnalyses(dialect, select, columns, (effect) => sql.withTransaction(effect))
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
      backend: dialect.backend,
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
      reclaim: (budget) => Effect.mapError(storage.reclaim(budget), fail("reclaim")),
      exclusively: (effect) => {
        const lock = dialect.housekeepingLock
        if (lock === undefined) return Effect.asSome(effect)
        // A session lock lives on one connection: it is reserved from the pool while the effect runs (and the
        // lock goes with the connection if this process dies). Within this process the callers take turns (the
        // crawl's pass before writing torrents waits for the periodic one instead of being skipped).
        return local.withPermits(1)(Effect.scoped(Effect.gen(function*() {
          const connection = yield* Effect.mapError(sql.reserve, fail("lock"))
          const statement = (text: string) =>
            connection.executeUnprepared(text, [], undefined).pipe(
              Effect.flatMap((rows) => decodeRows(LockRow, rows)),
              Effect.map((rows) => rows[0]?.ok === true),
              Effect.mapError(fail("lock"))
            )
          if (!(yield* statement(lock.acquire))) return Option.none()
          return yield* Effect.asSome(effect).pipe(Effect.ensuring(Effect.ignore(statement(lock.release))))
        })))
      }
    })
  })
