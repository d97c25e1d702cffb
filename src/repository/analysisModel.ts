import type { Category } from "../domain/categories.js"
import type { DiscoverySource } from "../domain/model.js"

// What the Repository's analyses return: aggregates computed by the database (bounded in size whatever the
// number of rows), shaped into reports by src/analysis/. Times are Unix milliseconds.

/** Total sizes of torrents: bucket lower edges in bytes (each bucket runs to the next edge). */
export const SIZE_EDGES: ReadonlyArray<number> = [
  0,
  2 ** 20, // 1 MiB
  10 * 2 ** 20,
  100 * 2 ** 20,
  2 ** 30, // 1 GiB
  4 * 2 ** 30,
  16 * 2 ** 30,
  64 * 2 ** 30
]

/** Files per torrent: bucket lower edges. */
export const FILE_COUNT_EDGES: ReadonlyArray<number> = [0, 2, 11, 101, 1001]

/** How many values fall into each bucket of `edges` (the last bucket is open-ended). */
export interface Histogram {
  readonly edges: ReadonlyArray<number>
  readonly counts: ReadonlyArray<number>
}

/** The bucket of `value` among `edges` (lower edges, ascending, the first ≤ any value). */
export const bucketOf = (edges: ReadonlyArray<number>, value: number): number => {
  let i = 0
  while (i + 1 < edges.length && value >= edges[i + 1]!) i++
  return i
}

/** Stored torrents by content: categories, sizes, file counts, extensions, versions, private flag. */
export interface ContentAnalysis {
  readonly torrents: number
  readonly bytes: number
  /** Every category, in CATEGORIES order (zero counts included). */
  readonly categories: ReadonlyArray<{ readonly category: Category; readonly torrents: number; readonly bytes: number }>
  readonly sizes: Histogram
  readonly fileCounts: Histogram
  readonly files: number
  /** The most common file extensions by number of files ("" is no extension), most first, then by name. */
  readonly extensions: ReadonlyArray<{ readonly extension: string; readonly files: number; readonly bytes: number }>
  readonly versions: { readonly v1: number; readonly v2: number; readonly hybrid: number }
  readonly private: number
}

/** Where infohashes came from, how the sources overlap, and how far they got (seen → with peers → fetched). */
export interface SourcesAnalysis {
  readonly infohashes: number
  /** Per source: infohashes it reported, those only it reported, and its sightings (reports counted). */
  readonly sources: ReadonlyArray<{
    readonly source: DiscoverySource
    readonly infohashes: number
    readonly only: number
    readonly sightings: number
    readonly withPeers: number
    readonly fetched: number
  }>
  /** Infohashes reported by both sources of each pair. */
  readonly overlap: ReadonlyArray<
    { readonly a: DiscoverySource; readonly b: DiscoverySource; readonly infohashes: number }
  >
  readonly funnel: {
    readonly seen: number
    readonly withPeers: number
    readonly fetched: number
    readonly failed: number
  }
  /** The funnel of the infohashes first seen on each UTC day (at most `days` days, the latest), oldest first. */
  readonly byDay: ReadonlyArray<
    { readonly day: number; readonly seen: number; readonly withPeers: number; readonly fetched: number }
  >
}

/** Stored nodes by client and protocol support, and torrents by the client of the peer that sent them. */
export interface NodesAnalysis {
  /** Node rows (an id at an address). */
  readonly nodes: number
  /** Of those, the ones that answered one of our queries. */
  readonly responded: number
  /** Nodes per raw `v` value (undefined: none sent), most first; at most `top` values. */
  readonly versions: ReadonlyArray<{ readonly version: Uint8Array | undefined; readonly nodes: number }>
  readonly bep42: { readonly valid: number; readonly invalid: number; readonly unknown: number }
  /** BEP 51: answered sample_infohashes, refused or ignored it, never asked. */
  readonly bep51: { readonly yes: number; readonly no: number; readonly unknown: number }
  readonly readOnly: number
  readonly ipv4: number
  readonly ipv6: number
  /** Torrents per client of the peer their metadata came from (BEP 10 `v`), most first; at most `top`. */
  readonly torrentClients: ReadonlyArray<{ readonly client: string | undefined; readonly torrents: number }>
}

/** How much an analysis returns: the longest lists, and the days of the funnel by day. */
export interface AnalysisOptions {
  readonly top?: number | undefined
  readonly days?: number | undefined
  /** Popularity: only what was seen at or after this time (ms). */
  readonly since?: number | undefined
  /** Popularity: the time the windows (last hour, day, week) end at (ms; default the clock's now). */
  readonly now?: number | undefined
}

/** At most this many rows of any list (extensions, versions, clients). */
export const MAX_TOP = 1000

/** The length of the lists: `top`, default 20, within 1 … MAX_TOP. */
export const topOf = (o: AnalysisOptions) => Math.min(Math.max(1, Math.floor(o.top ?? 20)), MAX_TOP)
/** The days of the funnel by day: `days`, default 30, within 1 … 3,660. */
export const daysOf = (o: AnalysisOptions) => Math.min(Math.max(1, Math.floor(o.days ?? 30)), 3660)

/** Node session lengths (first seen → last response, ms): bucket lower edges. */
export const SESSION_EDGES: ReadonlyArray<number> = [
  0,
  60_000, // 1 min
  600_000, // 10 min
  3_600_000, // 1 h
  6 * 3_600_000,
  24 * 3_600_000, // 1 d
  7 * 24 * 3_600_000
]

/** Nodes over time: how long they stayed, and how many answered, by the day they were first seen. */
export interface ChurnAnalysis {
  readonly nodes: number
  /** Nodes that answered at least once (the ones with a session). */
  readonly responded: number
  /** Responded nodes by session length (first seen → last response). */
  readonly sessions: Histogram
  /** Node rows first seen on each UTC day (at most `days`, the latest), and how many of them ever answered. */
  readonly byDay: ReadonlyArray<{ readonly day: number; readonly seen: number; readonly responded: number }>
  /** Our queries over time (the crawls' counts per minute, summed per `interval`), over the last `days` days. */
  readonly responseRates: {
    /** Bucket length (ms): RATE_INTERVALS' shortest giving at most MAX_RATE_POINTS buckets over the span. */
    readonly interval: number
    readonly points: ReadonlyArray<ResponseRate>
  }
}

/** Our queries in one interval (start, ms): sent, answered, timed out. */
export interface ResponseRate {
  readonly at: number
  readonly queries: number
  readonly responses: number
  readonly timeouts: number
}

/** One minute (ms): the bucket of the stored query counts. */
export const MINUTE_MS = 60_000
/** Counts of one minute, as they are summed. */
export interface MinuteRate {
  readonly at: number
  queries: number
  responses: number
  timeouts: number
}

/**
 * Adds each rate to the counts of its interval in `into` (keyed by the interval's start, ms; a minute by default,
 * the stored bucket); returns `into`.
 */
export const addByInterval = (
  into: Map<number, MinuteRate>,
  rates: ReadonlyArray<ResponseRate>,
  interval = MINUTE_MS
): Map<number, MinuteRate> => {
  for (const r of rates) {
    const at = Math.floor(r.at / interval) * interval
    const x = into.get(at) ?? { at, queries: 0, responses: 0, timeouts: 0 }
    x.queries += r.queries
    x.responses += r.responses
    x.timeouts += r.timeouts
    into.set(at, x)
  }
  return into
}
/** Per-minute query counts older than this before the newest are dropped (ms). */
export const RESPONSE_RATE_RETENTION_MS = 30 * 24 * 3_600_000
/** The bucket lengths of the response-rate series: 1, 5, 15 min, 1, 6 h, 1 d. */
export const RATE_INTERVALS: ReadonlyArray<number> = [1, 5, 15, 60, 360, 1440].map((m) => m * MINUTE_MS)
/** At most this many points in the response-rate series. */
export const MAX_RATE_POINTS = 240
/** The bucket length for a series spanning `first` … `last` (ms, minute starts). */
export const rateInterval = (first: number, last: number) =>
  RATE_INTERVALS.find((i) => Math.floor(last / i) - Math.floor(first / i) + 1 <= MAX_RATE_POINTS) ??
    RATE_INTERVALS[RATE_INTERVALS.length - 1]!

/** One popular infohash: distinct peers (in the window, or ever), sightings by source, its name if fetched. */
export interface PopularInfohash {
  readonly infoHash: Uint8Array
  readonly peers: number
  readonly sightings: number
  readonly firstSeen: number
  readonly lastSeen: number
  readonly name: string | undefined
}

/** One popular infohash in a time window: sightings by source and distinct peers in the window, its swarm. */
export interface WindowedInfohash {
  readonly infoHash: Uint8Array
  /** Sightings in the window over all sources. */
  readonly sightings: number
  readonly bySource: Readonly<Record<DiscoverySource, number>>
  /** Distinct peers last seen in the window. */
  readonly peers: number
  readonly name: string | undefined
  /** The latest BEP 33 estimate (whenever it was made), undefined if never scraped. */
  readonly swarm: { readonly seeders: number; readonly leechers: number; readonly at: number } | undefined
}

/** The most sighted infohashes of one window: the `hours` hourly buckets up to `now` (`since` the first's start). */
export interface PopularityWindow {
  readonly hours: number
  readonly since: number
  readonly top: ReadonlyArray<WindowedInfohash>
}

/** The windows `analyze popularity` reports: the last hour, day and week. */
export const POPULARITY_WINDOWS: ReadonlyArray<number> = [1, 24, 168]
/** Sightings are counted per infohash, source and hour (UTC), and buckets older than this are dropped (ms). */
export const POPULARITY_RETENTION_MS = 8 * 24 * 3_600_000
/** One hour (ms): the bucket of the hourly sightings. */
export const HOUR_MS = 3_600_000
/** The start of the first hourly bucket of a window of `hours` ending at `now` (the current hour counts as one). */
export const windowStart = (now: number, hours: number) => (Math.floor(now / HOUR_MS) - hours + 1) * HOUR_MS

/** One infohash by its BEP 33 swarm estimate. */
export interface SwarmInfohash {
  readonly infoHash: Uint8Array
  readonly seeders: number
  readonly leechers: number
  readonly at: number
  readonly name: string | undefined
}

/** The most popular infohashes: by distinct peers seen since `since` (all time when undefined). */
export interface PopularityAnalysis {
  readonly since: number | undefined
  readonly byPeers: ReadonlyArray<PopularInfohash>
  /** By sightings over all sources (infohashes last seen since `since`). */
  readonly bySightings: ReadonlyArray<PopularInfohash>
  /** The time the windows end at. */
  readonly now: number
  /** Top infohashes by sightings in the last hour, day and week (POPULARITY_WINDOWS), from the hourly counts. */
  readonly windows: ReadonlyArray<PopularityWindow>
  /** Top infohashes by BEP 33 swarm estimate (seeders + leechers), scraped since `since` when given. */
  readonly bySwarm: ReadonlyArray<SwarmInfohash>
}
