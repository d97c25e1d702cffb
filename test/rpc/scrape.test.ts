// BEP 33 end to end over the in-memory network: nodes answer get_peers with scrape=1 with Bloom filters of the
// seeds and peers announced to them (seed=1 or not), and scrapeNodes merges several nodes' filters into
// estimates of distinct seeds and peers.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { randomBytes } from "node:crypto"
import { MemoryNetworkLive } from "../../src/dht/index.js"
import { bloomOf, estimateBloomSize } from "../../src/krpc/bep33.js"
import type { InfoHash, NodeId } from "../../src/krpc/index.js"
import { traverse } from "../../src/rpc/lookup.js"
import { scrapeNodes } from "../../src/rpc/scrape.js"
import { announceFrom as announce, exchange } from "../support/announcers.js"
import { memoryNode } from "../support/dhtNodes.js"

const net = MemoryNetworkLive()
const id = () => randomBytes(20) as Uint8Array as NodeId

describe("BEP 33 scrapes", () => {
  it.scoped("nodes answer scrape=1 with seed and peer filters; several nodes' filters merge into estimates", () =>
    Effect.gen(function*() {
      const a = yield* memoryNode({ host: "127.0.0.1" })
      const b = yield* memoryNode({ host: "127.0.0.2" })
      const c = yield* memoryNode({ host: "127.0.0.3" })
      const ih = randomBytes(20) as Uint8Array as InfoHash
      const seeds = Array.from({ length: 30 }, (_, i) => `127.0.1.${i + 1}`)
      const leechers = Array.from({ length: 60 }, (_, i) => `127.0.2.${i + 1}`)
      // b stores all seeds and 50 leechers; c stores half the seeds again and the other 10 leechers.
      for (const s of seeds) yield* announce(s, b.address, ih, true)
      for (const l of leechers.slice(0, 50)) yield* announce(l, b.address, ih, false)
      for (const s of seeds.slice(0, 15)) yield* announce(s, c.address, ih, true)
      for (const l of leechers.slice(50)) yield* announce(l, c.address, ih, false)

      const one = yield* scrapeNodes(a.node, ih, [b.address])
      assert.strictEqual(one.answered, 1)
      assert.closeTo(one.seeds, 30, 3)
      assert.closeTo(one.peers, 50, 4)
      const both = yield* scrapeNodes(a.node, ih, [b.address, c.address])
      assert.strictEqual(both.answered, 2)
      // Seeds stored twice count once: the union is 30 seeds and 60 peers.
      assert.closeTo(both.seeds, 30, 3)
      assert.closeTo(both.peers, 60, 5)
      // An infohash nobody announced: empty filters, estimates 0.
      const none = yield* scrapeNodes(a.node, randomBytes(20) as Uint8Array as InfoHash, [b.address])
      assert.deepStrictEqual([none.seeds, none.peers, none.answered], [0, 0, 1])
    }).pipe(Effect.provide(net)))

  it.scoped("noseed=1 leaves the seeds out of values; without scrape no filters are sent", () =>
    Effect.gen(function*() {
      const b = yield* memoryNode({ host: "127.0.0.2" })
      const ih = randomBytes(20) as Uint8Array as InfoHash
      for (let i = 1; i <= 5; i++) yield* announce(`127.0.1.${i}`, b.address, ih, true)
      for (let i = 1; i <= 4; i++) yield* announce(`127.0.2.${i}`, b.address, ih, false)
      const all = yield* exchange(
        "127.0.0.9",
        b.address,
        (t) => ({ _tag: "GetPeersQuery", t, id: id(), info_hash: ih })
      )
      assert.strictEqual(all.values?.length, 9)
      assert.isUndefined(all.BFsd)
      assert.isUndefined(all.BFpe)
      const noSeeds = yield* exchange(
        "127.0.0.9",
        b.address,
        (t) => ({ _tag: "GetPeersQuery", t, id: id(), info_hash: ih, noseed: true, scrape: true })
      )
      assert.sameMembers(noSeeds.values!.map((p) => p.host), ["127.0.2.1", "127.0.2.2", "127.0.2.3", "127.0.2.4"])
      assert.strictEqual(noSeeds.BFsd?.length, 256)
      assert.strictEqual(noSeeds.BFpe?.length, 256)
    }).pipe(Effect.provide(net)))

  it("a lookup merges the filters of every node that sent them (known Bloom filters)", () => {
    const seeds = Array.from({ length: 45 }, (_, i) => `10.0.0.${i + 1}`)
    const leechers = Array.from({ length: 80 }, (_, i) => `10.0.1.${i + 1}`)
    const contact = (i: number) => ({ id: id(), host: `127.0.3.${i}`, port: 6881 })
    const nodes = [contact(1), contact(2), contact(3)]
    // Node 1: seeds 0–29 and leechers 0–49; node 2: seeds 15–44 and leechers 40–79; node 3: no BEP 33.
    const filters = [
      { seeds: bloomOf(seeds.slice(0, 30)), peers: bloomOf(leechers.slice(0, 50)) },
      { seeds: bloomOf(seeds.slice(15)), peers: bloomOf(leechers.slice(40)) },
      undefined
    ]
    let result: Parameters<Parameters<typeof traverse>[2]>[0] | undefined
    traverse(
      { target: randomBytes(20), seeds: nodes, alpha: 3, k: 8 },
      (c, reply) => {
        reply({ nodes: [], bloom: filters[nodes.indexOf(c)] })
        return () => {}
      },
      (r) => (result = r)
    )
    assert.strictEqual(result?.swarm?.nodes, 2)
    // The union of filters is the filter of the union: exactly the estimate of all 45 seeds and 80 leechers.
    assert.strictEqual(result!.swarm!.seeders, estimateBloomSize(bloomOf(seeds)))
    assert.strictEqual(result!.swarm!.leechers, estimateBloomSize(bloomOf(leechers)))
    assert.closeTo(result!.swarm!.seeders, 45, 3)
    assert.closeTo(result!.swarm!.leechers, 80, 5)
    // Without filters, no estimate.
    traverse({ target: randomBytes(20), seeds: nodes, alpha: 3, k: 8 }, (_, reply) => {
      reply({ nodes: [] })
      return () => {}
    }, (r) => (result = r))
    assert.isUndefined(result!.swarm)
  })

  it.scopedLive("getPeersNow with scrape=1 asks our own nodes for filters on the way: the swarm estimate comes back", () =>
    Effect.gen(function*() {
      // The announcers' one-off endpoints end up in b's and c's tables and never answer again: short time-outs.
      const a = yield* memoryNode({ host: "127.0.0.1", queryTimeout: Duration.millis(200) })
      const b = yield* memoryNode({ host: "127.0.0.2" })
      const c = yield* memoryNode({ host: "127.0.0.3" })
      yield* b.dht.bootstrap([c.address])
      yield* a.dht.bootstrap([b.address, c.address])
      const ih = randomBytes(20) as Uint8Array as InfoHash
      for (let i = 1; i <= 20; i++) yield* announce(`127.0.1.${i}`, b.address, ih, true)
      for (let i = 1; i <= 40; i++) yield* announce(`127.0.2.${i}`, c.address, ih, false)
      const lookup = (scrape: boolean) =>
        Effect.async<Parameters<Parameters<typeof a.dht.getPeersNow>[1]>[0]>((resume) => {
          a.dht.getPeersNow(ih, (r) => resume(Effect.succeed(r)), { scrape })
        })
      const scraped = yield* lookup(true)
      assert.strictEqual(scraped.peers.length, 60)
      assert.strictEqual(scraped.swarm?.nodes, 2)
      assert.closeTo(scraped.swarm!.seeders, 20, 2)
      assert.closeTo(scraped.swarm!.leechers, 40, 4)
      // The same lookup without scrape: the same peers, no filters.
      const plain = yield* lookup(false)
      assert.isUndefined(plain.swarm)
      assert.strictEqual(plain.peers.length, 60)
    }).pipe(Effect.provide(net)))
})
