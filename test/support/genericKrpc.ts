// The "generic" way to read KRPC: a general bencode decoder (npm `bencode`) followed by validation of the
// resulting tree into the same typed messages as src/krpc/codec.ts. Used as the baseline of bench/codec and
// as an independent oracle in differential tests. Same acceptance rules as the fast path for valid input.
import bencode from "bencode"
import { Either } from "effect"
import {
  decodeNodes,
  decodePeer,
  ID_LENGTH,
  type InfoHash,
  KrpcDecodeError,
  type KrpcDecodeReason,
  type KrpcMessage,
  type NodeContact,
  type SocketAddress,
  unsafeInfoHash,
  unsafeNodeId,
  type Want
} from "../../src/krpc/index.js"

type Tree = Record<string, unknown>
class Fail {
  constructor(readonly reason: KrpcDecodeReason, readonly key?: string) {}
}
const fail = (reason: KrpcDecodeReason, key?: string): never => {
  throw new Fail(reason, key)
}

const isBytes = (x: unknown): x is Uint8Array => x instanceof Uint8Array
const isDict = (x: unknown): x is Tree => typeof x === "object" && x !== null && !isBytes(x) && !Array.isArray(x)

const bytes = (d: Tree, key: string): Uint8Array | undefined => {
  const v = d[key]
  if (v === undefined) return undefined
  return isBytes(v) ? v : fail("WrongType", key)
}
const id = (d: Tree, key: string): Uint8Array | undefined => {
  const v = bytes(d, key)
  if (v !== undefined && v.length !== ID_LENGTH) fail("WrongType", key)
  return v
}
const int = (d: Tree, key: string): number | undefined => {
  const v = d[key]
  if (v === undefined) return undefined
  return typeof v === "number" && Number.isInteger(v) ? v : fail("WrongType", key)
}
const nonNegative = (d: Tree, key: string): number | undefined => {
  const v = int(d, key)
  if (v !== undefined && v < 0) fail("IntegerOutOfRange", key)
  return v
}
const flag = (d: Tree, key: string): boolean | undefined => {
  const v = int(d, key)
  return v === undefined ? undefined : v !== 0
}
const want = (d: Tree): Array<Want> | undefined => {
  const v = d.want
  if (v === undefined) return undefined
  if (!Array.isArray(v)) return fail("WrongType", "want")
  const out: Array<Want> = []
  for (const item of v) {
    if (!isBytes(item)) fail("WrongType", "want")
    const s = Buffer.from(item as Uint8Array).toString("latin1")
    if (s === "n4" || s === "n6") out.push(s)
  }
  return out
}
const nodes = (d: Tree, key: string, family: 4 | 6): Array<NodeContact> | undefined => {
  const v = bytes(d, key)
  if (v === undefined) return undefined
  return decodeNodes(v, family) ?? fail("BadCompactLength", key)
}
const values = (d: Tree): Array<SocketAddress> | undefined => {
  const v = d.values
  if (v === undefined) return undefined
  if (!Array.isArray(v)) return fail("WrongType", "values")
  return v.map((item) => {
    if (!isBytes(item)) fail("WrongType", "values")
    return decodePeer(item as Uint8Array) ?? fail("BadCompactLength", "values")
  })
}
const samples = (d: Tree): Array<InfoHash> | undefined => {
  const v = bytes(d, "samples")
  if (v === undefined) return undefined
  if (v.length % ID_LENGTH !== 0) fail("BadCompactLength", "samples")
  const out: Array<InfoHash> = []
  for (let o = 0; o < v.length; o += ID_LENGTH) out.push(unsafeInfoHash(v.subarray(o, o + ID_LENGTH)))
  return out
}
const need = <A>(x: A | undefined, key: string): A => x === undefined ? fail("MissingKey", key) : x

/** Validates a generic bencode tree as a KRPC message. */
export const validateTree = (tree: unknown): KrpcMessage => {
  if (!isDict(tree)) return fail("NotADictionary")
  const t = need(bytes(tree, "t"), "t")
  const yb = need(bytes(tree, "y"), "y")
  if (yb.length !== 1) fail("UnknownMessageType", "y")
  const v = bytes(tree, "v")
  const ipRaw = tree.ip
  const ip = isBytes(ipRaw) ? decodePeer(ipRaw) : undefined
  const y = String.fromCharCode(yb[0]!)
  if (y === "q") {
    const q = Buffer.from(need(bytes(tree, "q"), "q")).toString("latin1")
    const a = need(tree.a, "a")
    if (!isDict(a)) return fail("WrongType", "a")
    const ro = flag(tree, "ro")
    const qid = id(a, "id")
    const requireId = () => unsafeNodeId(need(qid, "id"))
    switch (q) {
      case "ping":
        return { _tag: "PingQuery", t, v, id: requireId(), ro }
      case "find_node":
        return {
          _tag: "FindNodeQuery",
          t,
          v,
          id: requireId(),
          ro,
          target: unsafeNodeId(need(id(a, "target"), "target")),
          want: want(a)
        }
      case "get_peers":
        return {
          _tag: "GetPeersQuery",
          t,
          v,
          id: requireId(),
          ro,
          info_hash: unsafeInfoHash(need(id(a, "info_hash"), "info_hash")),
          want: want(a),
          scrape: flag(a, "scrape"),
          noseed: flag(a, "noseed")
        }
      case "announce_peer": {
        const implied = flag(a, "implied_port")
        const port = int(a, "port")
        if (port !== undefined && (port < 0 || port > 65535)) fail("IntegerOutOfRange", "port")
        if (port === undefined && implied !== true) fail("MissingKey", "port")
        return {
          _tag: "AnnouncePeerQuery",
          t,
          v,
          id: requireId(),
          ro,
          info_hash: unsafeInfoHash(need(id(a, "info_hash"), "info_hash")),
          port: port ?? 0,
          token: need(bytes(a, "token"), "token"),
          implied_port: implied,
          seed: flag(a, "seed")
        }
      }
      case "sample_infohashes":
        return {
          _tag: "SampleInfohashesQuery",
          t,
          v,
          id: requireId(),
          ro,
          target: unsafeNodeId(need(id(a, "target"), "target")),
          want: want(a)
        }
      default:
        return {
          _tag: "UnknownQuery",
          t,
          v,
          method: q.slice(0, 64),
          id: qid === undefined ? undefined : unsafeNodeId(qid)
        }
    }
  }
  if (y === "r") {
    const r = need(tree.r, "r")
    if (!isDict(r)) return fail("WrongType", "r")
    return {
      _tag: "Response",
      t,
      v,
      id: unsafeNodeId(need(id(r, "id"), "id")),
      ip,
      nodes: nodes(r, "nodes", 4),
      nodes6: nodes(r, "nodes6", 6),
      values: values(r),
      token: bytes(r, "token"),
      interval: nonNegative(r, "interval"),
      num: nonNegative(r, "num"),
      samples: samples(r),
      BFsd: bytes(r, "BFsd"),
      BFpe: bytes(r, "BFpe")
    }
  }
  if (y === "e") {
    const e = need(tree.e, "e")
    if (!Array.isArray(e) || typeof e[0] !== "number") return fail("WrongType", "e")
    const message = e[1] === undefined ? "" : isBytes(e[1]) ? new TextDecoder().decode(e[1]) : fail("WrongType", "e")
    return { _tag: "ErrorMessage", t, v, ip, code: e[0], message }
  }
  return fail("UnknownMessageType", "y")
}

/** bencode.decode + validateTree, with the same Either result as the fast path. */
export const decodeGeneric = (datagram: Uint8Array): Either.Either<KrpcMessage, KrpcDecodeError> => {
  let tree: unknown
  try {
    tree = bencode.decode(datagram)
  } catch {
    return Either.left(new KrpcDecodeError({ reason: "NotBencode" }))
  }
  try {
    return Either.right(validateTree(tree))
  } catch (e) {
    if (e instanceof Fail) {
      return Either.left(
        new KrpcDecodeError(e.key === undefined ? { reason: e.reason } : { reason: e.reason, key: e.key })
      )
    }
    return Either.left(new KrpcDecodeError({ reason: "WrongType" }))
  }
}
