// The k-closest network-size estimator: on synthetic uniform ids (a seeded generator: deterministic) and on a
// 200-node DHT over the in-memory network, measured by lookups from one of its nodes.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { MemoryNetworkLive } from "../../src/dht/index.js"
import { estimateNetworkSize, measureNetworkSize, xorFraction } from "../../src/rpc/networkSize.js"
import { memoryNode, type TestNode } from "../support/dhtNodes.js"

/** mulberry32: a small seeded PRNG. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

describe("network size estimator (pure)", () => {
  it("xorFraction: identical ids 0, opposite top bit 0.5, all ones ≈ 1", () => {
    const zero = new Uint8Array(20)
    assert.strictEqual(xorFraction(zero, zero), 0)
    assert.strictEqual(xorFraction(zero, Uint8Array.of(0x80, ...new Uint8Array(19))), 0.5)
    assert.closeTo(xorFraction(zero, new Uint8Array(20).fill(255)), 1, 1e-12)
  })

  it("recovers n from the k closest of n uniform points, within ±10 %, and the 95 % interval holds it", () => {
    const random = prng(17)
    for (const n of [200, 5_000]) {
      // The XOR distances of n uniform ids from a random target are n uniforms on [0, 1): a lookup returns the
      // 8 smallest.
      const samples = Array.from({ length: 150 }, () => ({
        distances: Array.from({ length: n }, random).sort((a, b) => a - b).slice(0, 8)
      }))
      const e = estimateNetworkSize(samples)!
      assert.closeTo(e.nodes, n, n * 0.1, `n = ${n}`)
      assert.isAtMost(e.low, n)
      assert.isAtLeast(e.high, n)
      assert.strictEqual(e.points, 1200)
      // Relative half-width ≈ 1.96/√(Σk).
      assert.closeTo((e.high - e.low) / 2 / e.nodes, 1.96 / Math.sqrt(1200), 0.01)
    }
  })

  it("no responders: no estimate", () => {
    assert.isUndefined(estimateNetworkSize([]))
    assert.isUndefined(estimateNetworkSize([{ distances: [] }]))
  })
})

describe("network size of a 200-node in-memory DHT", () => {
  // Real clock: 200 lookups spend more than the packet budget's burst, and the budget waits on the Clock.
  it.scopedLive("lookups from one node estimate the 199 others within ±10 %", () =>
    Effect.gen(function*() {
      const nodes: Array<TestNode> = []
      for (let i = 0; i < 200; i++) nodes.push(yield* memoryNode({ host: `127.6.${i >> 8}.${(i & 255) + 1}` }))
      for (let i = 1; i < 200; i++) yield* nodes[i]!.dht.bootstrap([nodes[Math.floor(Math.random() * i)]!.address])
      const probe = nodes[0]!
      const m = yield* measureNetworkSize(probe.dht, probe.node, { lookups: 200 })
      const e = m.estimate!
      assert.closeTo(e.nodes, 199, 19.9, `estimate ${e.nodes.toFixed(1)} [${e.low.toFixed(1)}, ${e.high.toFixed(1)}]`)
      assert.strictEqual(e.lookups, 200)
      assert.strictEqual(m.timeoutRate, 0)
    }).pipe(Effect.provide(MemoryNetworkLive())), 300_000)
})
