import { Metric } from "effect"
import type { Funnel } from "./funnel.js"

// The yield funnel as Prometheus gauges (set about once a second by the session).

const stepBase = Metric.gauge("bitscrape_funnel_infohashes", {
  description: "infohashes at each step of the yield funnel (seen, with_peers, connected, fetched, pending)"
})
const lostBase = Metric.gauge("bitscrape_funnel_lost_infohashes", {
  description:
    "infohashes that did not give metadata, by cause (never-peers, no-peers, dead, refused, hostile, gave-up)"
})
const budgetBase = Metric.gauge("bitscrape_funnel_query_share", {
  description: "share of the crawl's queries each stage sent (join, walk, sample, peers)"
})
const perTorrent = Metric.gauge("bitscrape_funnel_packets_per_torrent", {
  description: "UDP packets sent per fetched torrent"
})

export const update = (f: Funnel): void => {
  const steps: Array<[string, number]> = [
    ["seen", f.seen],
    ["with_peers", f.withPeers],
    ["connected", f.connected],
    ["fetched", f.fetched],
    ["pending", f.pending]
  ]
  for (const [step, n] of steps) Metric.tagged(stepBase, "step", step).unsafeUpdate(n, [])
  for (const [cause, n] of Object.entries(f.lost)) Metric.tagged(lostBase, "cause", cause).unsafeUpdate(n, [])
  for (const [stage, v] of Object.entries(f.budget)) Metric.tagged(budgetBase, "stage", stage).unsafeUpdate(v, [])
  if (f.packetsPerTorrent !== undefined) perTorrent.unsafeUpdate(f.packetsPerTorrent, [])
}
