import { Either } from "effect"
import type { SocketAddress } from "../../domain/address.js"
import { type NodeId, toHex, unsafeNodeId } from "../../domain/ids.js"
import { decodeMessage, encodeMessage } from "../../krpc/codec.js"
import { methodOf, type Query } from "../../krpc/messages.js"
import type { AddressPlan } from "./addresses.js"
import { makeDosBlocker } from "./dosBlocker.js"
import { makeIpStats } from "./ipStats.js"
import { makeKeyspace, type Member } from "./keyspace.js"
import type { ResolvedOptions } from "./options.js"
import { makeOutbound, type Send } from "./outbound.js"
import type { Rng } from "./rng.js"
import { answer, K, type SimNode, storePeer } from "./simNode.js"
import type { WorkerPool } from "./workerPool.js"

// The model's state and its handling of real packets: which simulated node got a datagram, whether it answers
// (silent, departed, lost, dos-blocked) and what, which external nodes exist, and where an infohash is stored.
// Between simulated nodes nothing is sent: their traffic is computed from this global view.

/** Most external node ids the model remembers (a crawler with more ids than this gets filed partly). */
const MAX_EXTERNALS = 100_000
/** An external node that misses this many queries in a row is dropped, as a routing table would. */
const MAX_FAILURES = 3
/** Departed nodes stay in others' routing tables this long (BEP 5 refreshes buckets every 15 minutes). */
export const LINGER_MS = 15 * 60_000

/** A querier of the model: its DHT id and the socket it sends from. */
export interface Client {
  readonly id: NodeId
  readonly send: Send
}

export interface External {
  readonly id: Uint8Array
  member: Member
  lastSeen: number
  failures: number
}

export const emptyStats = () => ({
  packetsIn: 0,
  packetsOut: 0,
  lostInbound: 0,
  lostOutbound: 0,
  undecodable: 0,
  ignoredSilent: 0,
  ignoredDeparted: 0,
  ignoredDos: 0,
  dosBlocks: 0,
  queries: {} as Record<string, number>,
  bep51Answered: 0,
  bep51Ignored: 0,
  announcesStored: 0,
  badTokens: 0,
  repliesFromExternals: 0,
  getPeersToExternals: 0,
  announcesToExternals: 0,
  externalTimeouts: 0,
  lookups: 0,
  announces: 0,
  churnLeft: 0,
  churnJoined: 0
})
export type ModelStats = ReturnType<typeof emptyStats>

export const makeModel = (o: ResolvedOptions, plan: AddressPlan, rng: Rng) => {
  const keyspace = makeKeyspace()
  const nodes: Array<SimNode | undefined> = []
  const externals = new Map<string, External>()
  const ipStats = makeIpStats()
  const blockedIps = new Set<string>()
  const outbound = makeOutbound()
  const stats = emptyStats()
  let pool: WorkerPool | undefined
  const nodeSigma = o.replyDelaySigma * 0.85
  const packetSigma = o.replyDelaySigma * 0.53

  const ctx = {
    keyspace,
    rng,
    bep51IntervalSeconds: o.bep51IntervalSeconds,
    count: (what: "bep51Answered" | "bep51Ignored" | "announcesStored" | "badTokens") => void stats[what]++
  }

  /** Draws a node for `slot` (flags first, so the same seed gives the same world whatever the ports). */
  const draw = (slot: number, bootstrap: boolean) => {
    const answers = bootstrap || !rng.chance(o.silentShare)
    return {
      slot,
      id: unsafeNodeId(rng.bytes(20)),
      answers,
      bep51: answers && rng.chance(o.bep51Share),
      dosBlocker: answers && rng.chance(o.dosBlockerShare),
      delayMedianMs: rng.logNormal(o.replyDelayMedianMs, nodeSigma),
      seed: rng.int(0x7fffffff),
      bootstrap
    }
  }
  type Drawn = ReturnType<typeof draw>

  const add = (d: Drawn, port: number): SimNode => {
    const member: Member = { id: d.id, host: plan.node(d.slot), port, slot: d.slot }
    const node: SimNode = {
      slot: d.slot,
      id: d.id,
      member,
      answers: d.answers,
      bep51: d.bep51,
      dos: d.dosBlocker ? makeDosBlocker() : undefined,
      delayMedianMs: d.delayMedianMs,
      seed: d.seed,
      bootstrap: d.bootstrap,
      alive: true,
      departedAt: 0,
      store: new Map(),
      sample: undefined
    }
    nodes[d.slot] = node
    keyspace.insert(member)
    return node
  }

  const learn = (query: Query, from: SocketAddress, now: number) => {
    if (query.id === undefined || ("ro" in query && query.ro === true) || plan.owns(from.host)) return
    const key = toHex(query.id)
    const known = externals.get(key)
    if (known !== undefined) {
      known.lastSeen = now
      known.failures = 0
      if (known.member.host === from.host && known.member.port === from.port) return
      keyspace.remove(known.member)
      known.member = { id: known.id, host: from.host, port: from.port, slot: -1 }
      keyspace.insert(known.member)
      return
    }
    if (externals.size >= MAX_EXTERNALS) return
    const id = Uint8Array.from(query.id)
    const member = { id, host: from.host, port: from.port, slot: -1 }
    externals.set(key, { id, member, lastSeen: now, failures: 0 })
    keyspace.insert(member)
  }

  const forget = (ext: External) => {
    externals.delete(toHex(ext.id))
    keyspace.remove(ext.member)
  }

  /** A datagram received by simulated node `slot` from `host:port`. */
  const received = (slot: number, host: string, port: number, data: Uint8Array) => {
    const now = Date.now()
    stats.packetsIn++
    ipStats.record(host, now)
    if (rng.chance(o.lossRate)) return void stats.lostInbound++
    const node = nodes[slot]
    const decoded = decodeMessage(data)
    if (node === undefined || Either.isLeft(decoded)) return void stats.undecodable++
    const message = decoded.right
    const from = { host, port }
    if (message._tag !== "Response" && message._tag !== "ErrorMessage") {
      const method = methodOf(message)
      stats.queries[method] = (stats.queries[method] ?? 0) + 1
      if (!node.alive) return void stats.ignoredDeparted++
      if (!node.answers) return void stats.ignoredSilent++
      if (node.dos !== undefined) {
        const verdict = node.dos.incoming(host, now)
        if (verdict !== "accept") {
          stats.ignoredDos++
          if (verdict === "block") {
            stats.dosBlocks++
            blockedIps.add(host)
          }
          return
        }
      }
      learn(message, from, now)
      const reply = answer(ctx, node, message, from, now)
      if (reply === undefined) return
      if (rng.chance(o.lossRate)) return void stats.lostOutbound++
      const delay = Math.min(o.replyDelayCapMs, node.delayMedianMs * Math.exp(packetSigma * rng.normal()))
      stats.packetsOut++
      pool?.send(slot, host, port, encodeMessage(reply), delay)
    } else if (node.alive && outbound.received(message, from)) {
      stats.repliesFromExternals++
    }
  }

  /** A datagram received by one of the model's client sockets (only replies to its own queries matter). */
  const receivedByClient = (from: SocketAddress, data: Uint8Array) => {
    stats.packetsIn++
    ipStats.record(from.host, Date.now())
    const decoded = decodeMessage(data)
    if (Either.isLeft(decoded)) return void stats.undecodable++
    const m = decoded.right
    if ((m._tag === "Response" || m._tag === "ErrorMessage") && outbound.received(m, from)) stats.repliesFromExternals++
  }

  const answering = (m: Member) => m.slot < 0 || (nodes[m.slot]?.alive === true && nodes[m.slot]!.answers)
  /** Where a lookup for `target` ends: the k closest nodes that answer (externals count as answering). */
  const closestAnswering = (target: Uint8Array) => keyspace.closest(target, K, answering)

  const viaNode = (slot: number): Send => (to, data) => {
    stats.packetsOut++
    pool?.send(slot, to.host, to.port, data, 0)
  }

  const askExternal = (
    client: Client,
    ext: External,
    infoHash: Uint8Array,
    then?: (token: Uint8Array) => void
  ) => {
    stats.getPeersToExternals++
    const { id, send } = client
    outbound.query(
      send,
      ext.member,
      (t) => ({ _tag: "GetPeersQuery", t, id, info_hash: infoHash as never }),
      (r) => {
        ext.failures = 0
        if (then !== undefined && r.token !== undefined) then(r.token)
      },
      () => {
        stats.externalTimeouts++
        if (++ext.failures >= MAX_FAILURES && externals.get(toHex(ext.id)) === ext) forget(ext)
      }
    )
  }
  const externalOf = (m: Member) => externals.get(toHex(m.id))

  /**
   * `peer` announces `infoHash`: stored at the closest answering simulated nodes at once, and sent for real
   * (get_peers for a token, then announce_peer, from `send`, the announcer's own socket) to external ones.
   */
  const announce = (infoHash: Uint8Array, peer: SocketAddress, client: Client | undefined) => {
    stats.announces++
    for (const m of closestAnswering(infoHash)) {
      if (m.slot >= 0) {
        storePeer(nodes[m.slot]!, infoHash, peer)
        continue
      }
      const ext = externalOf(m)
      if (ext === undefined || client === undefined) continue
      askExternal(client, ext, infoHash, (token) => {
        stats.announcesToExternals++
        outbound.query(
          client.send,
          ext.member,
          (t) => ({
            _tag: "AnnouncePeerQuery",
            t,
            id: client.id,
            info_hash: infoHash as never,
            port: peer.port,
            token
          }),
          () => {},
          () => {}
        )
      })
    }
  }

  const randomAnswering = (): SimNode => {
    for (;;) {
      const n = nodes[rng.int(nodes.length)]
      if (n !== undefined && n.alive && n.answers) return n
    }
  }

  /** A downloader's get_peers lookup for `target`: real queries only to the external nodes among the closest. */
  const lookup = (target: Uint8Array) => {
    stats.lookups++
    const from = randomAnswering()
    for (const m of closestAnswering(target)) {
      const ext = m.slot < 0 ? externalOf(m) : undefined
      if (ext !== undefined) askExternal({ id: from.id, send: viaNode(from.slot) }, ext, target)
    }
  }

  return {
    nodes,
    keyspace,
    externals,
    ipStats,
    blockedIps,
    stats,
    draw,
    add,
    received,
    receivedByClient,
    announce,
    lookup,
    randomAnswering,
    attach: (p: WorkerPool) => void (pool = p),
    close: () => outbound.close()
  }
}

export type Model = ReturnType<typeof makeModel>
