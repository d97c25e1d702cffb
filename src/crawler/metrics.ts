import { Metric } from "effect"
import type { Verdict } from "../domain/cidr.js"
import type { Discovery } from "../domain/model.js"
import { taggedCounter } from "../observability/metrics.js"

// Crawler metrics (Effect Metrics, exported by the Prometheus endpoint later).

const discoveriesBase = Metric.counter("bitscrape_crawler_discoveries_total", {
  description: "infohash sightings, by source"
})
export const discoveries = (source: Discovery["source"]) => Metric.tagged(discoveriesBase, "source", source)
export const countDiscovery = (source: Discovery["source"]) =>
  taggedCounter(discoveriesBase, "source", source).unsafeUpdate(1, [])

const filteredBase = Metric.counter("bitscrape_crawler_filtered_total", {
  description: "addresses the crawler refused to talk to, by reason"
})
export const countFiltered = (verdict: Verdict) => taggedCounter(filteredBase, "reason", verdict).unsafeUpdate(1, [])

const queueDropsBase = Metric.counter("bitscrape_crawler_queue_drops_total", {
  description: "items dropped from bounded crawler queues, by queue"
})
export const countQueueDrop = (queue: string) => taggedCounter(queueDropsBase, "queue", queue).unsafeUpdate(1, [])

export const uniqueInfohashes = Metric.gauge("bitscrape_crawler_unique_infohashes", {
  description: "distinct infohashes seen recently"
})
export const knownNodes = Metric.gauge("bitscrape_crawler_known_nodes", {
  description: "nodes in the known-node store"
})
export const backoffMillis = Metric.gauge("bitscrape_crawler_backoff_millis", {
  description: "extra delay per query while backing off"
})
const knownNodesFamilyBase = Metric.gauge("bitscrape_crawler_known_nodes_by_family", {
  description: "nodes in the known-node store, by address family (ipv4, ipv6)"
})
export const knownNodesByFamily = (family: "ipv4" | "ipv6") => Metric.tagged(knownNodesFamilyBase, "family", family)
const responsiveFamilyBase = Metric.gauge("bitscrape_crawler_responsive_nodes_by_family", {
  description: "known nodes that answered within 15 minutes, by address family (ipv4, ipv6)"
})
export const responsiveNodesByFamily = (family: "ipv4" | "ipv6") =>
  Metric.tagged(responsiveFamilyBase, "family", family)
export const responsiveNodes = Metric.gauge("bitscrape_crawler_responsive_nodes", {
  description: "known nodes that answered within 15 minutes"
})
const queueDepthBase = Metric.gauge("bitscrape_crawler_queue_depth", { description: "items buffered, by queue" })
export const queueDepth = (queue: string) => Metric.tagged(queueDepthBase, "queue", queue)
export const budgetShare = Metric.gauge("bitscrape_crawler_budget_share", {
  description: "share of the packet budget in use (below 1 while backing off)"
})
const stageQueriesBase = Metric.gauge("bitscrape_crawler_stage_queries", {
  description: "queries sent so far, by crawler stage (join, walk, sample, peers)"
})
export const stageQueries = (stage: string) => Metric.tagged(stageQueriesBase, "stage", stage)
const networkSizeBase = Metric.gauge("bitscrape_dht_network_size_nodes", {
  description:
    "DHT nodes estimated from the crawl's lookups (k-closest estimator): estimate and 95 % bounds (low, high)"
})
export const networkSize = (bound: "estimate" | "low" | "high") => Metric.tagged(networkSizeBase, "bound", bound)
