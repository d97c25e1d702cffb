import type { SocketAddress } from "../krpc/address.js"
import { copyId, type InfoHash, toHex } from "../krpc/ids.js"

// Peers announced to us (announce_peer), bounded in both directions and expiring: at most `maxInfohashes`
// infohashes (the least recently announced is evicted) and `maxPeers` peers each (the oldest is evicted).
// Time is passed in (ms).

interface Swarm {
  readonly infoHash: InfoHash
  readonly peers: Map<string, { readonly host: string; readonly port: number; expires: number }>
}

export interface PeerStore {
  readonly announce: (infoHash: InfoHash, peer: SocketAddress, now: number) => void
  /** Live peers for an infohash, at most `limit`. */
  readonly peers: (infoHash: Uint8Array, now: number, limit: number) => Array<SocketAddress>
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
    announce: (infoHash, peer, now) => {
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
      swarm.peers.set(peerKey, { host: peer.host, port: peer.port, expires: now + options.ttlMillis })
      peerCount++
    },
    peers: (infoHash, now, limit) => {
      const key = toHex(infoHash)
      const swarm = swarms.get(key)
      if (swarm === undefined) return []
      prune(key, swarm, now)
      const out: Array<SocketAddress> = []
      for (const p of swarm.peers.values()) {
        if (out.length >= limit) break
        out.push({ host: p.host, port: p.port })
      }
      return out
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
