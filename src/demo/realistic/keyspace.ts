import { commonPrefixLength, compareDistance, ID_LENGTH } from "../../domain/ids.js"
import { mix } from "./rng.js"

// The model's global knowledge of the keyspace: every node it simulates (answering, silent, recently departed)
// and every external node (crawler) that has talked to it, sorted by id. Kademlia's structure makes both
// questions the model asks cheap on a sorted array: the nodes sharing a prefix with a target are one contiguous
// range, so "the k closest to T" and "what node X's k-bucket for T's region holds" are a few binary searches.

/** One node in the keyspace. */
export interface Member {
  readonly id: Uint8Array
  readonly host: string
  readonly port: number
  /** The simulated node's slot, or -1 for an external node. */
  readonly slot: number
}

const compareIds = (a: Uint8Array, b: Uint8Array): number => {
  for (let i = 0; i < ID_LENGTH; i++) {
    const d = a[i]! - b[i]!
    if (d !== 0) return d
  }
  return 0
}

/** `target` with every bit from `bits` on cleared (fill 0) or set (fill 1): the ends of its prefix region. */
const bound = (target: Uint8Array, bits: number, fill: 0 | 1): Uint8Array => {
  const out = Uint8Array.from(target)
  const byte = bits >> 3
  if (byte >= ID_LENGTH) return out
  const mask = 0xff >> (bits & 7)
  out[byte] = fill === 1 ? out[byte]! | mask : out[byte]! & ~mask & 0xff
  for (let i = byte + 1; i < ID_LENGTH; i++) out[i] = fill === 1 ? 0xff : 0
  return out
}

export interface Keyspace {
  readonly size: () => number
  readonly insert: (m: Member) => void
  readonly remove: (m: Member) => void
  /** The `count` members closest to `target` by XOR (BEP 5), among those `accept` allows. */
  readonly closest: (target: Uint8Array, count: number, accept?: (m: Member) => boolean) => Array<Member>
  /**
   * What node `self` would answer for `target` from its own routing table: the k-bucket covering `target`'s
   * region holds `count` members of that region (a stable pseudo-random choice per node and bucket), unless the
   * region is small enough for the node to know all of it. Includes silent, departed and external members,
   * as real routing tables do.
   */
  readonly bucketView: (self: Uint8Array, selfSeed: number, target: Uint8Array, count: number) => Array<Member>
}

export const makeKeyspace = (): Keyspace => {
  const items: Array<Member> = []

  const lowerBound = (key: Uint8Array, strict: boolean): number => {
    let lo = 0
    let hi = items.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const c = compareIds(items[mid]!.id, key)
      if (c < 0 || (strict && c === 0)) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  const region = (target: Uint8Array, bits: number): [number, number] => [
    lowerBound(bound(target, bits, 0), false),
    lowerBound(bound(target, bits, 1), true)
  ]
  const byDistance = (target: Uint8Array) => (a: Member, b: Member) => compareDistance(target, a.id, b.id)

  const closest = (target: Uint8Array, count: number, accept?: (m: Member) => boolean): Array<Member> => {
    if (items.length === 0 || count <= 0) return []
    const p = lowerBound(target, false)
    let bits = 0
    if (p < items.length) bits = Math.max(bits, commonPrefixLength(target, items[p]!.id))
    if (p > 0) bits = Math.max(bits, commonPrefixLength(target, items[p - 1]!.id))
    // Widen the prefix region one bit at a time until it holds enough acceptable members: every member
    // outside a region is farther from the target than every member inside it.
    for (;; bits--) {
      const [lo, hi] = region(target, bits)
      let ok = hi - lo
      if (accept !== undefined) {
        ok = 0
        for (let i = lo; i < hi; i++) if (accept(items[i]!)) ok++
      }
      if (ok >= count || bits === 0) {
        const out: Array<Member> = []
        for (let i = lo; i < hi; i++) if (accept === undefined || accept(items[i]!)) out.push(items[i]!)
        return out.sort(byDistance(target)).slice(0, count)
      }
    }
  }

  return {
    size: () => items.length,
    insert: (m) => {
      items.splice(lowerBound(m.id, false), 0, m)
    },
    remove: (m) => {
      for (let i = lowerBound(m.id, false); i < items.length && compareIds(items[i]!.id, m.id) === 0; i++) {
        if (items[i] === m) {
          items.splice(i, 1)
          return
        }
      }
    },
    closest,
    bucketView: (self, selfSeed, target, count) => {
      const b = commonPrefixLength(self, target)
      if (b >= ID_LENGTH * 8 - 1) return closest(target, count)
      const [lo, hi] = region(target, b + 1)
      const size = hi - lo
      if (size <= count) return closest(target, count)
      const picked = new Set<number>()
      for (let j = 0; picked.size < count && j < count * 4; j++) picked.add(lo + (mix(selfSeed, b * 64 + j) % size))
      return Array.from(picked, (i) => items[i]!).sort(byDistance(target))
    }
  }
}
