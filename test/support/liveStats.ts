import type { CrawlerStats } from "../../src/crawler/Crawler.js"

/** Crawler stats with `knownNodes` nodes and made-up but consistent counters. */
export const CrawlerStatsFixture = (knownNodes: number): CrawlerStats => ({
  knownNodes,
  responsiveNodes: Math.floor(knownNodes / 2),
  families: {
    known: { ipv4: knownNodes - Math.floor(knownNodes / 4), ipv6: Math.floor(knownNodes / 4) },
    responsive: {
      ipv4: Math.floor(knownNodes / 2) - Math.floor(knownNodes / 8),
      ipv6: Math.floor(knownNodes / 8)
    }
  },
  uniqueInfohashes: knownNodes * 3,
  discoveries: { sample: knownNodes, get_peers: 2, announce: 1, lookup: 4 },
  queries: { find_node: knownNodes * 2, sample_infohashes: knownNodes, get_peers: 5 },
  spent: { join: 2, walk: knownNodes * 2, sample: knownNodes, peers: 40 },
  shares: { walk: 0.3, sample: 0.35, peers: 0.35 },
  packetsOut: knownNodes * 3 + 50,
  rpc: { queries: knownNodes * 3, responses: knownNodes * 2, timeouts: knownNodes },
  peerFinding: {
    asked: 4,
    askedWithPeers: 2,
    lookups: 3,
    lookupsWithPeers: 1,
    scraped: 0,
    queued: 3,
    evidence: 9,
    onProbation: 2
  },
  infohashesWithPeers: 3,
  identities: 1,
  invalidTokens: 0,
  timing: { timeoutMillis: 750, medianRttMillis: 12 },
  timeoutRate: { recent: 0.4, baseline: 0.42 },
  networkSize: { nodes: knownNodes * 10, low: knownNodes * 9, high: knownNodes * 11, lookups: 3, points: 24 },
  filtered: { bogon: 1 },
  queueDepths: { discoveries: 0, nodes: 1, candidates: 2, lookups: 3 },
  budgetShare: 1,
  backoffMillis: 0,
  backoffReason: undefined
})
