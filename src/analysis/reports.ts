import { Effect } from "effect"
import type {
  ChurnAnalysis,
  ContentAnalysis,
  Histogram,
  NodesAnalysis,
  PopularInfohash,
  PopularityAnalysis,
  SourcesAnalysis
} from "../repository/analysisModel.js"
import { MAX_TOP } from "../repository/analysisModel.js"
import { Repository, type RepositoryError } from "../repository/Repository.js"
import { decodeClient } from "./clients.js"

// The analyses as reports: the JSON shape shared by `bitscrape analyze --json` and /api/analysis/* (snake_case,
// like the rest of the API), and a long CSV form (one value per line: section, key, metric, value) that any
// spreadsheet or dataframe pivots. The numbers come from the Repository's aggregates (bounded in size).

/** The analyses `bitscrape analyze` and /api/analysis/* offer. */
export const ANALYSES = ["content", "sources", "clients", "churn", "popularity"] as const
export type AnalysisName = typeof ANALYSES[number]

const iso = (ms: number) => new Date(ms).toISOString()
const day = (ms: number) => iso(ms).slice(0, 10)

const buckets = (h: Histogram) =>
  h.edges.map((min, i) => ({ min, max: h.edges[i + 1] ?? null, torrents: h.counts[i] ?? 0 }))

export const contentReport = (a: ContentAnalysis) => ({
  torrents: a.torrents,
  bytes: a.bytes,
  files: a.files,
  private: a.private,
  versions: a.versions,
  categories: a.categories.map((c) => ({ category: c.category, torrents: c.torrents, bytes: c.bytes })),
  sizes: buckets(a.sizes),
  file_counts: buckets(a.fileCounts),
  extensions: a.extensions.map((e) => ({ extension: e.extension, files: e.files, bytes: e.bytes }))
})

export const sourcesReport = (a: SourcesAnalysis) => ({
  infohashes: a.infohashes,
  sources: a.sources.map((s) => ({
    source: s.source,
    infohashes: s.infohashes,
    only: s.only,
    sightings: s.sightings,
    with_peers: s.withPeers,
    fetched: s.fetched
  })),
  overlap: a.overlap.map((o) => ({ a: o.a, b: o.b, infohashes: o.infohashes })),
  funnel: { seen: a.funnel.seen, with_peers: a.funnel.withPeers, fetched: a.funnel.fetched, failed: a.funnel.failed },
  by_day: a.byDay.map((d) => ({ day: day(d.day), seen: d.seen, with_peers: d.withPeers, fetched: d.fetched }))
})

/** Nodes by client (`v` decoded; versions of one client summed), by client version, and protocol support. */
export const clientsReport = (a: NodesAnalysis, top: number) => {
  const byClient = new Map<string, { code: string; client: string; nodes: number }>()
  const versions = a.versions.map((v) => {
    const d = decodeClient(v.version)
    const c = byClient.get(d.code) ?? { code: d.code, client: d.client, nodes: 0 }
    // Unknown codes stay apart from each other (by code); every malformed `v` is one "?".
    c.nodes += v.nodes
    byClient.set(d.code, c)
    return { code: d.code, client: d.client, version: d.version, nodes: v.nodes }
  })
  const order = <T extends { nodes: number; code: string }>(x: T, y: T) =>
    y.nodes - x.nodes || (x.code < y.code ? -1 : x.code > y.code ? 1 : 0)
  return {
    nodes: a.nodes,
    responded: a.responded,
    clients: [...byClient.values()].sort(order).slice(0, top),
    versions: versions.slice(0, top),
    bep42: a.bep42,
    bep51: a.bep51,
    read_only: a.readOnly,
    ipv4: a.ipv4,
    ipv6: a.ipv6,
    torrent_clients: a.torrentClients.slice(0, top).map((c) => ({ client: c.client ?? null, torrents: c.torrents }))
  }
}

/** Node session lengths (with the survival curve: the share of sessions at least each bucket's lower edge). */
export const churnReport = (a: ChurnAnalysis) => {
  const total = a.sessions.counts.reduce((x, y) => x + y, 0)
  let remaining = total
  return {
    nodes: a.nodes,
    responded: a.responded,
    sessions: a.sessions.edges.map((min, i) => {
      const row = {
        min_ms: min,
        max_ms: a.sessions.edges[i + 1] ?? null,
        nodes: a.sessions.counts[i] ?? 0,
        surviving: total === 0 ? 0 : remaining / total
      }
      remaining -= a.sessions.counts[i] ?? 0
      return row
    }),
    by_day: a.byDay.map((d) => ({
      day: day(d.day),
      seen: d.seen,
      responded: d.responded,
      response_rate: d.seen === 0 ? 0 : d.responded / d.seen
    })),
    response_rate_interval_ms: a.responseRates.interval,
    response_rates: a.responseRates.points.map((p) => ({
      at: iso(p.at),
      queries: p.queries,
      responses: p.responses,
      timeouts: p.timeouts,
      response_rate: p.queries === 0 ? 0 : Math.min(1, p.responses / p.queries)
    }))
  }
}

const popular = (x: PopularInfohash) => ({
  infohash: Buffer.from(x.infoHash).toString("hex"),
  name: x.name ?? null,
  peers: x.peers,
  sightings: x.sightings,
  first_seen: iso(x.firstSeen),
  last_seen: iso(x.lastSeen)
})

const swarm = (x: { readonly seeders: number; readonly leechers: number; readonly at: number } | undefined) =>
  x === undefined ? null : { seeders: x.seeders, leechers: x.leechers, at: iso(x.at) }

const windowName = (hours: number) => hours % 24 === 0 ? `${hours / 24}d` : `${hours}h`

export const popularityReport = (a: PopularityAnalysis) => ({
  since: a.since === undefined ? null : iso(a.since),
  by_peers: a.byPeers.map(popular),
  by_sightings: a.bySightings.map(popular),
  now: iso(a.now),
  windows: a.windows.map((w) => ({
    window: windowName(w.hours),
    since: iso(w.since),
    top: w.top.map((x) => ({
      infohash: Buffer.from(x.infoHash).toString("hex"),
      name: x.name ?? null,
      sightings: x.sightings,
      by_source: x.bySource,
      peers: x.peers,
      swarm: swarm(x.swarm)
    }))
  })),
  by_swarm: a.bySwarm.map((x) => ({
    infohash: Buffer.from(x.infoHash).toString("hex"),
    name: x.name ?? null,
    seeders: x.seeders,
    leechers: x.leechers,
    scraped_at: iso(x.at)
  }))
})

export type ContentReport = ReturnType<typeof contentReport>
export type SourcesReport = ReturnType<typeof sourcesReport>
export type ClientsReport = ReturnType<typeof clientsReport>
export type ChurnReport = ReturnType<typeof churnReport>
export type PopularityReport = ReturnType<typeof popularityReport>
/** Any of the reports. */
export type Report = ContentReport | SourcesReport | ClientsReport | ChurnReport | PopularityReport

/** Options of every analysis: list lengths and the days of the funnel by day. */
export interface ReportOptions {
  readonly top?: number | undefined
  readonly days?: number | undefined
  /** Popularity: only peers and infohashes seen at or after this time (ms). */
  readonly since?: number | undefined
}

const topOf = (options: ReportOptions) => Math.min(Math.max(1, options.top ?? 20), MAX_TOP)

/** Each analysis over the Repository in context. */
export const reports = {
  content: (options: ReportOptions = {}): Effect.Effect<ContentReport, RepositoryError, Repository> =>
    Effect.flatMap(Repository, (repo) => Effect.map(repo.analyzeContent(options), contentReport)),
  sources: (options: ReportOptions = {}): Effect.Effect<SourcesReport, RepositoryError, Repository> =>
    Effect.flatMap(Repository, (repo) => Effect.map(repo.analyzeSources(options), sourcesReport)),
  // Every version counts toward its client's total, not only the `top` listed.
  clients: (options: ReportOptions = {}): Effect.Effect<ClientsReport, RepositoryError, Repository> =>
    Effect.flatMap(
      Repository,
      (repo) => Effect.map(repo.analyzeNodes({ ...options, top: MAX_TOP }), (a) => clientsReport(a, topOf(options)))
    ),
  churn: (options: ReportOptions = {}): Effect.Effect<ChurnReport, RepositoryError, Repository> =>
    Effect.flatMap(Repository, (repo) => Effect.map(repo.analyzeChurn(options), churnReport)),
  popularity: (options: ReportOptions = {}): Effect.Effect<PopularityReport, RepositoryError, Repository> =>
    Effect.flatMap(Repository, (repo) => Effect.map(repo.analyzePopularity(options), popularityReport))
} satisfies Record<AnalysisName, unknown>

/** Runs one analysis by name over the Repository in context. */
export const analyze = (
  name: AnalysisName,
  options: ReportOptions = {}
): Effect.Effect<Report, RepositoryError, Repository> => reports[name](options)

// === CSV ===

type Scalar = string | number | boolean | null

/** The long CSV rows of a report: [section, key, metric, value]. */
export const csvRows = (report: Report): Array<[string, string, string, Scalar]> => {
  const rows: Array<[string, string, string, Scalar]> = []
  const keyOf = (item: Record<string, unknown>) => {
    // The identifying fields of a list item (the first non-numeric ones, or a histogram's range).
    if ("min" in item && "max" in item) return `${item.min}-${item.max ?? ""}`
    if ("min_ms" in item && "max_ms" in item) return `${item.min_ms}-${item.max_ms ?? ""}`
    return Object.entries(item).filter(([, v]) => typeof v === "string" || v === null).map(([, v]) => v ?? "")
      .join("/")
  }
  const list = (section: string, value: Array<Record<string, unknown>>) => {
    for (const item of value) {
      const key = keyOf(item)
      for (const [metric, v] of Object.entries(item)) {
        if (typeof v === "number" && !["min", "max", "min_ms", "max_ms"].includes(metric)) {
          rows.push([section, key, metric, v])
        } else if (Array.isArray(v)) list(`${section}.${key}`, v as Array<Record<string, unknown>>)
        else if (typeof v === "object" && v !== null) {
          // A nested record (sightings by source, a swarm estimate): its numbers as metric.field.
          for (const [field, x] of Object.entries(v)) {
            if (typeof x === "number") rows.push([section, key, `${metric}.${field}`, x])
          }
        }
      }
    }
  }
  for (const [section, value] of Object.entries(report as Record<string, unknown>)) {
    if (Array.isArray(value)) list(section, value as Array<Record<string, unknown>>)
    else if (typeof value === "object" && value !== null) {
      for (const [metric, v] of Object.entries(value)) rows.push([section, "", metric, v as Scalar])
    } else rows.push([section, "", "", value as Scalar])
  }
  return rows
}
