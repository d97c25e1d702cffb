import type { InfoFile, TorrentInfo } from "../wire/torrentInfo.js"
import type { Category } from "./categories.js"
import type { InfoHash, NodeId } from "./ids.js"

// What the Repository stores. Times are Unix milliseconds; byte strings are kept raw next to their decoded
// text so nothing a peer sent is ever lost to normalisation.

/** Where an infohash was learnt. */
export type DiscoverySource = "sample" | "get_peers" | "announce" | "lookup"
/** Every discovery source, in the order counters and columns list them. */
export const DISCOVERY_SOURCES: ReadonlyArray<DiscoverySource> = ["sample", "get_peers", "announce", "lookup"]

/** A node we heard from (one row per id and address: the same id at a new address is churn worth keeping). */
export interface NodeSighting {
  readonly id: NodeId
  readonly host: string
  readonly port: number
  readonly seenAt: number
  /** Set when the node answered one of our queries. */
  readonly respondedAt?: number | undefined
  /** BEP 42: true valid, false invalid, undefined exempt or unknown. */
  readonly bep42?: boolean | undefined
  /** Client version (`v`). */
  readonly version?: Uint8Array | undefined
  /** BEP 43 read-only. */
  readonly readOnly?: boolean | undefined
  /** BEP 51: true answered sample_infohashes, false refused or ignored it, undefined not asked. */
  readonly bep51?: boolean | undefined
}

/** A stored node, as listed by `Repository.nodes`. */
export interface NodeRecord {
  readonly id: NodeId
  readonly host: string
  readonly port: number
  readonly firstSeen: number
  readonly lastSeen: number
  readonly lastResponse: number | undefined
  readonly timesSeen: number
  readonly bep42: boolean | undefined
  readonly version: Uint8Array | undefined
}

/** One discovery of an infohash (and, for announces and get_peers values, a peer that has it). */
export interface Discovery {
  readonly infoHash: InfoHash
  readonly source: DiscoverySource
  readonly at: number
  readonly peer?: { readonly host: string; readonly port: number } | undefined
  /** BEP 33: the swarm size estimated from the Bloom filters of the nodes that answered a scrape with it. */
  readonly swarm?: { readonly seeders: number; readonly leechers: number } | undefined
}

/** The latest BEP 33 swarm-size estimate of an infohash (distinct seeder and leecher IPs) and when (ms). */
export interface SwarmEstimate {
  readonly seeders: number
  readonly leechers: number
  readonly at: number
}

/** A file of a torrent (path joined with "/", raw bytes kept when not UTF-8). */
export type TorrentFile = InfoFile

/** Verified metadata of one torrent: the parsed info dictionary, and where and when it was fetched. */
export interface Torrent extends TorrentInfo {
  readonly infoHash: InfoHash
  readonly fetchedAt: number
  readonly sourcePeer?: { readonly host: string; readonly port: number } | undefined
  /** The source peer's client (BEP 10 `v`). */
  readonly sourceClient?: string | undefined
}

/** A failed attempt to fetch an infohash's metadata. */
export interface FetchFailure {
  readonly infoHash: InfoHash
  readonly at: number
  readonly error: string
}

/** Where an infohash's metadata stands: not fetched yet, fetched and stored, or given up. */
export type MetadataStatus = "pending" | "fetched" | "failed"

/**
 * How search results are ordered ("relevance" needs `text`; size, discovery time or name otherwise; "popular":
 * the largest of distinct peers seen and the BEP 33 swarm estimate first).
 */
export type SortOrder = "relevance" | "newest" | "oldest" | "largest" | "smallest" | "name" | "popular"

/** Search filters, order and page; every field optional (no filter, newest first, first page). */
export interface SearchQuery {
  /** Words to match in names and file paths (all must match; the last may be a prefix). */
  readonly text?: string | undefined
  readonly minSize?: number | undefined
  readonly maxSize?: number | undefined
  readonly minFiles?: number | undefined
  readonly maxFiles?: number | undefined
  /** Discovered at or after (ms). */
  readonly since?: number | undefined
  /** Discovered before (ms). */
  readonly until?: number | undefined
  /** Content category (categories.ts). */
  readonly category?: Category | undefined
  readonly sort?: SortOrder | undefined
  readonly limit?: number | undefined
  readonly offset?: number | undefined
}

/** One search hit: a stored torrent's name, size, file count and times (ms). */
export interface TorrentSummary {
  readonly infoHash: InfoHash
  readonly name: string
  readonly totalLength: number
  readonly fileCount: number
  readonly discoveredAt: number
  readonly fetchedAt: number
  /** Content category (undefined in a database that predates categories and was opened read-only). */
  readonly category?: Category | undefined
}

/**
 * Searches count at most this many matches: `total` stops there and `capped` says there are more. When the words
 * alone match more, a page is taken from the SEARCH_CAP most recently stored of their matches (relevance, sorts
 * and filters apply within those): counting and ranking every match of a common word is what made searches slow.
 */
export const SEARCH_CAP = 10_000

/**
 * The last word of a search is a prefix ("ubu" finds "ubuntu"), except when that word taken whole already matches
 * more than this many torrents: then it is searched whole ("1080p" does not also find "1080px"). Expanding a common
 * word as a prefix visits every match of every longer word, which made such searches slow.
 */
export const WHOLE_WORDS_ABOVE = SEARCH_CAP

/**
 * A capped search of text alone sorted by relevance or newest considers at most this many matches (the most
 * recently stored; `offset + limit` when that is more): scoring or sorting every one of SEARCH_CAP matches costs
 * more than the rest of the search. (Newest: the most recently stored are the most recently discovered, give or
 * take the time metadata took to fetch.)
 */
export const RANK_WINDOW = 2_000

/** One page of search hits, and how many match in all. */
export interface SearchPage {
  /** How many match, at most SEARCH_CAP. */
  readonly total: number
  /** More than SEARCH_CAP match (`total` is then SEARCH_CAP). */
  readonly capped: boolean
  readonly items: ReadonlyArray<TorrentSummary>
}

/** Everything stored about one torrent: metadata, files, discovery counters and the peers seen with it. */
export interface TorrentDetail extends Torrent {
  readonly discoveredAt: number
  /** Content category (categories.ts). */
  readonly category?: Category | undefined
  readonly fileCount: number
  readonly seen: Readonly<Record<DiscoverySource, number>>
  readonly peersSeen: number
  readonly peers: ReadonlyArray<{ readonly host: string; readonly port: number; readonly lastSeen: number }>
  /** BEP 33 estimate (undefined: never scraped). */
  readonly swarm?: SwarmEstimate | undefined
}

/** What is known about one infohash, with or without metadata: sightings by source, peers, fetch status. */
export interface InfohashRecord {
  readonly infoHash: InfoHash
  readonly firstSeen: number
  readonly lastSeen: number
  readonly seen: Readonly<Record<DiscoverySource, number>>
  readonly peersSeen: number
  readonly status: MetadataStatus
  readonly attempts: number
  readonly lastError: string | undefined
  /** BEP 33 estimate (undefined: never scraped). */
  readonly swarm?: SwarmEstimate | undefined
}

/** Totals over the whole store (rows per table, infohashes per discovery source, failed fetches). */
export interface RepositoryStats {
  readonly nodes: number
  readonly infohashes: number
  readonly bySource: Readonly<Record<DiscoverySource, number>>
  /** Infohashes for which at least one peer was seen (the yield funnel's second step). */
  readonly withPeers: number
  readonly torrents: number
  readonly files: number
  readonly failed: number
  readonly sessions: number
  /**
   * Nodes and peer sightings (infohash, address) by address family. The family is not a column: it is read
   * from the stored address (an IPv6 literal has a colon; the compact formats give IPv4 as a dotted quad).
   */
  readonly byFamily: { readonly nodes: FamilyCounts; readonly peers: FamilyCounts }
}

/** A count split by address family. */
export interface FamilyCounts {
  readonly ipv4: number
  readonly ipv6: number
}

/** The address family of a stored host: an IPv6 literal has a colon (see `RepositoryStats.byFamily`). */
export const familyOfHost = (host: string): "ipv4" | "ipv6" => host.includes(":") ? "ipv6" : "ipv4"

/** Filters for export: the search filters, plus whether metadata must be known. */
export interface ExportQuery extends Omit<SearchQuery, "sort" | "limit" | "offset"> {
  /** true: torrents only; false: infohashes without metadata only; undefined: both. */
  readonly hasMetadata?: boolean | undefined
}

/** One exported item: an infohash with its metadata when known. */
export interface ExportItem {
  readonly infoHash: InfoHash
  readonly discoveredAt: number
  readonly torrent: (Torrent & { readonly discoveredAt: number }) | undefined
}

/** One crawl session: start, end (undefined while running), the settings it ran with and its totals. */
export interface CrawlSessionInfo {
  readonly id: number
  readonly startedAt: number
  readonly endedAt: number | undefined
  /** "running" (or killed and not yet noticed), "ended" cleanly, or "interrupted" (killed, found by a later crawl). */
  readonly state: "running" | "ended" | "interrupted"
  readonly settings: unknown
  readonly totals: unknown
}

/** A search whose new matches are POSTed to a webhook (`bitscrape saved`, the search page, /api/saved-searches). */
export interface SavedSearch {
  readonly id: number
  /** Unique; how the CLI names it. */
  readonly name: string
  /** The search as URL parameters (`q=ubuntu&min_size=1GB`), as /search and /api/search take them. */
  readonly query: string
  /** Where new matches are POSTed as JSON. */
  readonly webhook: string
  readonly createdAt: number
  /** Matches fetched up to this point were delivered: fetched time (ms), then infohash, as the order of delivery. */
  readonly cursor: SavedSearchCursor
  /** Matches delivered so far. */
  readonly delivered: number
  /** Last attempt to deliver (ms), successful or not. */
  readonly lastAttemptAt: number | undefined
  /** Why the last attempt failed; undefined after a success. */
  readonly lastError: string | undefined
}

/** A position in the order of delivery: (fetched time, infohash). */
export interface SavedSearchCursor {
  readonly fetchedAt: number
  readonly infoHash: InfoHash | undefined
}

/** Distinct-key helper for nodes (id + address). */
export const nodeKey = (n: { readonly id: Uint8Array; readonly host: string; readonly port: number }) =>
  `${Buffer.from(n.id).toString("hex")}|${n.host}|${n.port}`

export type { InfoHash, NodeId }

/** What eviction may delete (docs/scaling.md): torrents only when asked. */
export type EvictionClass = "peers" | "infohashes" | "nodes" | "torrents"
/** The order in which the disk budget evicts: peer sightings, never-fetched infohashes, nodes, then torrents. */
export const EVICTION_ORDER: ReadonlyArray<EvictionClass> = ["peers", "infohashes", "nodes", "torrents"]

/** The database's size: on disk (SQLite: file + WAL) and in live pages (what eviction reduces). */
export interface DatabaseSize {
  readonly bytes: number
  readonly used: number
}
