import { createHash } from "node:crypto"
import { parseIP } from "../domain/address.js"

// BEP 33 (DHT scrapes): the Bloom filters of seeds (BFsd) and peers (BFpe) a node returns to a `get_peers` with
// `scrape=1`, built from the IP addresses it stores for the infohash. m = 2,048 bits (256 bytes), k = 2 hashes
// taken from the SHA-1 of the raw address bytes (4 for IPv4, 16 for IPv6), exactly as BEP 33's pseudocode.
// Filters from several nodes are merged by OR; the number of distinct addresses is estimated from the zero bits.

/** Bits in a filter. */
export const BLOOM_BITS = 2048
/** Bytes in a filter (the length of BFsd / BFpe on the wire). */
export const BLOOM_BYTES = BLOOM_BITS / 8
/** Hash functions. */
export const BLOOM_HASHES = 2

/** A new, empty filter. */
export const emptyBloom = (): Uint8Array => new Uint8Array(BLOOM_BYTES)

/** Inserts raw address bytes (4 or 16) into `bloom` (in place). */
export const insertIpBytes = (bloom: Uint8Array, ip: Uint8Array): void => {
  const hash = createHash("sha1").update(ip).digest()
  const index1 = (hash[0]! | (hash[1]! << 8)) % BLOOM_BITS
  const index2 = (hash[2]! | (hash[3]! << 8)) % BLOOM_BITS
  bloom[index1 >> 3]! |= 1 << (index1 & 7)
  bloom[index2 >> 3]! |= 1 << (index2 & 7)
}

/** Inserts an IP literal (v4 or v6) into `bloom`; false, and nothing inserted, when `host` is not one. */
export const insertIp = (bloom: Uint8Array, host: string): boolean => {
  const ip = parseIP(host)
  if (ip === undefined) return false
  insertIpBytes(bloom, ip)
  return true
}

/** A filter of the given addresses. */
export const bloomOf = (hosts: Iterable<string>): Uint8Array => {
  const bloom = emptyBloom()
  for (const h of hosts) insertIp(bloom, h)
  return bloom
}

/** The union of filters (OR): the filter of every address any of them holds. Filters not 256 bytes are skipped. */
export const unionBlooms = (filters: Iterable<Uint8Array>): Uint8Array => {
  const out = emptyBloom()
  for (const f of filters) {
    if (f.length !== BLOOM_BYTES) continue
    for (let i = 0; i < BLOOM_BYTES; i++) out[i]! |= f[i]!
  }
  return out
}

const zeroBits = (bloom: Uint8Array) => {
  let ones = 0
  for (const byte of bloom) {
    let b = byte
    while (b !== 0) {
      b &= b - 1
      ones++
    }
  }
  return BLOOM_BITS - ones
}

/**
 * BEP 33's estimate of the number of distinct addresses in a filter: n̂ = ln(c / m) / (k · ln(1 − 1/m)), with
 * c = min(m − 1, zero bits). An empty filter is 0; a full one saturates at ≈ 7,806.
 */
export const estimateBloomSize = (bloom: Uint8Array): number => {
  if (bloom.length !== BLOOM_BYTES) return 0
  const zeros = zeroBits(bloom)
  // BEP 33 clamps c to m − 1, which would make an empty filter 0.5: that is nobody. A full filter (no zero bit)
  // is taken as one zero bit, the largest finite estimate (≈ 7,806): "at least this many".
  if (zeros === BLOOM_BITS) return 0
  const c = Math.max(1, Math.min(BLOOM_BITS - 1, zeros))
  return Math.log(c / BLOOM_BITS) / (BLOOM_HASHES * Math.log(1 - 1 / BLOOM_BITS))
}
