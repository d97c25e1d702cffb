import type { SocketAddress } from "../domain/address.js"
import { copyId, type InfoHash, toHex } from "../domain/ids.js"
import { IndexedHeap } from "../util/heap.js"

// The waiting room of `MetadataFetcher.run`, pure and clock-free (times are passed in). Every waiting infohash
// is in exactly one of three places:
//   - ready:   a max-heap by score, from which `next` takes the most promising one in O(log n);
//   - delayed: a min-heap by `notBefore` (retry backoff, or all its untried peers in the dead-peer cache);
//   - parked:  no untried peer left; it waits for an announce with a new peer.
// Infohashes being fetched ("active") are in none of them. A second min-heap by score over every waiting
// infohash finds the least promising one to drop when the queue is full.

/** Peers remembered per infohash. */
export const MAX_PEERS_PER_INFOHASH = 64
/** Fetched or given-up infohashes remembered (and ignored when announced again). */
export const MAX_FINISHED = 1_000_000

export interface QueueEntry {
  readonly infoHash: InfoHash
  readonly key: string
  readonly peers: Map<string, SocketAddress>
  readonly tried: Set<string>
  announces: number
  /** A TCP connection to one of its peers was established at least once (the yield funnel). */
  connected: boolean
  /** The strongest evidence that it is live the crawler reported (distinct sources and nodes). */
  evidence: number
  lastSeen: number
  attempts: number
  notBefore: number
  active: boolean
  score: number
  ready: number
  delayed: number
  evictable: number
}

export interface FetchQueueOptions {
  readonly maxQueued: number
  readonly maxAttempts: number
  readonly retryBackoffMillis: number
  readonly peersPerInfohash: number
  /** When a peer's dead-cache entry expires (ms), or 0 if it is not dead. */
  readonly deadUntil: (peer: string) => number
  /** A waiting infohash was dropped to make room. */
  readonly onDrop: () => void
}

/**
 * Evidence of life first (distinct sources and nodes reporting it: most infohashes on the DHT have no live
 * peer), then more peers and sightings, fewer failed attempts; recent activity breaks ties.
 */
const scoreOf = (e: QueueEntry) =>
  e.evidence * 3 + e.peers.size * 4 + Math.min(e.announces, 20) - e.attempts * 10 + e.lastSeen / 1e13

export const makeFetchQueue = (o: FetchQueueOptions) => {
  const entries = new Map<string, QueueEntry>()
  const finished = new Set<string>()
  const ready = new IndexedHeap<QueueEntry>((a, b) => a.score > b.score, {
    get: (e) => e.ready,
    set: (e, i) => (e.ready = i)
  })
  const delayed = new IndexedHeap<QueueEntry>((a, b) => a.notBefore < b.notBefore, {
    get: (e) => e.delayed,
    set: (e, i) => (e.delayed = i)
  })
  const evictable = new IndexedHeap<QueueEntry>((a, b) => a.score < b.score, {
    get: (e) => e.evictable,
    set: (e, i) => (e.evictable = i)
  })

  /** Puts a waiting entry where it belongs: ready, delayed until `notBefore`, or parked. */
  const place = (e: QueueEntry, now: number) => {
    if (e.notBefore > now) return delayed.push(e)
    // Untried peers: a live one makes it ready; if all are dead, it waits for the first to expire.
    let wakeAt = Infinity
    for (const k of e.peers.keys()) {
      if (e.tried.has(k)) continue
      const until = o.deadUntil(k)
      if (until <= now) return ready.push(e)
      if (until < wakeAt) wakeAt = until
    }
    if (wakeAt !== Infinity) {
      e.notBefore = wakeAt
      delayed.push(e)
    }
    // else parked: only a new peer (in `add`) brings it back
  }

  const unplace = (e: QueueEntry) => {
    ready.remove(e)
    delayed.remove(e)
  }

  const forget = (e: QueueEntry) => {
    unplace(e)
    evictable.remove(e)
    entries.delete(e.key)
  }

  const remember = (key: string) => {
    finished.add(key)
    if (finished.size > MAX_FINISHED) finished.delete(finished.values().next().value!)
  }

  return {
    /** Merges an announce of `infoHash` with `peers` into the queue. */
    add: (infoHash: InfoHash, peers: ReadonlyArray<SocketAddress>, now: number, evidence = 0): void => {
      const key = toHex(infoHash)
      if (finished.has(key)) return
      let e = entries.get(key)
      if (e === undefined) {
        if (entries.size >= o.maxQueued) {
          // Full: drop the least promising waiting infohash (counted) to make room.
          const worst = evictable.peek()
          if (worst === undefined) return
          forget(worst)
          o.onDrop()
        }
        e = {
          infoHash: copyId(infoHash),
          key,
          peers: new Map(),
          tried: new Set(),
          announces: 0,
          connected: false,
          evidence: 0,
          lastSeen: now,
          attempts: 0,
          notBefore: 0,
          active: false,
          score: 0,
          ready: -1,
          delayed: -1,
          evictable: -1
        }
        entries.set(key, e)
      }
      e.announces++
      if (evidence > e.evidence) e.evidence = evidence
      e.lastSeen = now
      let fresh = false
      for (const p of peers) {
        if (e.peers.size >= MAX_PEERS_PER_INFOHASH) break
        const k = `${p.host}:${p.port}`
        if (!e.peers.has(k)) {
          e.peers.set(k, p)
          fresh = true
        }
      }
      e.score = scoreOf(e)
      if (e.active) return
      if (evictable.has(e)) evictable.update(e)
      else evictable.push(e)
      if (ready.has(e)) ready.update(e)
      else if (fresh && !delayed.has(e)) place(e, now)
    },

    /**
     * The most promising infohash that can be tried now, with the peers to try (untried, not dead, at most
     * `peersPerInfohash`, marked tried); it is active until `settle`.
     */
    next: (now: number): { readonly entry: QueueEntry; readonly peers: Array<SocketAddress> } | undefined => {
      for (let d = delayed.peek(); d !== undefined && d.notBefore <= now; d = delayed.peek()) {
        delayed.pop()
        place(d, now)
      }
      for (let e = ready.pop(); e !== undefined; e = ready.pop()) {
        const peers: Array<SocketAddress> = []
        for (const [k, p] of e.peers) {
          if (peers.length >= o.peersPerInfohash) break
          if (e.tried.has(k) || o.deadUntil(k) > now) continue
          e.tried.add(k)
          peers.push(p)
        }
        if (peers.length === 0) {
          // Its peers died since it was placed: it waits for them to expire, or for new ones.
          place(e, now)
          continue
        }
        evictable.remove(e)
        e.active = true
        e.attempts++
        e.score = scoreOf(e)
        return { entry: e, peers }
      }
      return undefined
    },

    /** Ends an active entry's attempt: fetched, or failed (`true` when given up for good). */
    settle: (e: QueueEntry, fetched: boolean, now: number): boolean => {
      e.active = false
      if (fetched || e.attempts >= o.maxAttempts || !entries.has(e.key)) {
        forget(e)
        remember(e.key)
        return true
      }
      e.notBefore = now + o.retryBackoffMillis * 2 ** (e.attempts - 1)
      evictable.push(e)
      place(e, now)
      return false
    },

    /** When the first delayed entry becomes due (ms), if any. */
    nextDue: (): number | undefined => delayed.peek()?.notBefore,

    /** Drops every waiting (not active) infohash; active ones finish. */
    dropWaiting: (): void => {
      for (const e of entries.values()) if (!e.active) forget(e)
    },

    size: () => entries.size
  }
}

export type FetchQueue = ReturnType<typeof makeFetchQueue>
