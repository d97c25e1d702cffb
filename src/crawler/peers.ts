import { Either } from "effect"
import type { InfoHash } from "../krpc/ids.js"
import { responseNodes } from "../krpc/messages.js"
import { IndexedHeap } from "../util/heap.js"
import type { Task } from "./dispatch.js"
import { ACTIVE_SOURCES, type InfohashEvidence } from "./evidence.js"
import { nearestIdentity } from "./identities.js"
import type { CrawlState } from "./state.js"

// Stage "peers": finding peers for infohashes, the step where a crawl's yield is won or lost (on the real DHT
// most infohashes have no live peer, and "the limit is finding peers"). Two ways, cheapest first:
//   - ask the sampler: one get_peers to the node whose BEP 51 sample held the infohash — it stores the peers
//     (bitmagnet's way; one packet instead of a lookup's 10–30);
//   - a full get_peers lookup (Dht.getPeers from the identity nearest to the infohash): for infohashes heard
//     of without a peer, once; and again each time fetching from the known peers failed (a dead or hostile
//     announcer must not hide the honest seeders), at most MAX_LOOKUPS times.
// Infohashes wait in a heap ordered by evidence (distinct sources and nodes reporting them, repeat sightings,
// recency), cheap asks first, so the budget goes to those most likely to be live.

/** Full lookups per infohash at most (the first, then one per failed fetch or renewed interest). */
const MAX_LOOKUPS = 3
/** A lookup that found no peer is repeated, once new sightings arrived, after this long (ms). */
const RELOOK_AFTER_MS = 30_000
/** Bonus of an infohash with a sampler still to ask (one packet) over one that needs a lookup. */
const CHEAP_BONUS = 3

const byEvidence = (e: InfohashEvidence) => e.weight + (e.samplers.length > 0 ? CHEAP_BONUS : 0) + e.lastSeen / 1e13
/** Without the evidence strategy: first come, first served. */
const byArrival = (e: InfohashEvidence) => -e.firstSeen

export const makePeers = (s: CrawlState) => {
  const priority = s.config.strategies.evidence ? byEvidence : byArrival
  // Two queues: cheap asks (an infohash with a sampler still to ask), and lookups. Asks always go first.
  const asks = new IndexedHeap<InfohashEvidence>((a, b) => priority(a) > priority(b), {
    get: (e) => e.slot,
    set: (e, i) => (e.slot = i)
  })
  const lookups = new IndexedHeap<InfohashEvidence>((a, b) => priority(a) > priority(b), {
    get: (e) => e.lookupSlot,
    set: (e, i) => (e.lookupSlot = i)
  })
  // Asks whose sampler's IP was just queried (usually by the sampler itself): due when the IP is free again.
  const waiting = new IndexedHeap<InfohashEvidence>((a, b) => a.askAt < b.askAt, {
    get: (e) => e.waitSlot,
    set: (e, i) => (e.waitSlot = i)
  })
  const unqueue = (e: InfohashEvidence) => {
    asks.remove(e)
    lookups.remove(e)
    waiting.remove(e)
  }
  s.evidence.onForget = unqueue
  let lookupsRunning = 0
  /** Queries per lookup, measured (a moving average), to charge the dispatcher what a lookup really costs. */
  let lookupCost = 16
  // Lookups in flight, sized to the budget: each keeps α (3) queries in flight at a few RTTs each.
  const maxLookups = Math.max(2, Math.min(s.config.lookupConcurrency, Math.round(s.budget.maxPps / 25)))
  const stats = { asked: 0, askedWithPeers: 0, lookups: 0, lookupsWithPeers: 0 }

  const askDue = (e: InfohashEvidence) => e.samplers.length > 0 && !e.peersKnown
  // Somebody is still looking for it (new sightings since the last lookup found nothing): worth another try.
  const renewed = (e: InfohashEvidence) =>
    e.lookups > 0 && !e.peersKnown && e.sightings > e.sightingsAtLookup && s.now() - e.lookupAt > RELOOK_AFTER_MS
  // Only infohashes somebody announces or looks for right now earn more lookups: on the model, retrying every
  // failed infohash (most are stale) cost a quarter more packets for no more torrents (docs/benchmarks.md).
  const retrying = (e: InfohashEvidence) => s.config.strategies.retryLookups && (e.sources & ACTIVE_SOURCES) !== 0
  const lookupDue = (e: InfohashEvidence) =>
    s.config.lookups &&
    (retrying(e)
      ? e.lookups < Math.min(MAX_LOOKUPS, 1 + e.failures + (renewed(e) ? e.lookups : 0)) &&
        (!e.peersKnown || e.failures > 0)
      : e.lookups < 1 && !e.peersKnown)

  /** Queues `e` where it belongs (called on every sighting and failed fetch). */
  const want = (e: InfohashEvidence) => {
    if (askDue(e)) {
      lookups.remove(e)
      if (waiting.has(e)) return
      if (asks.has(e)) asks.update(e)
      else asks.push(e)
      return
    }
    asks.remove(e)
    waiting.remove(e)
    if (!lookupDue(e)) return lookups.remove(e)
    if (lookups.has(e)) lookups.update(e)
    else lookups.push(e)
  }
  s.hooks.evidence = want

  /** Hands the usable peers found for `infoHash` on; returns how many there were. */
  const foundNow = (infoHash: InfoHash, peers: ReadonlyArray<{ host: string; port: number }>) => {
    const t = s.now()
    let usable = 0
    for (const p of peers) {
      if (!s.usable(p.host, p.port)) continue
      usable++
      s.discoveredNow({ infoHash, source: "lookup", at: t, peer: p })
    }
    if (usable > 0) s.yields.peers++
    return usable
  }

  /** One get_peers to the node whose sample held the infohash, as a callback task. */
  const askSampler = (e: InfohashEvidence): Task => {
    const sampler = e.samplers.shift()!
    e.asked++
    stats.asked++
    const infoHash = e.infoHash // decoded from the key once per task
    const id = nearestIdentity(s.identities, infoHash)
    return {
      stage: "peers",
      start: (done) => {
        s.queries.get_peers++
        s.spent.peers++
        id.node.request(sampler, { method: "get_peers", infoHash }, (result) => {
          if (Either.isRight(result)) {
            s.learnNodes(responseNodes(result.right))
            if (foundNow(infoHash, result.right.values ?? []) > 0) stats.askedWithPeers++
          }
          if (s.evidence.get(e.key) === e) want(e)
          done()
        })
      }
    }
  }

  const lookup = (e: InfohashEvidence): Task => {
    e.lookups++
    e.sightingsAtLookup = e.sightings
    e.lookupAt = s.now()
    stats.lookups++
    lookupsRunning++
    const infoHash = e.infoHash // decoded from the key once per task
    const id = nearestIdentity(s.identities, infoHash)
    return {
      stage: "peers",
      cost: lookupCost,
      start: (done) => {
        s.queries.get_peers++
        id.dht.getPeersNow(infoHash, (result) => {
          s.spent.peers += result.queried
          lookupCost += (result.queried - lookupCost) / 8
          s.learnNodes(result.closest.map((r) => r.contact))
          if (foundNow(infoHash, result.peers) > 0) stats.lookupsWithPeers++
          else s.discoveredNow({ infoHash, source: "lookup", at: s.now() })
          lookupsRunning--
          if (s.evidence.get(e.key) === e) want(e)
          done()
        })
      }
    }
  }

  /** The next peer-finding task, or undefined when none can run now: an ask if any can go, else a lookup. */
  const next = (): Task | undefined => {
    const t = s.now()
    for (let e = waiting.peek(); e !== undefined && e.askAt <= t; e = waiting.peek()) {
      waiting.pop()
      want(e)
    }
    for (let tries = 0; tries < 32; tries++) {
      const e = asks.pop()
      if (e === undefined) break
      if (!askDue(e)) {
        want(e)
        continue
      }
      const host = e.samplers[0]!.host
      if (s.ipFree(host)) return askSampler(e)
      e.askAt = Math.max(t + 20, s.budget.ipFreeAt(host))
      waiting.push(e)
    }
    if (lookupsRunning >= maxLookups) return undefined
    const e = lookups.pop()
    return e === undefined ? undefined : lookup(e)
  }

  /** Fetching `key` from its known peers failed: look for more (a dead or hostile announcer hides nothing). */
  const fetchFailed = (key: string) => {
    const e = s.evidence.get(key)
    if (e === undefined) return
    e.failures++
    want(e)
  }

  return {
    next,
    fetchFailed,
    queued: () => asks.size + waiting.size + lookups.size,
    stats
  }
}
