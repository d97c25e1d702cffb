import type { DhtSettings } from "../config/DhtConfig.js"
import type { NodeId } from "../domain/ids.js"
import { familyOf, type NodeContact } from "../krpc/compact.js"
import { ErrorCode, type KrpcMessage, type Query, type Want } from "../krpc/messages.js"
import type { Closest } from "../routing/FamilyTables.js"
import type { PeerStore } from "./peerStore.js"
import type { TokenIssuer } from "./tokens.js"

// The KRPC server side (BEP 5, 32, 51): builds the reply to one query. Synchronous and pure apart from the
// peer store it records announces in; the caller sends the reply and counts.

/** BEP 51: at most this many samples fit comfortably in one datagram next to 8 nodes. */
export const MAX_SAMPLES = 20
/** get_peers: peers returned per reply (50 IPv4 peers ≈ 400 bytes), keeping replies under ~1,400 bytes. */
export const MAX_VALUES = 50

export interface ResponderContext {
  readonly self: NodeId
  readonly config: DhtSettings
  readonly family: 4 | 6
  readonly closest: (target: Uint8Array, count: number) => ReadonlyArray<NodeContact>
  /** Dual stack: the routing table of another family (same node id, other socket), if there is one. */
  readonly closestOf?: ((family: 4 | 6) => Closest | undefined) | undefined
  readonly tokens: TokenIssuer
  readonly peers: PeerStore
  readonly now: () => number
}

const nodesFor = (ctx: ResponderContext, target: Uint8Array, want: ReadonlyArray<Want> | undefined) => {
  // BEP 32: `want` asks for n4 and/or n6; without it, the family of the socket the query came in on. Each
  // family's nodes come from that family's routing table: ours, or (dual stack) the other socket's.
  const wanted = want !== undefined && want.length > 0 ? want : [ctx.family === 4 ? "n4" : "n6"]
  const table = (family: 4 | 6) => family === ctx.family ? ctx.closest : ctx.closestOf?.(family)
  return {
    nodes: wanted.includes("n4") ? table(4)?.(target, ctx.config.k) : undefined,
    nodes6: wanted.includes("n6") ? table(6)?.(target, ctx.config.k) : undefined
  }
}

/** An id sharing the first 15 bytes of `near` and the last 5 of ours: "neighbour-id" replies. */
export const neighbourId = (near: Uint8Array, self: NodeId): NodeId => {
  const id = new Uint8Array(20)
  id.set(near.subarray(0, 15))
  id.set(self.subarray(15), 15)
  return id as NodeId
}

const targetOf = (query: Query): Uint8Array | undefined => {
  switch (query._tag) {
    case "FindNodeQuery":
    case "SampleInfohashesQuery":
      return query.target
    case "GetPeersQuery":
    case "AnnouncePeerQuery":
      return query.info_hash
    case "PingQuery":
      return query.id
    case "UnknownQuery":
      return query.id
  }
}

/** The reply to `query` from `host:port`. */
export const respond = (ctx: ResponderContext, query: Query, host: string, port: number): KrpcMessage => {
  const near = ctx.config.neighbourIds ? targetOf(query) : undefined
  const id = near === undefined ? ctx.self : neighbourId(near, ctx.self)
  const base = { t: query.t, v: ctx.config.version, ip: { host, port } }
  switch (query._tag) {
    case "PingQuery":
      return { _tag: "Response", ...base, id }
    case "FindNodeQuery":
      return { _tag: "Response", ...base, id, ...nodesFor(ctx, query.target, query.want) }
    case "GetPeersQuery": {
      const values = ctx.peers.peers(query.info_hash, ctx.now(), MAX_VALUES, query.noseed === true)
        .filter((p) => familyOf(p.host) === ctx.family)
      // BEP 33: with `scrape`, Bloom filters of every seed and other peer stored (both families).
      const scrape = query.scrape === true ? ctx.peers.scrape(query.info_hash, ctx.now()) : undefined
      return {
        _tag: "Response",
        ...base,
        id,
        token: ctx.tokens.make(host, ctx.now()),
        values: values.length > 0 ? values : undefined,
        ...nodesFor(ctx, query.info_hash, query.want),
        ...(scrape === undefined ? {} : { BFsd: scrape.seeds, BFpe: scrape.peers })
      }
    }
    case "AnnouncePeerQuery": {
      if (!ctx.tokens.verify(query.token, host, ctx.now())) {
        return { _tag: "ErrorMessage", ...base, code: ErrorCode.Protocol, message: "invalid token" }
      }
      const peerPort = query.implied_port === true ? port : query.port
      if (peerPort === 0) return { _tag: "ErrorMessage", ...base, code: ErrorCode.Protocol, message: "invalid port" }
      ctx.peers.announce(query.info_hash, { host, port: peerPort }, ctx.now(), query.seed === true)
      return { _tag: "Response", ...base, id }
    }
    case "SampleInfohashesQuery": {
      const { num, samples } = ctx.peers.sample(MAX_SAMPLES, ctx.now())
      return {
        _tag: "Response",
        ...base,
        id,
        interval: ctx.config.sampleInterval,
        num,
        samples,
        ...nodesFor(ctx, query.target, query.want)
      }
    }
    case "UnknownQuery":
      return { _tag: "ErrorMessage", ...base, code: ErrorCode.MethodUnknown, message: "Method Unknown" }
  }
}
