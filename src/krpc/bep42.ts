import { randomBytes } from "node:crypto"
import { parseIP } from "../domain/address.js"
import { ID_LENGTH, type NodeId, unsafeNodeId } from "../domain/ids.js"

// BEP 42 "DHT Security extension": a node id's first 21 bits are tied to the node's external IP through
// CRC32-C, so an attacker cannot choose ids freely. The last byte of the id holds the random value `r`.

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** CRC32-C (Castagnoli), as BEP 42 specifies. */
export const crc32c = (bytes: Uint8Array): number => {
  let crc = 0xffffffff
  for (let i = 0; i < bytes.length; i++) crc = CRC32C_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

const V4_MASK = [0x03, 0x0f, 0x3f, 0xff]
const V6_MASK = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff]

/** The CRC32-C BEP 42 derives from an address (4 or 16 bytes) and the random value `r` (0–7 used). */
const bep42Crc = (ip: Uint8Array, r: number): number => {
  const v4 = ip.length === 4
  const mask = v4 ? V4_MASK : V6_MASK
  const masked = new Uint8Array(mask.length)
  for (let i = 0; i < mask.length; i++) masked[i] = ip[i]! & mask[i]!
  masked[0]! |= (r & 0x07) << 5
  return crc32c(masked)
}

/**
 * BEP 42 exempts local networks: 10/8, 172.16/12, 192.168/16, 169.254/16 and 127/8 (and IPv6 loopback,
 * link- and unique-local), since their external address is unknown.
 */
export const isExempt = (ip: Uint8Array): boolean => {
  if (ip.length === 4) {
    const [a, b] = [ip[0]!, ip[1]!]
    return a === 10 || a === 127 || (a === 172 && (b & 0xf0) === 16) || (a === 192 && b === 168) ||
      (a === 169 && b === 254)
  }
  const loopback = ip.subarray(0, 15).every((x) => x === 0) && ip[15] === 1
  return loopback || (ip[0]! & 0xfe) === 0xfc || (ip[0] === 0xfe && (ip[1]! & 0xc0) === 0x80)
}

/** A node id that is BEP 42-valid for `host` (an IP literal); `rand` fixes `r` and the free bytes (tests). */
export const secureNodeId = (host: string, rand?: number): NodeId | undefined => {
  const ip = parseIP(host)
  if (ip === undefined) return undefined
  const id = randomBytes(ID_LENGTH)
  const r = rand ?? id[19]!
  id[19] = r & 0xff
  const crc = bep42Crc(ip, r)
  id[0] = (crc >>> 24) & 0xff
  id[1] = (crc >>> 16) & 0xff
  id[2] = ((crc >>> 8) & 0xf8) | (id[2]! & 0x07)
  return unsafeNodeId(id)
}

/** Result of checking a node id against the address it came from. */
export type Bep42Status = "valid" | "invalid" | "exempt"

/** Checks whether `id` is BEP 42-valid for `host`; local addresses are "exempt", non-IP hosts "invalid". */
export const checkNodeId = (id: Uint8Array, host: string): Bep42Status => {
  const ip = parseIP(host)
  if (ip === undefined || id.length !== ID_LENGTH) return "invalid"
  if (isExempt(ip)) return "exempt"
  const crc = bep42Crc(ip, id[19]!)
  const ok = id[0] === ((crc >>> 24) & 0xff) && id[1] === ((crc >>> 16) & 0xff) &&
    (id[2]! & 0xf8) === ((crc >>> 8) & 0xf8)
  return ok ? "valid" : "invalid"
}
