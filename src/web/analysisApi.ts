import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import { ParseResult, Schema } from "effect"
import { CATEGORIES } from "../domain/categories.js"
import { parseDate } from "../domain/format.js"
import { DISCOVERY_SOURCES } from "../domain/model.js"

// /api/analysis/*: the reports of `bitscrape analyze` (src/analysis/reports.ts) as JSON, each a Schema so the
// OpenAPI description documents them. Field names are those of `analyze --json`.

const Source = Schema.Literal(...DISCOVERY_SOURCES)
const Count = Schema.Number.pipe(Schema.int(), Schema.nonNegative())

/** A date ("2026-11-25") or ISO date-time as Unix ms. */
const Since = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (s, _, ast) => {
    const v = parseDate(s)
    return v === undefined
      ? ParseResult.fail(new ParseResult.Type(ast, s, `"${s}" is not a date such as 2026-11-25`))
      : ParseResult.succeed(v)
  },
  encode: (n) => ParseResult.succeed(new Date(n).toISOString())
})

/** `?top=` (longest lists, 1–1000), `?days=` (days of the by-day lists, 1–3660), `?since=` (popularity window). */
export const AnalysisParams = Schema.Struct({
  top: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000))),
  days: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 3660))),
  since: Schema.optional(Since)
})

const Bucket = Schema.Struct({
  /** Lower edge (inclusive). */
  min: Count,
  /** Upper edge (exclusive); null for the last, open bucket. */
  max: Schema.NullOr(Count),
  torrents: Count
})

export const ContentReport = Schema.Struct({
  torrents: Count,
  bytes: Count,
  files: Count,
  private: Count,
  versions: Schema.Struct({ v1: Count, v2: Count, hybrid: Count }),
  categories: Schema.Array(Schema.Struct({ category: Schema.Literal(...CATEGORIES), torrents: Count, bytes: Count })),
  /** Torrents by total size (bytes). */
  sizes: Schema.Array(Bucket),
  /** Torrents by number of files. */
  file_counts: Schema.Array(Bucket),
  /** The most common file extensions ("" is none), by files. */
  extensions: Schema.Array(Schema.Struct({ extension: Schema.String, files: Count, bytes: Count }))
}).annotations({ identifier: "ContentReport" })

export const SourcesReport = Schema.Struct({
  infohashes: Count,
  sources: Schema.Array(Schema.Struct({
    source: Source,
    /** Infohashes this source reported. */
    infohashes: Count,
    /** Infohashes only this source reported. */
    only: Count,
    /** Reports (an infohash reported twice counts twice). */
    sightings: Count,
    with_peers: Count,
    fetched: Count
  })),
  /** Infohashes reported by both sources of each pair. */
  overlap: Schema.Array(Schema.Struct({ a: Source, b: Source, infohashes: Count })),
  funnel: Schema.Struct({ seen: Count, with_peers: Count, fetched: Count, failed: Count }),
  /** The funnel of the infohashes first seen on each UTC day (YYYY-MM-DD), oldest first. */
  by_day: Schema.Array(Schema.Struct({ day: Schema.String, seen: Count, with_peers: Count, fetched: Count }))
}).annotations({ identifier: "SourcesReport" })

const Support = Schema.Struct({ yes: Count, no: Count, unknown: Count })

export const ClientsReport = Schema.Struct({
  /** Node rows: an id at an address. */
  nodes: Count,
  responded: Count,
  /** Nodes per client (two-letter code of KRPC `v`; "" none sent, "?" not two letters). */
  clients: Schema.Array(Schema.Struct({ code: Schema.String, client: Schema.String, nodes: Count })),
  versions: Schema.Array(
    Schema.Struct({ code: Schema.String, client: Schema.String, version: Schema.String, nodes: Count })
  ),
  bep42: Schema.Struct({ valid: Count, invalid: Count, unknown: Count }),
  /** BEP 51: answered sample_infohashes (yes), refused or ignored it (no), not asked (unknown). */
  bep51: Support,
  read_only: Count,
  ipv4: Count,
  ipv6: Count,
  /** Torrents by the client (BEP 10 `v`) of the peer their metadata came from. */
  torrent_clients: Schema.Array(Schema.Struct({ client: Schema.NullOr(Schema.String), torrents: Count }))
}).annotations({ identifier: "ClientsReport" })

export const ChurnReport = Schema.Struct({
  nodes: Count,
  responded: Count,
  /** Nodes that answered, by session length (first seen → last answer, ms); `surviving`: share at least `min_ms`. */
  sessions: Schema.Array(Schema.Struct({
    min_ms: Count,
    max_ms: Schema.NullOr(Count),
    nodes: Count,
    surviving: Schema.Number
  })),
  /** Nodes first seen on each UTC day and the share that ever answered. */
  by_day: Schema.Array(Schema.Struct({
    day: Schema.String,
    seen: Count,
    responded: Count,
    response_rate: Schema.Number
  })),
  /** The length of the intervals of `response_rates` (ms). */
  response_rate_interval_ms: Count,
  /** Our crawls' queries per interval (start `at`): sent, answered, timed out, and answered / sent. */
  response_rates: Schema.Array(Schema.Struct({
    at: Schema.String,
    queries: Count,
    responses: Count,
    timeouts: Count,
    response_rate: Schema.Number
  }))
}).annotations({ identifier: "ChurnReport" })

const Popular = Schema.Struct({
  infohash: Schema.String,
  /** The torrent's name when its metadata was fetched. */
  name: Schema.NullOr(Schema.String),
  /** Distinct peers (seen since `since`, when given). */
  peers: Count,
  /** Sightings over all sources, all time. */
  sightings: Count,
  first_seen: Schema.String,
  last_seen: Schema.String
})

/** BEP 33 estimate of distinct seeder and leecher IPs (union of the Bloom filters of the nodes that answered). */
const Swarm = Schema.Struct({ seeders: Count, leechers: Count, at: Schema.String })

export const PopularityReport = Schema.Struct({
  since: Schema.NullOr(Schema.String),
  by_peers: Schema.Array(Popular),
  by_sightings: Schema.Array(Popular),
  /** The time the windows end at. */
  now: Schema.String,
  /** The most sighted infohashes of the last hour, day and week (hourly buckets; `since`: the first's start). */
  windows: Schema.Array(Schema.Struct({
    window: Schema.String,
    since: Schema.String,
    top: Schema.Array(Schema.Struct({
      infohash: Schema.String,
      name: Schema.NullOr(Schema.String),
      sightings: Count,
      by_source: Schema.Struct(
        Object.fromEntries(DISCOVERY_SOURCES.map((s) => [s, Count])) as Record<
          typeof DISCOVERY_SOURCES[number],
          typeof Count
        >
      ),
      /** Distinct peers last seen in the window. */
      peers: Count,
      /** The latest BEP 33 estimate, whenever it was made. */
      swarm: Schema.NullOr(Swarm)
    }))
  })),
  /** By BEP 33 swarm estimate (seeders + leechers), scraped since `since` when given. */
  by_swarm: Schema.Array(Schema.Struct({
    infohash: Schema.String,
    name: Schema.NullOr(Schema.String),
    seeders: Count,
    leechers: Count,
    scraped_at: Schema.String
  }))
}).annotations({ identifier: "PopularityReport" })

/** The Insights: analyses of the stored crawl. */
export class AnalysisApiGroup extends HttpApiGroup.make("analysis")
  .add(HttpApiEndpoint.get("content", "/analysis/content").setUrlParams(AnalysisParams).addSuccess(ContentReport))
  .add(HttpApiEndpoint.get("sources", "/analysis/sources").setUrlParams(AnalysisParams).addSuccess(SourcesReport))
  .add(HttpApiEndpoint.get("clients", "/analysis/clients").setUrlParams(AnalysisParams).addSuccess(ClientsReport))
  .add(HttpApiEndpoint.get("churn", "/analysis/churn").setUrlParams(AnalysisParams).addSuccess(ChurnReport))
  .add(
    HttpApiEndpoint.get("popularity", "/analysis/popularity").setUrlParams(AnalysisParams).addSuccess(PopularityReport)
  )
  .annotate(
    OpenApi.Description,
    "Insights over the stored crawl (docs/analysis.md): content categories and distributions, discovery sources " +
      "and the yield funnel, node clients and protocol support, churn, popularity"
  )
{}
