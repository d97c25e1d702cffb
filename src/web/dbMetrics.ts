// Database gauges for /metrics (under `serve` as under `crawl`): what the database holds, its size and when the
// last crawl ran. Totals scan whole tables, so they are read at most every 15 s however often Prometheus scrapes.
import { Effect, Metric } from "effect"
import type { Repository } from "../repository/Repository.js"

const gauge = (name: string, description: string) => Metric.gauge(name, { description })

const torrents = gauge("bitscrape_db_torrents", "torrents stored (metadata fetched)")
const files = gauge("bitscrape_db_files", "files of the stored torrents")
const infohashes = gauge("bitscrape_db_infohashes", "infohashes stored, with or without metadata")
const withPeers = gauge("bitscrape_db_infohashes_with_peers", "infohashes for which a peer was seen")
const failed = gauge("bitscrape_db_infohashes_failed", "infohashes whose metadata could not be fetched")
const nodes = gauge("bitscrape_db_nodes", "DHT nodes stored")
const nodesFamilyBase = gauge("bitscrape_db_nodes_by_family", "DHT nodes stored, by address family (ipv4, ipv6)")
const peersFamilyBase = gauge(
  "bitscrape_db_peers_by_family",
  "peer sightings stored (infohash, address), by address family (ipv4, ipv6)"
)
const sessions = gauge("bitscrape_db_sessions", "crawl sessions recorded")
const size = gauge("bitscrape_db_size_bytes", "database size on disk, in bytes")
const lastStart = gauge(
  "bitscrape_db_last_crawl_start_timestamp_seconds",
  "start of the latest crawl session (Unix time)"
)
const lastEnd = gauge(
  "bitscrape_db_last_crawl_end_timestamp_seconds",
  "end of the latest finished crawl session (Unix time; 0 while it runs)"
)

/** An effect that refreshes the database gauges (cached for 15 s); failures are logged, never fatal. */
export const makeDbMetrics = (repo: Repository["Type"]) =>
  Effect.cachedWithTTL(
    Effect.gen(function*() {
      const s = yield* repo.stats
      torrents.unsafeUpdate(s.torrents, [])
      files.unsafeUpdate(s.files, [])
      infohashes.unsafeUpdate(s.infohashes, [])
      withPeers.unsafeUpdate(s.withPeers, [])
      failed.unsafeUpdate(s.failed, [])
      nodes.unsafeUpdate(s.nodes, [])
      for (const family of ["ipv4", "ipv6"] as const) {
        Metric.tagged(nodesFamilyBase, "family", family).unsafeUpdate(s.byFamily.nodes[family], [])
        Metric.tagged(peersFamilyBase, "family", family).unsafeUpdate(s.byFamily.peers[family], [])
      }
      sessions.unsafeUpdate(s.sessions, [])
      size.unsafeUpdate((yield* repo.size).bytes, [])
      const [latest] = yield* repo.sessions(1)
      lastStart.unsafeUpdate(latest === undefined ? 0 : latest.startedAt / 1000, [])
      lastEnd.unsafeUpdate(latest?.endedAt === undefined ? 0 : latest.endedAt / 1000, [])
    }).pipe(Effect.catchAll((e) => Effect.logWarning(`database metrics: ${e.message}`))),
    "15 seconds"
  )
