import type { CrawlerStats, Stage } from "../crawler/Crawler.js"
import type { FailureKind } from "../metadata/errors.js"
import type { FetcherStats } from "../metadata/MetadataFetcher.js"

// The crawl's yield funnel (issue 14): of the infohashes seen, how many got peers, how many of those got a
// peer connection, how many gave their metadata — and why the rest did not. Beside it, what the packets went
// on, and how many packets each fetched torrent cost. Built from the crawler's and the fetcher's counters.

export interface Funnel {
  /** Distinct infohashes seen (recently: the crawler's bounded dedup set). */
  readonly seen: number
  /** ... for which a peer was seen (announce, a get_peers reply). */
  readonly withPeers: number
  /** ... for which a peer connection was established. */
  readonly connected: number
  /** ... whose metadata was fetched and verified. */
  readonly fetched: number
  /** Why the rest did not get there: infohashes given up, by cause, and those never given any peer. */
  readonly lost: Readonly<Record<FailureKind | "never-peers", number>>
  /** Infohashes still waiting in the fetcher's queue or being fetched. */
  readonly pending: number
  /** UDP packets sent (queries and replies, every identity). */
  readonly packetsOut: number
  /** Packets per fetched torrent (undefined before the first one). */
  readonly packetsPerTorrent: number | undefined
  /** Share of the queries each stage sent. */
  readonly budget: Readonly<Record<Stage, number>>
}

export const makeFunnel = (crawler: CrawlerStats, fetcher: FetcherStats | undefined): Funnel => {
  const spentTotal = Object.values(crawler.spent).reduce((a, b) => a + b, 0)
  const budget = Object.fromEntries(
    Object.entries(crawler.spent).map(([stage, n]) => [stage, spentTotal > 0 ? n / spentTotal : 0])
  ) as Record<Stage, number>
  const fetched = fetcher?.fetched ?? 0
  const givenUp = fetcher?.givenUp ?? { "no-peers": 0, dead: 0, refused: 0, hostile: 0, "gave-up": 0 }
  return {
    seen: crawler.uniqueInfohashes,
    withPeers: crawler.infohashesWithPeers,
    connected: fetcher?.connected ?? 0,
    fetched,
    lost: { ...givenUp, "never-peers": Math.max(0, crawler.uniqueInfohashes - crawler.infohashesWithPeers) },
    pending: (fetcher?.queued ?? 0) + (fetcher?.active ?? 0),
    packetsOut: crawler.packetsOut,
    packetsPerTorrent: fetched > 0 ? crawler.packetsOut / fetched : undefined,
    budget
  }
}

/** One line: "funnel 1,234 seen → 210 with peers → 95 connected → 61 fetched · 412 packets/torrent · …". */
export const funnelLine = (f: Funnel): string => {
  const lost = Object.entries(f.lost).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ")
  const budget = Object.entries(f.budget).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${Math.round(v * 100)}%`)
    .join(", ")
  return `funnel ${f.seen} seen → ${f.withPeers} with peers → ${f.connected} connected → ${f.fetched} fetched` +
    (f.packetsPerTorrent === undefined ? "" : ` · ${Math.round(f.packetsPerTorrent)} packets/torrent`) +
    (lost === "" ? "" : ` · lost: ${lost}`) + (budget === "" ? "" : ` · queries: ${budget}`)
}
