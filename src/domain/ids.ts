import { Schema } from "effect"
import { randomFillSync } from "node:crypto"

/** Length in bytes of node ids and (v1 / truncated v2) infohashes: BEP 5 uses 160-bit SHA-1 sized ids. */
export const ID_LENGTH = 20

const Bytes20 = Schema.Uint8ArrayFromSelf.pipe(
  Schema.filter((bytes) => bytes.length === ID_LENGTH || `expected ${ID_LENGTH} bytes, got ${bytes.length}`),
  Schema.annotations({
    arbitrary: () => (fc) => fc.uint8Array({ minLength: ID_LENGTH, maxLength: ID_LENGTH })
  })
)

/** A 160-bit DHT node id (BEP 5). May be a view into a received datagram: copy it before keeping it long. */
export const NodeId = Bytes20.pipe(Schema.brand("NodeId"))
export type NodeId = typeof NodeId.Type

/** A 20-byte infohash: SHA-1 of a v1 info dictionary, or a v2 SHA-256 truncated to 20 bytes (BEP 52). */
export const InfoHash = Bytes20.pipe(Schema.brand("InfoHash"))
export type InfoHash = typeof InfoHash.Type

/** A KRPC transaction id: short opaque bytes chosen by the querier. */
export const TransactionId = Schema.Uint8ArrayFromSelf
export type TransactionId = typeof TransactionId.Type

const HEX = /^[0-9a-fA-F]{40}$/

/** An infohash or node id written as 40 hex digits. */
export const IdHex = Schema.String.pipe(Schema.pattern(HEX, { message: () => "expected 40 hexadecimal digits" }))

/** Treats 20 bytes as a NodeId; the caller guarantees the length. */
export const unsafeNodeId = (bytes: Uint8Array): NodeId => bytes as NodeId
/** Treats 20 bytes as an InfoHash; the caller guarantees the length. */
export const unsafeInfoHash = (bytes: Uint8Array): InfoHash => bytes as InfoHash

/** Parses 40 hex digits; `undefined` when the text is not exactly that. */
export const nodeIdFromHex = (hex: string): NodeId | undefined =>
  HEX.test(hex) ? unsafeNodeId(Buffer.from(hex, "hex")) : undefined
/** Parses 40 hex digits; `undefined` when the text is not exactly that. */
export const infoHashFromHex = (hex: string): InfoHash | undefined =>
  HEX.test(hex) ? unsafeInfoHash(Buffer.from(hex, "hex")) : undefined

/** An infohash given as 20 bytes or 40 hex digits; undefined for anything else. */
export const infoHashOf = (value: Uint8Array | string): InfoHash | undefined =>
  typeof value === "string" ? infoHashFromHex(value) : value.length === 20 ? value as InfoHash : undefined

/** Lower-case hex of any id. */
export const toHex = (id: Uint8Array): string => Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("hex")

// Random ids come from a pool filled by the CSPRNG 4 KiB at a time: the walk and the sampler draw a target for
// every query, and one `randomBytes(20)` call costs ~5 times a copy out of the pool.
const POOL_SIZE = 4096
const pool = Buffer.alloc(POOL_SIZE)
let poolOffset = POOL_SIZE

/** 20 fresh random bytes (a Buffer of its own). */
export const randomIdBytes = (): Buffer => {
  if (poolOffset + ID_LENGTH > POOL_SIZE) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const out = Buffer.allocUnsafe(ID_LENGTH)
  pool.copy(out, 0, poolOffset, poolOffset + ID_LENGTH)
  poolOffset += ID_LENGTH
  return out
}

/** A fresh random node id (not BEP 42 secured; see `bep42.secureNodeId`). */
export const randomNodeId = (): NodeId => unsafeNodeId(randomIdBytes())

/** The first 32 bits of an id as an unsigned integer (XOR distances at that precision; a compact id key). */
export const idPrefix32 = (id: Uint8Array): number => ((id[0]! << 24) | (id[1]! << 16) | (id[2]! << 8) | id[3]!) >>> 0

/** A private copy, detached from the datagram a decoded id may point into. */
export const copyId = <A extends Uint8Array>(id: A): A => Uint8Array.prototype.slice.call(id) as A

/** Byte-wise equality of two ids. */
export const equals = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

// === XOR metric (BEP 5 "distance(A,B) = |A xor B|") ===

/** The XOR distance of two ids, as 20 bytes. */
export const distance = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(ID_LENGTH)
  for (let i = 0; i < ID_LENGTH; i++) out[i] = a[i]! ^ b[i]!
  return out
}

/** Orders `a` and `b` by their XOR distance to `target`: negative when `a` is closer. */
export const compareDistance = (target: Uint8Array, a: Uint8Array, b: Uint8Array): number => {
  for (let i = 0; i < ID_LENGTH; i++) {
    const da = a[i]! ^ target[i]!
    const db = b[i]! ^ target[i]!
    if (da !== db) return da - db
  }
  return 0
}

/** Number of leading bits `a` and `b` share (0–160); the k-bucket index of `b` seen from `a`. */
export const commonPrefixLength = (a: Uint8Array, b: Uint8Array): number => {
  for (let i = 0; i < ID_LENGTH; i++) {
    const x = a[i]! ^ b[i]!
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return ID_LENGTH * 8
}
