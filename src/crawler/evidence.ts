import { copyId, idPrefix32, type InfoHash } from "../domain/ids.js"
import type { Discovery } from "../domain/model.js"
import type { NodeContact } from "../krpc/compact.js"

// What the crawl has heard about each recent infohash, to decide which ones deserve peer finding and fetching
// first. On the real DHT most infohashes have no live peer (a rule-abiding crawler fetched 176 torrents from
// 2.28 M samples), and live torrents show themselves by being talked about: announced again, looked up by
// downloaders, sampled from several nodes. Bounded, in two tiers (`makeEvidence`): the least recently seen entry
// of a tier is forgotten beyond its capacity. Pure; times are passed in (ms).

const SOURCE_BIT: Record<Discovery["source"], number> = { sample: 1, get_peers: 2, announce: 4, lookup: 8 }
/** Sources that say somebody is using the infohash now: an announce, or somebody looking for its peers. */
export const ACTIVE_SOURCES = SOURCE_BIT.announce | SOURCE_BIT.get_peers
/** Distinct reporting nodes remembered per infohash (more add nothing to the weight). */
const MAX_REPORTERS = 6
/** Nodes remembered per infohash that returned it in a BEP 51 sample (they store its peers). */
const MAX_SAMPLERS = 2

// Memory: the store holds up to `capacity` + `probationCapacity` entries (110,000 at the defaults), each built to
// stay small (~230 B with its key and Map slot, measured in docs/benchmarks.md "soak"): the small counters share one
// small integer, the first reporter sits in a field, times are kept relative to the first entry's so they stay
// small integers (for 24 days), and entries without samplers share one empty array.
const NO_REPORTERS: Array<number> = []
const NO_SAMPLERS: Array<NodeContact> = []

// Bit layout of `InfohashEvidence.bits`: sources (4 bits), peersKnown (1), then three saturating 8-bit counters.
const SOURCES_MASK = 0xf
const PEERS_KNOWN = 0x10
const ASKED_SHIFT = 5
const LOOKUPS_SHIFT = 13
const FAILURES_SHIFT = 21
const COUNTER_MAX = 0xff

/** The time all entries' `firstSeen`/`lastSeen` are kept relative to (the first entry's). */
let timeBase: number | undefined

export class InfohashEvidence {
  /** sources, peersKnown, asked, lookups, failures, packed (see the layout above). */
  private bits = 0
  sightings = 0
  /** Sightings when the last lookup started (a lookup that found nothing is repeated once more arrive). */
  sightingsAtLookup = 0
  /** Distinct nodes that reported it, as the first 32 bits of their ids (distinct enough): the first in
   * `reporter0` (0: none yet), the others in `moreReporters` (a shared empty array until the second). */
  private reporter0 = 0
  private moreReporters: Array<number> = NO_REPORTERS
  /** Nodes whose BEP 51 sample held it, not yet asked for its peers (shared empty array until the first). */
  samplers: Array<NodeContact> = NO_SAMPLERS
  /** When the last lookup started (ms; 0 never). */
  lookupAt = 0
  /** Positions in the peer-finding heaps (-1: not queued): asks, lookups, asks waiting for their IP. */
  slot = -1
  lookupSlot = -1
  waitSlot = -1
  /** When its sampler's IP is free for the ask. */
  askAt = 0
  private firstRel: number
  private lastRel: number
  /** `key` is the infohash in hex; the bytes are decoded when needed (a Uint8Array per entry costs ~200 bytes,
   * and the store holds up to a million entries). */
  constructor(readonly key: string, firstSeen: number) {
    timeBase ??= firstSeen
    this.firstRel = firstSeen - timeBase
    this.lastRel = this.firstRel
  }
  get firstSeen(): number {
    return this.firstRel + timeBase!
  }
  get lastSeen(): number {
    return this.lastRel + timeBase!
  }
  set lastSeen(t: number) {
    this.lastRel = t - timeBase!
  }
  /** Bit set of the sources that reported it. */
  get sources(): number {
    return this.bits & SOURCES_MASK
  }
  addSource(bit: number): void {
    this.bits |= bit & SOURCES_MASK
  }
  /** A peer was seen for it (announce, a get_peers reply). */
  get peersKnown(): boolean {
    return (this.bits & PEERS_KNOWN) !== 0
  }
  set peersKnown(known: boolean) {
    this.bits = known ? this.bits | PEERS_KNOWN : this.bits & ~PEERS_KNOWN
  }
  private counter(shift: number): number {
    return (this.bits >>> shift) & COUNTER_MAX
  }
  private setCounter(shift: number, n: number): void {
    const v = Math.max(0, Math.min(COUNTER_MAX, n))
    this.bits = (this.bits & ~(COUNTER_MAX << shift)) | (v << shift)
  }
  /** get_peers sent to samplers, and full lookups run, for it (each saturates at 255). */
  get asked(): number {
    return this.counter(ASKED_SHIFT)
  }
  set asked(n: number) {
    this.setCounter(ASKED_SHIFT, n)
  }
  get lookups(): number {
    return this.counter(LOOKUPS_SHIFT)
  }
  set lookups(n: number) {
    this.setCounter(LOOKUPS_SHIFT, n)
  }
  /** Fetching with the known peers failed this many times (each failure earns a lookup; saturates at 255). */
  get failures(): number {
    return this.counter(FAILURES_SHIFT)
  }
  set failures(n: number) {
    this.setCounter(FAILURES_SHIFT, n)
  }
  /** How many distinct nodes reported it (at most MAX_REPORTERS). */
  get reporterCount(): number {
    return this.reporter0 === 0 ? 0 : 1 + this.moreReporters.length
  }
  /** Records a reporting node by the first 32 bits of its id; false if known already or the list is full. */
  addReporter(id32: number): boolean {
    const id = id32 | 0 || 1 // a small integer, never 0 (0 means "none")
    if (this.reporter0 === 0) this.reporter0 = id
    else if (this.reporter0 === id || this.moreReporters.includes(id)) return false
    else if (this.moreReporters === NO_REPORTERS) this.moreReporters = [id]
    else if (this.moreReporters.length < MAX_REPORTERS - 1) this.moreReporters.push(id)
    else return false
    return true
  }
  /** The infohash (a fresh array of its own on every call, not a view of Buffer's shared pool). */
  get infoHash(): InfoHash {
    const bytes = new Uint8Array(20)
    Buffer.from(bytes.buffer).write(this.key, "hex")
    return bytes as InfoHash
  }
  /** How strongly the sightings say the infohash is live: distinct sources and reporters, repeat sightings. */
  get weight(): number {
    let bits = 0
    for (let s = this.sources; s !== 0; s &= s - 1) bits++
    return bits * 2 + this.reporterCount + Math.min(this.sightings, 10) / 5 + (this.peersKnown ? 1 : 0)
  }
}

export interface EvidenceStore {
  /** Records one sighting; returns the infohash's evidence. */
  readonly note: (
    key: string,
    infoHash: InfoHash,
    source: Discovery["source"],
    reporter: NodeContact | undefined,
    withPeer: boolean,
    now: number
  ) => InfohashEvidence
  readonly get: (key: string) => InfohashEvidence | undefined
  /** Entries held, both tiers. */
  readonly size: () => number
  /** Entries held on probation (heard of only from one node's get_peers). */
  readonly probationSize: () => number
  /** Called for every entry forgotten (to unqueue it). */
  onForget: (e: InfohashEvidence) => void
}

/** Sources that keep an entry on probation: a get_peers, and lookups of ours that found no peer for it. */
const HEARSAY = SOURCE_BIT.get_peers | SOURCE_BIT.lookup

/**
 * Only one node's get_peers so far (a lookup of ours may have found nothing since): anybody can send those for
 * random infohashes at full speed, from many addresses, so such entries live in a tier of their own until a second
 * node, another kind of source (a sample, an announce) or a peer confirms them.
 */
const onProbation = (e: InfohashEvidence) =>
  (e.sources & ~HEARSAY) === 0 && (e.sources & SOURCE_BIT.get_peers) !== 0 && e.reporterCount === 1 &&
  !e.peersKnown && e.samplers.length === 0

/**
 * Two tiers, each forgetting its least recently seen entry when full: `capacity` entries with evidence beyond one
 * node's get_peers, and `probationCapacity` entries heard of only from one node's get_peers (see `onProbation`).
 * A flood of get_peers for random infohashes so fills only the second; what samples, announces, peers and several
 * nodes vouch for keeps its place.
 */
export const makeEvidence = (
  capacity: number,
  askSampler = true,
  probationCapacity = Math.max(1, Math.ceil(capacity / 10))
): EvidenceStore => {
  const entries = new Map<string, InfohashEvidence>()
  const probation = new Map<string, InfohashEvidence>()
  /** Adds `e` as the most recently seen entry of `tier`, forgetting that tier's oldest if it is full. */
  const admit = (tier: Map<string, InfohashEvidence>, limit: number, e: InfohashEvidence) => {
    if (tier.size >= limit) {
      const oldest = tier.values().next().value!
      tier.delete(oldest.key)
      store.onForget(oldest)
    }
    tier.set(e.key, e)
  }
  const store: EvidenceStore = {
    note: (key, _infoHash, source, reporter, withPeer, now) => {
      let e = entries.get(key)
      const confirmed = e !== undefined
      if (e !== undefined) entries.delete(key) // most recently seen last
      else {
        e = probation.get(key)
        if (e !== undefined) probation.delete(key)
        else e = new InfohashEvidence(key, now)
      }
      e.addSource(SOURCE_BIT[source])
      e.sightings++
      e.lastSeen = now
      if (withPeer) e.peersKnown = true
      if (reporter !== undefined) {
        e.addReporter(idPrefix32(reporter.id))
        if (askSampler && source === "sample" && e.samplers.length < MAX_SAMPLERS && e.asked < MAX_SAMPLERS) {
          const contact = { id: copyId(reporter.id), host: reporter.host, port: reporter.port }
          if (e.samplers === NO_SAMPLERS) e.samplers = [contact]
          else e.samplers.push(contact)
        }
      }
      // Once confirmed, an entry stays in the main tier; a get_peers without a reporter is the user's own (an
      // imported infohash sought, `CrawlState.seek`): confirmed too.
      const sought = source === "get_peers" && reporter === undefined
      if (confirmed) entries.set(key, e)
      else if (!sought && onProbation(e)) admit(probation, probationCapacity, e)
      else admit(entries, capacity, e)
      return e
    },
    get: (key) => entries.get(key) ?? probation.get(key),
    size: () => entries.size + probation.size,
    probationSize: () => probation.size,
    onForget: () => {}
  }
  return store
}
