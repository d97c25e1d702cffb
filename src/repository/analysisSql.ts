import { Clock, Effect } from "effect"
import { CATEGORIES, type Category } from "../domain/categories.js"
import { DISCOVERY_SOURCES } from "../domain/model.js"
import type {
  AnalysisOptions,
  ChurnAnalysis,
  ContentAnalysis,
  Histogram,
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

// The analyses in SQL, for SQLite and PostgreSQL: every answer is a handful of aggregate queries (full scans or
// GROUP BYs with a bounded number of groups), so memory stays bounded however many rows there are.

type Row = Record<string, unknown>
const num = (x: unknown): number => x === null || x === undefined ? 0 : Number(x)
const DAY = 86_400_000

/** `CASE` giving the bucket index of `column` among `edges` (constants of our own, inlined). */
const bucketCase = (column: string, edges: ReadonlyArray<number>) =>
  `CASE ${
    edges.map((e, i) => [e, i] as const).slice(1).reverse().map(([e, i]) => `WHEN ${column} >= ${e} THEN ${i}`)
      .join(" ")
  } ELSE 0 END`

const histogram = (edges: ReadonlyArray<number>, rows: ReadonlyArray<Row>): Histogram => {
  const counts = edges.map(() => 0)
  for (const r of rows) counts[num(r.b)] = num(r.n)
  return { edges, counts }
}

/** The extension of a file path in SQL, the same as categories.ts extensionOf. */
const extensionSql = (dialect: "sqlite" | "pg") =>
  dialect === "pg"
    ? `SELECT CASE WHEN base ~ '^.+\\.[A-Za-z0-9]{1,8}$' THEN lower(substring(base from '\\.([A-Za-z0-9]{1,8})$'))
         ELSE '' END AS ext, length FROM (SELECT substring(path from '[^/]*$') AS base, length FROM files) b`
    : `SELECT CASE WHEN length(pre) <= 1 OR length(base) - length(pre) > 8 OR length(base) = length(pre)
           OR substr(base, length(pre) + 1) GLOB '*[^A-Za-z0-9]*' THEN ''
         ELSE lower(substr(base, length(pre) + 1)) END AS ext, length
       FROM (SELECT base, length, rtrim(base, replace(base, '.', '')) AS pre
             FROM (SELECT substr(path, length(rtrim(path, replace(path, '/', ''))) + 1) AS base, length FROM files) a) b`

export const makeSqlAnalyses = (
  dialect: "sqlite" | "pg",
  query: (text: string, params?: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<Row>, unknown>,
  columns: {
    readonly category: boolean
    readonly bep51: boolean
    readonly extensions: boolean
    readonly popularity: boolean
    readonly responseRates: boolean
  }
) => {
  const p = (i: number) => dialect === "pg" ? `$${i}` : "?"

  const analyzeContent = (o: AnalysisOptions) =>
    Effect.gen(function*() {
      const [totals] = yield* query(
        `SELECT count(*) AS n, COALESCE(sum(total_length), 0) AS bytes, COALESCE(sum(file_count), 0) AS files,
           sum(CASE WHEN private = 1 THEN 1 ELSE 0 END) AS priv,
           sum(CASE WHEN version = 'v1' THEN 1 ELSE 0 END) AS v1, sum(CASE WHEN version = 'v2' THEN 1 ELSE 0 END) AS v2,
           sum(CASE WHEN version = 'hybrid' THEN 1 ELSE 0 END) AS hybrid FROM torrents`
      )
      const byCategory = columns.category
        ? yield* query(
          `SELECT category, count(*) AS n, COALESCE(sum(total_length), 0) AS bytes FROM torrents GROUP BY category`
        )
        : []
      const sizes = yield* query(
        `SELECT ${bucketCase("total_length", SIZE_EDGES)} AS b, count(*) AS n FROM torrents GROUP BY 1`
      )
      const counts = yield* query(
        `SELECT ${bucketCase("file_count", FILE_COUNT_EDGES)} AS b, count(*) AS n FROM torrents GROUP BY 1`
      )
      // Kept as torrents are stored (file_extensions); a database from before it (opened read-only) is scanned.
      const extensions = columns.extensions
        ? yield* query(
          `SELECT ext, files AS n, bytes FROM file_extensions ORDER BY files DESC, ext ASC LIMIT ${p(1)}`,
          [topOf(o)]
        )
        : yield* query(
          `SELECT ext, count(*) AS n, COALESCE(sum(length), 0) AS bytes FROM (${extensionSql(dialect)}) e
           GROUP BY ext ORDER BY n DESC, ext ASC LIMIT ${p(1)}`,
          [topOf(o)]
        )
      const found = new Map(byCategory.map((r) => [String(r.category), r]))
      const result: ContentAnalysis = {
        torrents: num(totals!.n),
        bytes: num(totals!.bytes),
        categories: CATEGORIES.map((category: Category) => ({
          category,
          torrents: num(found.get(category)?.n),
          bytes: num(found.get(category)?.bytes)
        })),
        sizes: histogram(SIZE_EDGES, sizes),
        fileCounts: histogram(FILE_COUNT_EDGES, counts),
        files: num(totals!.files),
        extensions: extensions.map((r) => ({ extension: String(r.ext), files: num(r.n), bytes: num(r.bytes) })),
        versions: { v1: num(totals!.v1), v2: num(totals!.v2), hybrid: num(totals!.hybrid) },
        private: num(totals!.priv)
      }
      return result
    })

  const analyzeSources = (o: AnalysisOptions) =>
    Effect.gen(function*() {
      // One scan grouped by which sources reported, whether peers were seen and the status: at most 2⁴·2·3
      // groups, from which every per-source count, overlap and the funnel are summed here.
      const flag = (cond: string) => `CASE WHEN ${cond} THEN 1 ELSE 0 END`
      const groups = yield* query(
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
        const n = num(g.n)
        const has = DISCOVERY_SOURCES.map((_, i) => num(g[`s${i}`]) === 1)
        const withPeers = num(g.wp) === 1
        const status = num(g.st)
        funnel.seen += n
        if (withPeers) funnel.withPeers += n
        if (status === 1) funnel.fetched += n
        if (status === 2) funnel.failed += n
        const reporters = has.filter((x) => x).length
        DISCOVERY_SOURCES.forEach((_, i) => {
          const x = per[i]!
          x.sightings += num(g[`c${i}`])
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
      const days = yield* query(
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
          day: Math.floor(num(d.d)) * DAY,
          seen: num(d.n),
          withPeers: num(d.with_peers),
          fetched: num(d.fetched)
        })).reverse()
      }
      return result
    })

  const analyzeNodes = (o: AnalysisOptions) =>
    Effect.gen(function*() {
      const count = (cond: string) => `sum(CASE WHEN ${cond} THEN 1 ELSE 0 END)`
      const [r] = yield* query(
        `SELECT count(*) AS n, ${count("last_response IS NOT NULL")} AS responded,
           ${count("bep42 = 1")} AS valid, ${count("bep42 = 0")} AS invalid,
           ${columns.bep51 ? count("bep51 = 1") : "0"} AS bep51_yes, ${
          columns.bep51 ? count("bep51 = 0") : "0"
        } AS bep51_no,
           ${count("read_only = 1")} AS ro, ${count("host LIKE '%:%'")} AS v6
         FROM nodes`
      )
      const versions = yield* query(
        `SELECT version, count(*) AS n FROM nodes GROUP BY version
         ORDER BY n DESC, (CASE WHEN version IS NULL THEN 0 ELSE 1 END), version ASC LIMIT ${p(1)}`,
        [topOf(o)]
      )
      const clients = yield* query(
        `SELECT source_client, count(*) AS n FROM torrents GROUP BY source_client
         ORDER BY n DESC, (CASE WHEN source_client IS NULL THEN 0 ELSE 1 END), source_client ASC LIMIT ${p(1)}`,
        [topOf(o)]
      )
      const n = num(r!.n)
      const result: NodesAnalysis = {
        nodes: n,
        responded: num(r!.responded),
        versions: versions.map((v) => ({
          version: v.version instanceof Uint8Array ? new Uint8Array(v.version) : undefined,
          nodes: num(v.n)
        })),
        bep42: { valid: num(r!.valid), invalid: num(r!.invalid), unknown: n - num(r!.valid) - num(r!.invalid) },
        bep51: { yes: num(r!.bep51_yes), no: num(r!.bep51_no), unknown: n - num(r!.bep51_yes) - num(r!.bep51_no) },
        readOnly: num(r!.ro),
        ipv4: n - num(r!.v6),
        ipv6: num(r!.v6),
        torrentClients: clients.map((c) => ({
          client: c.source_client === null ? undefined : String(c.source_client),
          torrents: num(c.n)
        }))
      }
      return result
    })

  const analyzeChurn = (o: AnalysisOptions) =>
    Effect.gen(function*() {
      const [r] = yield* query(
        `SELECT count(*) AS n, sum(CASE WHEN last_response IS NOT NULL THEN 1 ELSE 0 END) AS responded FROM nodes`
      )
      const sessions = yield* query(
        `SELECT ${bucketCase("(last_response - first_seen)", SESSION_EDGES)} AS b, count(*) AS n FROM nodes
         WHERE last_response IS NOT NULL GROUP BY 1`
      )
      const days = yield* query(
        `SELECT first_seen / ${DAY} AS d, count(*) AS n,
           sum(CASE WHEN last_response IS NOT NULL THEN 1 ELSE 0 END) AS responded
         FROM nodes GROUP BY first_seen / ${DAY} ORDER BY d DESC LIMIT ${p(1)}`,
        [daysOf(o)]
      )
      // Response rates: the stored minutes of the last `days` days (before the newest), summed per interval.
      const [span] = columns.responseRates
        ? yield* query(`SELECT max(minute) AS last FROM response_rates`)
        : [undefined]
      let interval = rateInterval(0, 0)
      let points: ReadonlyArray<Row> = []
      if (span !== undefined && span.last !== null && span.last !== undefined) {
        const last = num(span.last)
        const [start] = yield* query(`SELECT min(minute) AS first FROM response_rates WHERE minute >= ${p(1)}`, [
          last - (daysOf(o) - 1) * DAY - (last % DAY)
        ])
        const first = num(start!.first)
        interval = rateInterval(first, last)
        points = yield* query(
          `SELECT minute / ${interval} AS b, sum(queries) AS q, sum(responses) AS r, sum(timeouts) AS t
           FROM response_rates WHERE minute >= ${p(1)} GROUP BY minute / ${interval} ORDER BY 1`,
          [first]
        )
      }
      const result: ChurnAnalysis = {
        nodes: num(r!.n),
        responded: num(r!.responded),
        sessions: histogram(SESSION_EDGES, sessions),
        byDay: days.map((d) => ({ day: Math.floor(num(d.d)) * DAY, seen: num(d.n), responded: num(d.responded) }))
          .reverse(),
        responseRates: {
          interval,
          points: points.map((x) => ({
            at: Math.floor(num(x.b)) * interval,
            queries: num(x.q),
            responses: num(x.r),
            timeouts: num(x.t)
          }))
        }
      }
      return result
    })

  const sightings = DISCOVERY_SOURCES.map((s) => `i.seen_${s}`).join(" + ")
  const popularOf = (r: Row): PopularInfohash => ({
    infoHash: r.hash instanceof Uint8Array ? new Uint8Array(r.hash) : new Uint8Array(0),
    peers: num(r.peers),
    sightings: num(r.sightings),
    firstSeen: num(r.first_seen),
    lastSeen: num(r.last_seen),
    name: r.name === null || r.name === undefined ? undefined : String(r.name)
  })

  const swarmOf = (r: Row) =>
    r.scraped_at === null || r.scraped_at === undefined
      ? undefined
      : { seeders: num(r.seeders), leechers: num(r.leechers), at: num(r.scraped_at) }

  const analyzePopularity = (o: AnalysisOptions) =>
    Effect.gen(function*() {
      const top = topOf(o)
      const selected = `i.hash, ${sightings} AS sightings, i.first_seen, i.last_seen, t.name`
      const byPeers = o.since === undefined
        ? yield* query(
          `SELECT ${selected}, i.peers_seen AS peers FROM infohashes i LEFT JOIN torrents t ON t.hash = i.hash
           WHERE i.peers_seen > 0 ORDER BY i.peers_seen DESC, i.hash ASC LIMIT ${p(1)}`,
          [top]
        )
        : yield* query(
          `SELECT ${selected}, w.peers FROM (SELECT hash, count(*) AS peers FROM infohash_peers
             WHERE last_seen >= ${p(1)} GROUP BY hash ORDER BY count(*) DESC, hash ASC LIMIT ${p(2)}) w
           JOIN infohashes i ON i.hash = w.hash LEFT JOIN torrents t ON t.hash = i.hash
           ORDER BY w.peers DESC, i.hash ASC`,
          [o.since, top]
        )
      // Parameters in the order they appear (SQLite's "?" are positional).
      const bySightings = yield* query(
        `SELECT ${selected}, i.peers_seen AS peers FROM infohashes i LEFT JOIN torrents t ON t.hash = i.hash
         ${o.since === undefined ? "" : `WHERE i.last_seen >= ${p(1)}`}
         ORDER BY ${sightings} DESC, i.hash ASC LIMIT ${p(o.since === undefined ? 1 : 2)}`,
        o.since === undefined ? [top] : [o.since, top]
      )
      const now = o.now ?? (yield* Clock.currentTimeMillis)
      const windows: Array<PopularityWindow> = []
      for (const hours of columns.popularity ? POPULARITY_WINDOWS : []) {
        const since = windowStart(now, hours)
        // The window's hours summed per infohash (a range of the primary key), the top few joined to the rest.
        const rows = yield* query(
          `SELECT w.hash, w.n, ${DISCOVERY_SOURCES.map((_, i) => `w.s${i}`).join(", ")},
             i.seeders, i.leechers, i.scraped_at, t.name,
             (SELECT count(*) FROM infohash_peers p WHERE p.hash = w.hash AND p.last_seen >= ${p(1)}) AS peers
           FROM (SELECT hash, sum(sightings) AS n, ${
            DISCOVERY_SOURCES.map((s, i) => `sum(CASE WHEN source = '${s}' THEN sightings ELSE 0 END) AS s${i}`)
              .join(", ")
          } FROM infohash_hours WHERE hour >= ${p(2)} AND hour <= ${p(3)}
             GROUP BY hash ORDER BY sum(sightings) DESC, hash ASC LIMIT ${p(4)}) w
           JOIN infohashes i ON i.hash = w.hash LEFT JOIN torrents t ON t.hash = w.hash
           ORDER BY w.n DESC, w.hash ASC`,
          [since, since, now, top]
        )
        windows.push({
          hours,
          since,
          top: rows.map((r) => ({
            infoHash: r.hash instanceof Uint8Array ? new Uint8Array(r.hash) : new Uint8Array(0),
            sightings: num(r.n),
            bySource: Object.fromEntries(DISCOVERY_SOURCES.map((s, i) => [s, num(r[`s${i}`])])) as Record<
              typeof DISCOVERY_SOURCES[number],
              number
            >,
            peers: num(r.peers),
            name: r.name === null || r.name === undefined ? undefined : String(r.name),
            swarm: swarmOf(r)
          }))
        })
      }
      const swarmRows = columns.popularity
        ? yield* query(
          `SELECT i.hash, i.seeders, i.leechers, i.scraped_at, t.name FROM infohashes i
           LEFT JOIN torrents t ON t.hash = i.hash
           WHERE i.seeders IS NOT NULL${o.since === undefined ? "" : ` AND i.scraped_at >= ${p(1)}`}
           ORDER BY (i.seeders + i.leechers) DESC, i.hash ASC LIMIT ${p(o.since === undefined ? 1 : 2)}`,
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
          infoHash: r.hash instanceof Uint8Array ? new Uint8Array(r.hash) : new Uint8Array(0),
          ...swarmOf(r)!,
          name: r.name === null || r.name === undefined ? undefined : String(r.name)
        }))
      }
      return result
    })

  return { analyzeContent, analyzeSources, analyzeNodes, analyzeChurn, analyzePopularity }
}
