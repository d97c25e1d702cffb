import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Metric, TestClock } from "effect"
import { randomBytes } from "node:crypto"
import { type DhtSettings, MemoryNetwork, MemoryNetworkLive } from "../../src/dht/index.js"
import { compareDistance, type InfoHash, toHex } from "../../src/krpc/index.js"
import * as Metrics from "../../src/observability/metrics.js"
import { memoryNode, type TestNode } from "../support/dhtNodes.js"

const swarm = (n: number, settings: Partial<DhtSettings> = {}) =>
  Effect.gen(function*() {
    const nodes: Array<TestNode> = []
    for (let i = 0; i < n; i++) nodes.push(yield* memoryNode({ ...settings, host: `127.5.${i >> 8}.${(i & 255) + 1}` }))
    // Each node joins through an earlier one, as a real network grows.
    for (let i = 1; i < n; i++) yield* nodes[i]!.dht.bootstrap([nodes[Math.floor(Math.random() * i)]!.address])
    return nodes
  })

describe("Dht over a 150-node in-memory network", () => {
  it.scoped("lookups from any node converge on the true closest nodes; announces are found", () =>
    Effect.gen(function*() {
      const nodes = yield* swarm(150)
      const ids = nodes.map((n) => n.node.self)
      for (let round = 0; round < 5; round++) {
        const from = nodes[Math.floor(Math.random() * nodes.length)]!
        const target = randomBytes(20)
        const result = yield* from.dht.findNode(target)
        const truth = ids.filter((id) => toHex(id) !== toHex(from.node.self))
          .sort((a, b) => compareDistance(target, a, b)).slice(0, 8).map(toHex)
        assert.deepStrictEqual(result.closest.map((r) => toHex(r.contact.id)), truth)
      }
      const ih = randomBytes(20) as Uint8Array as InfoHash
      const announced = yield* nodes[3]!.dht.announce(ih, 4321)
      assert.strictEqual(announced.announced, 8)
      const found = yield* nodes[120]!.dht.getPeers(ih)
      assert.deepInclude(found.peers, { host: nodes[3]!.address.host, port: 4321 })
    }).pipe(Effect.provide(MemoryNetworkLive())))

  it.scopedLive("keeps working with 20% packet loss (real clock, 300 ms query timeout)", () =>
    Effect.gen(function*() {
      const nodes = yield* swarm(60, { queryTimeout: Duration.millis(300) })
      ;(yield* MemoryNetwork).setLoss(0.2)
      const ih = randomBytes(20) as Uint8Array as InfoHash
      const announced = yield* nodes[1]!.dht.announce(ih, 1111)
      assert.isAtLeast(announced.announced, 3)
      const found = yield* nodes[50]!.dht.getPeers(ih)
      assert.deepInclude(found.peers, { host: nodes[1]!.address.host, port: 1111 })
      assert.isAbove(nodes[1]!.node.stats().timeouts, 0, "losses were seen and survived")
    }).pipe(Effect.provide(MemoryNetworkLive({ seed: 7 }))))

  it.scoped("refreshes stale buckets and pings questionable nodes in the background (TestClock)", () =>
    Effect.gen(function*() {
      const nodes = yield* swarm(12)
      const probe = nodes[0]!
      const before = probe.node.stats().queriesOut
      yield* TestClock.adjust("16 minutes")
      const after = probe.node.stats().queriesOut
      assert.isAbove(after, before, "maintenance sent queries")
      const entries = yield* probe.table.entries
      assert.isTrue(entries.every((e) => e.state === "good"), "pinged nodes answered and are good again")
    }).pipe(Effect.provide(MemoryNetworkLive())))

  it.scoped("exposes packets, queries and table size as Effect metrics", () =>
    Effect.gen(function*() {
      const before = yield* Metric.value(Metrics.queriesOut("find_node"))
      const nodes = yield* swarm(10)
      const after = yield* Metric.value(Metrics.queriesOut("find_node"))
      assert.isAbove(after.count, before.count)
      assert.isAbove((yield* Metric.value(Metrics.packetsIn)).count, 0)
      assert.isAbove((yield* Metric.value(Metrics.responses)).count, 0)
      assert.isAbove((yield* Metric.value(Metrics.routingTableSize)).value, 0)
      assert.strictEqual(yield* nodes[0]!.node.inflight, 0)
    }).pipe(Effect.provide(MemoryNetworkLive())))
})
