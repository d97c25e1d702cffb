import { randomBytes } from "node:crypto"

// A bounded "seen recently" set: two generations; when the current one fills, the older is dropped. It remembers
// at least the last `capacity` keys and never more than 2 × capacity.
//
// Compact (issue 16 item 3): a crawl's seen sets hold up to millions of infohashes, and a JavaScript Set of
// 40-character hex strings costs ~200 bytes per key (a 1,000,000-key generation pair: ~450 MB). Here each key is a
// 64-bit fingerprint (a seeded hash of the string) in an open-addressing table of 32-bit pairs: at most 16 bytes
// per key (load ≤ 1/2), so ≤ 32 MiB for two full generations of 1,000,000. Membership is exact but for
// fingerprint collisions: with n keys, a new key is taken for a seen one with probability about n / 2^64 (the seed
// is random per process, so collisions cannot be crafted from outside).

export interface SeenSet {
  /** Adds `key`; true when it was not seen recently. */
  readonly add: (key: string) => boolean
  readonly has: (key: string) => boolean
  readonly size: () => number
}

const seeds = randomBytes(8)
const SEED_1 = seeds.readUInt32LE(0)
const SEED_2 = seeds.readUInt32LE(4)

const fmix = (h: number) => {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

// The last fingerprint (two halves), set by `fingerprint` (no allocation per key).
let fpHi = 0
let fpLo = 0
const fingerprint = (key: string) => {
  let h1 = SEED_1 ^ key.length
  let h2 = SEED_2
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0xcc9e2d51)
    h1 = (h1 << 15) | (h1 >>> 17)
    h2 = Math.imul(h2 ^ c, 0x1b873593)
    h2 = (h2 << 13) | (h2 >>> 19)
  }
  fpHi = fmix(h1 ^ Math.imul(h2, 0x9e3779b1))
  fpLo = fmix(h2 ^ fpHi)
  if (fpHi === 0 && fpLo === 0) fpLo = 1 // (0, 0) marks an empty slot
}

const MIN_SLOTS = 1024

/** An open-addressing set of 64-bit fingerprints (pairs of uint32; (0, 0) is empty), grown by doubling. */
class FingerprintTable {
  slots = new Uint32Array(MIN_SLOTS * 2)
  mask = MIN_SLOTS - 1
  count = 0

  /** The slot holding (hi, lo), or the empty slot where it would go. */
  private find(hi: number, lo: number): number {
    let i = (lo ^ Math.imul(hi, 0x27d4eb2d)) & this.mask
    for (;;) {
      const h = this.slots[2 * i]!
      const l = this.slots[2 * i + 1]!
      if ((h === hi && l === lo) || (h === 0 && l === 0)) return i
      i = (i + 1) & this.mask
    }
  }

  has(hi: number, lo: number): boolean {
    const i = this.find(hi, lo)
    return this.slots[2 * i] !== 0 || this.slots[2 * i + 1] !== 0
  }

  /** Adds (hi, lo), known to be absent. */
  insert(hi: number, lo: number) {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow()
    const i = this.find(hi, lo)
    this.slots[2 * i] = hi
    this.slots[2 * i + 1] = lo
    this.count++
  }

  private grow() {
    const old = this.slots
    this.slots = new Uint32Array(old.length * 2)
    this.mask = old.length - 1
    for (let j = 0; j < old.length; j += 2) {
      const hi = old[j]!
      const lo = old[j + 1]!
      if (hi === 0 && lo === 0) continue
      const i = this.find(hi, lo)
      this.slots[2 * i] = hi
      this.slots[2 * i + 1] = lo
    }
  }
}

export const makeSeenSet = (capacity: number): SeenSet => {
  let current = new FingerprintTable()
  let previous = new FingerprintTable()
  const seen = () => current.has(fpHi, fpLo) || previous.has(fpHi, fpLo)
  return {
    add: (key) => {
      fingerprint(key)
      if (seen()) return false
      current.insert(fpHi, fpLo)
      if (current.count >= capacity) {
        previous = current
        current = new FingerprintTable()
      }
      return true
    },
    has: (key) => {
      fingerprint(key)
      return seen()
    },
    size: () => current.count + previous.count
  }
}
