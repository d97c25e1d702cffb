import { Metric } from "effect"

// Effect Metrics shared by every layer. Names follow `bitscrape_<area>_<thing>_total` (Prometheus style).
// Hot paths update them with `unsafeUpdate` from synchronous code; pre-tagged variants avoid per-packet tag
// allocation.

type Counter = Metric.Metric.Counter<number>
const bump = (counter: Counter, by = 1) => counter.unsafeUpdate(by, [])

const taggedCounters = new WeakMap<Counter, Map<string, Map<string, Counter>>>()
/** `base` tagged `tag=value`, created once and cached (tagging allocates; counting happens per packet). */
export const taggedCounter = (base: Counter, tag: string, value: string): Counter => {
  let byTag = taggedCounters.get(base)
  if (byTag === undefined) {
    byTag = new Map()
    taggedCounters.set(base, byTag)
  }
  let byValue = byTag.get(tag)
  if (byValue === undefined) {
    byValue = new Map()
    byTag.set(tag, byValue)
  }
  let c = byValue.get(value)
  if (c === undefined) {
    c = Metric.tagged(base, tag, value)
    byValue.set(value, c)
  }
  return c
}

// === DHT socket ===

export const packetsIn = Metric.counter("bitscrape_dht_packets_in_total", { description: "UDP datagrams received" })
export const packetsOut = Metric.counter("bitscrape_dht_packets_out_total", { description: "UDP datagrams sent" })
export const bytesIn = Metric.counter("bitscrape_dht_bytes_in_total", { description: "UDP bytes received" })
export const bytesOut = Metric.counter("bitscrape_dht_bytes_out_total", { description: "UDP bytes sent" })

/** Why a datagram was dropped. */
export type DropReason =
  | "inbound-buffer-full"
  | "oversized"
  | "malformed"
  | "outbound-rate-limit"
  | "send-error"
  | "unexpected-response"
  | "wrong-source"
  | "filtered"
  | "handler-failed"

const dropsBase = Metric.counter("bitscrape_dht_drops_total", { description: "datagrams dropped, by reason" })
/** Counts one dropped datagram. */
export const countDrop = (reason: DropReason, n = 1) => bump(taggedCounter(dropsBase, "reason", reason), n)
/** The drop counter for one reason (for reading in tests and stats). */
export const drops = (reason: DropReason): Counter => Metric.tagged(dropsBase, "reason", reason)

// === KRPC ===

const queriesInBase = Metric.counter("bitscrape_dht_queries_in_total", { description: "queries received, by method" })
const queriesOutBase = Metric.counter("bitscrape_dht_queries_out_total", { description: "queries sent, by method" })
const byMethod = (base: Counter, method: string): Counter => taggedCounter(base, "method", method)
/** Counts a received query. Unknown method names are folded into "other" to bound label cardinality. */
export const countQueryIn = (method: string) => bump(byMethod(queriesInBase, knownMethod(method)))
/** Counts a sent query. */
export const countQueryOut = (method: string) => bump(byMethod(queriesOutBase, knownMethod(method)))
export const queriesIn = (method: string) => Metric.tagged(queriesInBase, "method", method)
export const queriesOut = (method: string) => Metric.tagged(queriesOutBase, "method", method)

const KNOWN = new Set(["ping", "find_node", "get_peers", "announce_peer", "sample_infohashes"])
const knownMethod = (m: string) => KNOWN.has(m) ? m : "other"

export const responses = Metric.counter("bitscrape_dht_responses_total", { description: "responses to our queries" })
const responsesBase = Metric.counter("bitscrape_dht_responses_by_method_total", {
  description: "responses to our queries, by the method of the query"
})
/** Counts a response to one of our queries of `method`. */
export const countResponse = (method: string) => bump(byMethod(responsesBase, knownMethod(method)))
export const responsesFor = (method: string) => Metric.tagged(responsesBase, "method", method)
export const timeouts = Metric.counter("bitscrape_dht_timeouts_total", { description: "our queries that timed out" })
export const errorsIn = Metric.counter("bitscrape_dht_errors_total", {
  description: "KRPC error replies to our queries"
})
export const inflight = Metric.gauge("bitscrape_dht_inflight_queries", { description: "queries awaiting a reply" })
export const routingTableSize = Metric.gauge("bitscrape_dht_routing_table_nodes", {
  description: "nodes in the routing table"
})
export const peersStored = Metric.gauge("bitscrape_dht_stored_peers", {
  description: "peers stored from announce_peer (all DHT nodes of this process)"
})
let storedPeers = 0
/** Adds `delta` to the stored-peers gauge (each DHT node reports the changes of its own store). */
export const adjustStoredPeers = (delta: number) => {
  if (delta === 0) return
  storedPeers += delta
  peersStored.unsafeUpdate(storedPeers, [])
}

export const neighbourReplies = Metric.counter("bitscrape_dht_neighbour_replies_total", {
  description: "replies sent with a neighbour id instead of our own (neighbourIds on)"
})

export const unsafeIncrement = bump
export const invalidTokens = Metric.counter("bitscrape_dht_invalid_token_announces_total", {
  description: "announce_peer queries with a token we did not issue (not harvested, not stored)"
})
