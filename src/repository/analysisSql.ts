import { Clock, Effect, type ParseResult, Schema } from "effect"
import { CATEGORIES, type Category } from "../domain/categories.js"
import { DISCOVERY_SOURCES } from "../domain/model.js"
import type {
  AnalysisOptions,
  ChurnAnalysis,
  ContentAnalysis,
  NodesAnalysis,
  PopularInfohash,
  PopularityAnalysis,
  PopularityWindow,
  SourcesAnalysis,
  SwarmInfohash
} from "./analysisModel.js"
import {
  daysOf,
  FILE_COUNT_EDGES,
  POPULARITY_WINDOWS,
  rateInterval,
  SESSION_EDGES,
  SIZE_EDGES,
  topOf,
  windowStart
} from "./analysisModel.js"
import type { Dialect } from "./dialect.js"
import { SqlBytes, SqlBytesOrNull, SqlNumberOrNull, SqlNumberOrZero as Num, SqlText, SqlTextOrNull } from "./sqlRows.js"

// The analyses in SQL, for SQLite and PostgreSQL: every answer is a handful of aggregate queries (full scans or
// GROUP BYs with a bounded number of groups), so memory stays bounded however many rows there are.

const DAY = 86_400_000

// The analyses' rows. Every count and sum is a number, 0 when SQL gives NULL (a sum over no rows).
const ContentGroup = Schema.Struct({
  category: SqlTextOrNull,
  sb: Num,
  fb: Num,
  priv: Num,
  version: SqlText,
  n: Num,
  bytes: Num,
  files: Num
})
const ExtensionCount = Schema.Struct({ ext: SqlText, n: Num, bytes: Num })
/** Columns `${prefix}0`, `${prefix}1`, … one per discovery source, in DISCOVERY_SOURCES' order. */
type PerSource<K extends string> = { readonly [I in 0 | 1 | 2 | 3 as `${K}${I}`]: typeof Num }
const sourceFields = <K extends string>(prefix: K) =>
  Object.fromEntries(DISCOVERY_SOURCES.map((_, i) => [`${prefix}${i}`, Num])) as PerSource<K>
/** A per-source column of a row (an index of DISCOVERY_SOURCES). */
const perSource = <K extends string>(row: { readonly [C in keyof PerSource<K>]: number }, prefix: K, i: number) =>
  (row as Record<string, number>)[`${prefix}${i}`] ?? 0
const SourceGroup = Schema.Struct({ wp: Num, st: Num, n: Num, ...sourceFields("s"), ...sourceFields("c") })
const SourceDay = Schema.Struct({ d: Num, n: Num, with_peers: Num, fetched: Num })
const VersionGroup = Schema.Struct({
  version: SqlBytesOrNull,
  n: Num,
  responded: Num,
  valid: Num,
  invalid: Num,
  bep51_yes: Num,
  bep51_no: Num,
  ro: Num,
  v6: Num
})
const ClientCount = Schema.Struct({ source_client: SqlTextOrNull, n: Num })
const ChurnGroup = Schema.Struct({ d: Num, b: Num, n: Num })
const LastMinute = Schema.Struct({ last: SqlNumberOrNull })
const FirstMinute = Schema.Struct({ first: Num })
const RatePoint = Schema.Struct({ b: Num, q: Num, r: Num, t: Num })
const swarmFields = { seeders: Num, leechers: Num, scraped_at: SqlNumberOrNull, name: SqlTextOrNull }
const Popular = Schema.Struct({
  hash: SqlBytes,
  peers: Num,
  sightings: Num,
  first_seen: Num,
  last_seen: Num,
  name: SqlTextOrNull
})
const WindowTop = Schema.Struct({ hash: SqlBytes, n: Num, peers: Num, ...swarmFields, ...sourceFields("s") })
const Swarm = Schema.Struct({ hash: SqlBytes, ...swarmFields })

/** `CASE` giving the bucket index of `column` among `edges` (constants of our own, inlined). */
const bucketCase = (column: string, edges: ReadonlyArray<number>) =>
  `CASE ${
    edges.map((e, i) => [e, i] as const).slice(1).reverse().map(([e, i]) => `WHEN ${column} >= ${e} THEN ${i}`)
      .join(" ")
  } ELSE 0 END`

export const makeSqlAnalyses = (
  dialect: Dialect,
  select: <A, I>(
    schema: Schema.Schema<A, I, never>,
    text: string,
    params?: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<A>, unknown | ParseResult.ParseError>,
  columns: {
    readonly category: boolean
    readonly bep51: boolean
    readonly extensions: boolean
    readonly popularity: boolean
    readonly responseRates: boolean
    /** Migration 0011's aggregates (analysisAggregates.ts). */
    readonly aggregates: boolean
  },
  /** Runs an effect in one transaction. */
  inTransaction: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, unknown>
) => {
  const p = dialect.placeholder

  const analyzeContent = (o: AnalysisOptions) =>
    Effect.gen(function*() {
      // One scan grouped by category, size and file-count buckets, private flag and version (at most
      // 7·8·5·2·3 groups), from which every count is summed here. (Scanned: SQLite would otherwise read the rows in
      // category index order, one lookup each.)
      const groups = yield* select(
        ContentGroup,
        `SELECT ${columns.category ? `${dialect.scanned("category")} AS category` : "NULL AS category"}, ${
          bucketCase("total_length", SIZE_EDGES)
        } AS sb,
           ${bucketCase("file_count", FILE_COUNT_EDGES)} AS fb, CASE WHEN private = 1 THEN 1 ELSE 0 END AS priv,
           version, count(*) AS n, COALESCE(sum(total_length), 0) AS bytes, COALESCE(sum(file_count), 0) AS files
         FROM torrents GROUP BY 1, 2, 3, 4, 5`
      )
      const totals = { n: 0, bytes: 0, files: 0, priv: 0, v1: 0, v2: 0, hybrid: 0 }
      const byCategory = new Map<string, { n: number; bytes: number }>()
      const sizes = SIZE_EDGES.map(() => 0)
      const fileCounts = FILE_COUNT_EDGES.map(() => 0)
      for (const g of groups) {
        totals.n += g.n
        totals.bytes += g.bytes
        totals.files += g.files
        if (g.priv === 1) totals.priv += g.n
        if (g.version === "v1") totals.v1 += g.n
        if (g.version === "v2") totals.v2 += g.n
        if (g.version === "hybrid") totals.hybrid += g.n
        if (g.category !== undefined) {
          const c = byCategory.get(g.category) ?? { n: 0, bytes: 0 }
          c.n += g.n
          c.bytes += g.bytes
          byCategory.set(g.category, c)
        }
        sizes[g.sb] = sizes[g.sb]! + g.n
        fileCounts[g.fb] = fileCounts[g.fb]! + g.n
      }
      // Kept as torrents are stored (file_extensions); a database from before it (opened read-only) is scanned.
      const extensions = columns.extensions
        ? yield* select(
          ExtensionCount,
          `SELECT ext, files AS n, bytes FROM file_extensions ORDER BY files DESC, ext ASC LIMIT ${p(1)}`,
          [topOf(o)]
        )
        : yield* select(
          ExtensionCount,
          `SELECT ext, count(*) AS n, COALESCE(sum(length), 0) AS bytes FROM (${dialect.fileExtensions}) e
           GROUP BY ext ORDER BY n DESC, ext ASC LIMIT ${p(1)}`,
          [topOf(o)]
        )
      const result: ContentAnalysis = {
        torrents: totals.n,
        bytes: totals.bytes,
        categories: CATEGORIES.map((category: Category) => ({
          category,
          torrents: byCategory.get(category)?.n ?? 0,
          bytes: byCategory.get(category)?.bytes ?? 0
        })),
        sizes: { edges: SIZE_EDGES, counts: sizes },
        fileCounts: { edges: FILE_COUNT_EDGES, counts: fileCounts },
        files: totals.files,
        extensions: extensions.map((r) => ({ extension: r.ext, files: r.n, bytes: r.bytes })),
        versions: { v1: totals.v1, v2: totals.v2, hybrid: totals.hybrid },
        private: totals.priv
      }
      return result
    })

  const analyzeSources = (o: AnalysisOptions) =>
    Effect.gen(function*() {
      // One scan grouped by which sources reported, whether peers were seen and the status: at most 2⁴·2·3
      // groups, from which every per-source count, overlap and the funnel are summed here.
      const flag = (cond: string) => `CASE WHEN ${cond} THEN 1 ELSE 0 END`
      const groups = columns.aggregates
        ? yield* select(
          SourceGroup,
          `SELECT s0, s1, s2, s3, wp, st, n, c0, c1, c2, c3 FROM source_groups WHERE n <> 0`
        )
        : yield* select(
          SourceGroup,
          `SELECT ${DISCOVERY_SOURCES.map((s, i) => `${flag(`seen_${s} > 0`)} AS s${i}`).join(", ")},
           ${flag("peers_seen > 0")} AS wp, CASE status WHEN 'fetched' THEN 1 WHEN 'failed' THEN 2 ELSE 0 END AS st,
           count(*) AS n, ${DISCOVERY_SOURCES.map((s, i) => `COALESCE(sum(seen_${s}), 0) AS c${i}`).join(", ")}
         FROM infohashes GROUP BY ${DISCOVERY_SOURCES.map((_, i) => i + 1).join(", ")}, ${
            DISCOVERY_SOURCES.length + 1
          }, ${DISCOVERY_SOURCES.length + 2}`
        )
      const pairs = DISCOVERY_SOURCES.flatMap((a, i) => DISCOVERY_SOURCES.slice(i + 1).map((b) => [a, b] as const))
      const per = DISCOVERY_SOURCES.map(() => ({ infohashes: 0, only: 0, sightings: 0, withPeers: 0, fetched: 0 }))
      const overlap = pairs.map(() => 0)
      const funnel = { seen: 0, withPeers: 0, fetched: 0, failed: 0 }
      for (const g of groups) {
        const n = g.n
        const has = DISCOVERY_SOURCES.map((_, i) => perSource(g, "s", i) === 1)
        const withPeers = g.wp === 1
        const status = g.st
        funnel.seen += n
        if (withPeers) funnel.withPeers += n
        if (status === 1) funnel.fetched += n
        if (status === 2) funnel.failed += n
        const reporters = has.filter((x) => x).length
        DISCOVERY_SOURCES.forEach((_, i) => {
          const x = per[i]!
          x.sightings += perSource(g, "c", i)
          if (!has[i]) return
          x.infohashes += n
          if (reporters === 1) x.only += n
          if (withPeers) x.withPeers += n
          if (status === 1) x.fetched += n
        })
        pairs.forEach(([a, b], k) => {
          if (has[DISCOVERY_SOURCES.indexOf(a)] && has[DISCOVERY_SOURCES.indexOf(b)]) overlap[k]! += n
        })
      }
      const count = (cond: string) => `sum(CASE WHEN ${cond} THEN 1 ELSE 0 END)`
      const days = columns.aggregates
        ? yield* select(
          SourceDay,
          `SELECT day AS d, n, with_peers, fetched FROM source_days WHERE n <> 0 ORDER BY day DESC LIMIT ${p(1)}`,
          [daysOf(o)]
        )
        : yield* select(
          SourceDay,
          `SELECT first_seen / ${DAY} AS d, count(*) AS n, ${count("peers_seen > 0")} AS with_peers,
           ${count("status = 'fetched'")} AS fetched
         FROM infohashes GROUP BY first_seen / ${DAY} ORDER BY d DESC LIMIT ${p(1)}`,
          [daysOf(o)]
        )
      const result: SourcesAnalysis = {
        infohashes: funnel.seen,
        sources: DISCOVERY_SOURCES.map((source, i) => ({ source, ...per[i]! })),
        overlap: pairs.map(([a, b], k) => ({ a, b, infohashes: overlap[k]! })),
        funnel,
        byDay: days.map((d) => ({
          day: Math.floor(d.d) * DAY,
          seen: d.n,
          withPeers: d.with_peers,
          fetched: d.fetched
        })).reverse()
      }
      return result
    })

  const analyzeNodes = (o: AnalysisOptions) =>
    Effect.gen(function*() {
      // One scan grouped by client version (bounded by the versions in use), the totals summed here.
      const count = (cond: string) => `sum(CASE WHEN ${cond} THEN 1 ELSE 0 END)`
      const groups = yield* select(
        VersionGroup,
        `SELECT version, count(*) AS n, ${count("last_response IS NOT NULL")} AS responded,
           ${count("bep42 = 1")} AS valid, ${count("bep42 = 0")} AS invalid,
           ${columns.bep51 ? count("bep51 = 1") : "0"} AS bep51_yes, ${
          columns.bep51 ? count("bep51 = 0") : "0"
        } AS bep51_no,
           ${count("read_only = 1")} AS ro, ${count("host LIKE '%:%'")} AS v6
         FROM nodes GROUP BY version`
      )
      const t = { n: 0, responded: 0, valid: 0, invalid: 0, bep51_yes: 0, bep51_no: 0, ro: 0, v6: 0 }
      for (const g of groups) for (const k of Object.keys(t) as Array<keyof typeof t>) t[k] += g[k]
      // As ORDER BY n DESC, (no version first), version ASC (bytes) LIMIT top.
      const versions = [...groups].sort((a, b) =>
        b.n - a.n || (a.version === undefined ? 0 : 1) - (b.version === undefined ? 0 : 1) ||
        (a.version === undefined || b.version === undefined ? 0 : Buffer.compare(a.version, b.version))
      ).slice(0, topOf(o))
      const clients = yield* select(
        ClientCount,
        `SELECT source_client, count(*) AS n FROM torrents GROUP BY source_client
         ORDER BY n DESC, (CASE WHEN source_client IS NULL THEN 0 ELSE 1 END), source_client ASC LIMIT ${p(1)}`,
        [topOf(o)]
      )
      const n = t.n
      const result: NodesAnalysis = {
        nodes: n,
        responded: t.responded,
        versions: versions.map((v) => ({ version: v.version, nodes: v.n })),
        bep42: { valid: t.valid, invalid: t.invalid, unknown: n - t.valid - t.invalid },
        bep51: { yes: t.bep51_yes, no: t.bep51_no, unknown: n - t.bep51_yes - t.bep51_no },
        readOnly: t.ro,
        ipv4: n - t.v6,
        ipv6: t.v6,
        torrentClients: clients.map((c) => ({ client: c.source_client, torrents: c.n }))
      }
      return result
    })

  const analyzeChurn = (o: AnalysisOptions) =>
    Effect.gen(function*() {
      // One scan grouped by first day and session bucket (-1: never answered): totals, sessions and days from it.
      const groups = yield* select(
        ChurnGroup,
        `SELECT first_seen / ${DAY} AS d, CASE WHEN last_response IS NULL THEN -1 ELSE ${
          bucketCase("(last_response - first_seen)", SESSION_EDGES)
        } END AS b, count(*) AS n FROM nodes GROUP BY 1, 2`
      )
      const r = { n: 0, responded: 0 }
      const sessionCounts = SESSION_EDGES.map(() => 0)
      const byDay = new Map<number, { n: number; responded: number }>()
      for (const g of groups) {
        const day = byDay.get(g.d) ?? { n: 0, responded: 0 }
        day.n += g.n
        r.n += g.n
        if (g.b >= 0) {
          day.responded += g.n
          r.responded += g.n
          sessionCounts[g.b] = sessionCounts[g.b]! + g.n
        }
        byDay.set(g.d, day)
      }
      // As ORDER BY d DESC LIMIT days, then oldest first.
      const days = [...byDay.entries()].sort(([a], [b]) => b - a).slice(0, daysOf(o))
        .map(([d, x]) => ({ d, n: x.n, responded: x.responded }))
      // Response rates: the stored minutes of the last `days` days (before the newest), summed per interval.
      const [span] = columns.responseRates
        ? yield* select(LastMinute, `SELECT max(minute) AS last FROM response_rates`)
        : [undefined]
      let interval = rateInterval(0, 0)
      let points: ReadonlyArray<typeof RatePoint.Type> = []
      if (span !== undefined && span.last !== undefined) {
        const last = span.last
        const [start] = yield* select(
          FirstMinute,
          `SELECT min(minute) AS first FROM response_rates WHERE minute >= ${p(1)}`,
          [last - (daysOf(o) - 1) * DAY - (last % DAY)]
        )
        const first = start!.first
        interval = rateInterval(first, last)
        points = yield* select(
          RatePoint,
          `SELECT minute / ${interval} AS b, sum(queries) AS q, sum(responses) AS r, sum(timeouts) AS t
           FROM response_rates WHERE minute >= ${p(1)} GROUP BY minute / ${interval} ORDER BY 1`,
          [first]
        )
      }
      const result: ChurnAnalysis = {
        nodes: r.n,
        responded: r.responded,
        sessions: { edges: SESSION_EDGES, counts: sessionCounts },
        byDay: days.map((d) => ({ day: Math.floor(d.d) * DAY, seen: d.n, responded: d.responded })).reverse(),
        responseRates: {
          interval,
          points: points.map((x) => ({
            at: Math.floor(x.b) * interval,
            queries: x.q,
            responses: x.r,
            timeouts: x.t
          }))
        }
      }
      return result
    })

  const sightings = DISCOVERY_SOURCES.map((s) => `i.seen_${s}`).join(" + ")
  const popularOf = (r: typeof Popular.Type): PopularInfohash => ({
    infoHash: r.hash,
    peers: r.peers,
    sightings: r.sightings,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    name: r.name
  })

  const swarmOf = (
    r: { readonly seeders: number; readonly leechers: number; readonly scraped_at: number | undefined }
  ) => r.scraped_at === undefined ? undefined : { seeders: r.seeders, leechers: r.leechers, at: r.scraped_at }

  const analyzePopularity = (o: AnalysisOptions) =>
    dialect.analysisSettings.length === 0 ? popularity(o) : inTransaction(
      Effect.zipRight(Effect.forEach(dialect.analysisSettings, (s) => select(Schema.Unknown, s)), popularity(o))
    )

  const popularity = (o: AnalysisOptions) =>
    Effect.gen(function*() {
      const top = topOf(o)
      const selected = `i.hash, ${sightings} AS sightings, i.first_seen, i.last_seen, t.name`
      const counted = `i.hash, ${sightings} AS sightings, i.first_seen, i.last_seen`
      // The top rows first, then their names: PostgreSQL joined every infohash to torrents before the LIMIT.
      const named = (top: string, key: string) =>
        `SELECT x.hash, x.sightings, x.first_seen, x.last_seen, x.peers, t.name FROM (${top}) x
         LEFT JOIN torrents t ON t.hash = x.hash ORDER BY ${key} DESC, x.hash ASC`
      const byPeers = o.since === undefined
        ? yield* select(
          Popular,
          named(
            `SELECT ${counted}, i.peers_seen AS peers FROM infohashes i
             WHERE i.peers_seen > 0 ORDER BY i.peers_seen DESC, i.hash ASC LIMIT ${p(1)}`,
            "x.peers"
          ),
          [top]
        )
        : yield* select(
          Popular,
          `SELECT ${selected}, w.peers FROM (SELECT hash, count(*) AS peers FROM infohash_peers
             WHERE last_seen >= ${p(1)} GROUP BY hash ORDER BY count(*) DESC, hash ASC LIMIT ${p(2)}) w
           JOIN infohashes i ON i.hash = w.hash LEFT JOIN torrents t ON t.hash = i.hash
           ORDER BY w.peers DESC, i.hash ASC`,
          [o.since, top]
        )
      // Parameters in the order they appear (SQLite's "?" are positional).
      const bySightingsFrom = (atLeast: number | undefined) => {
        const where = [
          ...(o.since === undefined ? [] : [`i.last_seen >= ${p(1)}`]),
          ...(atLeast === undefined ? [] : [`${sightings} >= ${atLeast}`])
        ]
        return select(
          Popular,
          named(
            `SELECT ${counted}, i.peers_seen AS peers FROM infohashes i
             ${where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`}
             ORDER BY ${sightings} DESC, i.hash ASC LIMIT ${p(o.since === undefined ? 1 : 2)}`,
            "x.sightings"
          ),
          o.since === undefined ? [top] : [o.since, top]
        )
      }
      // SQLite keeps an index of the infohashes sighted SIGHTINGS_INDEXED_FROM times or more (migration 0011): when
      // `top` of them qualify they are the top (every other has fewer sightings); else every row is ranked.
      const indexed = columns.aggregates && dialect.sightingsIndexedFrom !== undefined
        ? yield* bySightingsFrom(dialect.sightingsIndexedFrom)
        : []
      const bySightings = indexed.length >= top ? indexed : yield* bySightingsFrom(undefined)
      const now = o.now ?? (yield* Clock.currentTimeMillis)
      const windows: Array<PopularityWindow> = []
      for (const hours of columns.popularity ? POPULARITY_WINDOWS : []) {
        const since = windowStart(now, hours)
        // The window's hours summed per infohash, the top few (w); then their sightings by source (s: CROSS JOIN
        // keeps SQLite from scanning the hours for the few infohashes), joined to the rest. A day or more is one
        // pass over the hourly rows (SQLite: in infohash order, so no sort).
        const b = dialect.binder()
        const hour = hours >= 24 ? dialect.scanned("hour") : "hour"
        const rows = yield* select(
          WindowTop,
          `WITH w AS (SELECT hash, sum(sightings) AS n FROM infohash_hours
             WHERE ${hour} >= ${b.bind(since)} AND ${hour} <= ${b.bind(now)}
             GROUP BY hash ORDER BY sum(sightings) DESC, hash ASC LIMIT ${b.bind(top)})
           SELECT w.hash, w.n, ${DISCOVERY_SOURCES.map((_, i) => `s.s${i}`).join(", ")},
             i.seeders, i.leechers, i.scraped_at, t.name,
             (SELECT count(*) FROM infohash_peers p WHERE p.hash = w.hash AND p.last_seen >= ${b.bind(since)}) AS peers
           FROM w JOIN (SELECT h.hash, ${
            DISCOVERY_SOURCES.map((s, i) => `sum(CASE WHEN h.source = '${s}' THEN h.sightings ELSE 0 END) AS s${i}`)
              .join(", ")
          } FROM w w2 CROSS JOIN infohash_hours h
             WHERE h.hash = w2.hash AND h.hour >= ${b.bind(since)} AND h.hour <= ${
            b.bind(now)
          } GROUP BY h.hash) s ON s.hash = w.hash
           JOIN infohashes i ON i.hash = w.hash LEFT JOIN torrents t ON t.hash = w.hash
           ORDER BY w.n DESC, w.hash ASC`,
          b.params
        )
        windows.push({
          hours,
          since,
          top: rows.map((r) => ({
            infoHash: r.hash,
            sightings: r.n,
            bySource: Object.fromEntries(DISCOVERY_SOURCES.map((s, i) => [s, perSource(r, "s", i)])) as Record<
              typeof DISCOVERY_SOURCES[number],
              number
            >,
            peers: r.peers,
            name: r.name,
            swarm: swarmOf(r)
          }))
        })
      }
      // "(seeders + leechers) IS NOT NULL" is a condition of the index on that sum: PostgreSQL's backward scan of
      // it met the infohashes never scraped first (NULLs sort high) and filtered 1.75 M of them (0.6 s → 0.06 s).
      const swarmRows = columns.popularity
        ? yield* select(
          Swarm,
          `SELECT x.hash, x.seeders, x.leechers, x.scraped_at, t.name FROM (SELECT i.hash, i.seeders, i.leechers,
             i.scraped_at FROM infohashes i
             WHERE i.seeders IS NOT NULL AND (i.seeders + i.leechers) IS NOT NULL${
            o.since === undefined ? "" : ` AND i.scraped_at >= ${p(1)}`
          }
             ORDER BY (i.seeders + i.leechers) DESC, i.hash ASC LIMIT ${p(o.since === undefined ? 1 : 2)}) x
           LEFT JOIN torrents t ON t.hash = x.hash ORDER BY (x.seeders + x.leechers) DESC, x.hash ASC`,
          o.since === undefined ? [top] : [o.since, top]
        )
        : []
      const result: PopularityAnalysis = {
        since: o.since,
        byPeers: byPeers.map(popularOf),
        bySightings: bySightings.map(popularOf),
        now,
        windows,
        bySwarm: swarmRows.map((r): SwarmInfohash => ({
          infoHash: r.hash,
          ...swarmOf(r)!,
          name: r.name
        }))
      }
      return result
    })

  return { analyzeContent, analyzeSources, analyzeNodes, analyzeChurn, analyzePopularity }
}
