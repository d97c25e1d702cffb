import { Schema } from "effect"
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6, Port, type SocketAddress, writeIPv4 } from "../domain/address.js"
import { ID_LENGTH, NodeId, unsafeNodeId } from "../domain/ids.js"

// BEP 5 "Contact information": peers are 6 bytes (IPv4 + port), nodes are 26 bytes (id + peer).
// BEP 32 extends both to IPv6: 18-byte peers and 38-byte nodes (in the `nodes6` key).

/** Compact IPv4 peer info length (BEP 5). */
export const PEER4_LENGTH = 6
/** Compact IPv6 peer info length (BEP 32). */
export const PEER6_LENGTH = 18
/** Compact IPv4 node info length (BEP 5). */
export const NODE4_LENGTH = ID_LENGTH + PEER4_LENGTH
/** Compact IPv6 node info length (BEP 32). */
export const NODE6_LENGTH = ID_LENGTH + PEER6_LENGTH

/** A DHT node: its id and UDP endpoint. */
export const NodeContact = Schema.Struct({ id: NodeId, host: Schema.String, port: Port })
export type NodeContact = typeof NodeContact.Type

/** Decodes one compact peer (6 or 18 bytes) at `offset`. */
export const decodePeerAt = (b: Uint8Array, offset: number, length: 6 | 18): SocketAddress =>
  length === PEER4_LENGTH
    ? { host: formatIPv4(b, offset), port: (b[offset + 4]! << 8) | b[offset + 5]! }
    : { host: formatIPv6(b, offset), port: (b[offset + 16]! << 8) | b[offset + 17]! }

/** Decodes a compact peer string (6 or 18 bytes); `undefined` for any other length. */
export const decodePeer = (b: Uint8Array): SocketAddress | undefined =>
  b.length === PEER4_LENGTH || b.length === PEER6_LENGTH ? decodePeerAt(b, 0, b.length) : undefined

/** Decodes concatenated compact node infos of one family; `undefined` if the length is not a multiple. */
export const decodeNodes = (b: Uint8Array, family: 4 | 6): Array<NodeContact> | undefined => {
  const size = family === 4 ? NODE4_LENGTH : NODE6_LENGTH
  if (b.length % size !== 0) return undefined
  const out: Array<NodeContact> = []
  for (let o = 0; o < b.length; o += size) {
    const id = unsafeNodeId(b.subarray(o, o + ID_LENGTH))
    const p = o + ID_LENGTH
    out.push(
      family === 4
        ? { id, host: formatIPv4(b, p), port: (b[p + 4]! << 8) | b[p + 5]! }
        : { id, host: formatIPv6(b, p), port: (b[p + 16]! << 8) | b[p + 17]! }
    )
  }
  return out
}

/** Writes one address as compact peer info into `out` at `offset`; returns bytes written, 0 if not encodable. */
export const writePeer = (out: Uint8Array, offset: number, host: string, port: number): number => {
  if (!Number.isInteger(port) || port < 0 || port > 65535) return 0
  let n: number
  if (host.includes(":")) {
    const ip = parseIPv6(host)
    if (ip === undefined) return 0
    out.set(ip, offset)
    n = 16
  } else {
    if (!writeIPv4(out, offset, host)) return 0
    n = 4
  }
  out[offset + n] = port >> 8
  out[offset + n + 1] = port & 0xff
  return n + 2
}

/** The address family of an IP literal: 4, 6, or `undefined` for anything else. */
export const familyOf = (host: string): 4 | 6 | undefined =>
  host.includes(":") ? (parseIPv6(host) ? 6 : undefined) : parseIPv4(host) ? 4 : undefined

/** Encodes one address as compact peer info; `undefined` if the host is not an IP literal. */
export const encodePeer = (address: SocketAddress): Uint8Array | undefined => {
  const out = new Uint8Array(PEER6_LENGTH)
  const n = writePeer(out, 0, address.host, address.port)
  return n === 0 ? undefined : out.subarray(0, n)
}

/**
 * Encodes contacts of one family as concatenated compact node infos.
 * Contacts of the other family, or with a non-literal host, are skipped (they belong in `nodes6` / nowhere).
 */
export const encodeNodes = (contacts: ReadonlyArray<NodeContact>, family: 4 | 6): Uint8Array => {
  const size = family === 4 ? NODE4_LENGTH : NODE6_LENGTH
  const out = new Uint8Array(contacts.length * size)
  let o = 0
  for (const c of contacts) {
    if (c.id.length !== ID_LENGTH || c.host.includes(":") !== (family === 6)) continue
    if (writePeer(out, o + ID_LENGTH, c.host, c.port) !== size - ID_LENGTH) continue
    out.set(c.id, o)
    o += size
  }
  return out.subarray(0, o)
}
