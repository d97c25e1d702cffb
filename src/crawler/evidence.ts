import { copyId, idPrefix32, type InfoHash } from "../domain/ids.js"
import type { Discovery } from "../domain/model.js"
import type { NodeContact } from "../krpc/compact.js"

// What the crawl has heard about each recent infohash, to decide which ones deserve peer finding and fetching
// first. On the real DHT most infohashes have no live peer (a rule-abiding crawler fetched 176 torrents from
// 2.28 M samples), and live torrents show themselves by being talked about: announced again, looked up by
// downloaders, sampled from several nodes. Bounded: the least recently seen entry is forgotten beyond
// `capacity`. Pure; times are passed in (ms).

const SOURCE_BIT: Record<Discovery["source"], number> = { sample: 1, get_peers: 2, announce: 4, lookup: 8 }
/** Sources that say somebody is using the infohash now: an announce, or somebody looking for its peers. */
export const ACTIVE_SOURCES = SOURCE_BIT.announce | SOURCE_BIT.get_peers
/** Distinct reporting nodes remembered per infohash (more add nothing to the weight). */
const MAX_REPORTERS = 6
/** Nodes remembered per infohash that returned it in a BEP 51 sample (they store its peers). */
const MAX_SAMPLERS = 2

export class InfohashEvidence {
  /** Bit set of the sources that reported it. */
  sources = 0
  sightings = 0
  /** Distinct nodes that reported it (the first 32 bits of their ids: distinct enough, 8 bytes each). */
  readonly reporters: Array<number> = []
  /** Nodes whose BEP 51 sample held it, not yet asked for its peers. */
  readonly samplers: Array<NodeContact> = []
  /** A peer was seen for it (announce, a get_peers reply). */
  peersKnown = false
  /** get_peers sent to samplers, and full lookups run, for it. */
  asked = 0
  lookups = 0
  /** Fetching with the known peers failed this many times (each failure earns a lookup). */
  failures = 0
  /** Sightings when the last lookup started (a lookup that found nothing is repeated once more arrive). */
  sightingsAtLookup = 0
  /** When the last lookup started (ms; 0 never). */
  lookupAt = 0
  /** Positions in the peer-finding heaps (-1: not queued): asks, lookups, asks waiting for their IP. */
  slot = -1
  lookupSlot = -1
  waitSlot = -1
  /** When its sampler's IP is free for the ask. */
  askAt = 0
  lastSeen: number
  /** `key` is the infohash in hex; the bytes are decoded when needed (a Uint8Array per entry costs ~200 bytes,
   * and the store holds up to a million entries). */
  constructor(readonly key: string, readonly firstSeen: number) {
    this.lastSeen = firstSeen
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
    return bits * 2 + this.reporters.length + Math.min(this.sightings, 10) / 5 + (this.peersKnown ? 1 : 0)
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
  readonly size: () => number
  /** Called for every entry forgotten (to unqueue it). */
  onForget: (e: InfohashEvidence) => void
}

export const makeEvidence = (capacity: number, askSampler = true): EvidenceStore => {
  const entries = new Map<string, InfohashEvidence>()
  const store: EvidenceStore = {
    note: (key, _infoHash, source, reporter, withPeer, now) => {
      let e = entries.get(key)
      if (e === undefined) {
        e = new InfohashEvidence(key, now)
        if (entries.size >= capacity) {
          const oldest = entries.values().next().value!
          entries.delete(oldest.key)
          store.onForget(oldest)
        }
      } else {
        entries.delete(key) // most recently seen last
      }
      entries.set(key, e)
      e.sources |= SOURCE_BIT[source]
      e.sightings++
      e.lastSeen = now
      if (withPeer) e.peersKnown = true
      if (reporter !== undefined) {
        const id = idPrefix32(reporter.id)
        if (e.reporters.length < MAX_REPORTERS && !e.reporters.includes(id)) e.reporters.push(id)
        if (askSampler && source === "sample" && e.samplers.length < MAX_SAMPLERS && e.asked < MAX_SAMPLERS) {
          e.samplers.push({ id: copyId(reporter.id), host: reporter.host, port: reporter.port })
        }
      }
      return e
    },
    get: (key) => entries.get(key),
    size: () => entries.size,
    onForget: () => {}
  }
  return store
}
