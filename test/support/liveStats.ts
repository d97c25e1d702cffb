import type { CrawlerStats } from "../../src/crawler/Crawler.js"

/** Crawler stats with `knownNodes` nodes and made-up but consistent counters. */
export const CrawlerStatsFixture = (knownNodes: number): CrawlerStats => ({
  knownNodes,
  responsiveNodes: Math.floor(knownNodes / 2),
  uniqueInfohashes: knownNodes * 3,
  discoveries: { sample: knownNodes, get_peers: 2, announce: 1, lookup: 4 },
  queries: { find_node: knownNodes * 2, sample_infohashes: knownNodes, get_peers: 5 },
  filtered: { bogon: 1 },
  queueDepths: { discoveries: 0, nodes: 1, candidates: 2, lookups: 3 },
  backoffMillis: 0,
  backoffReason: undefined
})
