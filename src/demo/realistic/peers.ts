import { Effect, type Scope } from "effect"
import type { SocketAddress } from "../../domain/address.js"
import { toHex, unsafeNodeId } from "../../domain/ids.js"
import { demoCatalog } from "../catalog.js"
import { makeMetadataSeeder } from "../seeder.js"
import type { AddressPlan } from "./addresses.js"
import { HOSTILE_BEHAVIOURS, type HostileBehaviour, makeHostilePeer } from "./hostilePeer.js"
import type { Client } from "./model.js"
import type { ResolvedOptions } from "./options.js"
import { makeClientSocket } from "./outbound.js"
import type { Rng } from "./rng.js"
import { makeStallListener, type StaleMode } from "./stalePeers.js"
import type { Announcement } from "./traffic.js"

// The BitTorrent side of the model: live torrents on real BEP 9 seeders, hostile peers that also announce some
// of them, and stale peers (gone: connects time out, or are refused) that announce stale infohashes and some live
// ones. Each announcer has its own 127.x address with a UDP socket there, so the address it announces from is
// the address peers connect to (BEP 5 stores the announce's source IP).

export interface LiveTorrent {
  /** Infohash, 40 hex digits. */
  readonly infoHash: string
  readonly name: string
  /** The seeders serving its metadata. */
  readonly seeders: ReadonlyArray<SocketAddress>
  /** True when stale and hostile peers announce it too. */
  readonly hostile: boolean
}

export interface HostilePeerInfo {
  readonly host: string
  readonly port: number
  readonly behaviour: HostileBehaviour
  readonly infoHashes: ReadonlyArray<string>
}

export interface StalePeerInfo {
  readonly host: string
  readonly port: number
  /** "timeout" (dropped SYNs, or a silent listener in stall mode) or "refused" (nobody listens). */
  readonly kind: "timeout" | "refused"
}

export interface Peers {
  readonly live: ReadonlyArray<LiveTorrent>
  readonly stale: ReadonlyArray<string>
  readonly hostile: ReadonlyArray<HostilePeerInfo>
  readonly stalePeers: ReadonlyArray<StalePeerInfo>
  readonly announcements: Array<Announcement>
}

type ClientReceive = (from: SocketAddress, data: Uint8Array) => void

export const makePeers = (
  o: ResolvedOptions,
  plan: AddressPlan,
  rng: Rng,
  staleMode: StaleMode,
  receive: ClientReceive
): Effect.Effect<Peers, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const catalog = demoCatalog(o.liveTorrents, o.seed)
    const announcements: Array<Announcement> = []
    const liveMs = o.announceIntervalSeconds * 1000
    const staleMs = o.staleAnnounceIntervalSeconds * 1000
    const client = (host: string) =>
      Effect.map(makeClientSocket(host, receive), (s): Client => ({ id: unsafeNodeId(rng.bytes(20)), send: s.send }))
    const announce = (infoHash: Uint8Array, peer: SocketAddress, c: Client, intervalMs: number) =>
      announcements.push({ infoHash, peer, client: c, intervalMs, next: 0 })

    // Live: seeder s serves torrents s, s + S, …, and every third torrent sits on the next seeder as well.
    const seederCount = Math.ceil(catalog.length / o.torrentsPerSeeder)
    const seedersOf = catalog.map(() => [] as Array<SocketAddress>)
    yield* Effect.forEach(Array.from({ length: seederCount }, (_, s) => s), (s) =>
      Effect.gen(function*() {
        const mine = catalog.flatMap((_, i) =>
          i % seederCount === s || (i % 3 === 0 && (i + 1) % seederCount === s) ? [i] : []
        )
        const host = plan.seeder(s)
        const seeder = yield* makeMetadataSeeder(
          host,
          new Map(mine.map((i) => [toHex(catalog[i]!.infoHash), catalog[i]!.info]))
        )
        const c = yield* client(host)
        for (const i of mine) {
          seedersOf[i]!.push({ host, port: seeder.port })
          announce(catalog[i]!.infoHash, { host, port: seeder.port }, c, liveMs)
        }
      }), { discard: true })

    // Stale peers: a pool of gone peers; most time out, `refusedShare` of them are refused.
    const stalePool = Math.max(16, Math.min(512, Math.ceil((catalog.length * o.staleRatio) / 16)))
    const stalePeers: Array<StalePeerInfo & { client: Client }> = []
    for (let p = 0; p < stalePool; p++) {
      const refused = rng.chance(o.refusedShare)
      const host = refused ? plan.refused(p) : plan.stale(p)
      const port = !refused && staleMode === "stall" ? yield* makeStallListener(host) : 6881 + rng.int(2000)
      stalePeers.push({ host, port, kind: refused ? "refused" : "timeout", client: yield* client(host) })
    }
    const staleAnnounce = (infoHash: Uint8Array, intervalMs: number) => {
      for (let k = 1 + rng.int(3); k > 0; k--) {
        const p = stalePeers[rng.int(stalePeers.length)]!
        announce(infoHash, { host: p.host, port: p.port }, p.client, intervalMs)
      }
    }
    const stale = Array.from({ length: Math.round(catalog.length * o.staleRatio) }, () => rng.bytes(20))
    for (const ih of stale) staleAnnounce(ih, staleMs)

    // Hostile: `hostileShare` of the live torrents also have stale announcers and one or two hostile peers.
    const hostileTorrents = catalog.flatMap((_, i) => rng.chance(o.hostileShare) ? [i] : [])
    const hostileCount = hostileTorrents.length === 0 ? 0 : Math.max(4, Math.ceil(hostileTorrents.length / 5))
    const servedBy = Array.from({ length: hostileCount }, () => [] as Array<number>)
    for (const i of hostileTorrents) {
      staleAnnounce(catalog[i]!.infoHash, liveMs)
      const first = rng.int(hostileCount)
      servedBy[first]!.push(i)
      if (rng.chance(0.5)) servedBy[(first + 1) % hostileCount]!.push(i)
    }
    const other = demoCatalog(1, o.seed + 7919)[0]!.info
    const hostile = yield* Effect.forEach(servedBy, (list, h) =>
      Effect.gen(function*() {
        const host = plan.hostile(h)
        const behaviour = HOSTILE_BEHAVIOURS[h % HOSTILE_BEHAVIOURS.length]!
        const infos = new Map(list.map((i) => [toHex(catalog[i]!.infoHash), catalog[i]!.info]))
        const peer = yield* makeHostilePeer(host, behaviour, infos, other)
        const c = yield* client(host)
        for (const i of list) announce(catalog[i]!.infoHash, { host, port: peer.port }, c, liveMs)
        return { host, port: peer.port, behaviour, infoHashes: [...infos.keys()] }
      }))

    const hostileSet = new Set(hostileTorrents)
    return {
      live: catalog.map((t, i) => ({
        infoHash: toHex(t.infoHash),
        name: t.name,
        seeders: seedersOf[i]!,
        hostile: hostileSet.has(i)
      })),
      stale: stale.map(toHex),
      hostile,
      stalePeers: stalePeers.map(({ host, kind, port }) => ({ host, port, kind })),
      announcements
    }
  })
