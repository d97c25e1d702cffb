// A small seeded random source for the realistic network model, so the world it builds (node ids, addresses,
// which nodes are silent, speak BEP 51 or run a dos_blocker, torrents, stale peers) is the same for a given seed.

/** A seeded source of uniform numbers in [0, 1) (mulberry32: 32-bit state, good enough for a simulation). */
export interface Rng {
  /** A uniform number in [0, 1). */
  readonly next: () => number
  /** A uniform integer in [0, n). */
  readonly int: (n: number) => number
  /** True with probability `p`. */
  readonly chance: (p: number) => boolean
  /** `n` random bytes. */
  readonly bytes: (n: number) => Uint8Array
  /** A standard normal sample. */
  readonly normal: () => number
  /** A log-normal sample: `median · e^(sigma·z)`, z standard normal. */
  readonly logNormal: (median: number, sigma: number) => number
}

export const makeRng = (seed: number): Rng => {
  let state = (seed >>> 0) || 0x9e3779b9
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const normal = () => {
    // Box–Muller; 1 - next() keeps the logarithm's argument above 0.
    const u = 1 - next()
    const v = next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }
  return {
    next,
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    bytes: (n) => {
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256)
      return out
    },
    normal,
    logNormal: (median, sigma) => median * Math.exp(sigma * normal())
  }
}

/** A 32-bit mix of two integers (for per-node choices that must stay the same between queries). */
export const mix = (a: number, b: number): number => {
  let h = Math.imul(a ^ 0x85ebca6b, 0xcc9e2d51) ^ Math.imul(b + 0x27d4eb2f, 0x1b873593)
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}
