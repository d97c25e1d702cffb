import { Schema } from "effect"
import { Port, SocketAddress } from "../domain/address.js"
import { InfoHash, NodeId, TransactionId } from "../domain/ids.js"
import { NodeContact } from "./compact.js"

// Schema models of every KRPC message BitScrape speaks: BEP 5 (ping, find_node, get_peers, announce_peer),
// BEP 51 (sample_infohashes), BEP 32 (want n4/n6, nodes6), BEP 42 (ip), BEP 43 (ro), and the `v` version key.
// The hot-path codec (codec.ts) produces and consumes these shapes directly; Schema gives the types,
// arbitraries for property tests, and validation at slower boundaries.

/** BEP 32 `want`: which address families the querier wants nodes for. */
export const Want = Schema.Literal("n4", "n6")
export type Want = typeof Want.Type

const Bytes = Schema.Uint8ArrayFromSelf

/** Keys any message may carry. */
const envelope = {
  /** Transaction id chosen by the querier, echoed in the reply. */
  t: TransactionId,
  /** Client version (BEP 5 / BEP 20 style: 2-letter client code + 2 version bytes). */
  v: Schema.optional(Bytes)
}

/** Keys every query carries. */
const queryEnvelope = {
  ...envelope,
  /** Querier's node id. */
  id: NodeId,
  /** BEP 43 read-only node: do not add the querier to routing tables. */
  ro: Schema.optional(Schema.Boolean)
}

/** BEP 5 `ping`: are you alive? Answered with our id. */
export const PingQuery = Schema.TaggedStruct("PingQuery", queryEnvelope)
export type PingQuery = typeof PingQuery.Type

/** BEP 5 `find_node`: the k closest nodes to `target` (BEP 32 `want`: n4 and/or n6). */
export const FindNodeQuery = Schema.TaggedStruct("FindNodeQuery", {
  ...queryEnvelope,
  target: NodeId,
  want: Schema.optional(Schema.Array(Want))
})
export type FindNodeQuery = typeof FindNodeQuery.Type

/** BEP 5 `get_peers`: peers for `info_hash` if known, else the closest nodes; either way a write token. */
export const GetPeersQuery = Schema.TaggedStruct("GetPeersQuery", {
  ...queryEnvelope,
  info_hash: InfoHash,
  want: Schema.optional(Schema.Array(Want)),
  /** BEP 33: also return Bloom filters of the seeds and peers stored (BFsd, BFpe). */
  scrape: Schema.optional(Schema.Boolean),
  /** BEP 33: return only peers that are not seeds in `values`. */
  noseed: Schema.optional(Schema.Boolean)
})
export type GetPeersQuery = typeof GetPeersQuery.Type

/** BEP 5 `announce_peer`: the querier has `info_hash` on `port`; `token` from an earlier get_peers. */
export const AnnouncePeerQuery = Schema.TaggedStruct("AnnouncePeerQuery", {
  ...queryEnvelope,
  info_hash: InfoHash,
  port: Port,
  token: Bytes,
  /** When true the peer's port is the UDP source port, and `port` is ignored (BEP 5). */
  implied_port: Schema.optional(Schema.Boolean),
  /** libtorrent extension: the announcer is a seed. */
  seed: Schema.optional(Schema.Boolean)
})
export type AnnouncePeerQuery = typeof AnnouncePeerQuery.Type

/** BEP 51 `sample_infohashes`: a sample of the infohashes the node stores, plus closest nodes. */
export const SampleInfohashesQuery = Schema.TaggedStruct("SampleInfohashesQuery", {
  ...queryEnvelope,
  target: NodeId,
  want: Schema.optional(Schema.Array(Want))
})
export type SampleInfohashesQuery = typeof SampleInfohashesQuery.Type

/** A query with a method we do not implement: answered with error 204 (BEP 5). */
export const UnknownQuery = Schema.TaggedStruct("UnknownQuery", {
  ...envelope,
  method: Schema.String,
  id: Schema.optional(NodeId)
})
export type UnknownQuery = typeof UnknownQuery.Type

/**
 * A response. KRPC responses do not name their method, so every method's result keys are optional here;
 * the client that sent the query knows which to expect.
 */
export const Response = Schema.TaggedStruct("Response", {
  ...envelope,
  id: NodeId,
  /** BEP 42: the querier's address as the responder saw it. */
  ip: Schema.optional(SocketAddress),
  nodes: Schema.optional(Schema.Array(NodeContact)),
  /** BEP 32 IPv6 nodes. */
  nodes6: Schema.optional(Schema.Array(NodeContact)),
  /** get_peers: peers for the infohash. */
  values: Schema.optional(Schema.Array(SocketAddress)),
  /** get_peers: write token for a later announce_peer. */
  token: Schema.optional(Bytes),
  /** BEP 51: seconds before this node should be sampled again. */
  interval: Schema.optional(Schema.NonNegativeInt),
  /** BEP 51: number of infohashes the node stores. */
  num: Schema.optional(Schema.NonNegativeInt),
  /** BEP 51: a sample of the infohashes the node stores. */
  samples: Schema.optional(Schema.Array(InfoHash)),
  /** BEP 33 (get_peers with scrape): Bloom filter (256 bytes) of the seeds the node stores. */
  BFsd: Schema.optional(Bytes),
  /** BEP 33: Bloom filter (256 bytes) of the peers (not seeds) the node stores. */
  BFpe: Schema.optional(Bytes)
})
export type Response = typeof Response.Type

/** Every node a response lists: its IPv4 `nodes` then its BEP 32 `nodes6`. */
export const responseNodes = (r: Response): Array<NodeContact> => [...(r.nodes ?? []), ...(r.nodes6 ?? [])]

/** KRPC error codes (BEP 5). */
export const ErrorCode = {
  Generic: 201,
  Server: 202,
  Protocol: 203,
  MethodUnknown: 204
} as const

/** A KRPC error reply (`y` = "e"): a BEP 5 code (201–204, see `ErrorCode`) and message. */
export const ErrorMessage = Schema.TaggedStruct("ErrorMessage", {
  ...envelope,
  /** BEP 42: the querier's address as the responder saw it. */
  ip: Schema.optional(SocketAddress),
  code: Schema.Int,
  message: Schema.String
})
export type ErrorMessage = typeof ErrorMessage.Type

/** Any KRPC query, known methods and unknown ones. */
export const Query = Schema.Union(
  PingQuery,
  FindNodeQuery,
  GetPeersQuery,
  AnnouncePeerQuery,
  SampleInfohashesQuery,
  UnknownQuery
)
export type Query = typeof Query.Type

/** Any KRPC message. */
export const KrpcMessage = Schema.Union(Query, Response, ErrorMessage)
export type KrpcMessage = typeof KrpcMessage.Type

/** BEP 5 method names by query tag. */
export const methodOf = (query: Query): string => {
  switch (query._tag) {
    case "PingQuery":
      return "ping"
    case "FindNodeQuery":
      return "find_node"
    case "GetPeersQuery":
      return "get_peers"
    case "AnnouncePeerQuery":
      return "announce_peer"
    case "SampleInfohashesQuery":
      return "sample_infohashes"
    case "UnknownQuery":
      return query.method
  }
}
