// Crawler.seek: infohashes imported without metadata get their peers looked up (and handed to the fetcher) though
// no node ever reported them to the crawler — sampling is confined to an area holding no node, and the infohashes
// were announced before the crawler joined.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { MemoryNetworkLive } from "../../src/dht/index.js"
import { parseAreaList } from "../../src/domain/keyspace.js"
import { type InfoHash, toHex } from "../../src/krpc/index.js"
import { memoryCrawler } from "../support/crawlerNode.js"
import { memoryNode, type TestNode } from "../support/dhtNodes.js"

describe("Crawler.seek", () => {
  it.scopedLive(
    "looks up the peers of sought infohashes and hands them to the fetcher, and only those",
    () =>
      Effect.gen(function*() {
        const nodes: Array<TestNode> = []
        for (let i = 0; i < 60; i++) nodes.push(yield* memoryNode({ host: `127.8.0.${i + 1}` }))
        for (let i = 1; i < nodes.length; i++) {
          yield* nodes[i]!.dht.bootstrap([nodes[Math.floor(Math.random() * i)]!.address])
        }
        const sought = randomBytes(20) as Uint8Array as InfoHash
        const other = randomBytes(20) as Uint8Array as InfoHash
        yield* nodes[5]!.dht.announce(sought, 7001)
        yield* nodes[9]!.dht.announce(other, 7002)
        const area = parseAreaList("ffffff/24")
        if (!area.ok) throw new Error(area.bad)
        const { crawler } = yield* memoryCrawler({ host: "127.9.0.1" }, {
          bootstrap: [`${nodes[0]!.address.host}:${nodes[0]!.address.port}`],
          targets: area.value,
          minSampleInterval: 1,
          metadata: true
        })
        const candidates = new Map<string, Set<number>>()
        const drain = yield* Stream.runDrain(crawler.discoveries).pipe(Effect.fork)
        const drainNodes = yield* Stream.runDrain(crawler.nodes).pipe(Effect.fork)
        const collect = yield* Stream.runForEach(crawler.candidates, (c) =>
          Effect.sync(() => {
            const set = candidates.get(toHex(c.infoHash)) ?? new Set<number>()
            for (const p of c.peers) set.add(p.port)
            candidates.set(toHex(c.infoHash), set)
          })).pipe(Effect.fork)
        // As the crawl session does: seek once the crawler has joined (a lookup needs nodes to ask).
        for (let t = 0; t < 60 && (yield* crawler.stats).responsiveNodes < 8; t++) yield* Effect.sleep("250 millis")
        yield* crawler.seek([sought])
        for (let t = 0; t < 60 && !candidates.has(toHex(sought)); t++) yield* Effect.sleep("250 millis")
        assert.deepStrictEqual([...candidates.get(toHex(sought)) ?? []], [7001])
        assert.isFalse(candidates.has(toHex(other)), "an infohash nobody sought or reported is not looked up")
        yield* crawler.stop(500)
        yield* Fiber.join(drain)
        yield* Fiber.join(drainNodes)
        yield* Fiber.join(collect)
      }).pipe(Effect.provide(MemoryNetworkLive())),
    60_000
  )
})
