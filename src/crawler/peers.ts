import { Either } from "effect"
import type { SocketAddress } from "../domain/address.js"
import type { InfoHash } from "../domain/ids.js"
import { BLOOM_BYTES, estimateBloomSize } from "../krpc/bep33.js"
import { responseNodes } from "../krpc/messages.js"
import type { LookupResult, Responder } from "../rpc/lookup.js"
import { estimateNetworkSize, type SizeSample, xorFraction } from "../rpc/networkSize.js"
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
/** Lookups whose closest responders feed the network-size estimate (the latest; a ring). */
const SIZE_SAMPLES = 500
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
  /** `scraped`: peer-finding answers that carried a BEP 33 swarm estimate. */
  // Network size from the lookups made anyway (src/rpc/networkSize.ts): an infohash is as random a target as any.
  const sizeSamples: Array<SizeSample> = []
  let sizeNext = 0
  const noteSize = (target: Uint8Array, closest: ReadonlyArray<{ readonly contact: { readonly id: Uint8Array } }>) => {
    if (closest.length === 0) return
    const sample = { distances: closest.map((r) => xorFraction(r.contact.id, target)) }
    if (sizeSamples.length < SIZE_SAMPLES) sizeSamples.push(sample)
    else sizeSamples[sizeNext] = sample
    sizeNext = (sizeNext + 1) % SIZE_SAMPLES
  }
  const stats = { asked: 0, askedWithPeers: 0, lookups: 0, lookupsWithPeers: 0, scraped: 0 }

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

  /**
   * Hands the usable peers found for `infoHash` on, the BEP 33 swarm estimate (if any node sent filters) with the
   * first of them; returns how many there were.
   */
  const foundNow = (
    infoHash: InfoHash,
    peers: ReadonlyArray<{ host: string; port: number }>,
    swarm: { readonly seeders: number; readonly leechers: number } | undefined
  ) => {
    const t = s.now()
    let usable = 0
    for (const p of peers) {
      if (!s.usable(p.host, p.port)) continue
      usable++
      s.discoveredNow({ infoHash, source: "lookup", at: t, peer: p, swarm: usable === 1 ? swarm : undefined })
    }
    if (usable > 0) s.yields.peers++
    if (swarm !== undefined) stats.scraped++
    return usable
  }
  const swarmOf = (r: { readonly BFsd?: Uint8Array | undefined; readonly BFpe?: Uint8Array | undefined }) =>
    r.BFsd?.length === BLOOM_BYTES && r.BFpe?.length === BLOOM_BYTES
      ? { seeders: estimateBloomSize(r.BFsd), leechers: estimateBloomSize(r.BFpe) }
      : undefined

  /** One get_peers to the node whose sample held the infohash, as a callback task. */
  const askSampler = (e: InfohashEvidence): Task => {
    const sampler = e.samplers.shift()!
    e.asked++
    stats.asked++
    const infoHash = e.infoHash // decoded from the key once per task
    const id = nearestIdentity(s.identitiesFor(sampler.host), infoHash)
    return {
      stage: "peers",
      start: (done) => {
        s.queries.get_peers++
        s.spent.peers++
        // BEP 33: scrape=1 rides on the ask (the sampler stores the infohash): its filters in the same answer.
        id.node.request(sampler, { method: "get_peers", infoHash, scrape: true }, (result) => {
          if (Either.isRight(result)) {
            s.learnNodes(responseNodes(result.right))
            const swarm = swarmOf(result.right)
            if (foundNow(infoHash, result.right.values ?? [], swarm) > 0) stats.askedWithPeers++
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
    return {
      stage: "peers",
      cost: lookupCost,
      start: (done) => {
        s.queries.get_peers++
        // BEP 33: every get_peers of the lookup carries scrape=1 (no extra packet); the nodes near the infohash,
        // which store it, answer with filters, merged into the swarm estimate.
        lookupBoth(infoHash, (result) => {
          s.spent.peers += result.queried
          lookupCost += (result.queried - lookupCost) / 8
          s.learnNodes(result.closest.map((r) => r.contact))
          if (result.sizeSample !== undefined) noteSize(infoHash, result.sizeSample)
          if (foundNow(infoHash, result.peers, result.swarm) > 0) stats.lookupsWithPeers++
          else s.discoveredNow({ infoHash, source: "lookup", at: s.now(), swarm: result.swarm })
          lookupsRunning--
          if (s.evidence.get(e.key) === e) want(e)
          done()
        })
      }
    }
  }

  /**
   * A get_peers lookup (with BEP 33's scrape=1) from the identity nearest to the infohash on each address family we
   * have (dual stack: BEP 32 keeps one routing table per family, and a torrent's seeders may be reachable over one
   * only), the results merged; `done` once both ended. The swarm estimate is the larger of the families' (each
   * from the union of its nodes' filters; the two overlap); the network-size sample comes from the IPv4 DHT when
   * there is one (the families are separate DHTs of different sizes).
   */
  const lookupBoth = (
    infoHash: InfoHash,
    done: (merged: {
      queried: number
      closest: Array<Responder>
      peers: Array<SocketAddress>
      swarm: LookupResult["swarm"]
      sizeSample: ReadonlyArray<Responder> | undefined
    }) => void
  ) => {
    const merged = {
      queried: 0,
      closest: [] as Array<Responder>,
      peers: [] as Array<SocketAddress>,
      swarm: undefined as LookupResult["swarm"],
      sizeSample: undefined as ReadonlyArray<Responder> | undefined
    }
    let open = s.families.length
    for (const family of s.families) {
      const id = nearestIdentity(family === 4 ? s.identitiesFor("0.0.0.0") : s.identitiesFor("::"), infoHash)
      id.dht.getPeersNow(infoHash, (result) => {
        merged.queried += result.queried
        for (const r of result.closest) merged.closest.push(r)
        for (const p of result.peers) merged.peers.push(p)
        const sw = result.swarm
        if (sw !== undefined) {
          merged.swarm = merged.swarm === undefined ? sw : {
            seeders: Math.max(merged.swarm.seeders, sw.seeders),
            leechers: Math.max(merged.swarm.leechers, sw.leechers),
            nodes: merged.swarm.nodes + sw.nodes
          }
        }
        if (family === 4 || s.families.length === 1) merged.sizeSample = result.closest
        if (--open === 0) done(merged)
      }, { scrape: true })
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
      const { host, port } = e.samplers[0]!
      if (s.ipFree(host, port)) return askSampler(e)
      e.askAt = Math.max(t + 20, s.ipFreeAt(host, port))
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
    /** The network-size estimate from the latest lookups (undefined before the first lookup found anybody). */
    networkSize: () => estimateNetworkSize(sizeSamples),
    stats
  }
}
