import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"
import { SearchParams } from "../domain/search.js"
import { AnalysisApiGroup } from "./analysisApi.js"
import { FamilyCounts, LiveSnapshot, Sources } from "./LiveStats.js"

// The JSON API: every request and response is a Schema, so invalid parameters are refused with 400 and a
// message naming the parameter, and the OpenAPI description (GET /api/openapi.json) is generated from the
// same definitions. Field names follow the CLI's --json output (snake_case).

// === Errors ===

/** 404: no such torrent (or other resource). */
export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

/** 500: the database failed; the message says which operation. */
export class ServerError extends Schema.TaggedError<ServerError>()(
  "ServerError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}

/** 400: a request the server understood but cannot do (a blocklist entry that is neither infohash nor pattern). */
export class BadRequest extends Schema.TaggedError<BadRequest>()(
  "BadRequest",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

// === Parameters ===

/** 40 hexadecimal digits. */
export const InfohashHex = Schema.String.pipe(
  Schema.pattern(/^[0-9a-fA-F]{40}$/, { message: () => "an infohash is 40 hexadecimal digits" })
)

// === Responses ===

export const DatabaseStats = Schema.Struct({
  backend: Schema.Literal("sqlite", "postgres", "memory"),
  nodes: Schema.Number,
  infohashes: Schema.Number,
  by_source: Sources,
  /** Infohashes for which a peer was seen (the yield funnel: infohashes → with_peers → torrents). */
  with_peers: Schema.Number,
  torrents: Schema.Number,
  files: Schema.Number,
  failed: Schema.Number,
  sessions: Schema.Number,
  /** Nodes and peer sightings (infohash, address) by address family, read from the stored addresses. */
  by_family: Schema.Struct({ nodes: FamilyCounts, peers: FamilyCounts })
})

export const StatsResponse = Schema.Struct({
  database: DatabaseStats,
  /** The running crawl in this process, if any (null for `bitscrape serve`). */
  live: Schema.NullOr(LiveSnapshot)
})

export const TorrentSummary = Schema.Struct({
  infohash: Schema.String,
  name: Schema.String,
  length: Schema.Number,
  files: Schema.Number,
  discovered_at: Schema.String,
  fetched_at: Schema.String,
  /** Content category (absent in a database that predates categories). */
  category: Schema.optional(Schema.String)
})

export const SearchResponse = Schema.Struct({
  /** How many match, counted up to 10,000. */
  total: Schema.Number,
  /** More than `total` match (the count stops at 10,000; pages then come from the 10,000 most recently stored matches of the words). */
  total_capped: Schema.Boolean,
  page: Schema.Number,
  limit: Schema.Number,
  items: Schema.Array(TorrentSummary)
})

export const TorrentDetail = Schema.Struct({
  infohash: Schema.String,
  infohash_v2: Schema.optional(Schema.String),
  name: Schema.String,
  length: Schema.Number,
  piece_length: Schema.NullOr(Schema.Number),
  private: Schema.Boolean,
  version: Schema.String,
  /** Content category (absent in a database that predates categories). */
  category: Schema.optional(Schema.String),
  files: Schema.Array(Schema.Struct({ path: Schema.String, length: Schema.Number })),
  source: Schema.NullOr(Schema.Struct({
    host: Schema.String,
    port: Schema.Number,
    client: Schema.NullOr(Schema.String)
  })),
  magnet: Schema.String,
  discovered_at: Schema.String,
  fetched_at: Schema.String,
  /** Sightings by discovery source. */
  seen: Sources,
  peers_seen: Schema.Number,
  /** The latest BEP 33 estimate of distinct seeders and leechers (null: never scraped). */
  swarm: Schema.optional(
    Schema.NullOr(Schema.Struct({ seeders: Schema.Number, leechers: Schema.Number, at: Schema.String }))
  ),
  /** Peers recorded for this infohash, most recent first (at most 50). */
  peers: Schema.Array(Schema.Struct({ host: Schema.String, port: Schema.Number, last_seen: Schema.String }))
})

export const NodeInfo = Schema.Struct({
  id: Schema.String,
  host: Schema.String,
  port: Schema.Number,
  first_seen: Schema.String,
  last_seen: Schema.String,
  last_response: Schema.NullOr(Schema.String),
  times_seen: Schema.Number,
  /** BEP 42: true valid, false invalid, null exempt or unknown. */
  bep42: Schema.NullOr(Schema.Boolean),
  /** Client version (`v`), printable. */
  client: Schema.NullOr(Schema.String)
})

export const SessionInfo = Schema.Struct({
  id: Schema.Number,
  started_at: Schema.String,
  ended_at: Schema.NullOr(Schema.String),
  /** "interrupted": the crawl was killed and a later crawl closed its record. */
  state: Schema.Literal("running", "ended", "interrupted"),
  settings: Schema.Unknown,
  totals: Schema.Unknown
})

export const BlocklistEntry = Schema.Struct({
  id: Schema.Number,
  /** "infohash" or "name" (a case-insensitive glob over torrent names). */
  kind: Schema.Literal("infohash", "name"),
  value: Schema.String,
  added_at: Schema.String,
  reason: Schema.NullOr(Schema.String),
  /** For an infohash blocked because its torrent's name matched a pattern: that pattern. */
  via: Schema.NullOr(Schema.String)
})

/** POST /api/blocklist: one entry as `bitscrape block add` takes it, and why. */
export const BlocklistAdd = Schema.Struct({
  /** An infohash (40 hex digits or a magnet link), or a name pattern (`name:GLOB` or any other text). */
  entry: Schema.String.pipe(Schema.maxLength(2000)),
  reason: Schema.optional(Schema.String.pipe(Schema.maxLength(500)))
})

export const BlocklistAddResponse = Schema.Struct({
  /** The entries added (empty when the entry was already on the blocklist: it keeps its date and reason). */
  added: Schema.Array(BlocklistEntry),
  already: Schema.Number,
  /** What the entry removed from the database. */
  purged: Schema.Struct({ torrents: Schema.Number, infohashes: Schema.Number })
})

export const AboutResponse = Schema.Struct({
  version: Schema.String,
  /** Settings of the crawl in force (null when only serving a database). */
  crawl: Schema.Unknown,
  database: Schema.String,
  ui: Schema.Struct({ host: Schema.String, port: Schema.Number, token: Schema.Boolean })
})

/** A saved search (`bitscrape saved`): its new matches are POSTed to its webhook. */
export const SavedSearchInfo = Schema.Struct({
  id: Schema.Number,
  name: Schema.String,
  /** The search as URL parameters (open /search?{query} to see its matches). */
  query: Schema.String,
  webhook: Schema.String,
  created_at: Schema.String,
  delivered: Schema.Number,
  /** Matches fetched up to this time were delivered. */
  delivered_up_to: Schema.String,
  last_attempt_at: Schema.NullOr(Schema.String),
  /** Why the last delivery failed (it is retried next round); null after a success. */
  last_error: Schema.NullOr(Schema.String)
})

// === The API ===

export class CrawlApiGroup extends HttpApiGroup.make("crawl")
  .add(HttpApiEndpoint.get("stats", "/stats").addSuccess(StatsResponse))
  .add(
    HttpApiEndpoint.get("nodes", "/nodes")
      .setUrlParams(Schema.Struct({
        limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000)))
      }))
      .addSuccess(Schema.Array(NodeInfo))
  )
  .add(
    HttpApiEndpoint.get("sessions", "/sessions")
      .setUrlParams(Schema.Struct({
        limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000)))
      }))
      .addSuccess(Schema.Array(SessionInfo))
  )
  .add(HttpApiEndpoint.get("about", "/about").addSuccess(AboutResponse))
  .add(HttpApiEndpoint.get("blocklist", "/blocklist").addSuccess(Schema.Array(BlocklistEntry)))
  .add(
    HttpApiEndpoint.post("blockAdd", "/blocklist")
      .setPayload(BlocklistAdd)
      .addSuccess(BlocklistAddResponse)
      .addError(BadRequest)
      .annotate(
        OpenApi.Description,
        "Adds a blocklist entry and removes what it blocks from the database. Needs the `x-bitscrape-csrf` header (its value from GET /api/session) or `Authorization: Bearer <token>`."
      )
  )
  .add(
    HttpApiEndpoint.del("blockRemove", "/blocklist/:id")
      .setPath(Schema.Struct({ id: Schema.NumberFromString.pipe(Schema.int(), Schema.positive()) }))
      .addSuccess(Schema.Struct({ removed: Schema.Number }))
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Removes a blocklist entry (a name pattern with the infohashes it had blocked). Needs the `x-bitscrape-csrf` header (its value from GET /api/session) or `Authorization: Bearer <token>`."
      )
  )
  .addError(ServerError)
  .annotate(OpenApi.Description, "The crawl: statistics, nodes, sessions and settings")
{}

export class TorrentsApiGroup extends HttpApiGroup.make("torrents")
  .add(HttpApiEndpoint.get("search", "/search").setUrlParams(SearchParams).addSuccess(SearchResponse))
  .add(
    HttpApiEndpoint.get("torrent", "/torrents/:infohash")
      .setPath(Schema.Struct({ infohash: InfohashHex }))
      .addSuccess(TorrentDetail)
      .addError(NotFound)
  )
  .addError(ServerError)
  .annotate(OpenApi.Description, "Torrents whose metadata was fetched: search and detail")
{}

/** 400: a saved search that cannot be saved; the message says which field and why. */
export class InvalidSavedSearch extends Schema.TaggedError<InvalidSavedSearch>()(
  "InvalidSavedSearch",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** 409: a saved search of that name exists already. */
export class SavedSearchNameTaken extends Schema.TaggedError<SavedSearchNameTaken>()(
  "SavedSearchNameTaken",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** A saved search's name: 1–64 letters, digits, spaces, dots, dashes or underscores, from a letter or digit. */
export const SavedSearchName = Schema.String.pipe(
  Schema.pattern(/^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,63}$/u, {
    message: () =>
      "a name is 1–64 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit"
  })
)

/** A new saved search (POST /api/saved-searches). */
export const SavedSearchCreate = Schema.Struct({
  name: SavedSearchName,
  /** Words, a search's URL parameters (`q=ubuntu&min_size=1GB`) or a search page's address. */
  search: Schema.String.pipe(Schema.maxLength(2000)),
  /** Where new matches are POSTed as JSON: an http:// or https:// URL. */
  webhook: Schema.String.pipe(
    Schema.maxLength(2000),
    Schema.pattern(/^https?:\/\/[^/?#\s]+/i, { message: () => "a webhook is an http:// or https:// URL with a host" })
  )
})

export class SavedSearchesApiGroup extends HttpApiGroup.make("saved")
  .add(HttpApiEndpoint.get("savedSearches", "/saved-searches").addSuccess(Schema.Array(SavedSearchInfo)))
  .add(
    HttpApiEndpoint.post("createSavedSearch", "/saved-searches")
      .setPayload(SavedSearchCreate)
      .addSuccess(SavedSearchInfo, { status: 201 })
      .addError(InvalidSavedSearch)
      .addError(SavedSearchNameTaken)
      .annotate(
        OpenApi.Description,
        "Saves a search; torrents fetched from now on that match it are POSTed to its webhook. A change: send " +
          "`Authorization: Bearer <token>`, or from a page the `x-bitscrape-csrf` header with the value of " +
          "GET /api/session (a cookie alone is refused with 403)."
      )
  )
  .add(
    HttpApiEndpoint.del("deleteSavedSearch", "/saved-searches/:name")
      .setPath(Schema.Struct({ name: SavedSearchName }))
      .addSuccess(Schema.Void, { status: 204 })
      .addError(NotFound)
      .annotate(OpenApi.Description, "Removes a saved search (the same headers as creating one)")
  )
  .addError(ServerError)
  .annotate(
    OpenApi.Description,
    "Saved searches whose new matches are POSTed as JSON to a webhook (also managed with `bitscrape saved`)"
  )
{}

/** BitScrape's JSON API, served under /api. */
export class BitscrapeApi extends HttpApi.make("bitscrape")
  .add(CrawlApiGroup)
  .add(TorrentsApiGroup)
  .add(SavedSearchesApiGroup)
  .add(AnalysisApiGroup.addError(ServerError))
  .prefix("/api")
  .annotate(OpenApi.Title, "BitScrape")
  .annotate(
    OpenApi.Description,
    "JSON API of a BitScrape crawl. Live statistics are also pushed as server-sent events at /api/live; " +
      "a torrent's .torrent file is at /api/torrents/{infohash}/file; searches as RSS and Atom feeds at " +
      "/api/feed.rss and /api/feed.atom; Torznab at /api/torznab; Prometheus metrics at /metrics. With a token " +
      "set, every route wants it (Authorization: Bearer, the cookie set by ?token=, apikey= for Torznab, token= for feeds)."
  )
{}
