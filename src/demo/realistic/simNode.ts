import type { SocketAddress } from "../../domain/address.js"
import { type InfoHash, type NodeId, toHex, unsafeInfoHash, unsafeNodeId } from "../../domain/ids.js"
import type { NodeContact } from "../../krpc/compact.js"
import { ErrorCode, type ErrorMessage, type Query, type Response } from "../../krpc/messages.js"
import type { DosBlocker } from "./dosBlocker.js"
import type { Keyspace, Member } from "./keyspace.js"
import { mix, type Rng } from "./rng.js"

// One simulated DHT node: what it stores and how it answers a query. Answering nodes behave like libtorrent
// (BEP 51 ones) or like bittorrent-dht (the rest: sample_infohashes and unknown methods are ignored silently).

/** BEP 5: the k of Kademlia, nodes per reply. */
export const K = 8
/** Peers returned per get_peers reply: 50 compact peers keep the datagram near 600 bytes. */
const MAX_VALUES = 50
/** Peers kept per infohash at one node. */
const MAX_PEERS = 100
/** libtorrent's dht_max_infohashes_sample_count: samples per BEP 51 reply. */
const MAX_SAMPLES = 20
/** Tokens change every 5 minutes and the previous one stays valid (libtorrent, bittorrent-dht). */
const TOKEN_EPOCH_MS = 300_000
const LIBTORRENT_VERSION = Uint8Array.of(0x4c, 0x54, 0x02, 0x00) // "LT" 2.0

export interface Stored {
  readonly infoHash: InfoHash
  readonly peers: Map<string, SocketAddress>
}

export interface SimNode {
  readonly slot: number
  readonly id: NodeId
  readonly member: Member
  /** Never answers anything when false. */
  readonly answers: boolean
  readonly bep51: boolean
  readonly dos: DosBlocker | undefined
  /** This node's median reply delay in ms (its distance from everyone, roughly). */
  readonly delayMedianMs: number
  readonly seed: number
  readonly bootstrap: boolean
  alive: boolean
  departedAt: number
  readonly store: Map<string, Stored>
  sample: { readonly at: number; readonly list: ReadonlyArray<InfoHash> } | undefined
}

/** Adds `peer` for `infoHash` to what `node` stores. */
export const storePeer = (node: SimNode, infoHash: Uint8Array, peer: SocketAddress): void => {
  const key = toHex(infoHash)
  let item = node.store.get(key)
  if (item === undefined) {
    item = { infoHash: unsafeInfoHash(Uint8Array.from(infoHash)), peers: new Map() }
    node.store.set(key, item)
  }
  const peerKey = `${peer.host}:${peer.port}`
  if (item.peers.has(peerKey) || item.peers.size < MAX_PEERS) item.peers.set(peerKey, peer)
}

const ipHash = (ip: string): number => {
  let h = 2166136261
  for (let i = 0; i < ip.length; i++) h = Math.imul(h ^ ip.charCodeAt(i), 16777619)
  return h >>> 0
}
const tokenFor = (node: SimNode, ip: string, epoch: number): Uint8Array => {
  const v = mix(node.seed ^ epoch, ipHash(ip))
  return Uint8Array.of(v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255)
}
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])

export interface AnswerContext {
  readonly keyspace: Keyspace
  readonly rng: Rng
  readonly bep51IntervalSeconds: number
  /** Counts one event in the model's statistics. */
  readonly count: (what: "bep51Answered" | "bep51Ignored" | "announcesStored" | "badTokens") => void
}

const toContact = (m: Member): NodeContact => ({ id: unsafeNodeId(m.id), host: m.host, port: m.port })

/** The reply of `node` to `query` from `from`, or undefined when it stays silent. */
export const answer = (
  ctx: AnswerContext,
  node: SimNode,
  query: Query,
  from: SocketAddress,
  now: number
): Response | ErrorMessage | undefined => {
  const base = {
    _tag: "Response" as const,
    t: query.t,
    id: node.id,
    ...(node.bep51 ? { ip: from, v: LIBTORRENT_VERSION } : {})
  }
  const nodesFor = (target: Uint8Array) =>
    ctx.keyspace.bucketView(node.id, node.seed, target, K).filter((m) => m !== node.member).map(toContact)
  const epoch = Math.floor(now / TOKEN_EPOCH_MS)
  switch (query._tag) {
    case "PingQuery":
      return base
    case "FindNodeQuery":
      return { ...base, nodes: nodesFor(query.target) }
    case "GetPeersQuery": {
      const stored = node.store.get(toHex(query.info_hash))
      const values = stored === undefined ? undefined : [...stored.peers.values()].slice(0, MAX_VALUES)
      return {
        ...base,
        token: tokenFor(node, from.host, epoch),
        nodes: nodesFor(query.info_hash),
        ...(values === undefined ? {} : { values })
      }
    }
    case "AnnouncePeerQuery": {
      const valid = sameBytes(query.token, tokenFor(node, from.host, epoch)) ||
        sameBytes(query.token, tokenFor(node, from.host, epoch - 1))
      if (!valid) {
        ctx.count("badTokens")
        return { _tag: "ErrorMessage", t: query.t, code: ErrorCode.Protocol, message: "invalid token" }
      }
      storePeer(node, query.info_hash, { host: from.host, port: query.implied_port === true ? from.port : query.port })
      ctx.count("announcesStored")
      return base
    }
    case "SampleInfohashesQuery": {
      if (!node.bep51) {
        ctx.count("bep51Ignored")
        return undefined
      }
      // libtorrent keeps one sample per `interval` (dht_sample_infohashes_interval), whatever it stores meanwhile.
      if (node.sample === undefined || now - node.sample.at >= ctx.bep51IntervalSeconds * 1000) {
        const all = [...node.store.values()]
        for (let i = all.length - 1; i > 0; i--) {
          const j = ctx.rng.int(i + 1)
          ;[all[i], all[j]] = [all[j]!, all[i]!]
        }
        node.sample = { at: now, list: all.slice(0, MAX_SAMPLES).map((s) => s.infoHash) }
      }
      ctx.count("bep51Answered")
      return {
        ...base,
        interval: ctx.bep51IntervalSeconds,
        num: node.store.size,
        samples: node.sample.list,
        nodes: nodesFor(query.target)
      }
    }
    case "UnknownQuery":
      return node.bep51
        ? { _tag: "ErrorMessage", t: query.t, code: ErrorCode.MethodUnknown, message: "unknown message" }
        : undefined
  }
}
