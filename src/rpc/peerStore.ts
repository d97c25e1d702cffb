import type { SocketAddress } from "../domain/address.js"
import { copyId, type InfoHash, toHex } from "../domain/ids.js"
import { emptyBloom, insertIp } from "../krpc/bep33.js"

// Peers announced to us (announce_peer), bounded in both directions and expiring: at most `maxInfohashes`
// infohashes (the least recently announced is evicted) and `maxPeers` peers each (the oldest is evicted).
// Time is passed in (ms).

interface Swarm {
  readonly infoHash: InfoHash
  readonly peers: Map<string, { readonly host: string; readonly port: number; expires: number; seed: boolean }>
}

export interface PeerStore {
  /** Records an announce; `seed` when the announcer said it is a seed (BEP 33 `seed`). */
  readonly announce: (infoHash: InfoHash, peer: SocketAddress, now: number, seed?: boolean) => void
  /** Live peers for an infohash, at most `limit`; with `noSeed` only those that are not seeds (BEP 33). */
  readonly peers: (infoHash: Uint8Array, now: number, limit: number, noSeed?: boolean) => Array<SocketAddress>
  /** BEP 33 Bloom filters of the live seeds' and other peers' IP addresses for an infohash. */
  readonly scrape: (infoHash: Uint8Array, now: number) => { readonly seeds: Uint8Array; readonly peers: Uint8Array }
  /** Up to `count` random infohashes that have live peers, and how many there are. */
  readonly sample: (count: number, now: number) => { readonly samples: Array<InfoHash>; readonly num: number }
  readonly size: () => { readonly infohashes: number; readonly peers: number }
  /** Drops expired peers and empty swarms. */
  readonly sweep: (now: number) => void
}

export const makePeerStore = (options: {
  readonly ttlMillis: number
  readonly maxInfohashes: number
  readonly maxPeers: number
}): PeerStore => {
  const swarms = new Map<string, Swarm>()
  let peerCount = 0

  const prune = (key: string, swarm: Swarm, now: number) => {
    for (const [k, p] of swarm.peers) {
      if (p.expires <= now) {
        swarm.peers.delete(k)
        peerCount--
      }
    }
    if (swarm.peers.size === 0) swarms.delete(key)
  }

  return {
    announce: (infoHash, peer, now, seed = false) => {
      const key = toHex(infoHash)
      let swarm = swarms.get(key)
      if (swarm === undefined) {
        swarm = { infoHash: copyId(infoHash), peers: new Map() }
        if (swarms.size >= options.maxInfohashes) {
          const [oldestKey, oldest] = swarms.entries().next().value!
          peerCount -= oldest.peers.size
          swarms.delete(oldestKey)
        }
      } else {
        swarms.delete(key) // re-insert below: Map order is then "least recently announced first"
      }
      swarms.set(key, swarm)
      const peerKey = `${peer.host}|${peer.port}`
      if (swarm.peers.delete(peerKey)) peerCount--
      if (swarm.peers.size >= options.maxPeers) {
        const oldest = swarm.peers.keys().next().value!
        swarm.peers.delete(oldest)
        peerCount--
      }
      swarm.peers.set(peerKey, { host: peer.host, port: peer.port, expires: now + options.ttlMillis, seed })
      peerCount++
    },
    peers: (infoHash, now, limit, noSeed = false) => {
      const key = toHex(infoHash)
      const swarm = swarms.get(key)
      if (swarm === undefined) return []
      prune(key, swarm, now)
      const out: Array<SocketAddress> = []
      for (const p of swarm.peers.values()) {
        if (out.length >= limit) break
        if (noSeed && p.seed) continue
        out.push({ host: p.host, port: p.port })
      }
      return out
    },
    scrape: (infoHash, now) => {
      const seeds = emptyBloom()
      const peers = emptyBloom()
      const key = toHex(infoHash)
      const swarm = swarms.get(key)
      if (swarm !== undefined) {
        prune(key, swarm, now)
        for (const p of swarm.peers.values()) insertIp(p.seed ? seeds : peers, p.host)
      }
      return { seeds, peers }
    },
    sample: (count, now) => {
      const live: Array<InfoHash> = []
      for (const [key, swarm] of swarms) {
        prune(key, swarm, now)
        if (swarm.peers.size > 0) live.push(swarm.infoHash)
      }
      for (let i = live.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1))
        ;[live[i], live[j]] = [live[j]!, live[i]!]
      }
      return { samples: live.slice(0, count), num: live.length }
    },
    size: () => ({ infohashes: swarms.size, peers: peerCount }),
    sweep: (now) => {
      for (const [key, swarm] of swarms) prune(key, swarm, now)
    }
  }
}
