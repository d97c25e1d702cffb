import { type Context, Effect } from "effect"
import { randomBytes } from "node:crypto"
import type { Dht } from "./Dht.js"
import type { KrpcNode } from "./KrpcNode.js"

// Network size from lookups (the k-closest estimator): node ids are uniform over the keyspace, so for a random
// target the i-th closest of n nodes lies at an XOR distance (as a fraction of 2^160) with E[dᵢ] = i/(n+1).
// Over many lookups toward random targets, with kⱼ the number of closest responders of lookup j and dⱼ the
// distance of the farthest of them, Σkⱼ / Σdⱼ estimates n + 1 (the moment estimate; also the maximum-likelihood
// one when the ids are taken as a Poisson process of rate n). (n+1)·Σdⱼ is approximately Gamma(Σkⱼ, 1), which
// gives the confidence interval; the relative error is about 1/√(Σkⱼ). Nodes that do not answer are not
// counted: the estimate is of responsive nodes, so the time-out rate is reported beside it (docs/analysis.md).

/** One lookup's outcome: the XOR distances (fractions of 2^160) of the closest nodes that answered, ascending. */
export interface SizeSample {
  readonly distances: ReadonlyArray<number>
}

/** A network-size estimate with its 95 % confidence interval. */
export interface SizeEstimate {
  /** Estimated number of (responsive) nodes, not counting the measuring node. */
  readonly nodes: number
  readonly low: number
  readonly high: number
  /** Lookups that contributed (those with at least one responder). */
  readonly lookups: number
  /** Σk: closest responders used. */
  readonly points: number
}

/** The XOR distance of two 20-byte ids as a fraction of 2^160 (53 bits of precision, enough for any DHT). */
export const xorFraction = (a: Uint8Array, b: Uint8Array): number => {
  let x = 0
  let scale = 1
  for (let i = 0; i < 8; i++) {
    scale /= 256
    x += ((a[i]! ^ b[i]!) & 0xff) * scale
  }
  return x
}

/** Wilson–Hilferty approximation of the p-quantile of Gamma(shape, 1), for a z-score `z`. */
const gammaQuantile = (shape: number, z: number) => shape * (1 - 1 / (9 * shape) + z / (3 * Math.sqrt(shape))) ** 3

/** The estimate from lookups' closest distances; undefined when no lookup found anybody. */
export const estimateNetworkSize = (samples: ReadonlyArray<SizeSample>): SizeEstimate | undefined => {
  let k = 0
  let sum = 0
  let lookups = 0
  for (const s of samples) {
    if (s.distances.length === 0) continue
    const d = Math.max(...s.distances)
    if (!(d > 0)) continue
    k += s.distances.length
    sum += d
    lookups++
  }
  if (lookups === 0) return undefined
  const z = 1.959964
  return {
    nodes: k / sum - 1,
    low: Math.max(0, gammaQuantile(k, -z) / sum - 1),
    high: gammaQuantile(k, z) / sum - 1,
    lookups,
    points: k
  }
}

/** A measurement: the estimate and the share of queries that timed out meanwhile (unreachable nodes bias it). */
export interface SizeMeasurement {
  readonly estimate: SizeEstimate | undefined
  /** Queries sent during the measurement that timed out, as a fraction (0–1). */
  readonly timeoutRate: number
}

/** Runs `lookups` find_node lookups toward random targets (`concurrency` at a time) and estimates the size. */
export const measureNetworkSize = (
  dht: Context.Tag.Service<Dht>,
  node: Context.Tag.Service<KrpcNode>,
  options: { readonly lookups: number; readonly concurrency?: number }
): Effect.Effect<SizeMeasurement> =>
  Effect.gen(function*() {
    const before = node.stats()
    const [sent0, timeouts0] = [before.queriesOut, before.timeouts]
    const samples = yield* Effect.forEach(
      Array.from({ length: options.lookups }, () => randomBytes(20)),
      (target) =>
        Effect.map(dht.findNode(target), (r) => ({
          distances: r.closest.map((c) => xorFraction(c.contact.id, target))
        })),
      { concurrency: options.concurrency ?? 4 }
    )
    const after = node.stats()
    const sent = after.queriesOut - sent0
    return {
      estimate: estimateNetworkSize(samples),
      timeoutRate: sent === 0 ? 0 : (after.timeouts - timeouts0) / sent
    }
  })
