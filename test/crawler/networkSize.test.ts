// The crawl's network-size estimate: from the closest responders of the get_peers lookups it makes anyway, on
// an in-memory DHT of known size; in the crawler's stats and the /metrics gauge.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Metric, Stream } from "effect"
import { randomBytes } from "node:crypto"
import * as CrawlerMetrics from "../../src/crawler/metrics.js"
import { MemoryNetworkLive } from "../../src/dht/index.js"
import type { InfoHash } from "../../src/krpc/index.js"
import { memoryCrawler } from "../support/crawlerNode.js"
import { memoryNode, type TestNode } from "../support/dhtNodes.js"

describe("Crawler network-size estimate", () => {
  it.scopedLive(
    "a crawl of a 160-node DHT reports an estimate near 160, with an interval around it",
    () =>
      Effect.gen(function*() {
        const n = 160
        const nodes: Array<TestNode> = []
        for (let i = 0; i < n; i++) nodes.push(yield* memoryNode({ host: `127.9.${i >> 8}.${(i & 255) + 1}` }))
        for (let i = 1; i < n; i++) yield* nodes[i]!.dht.bootstrap([nodes[Math.floor(Math.random() * i)]!.address])
        const { crawler } = yield* memoryCrawler({ host: "127.7.0.1" }, {
          bootstrap: [`${nodes[0]!.address.host}:${nodes[0]!.address.port}`],
          minSampleInterval: 1,
          metadata: false
        })
        const drain = yield* Stream.runDrain(crawler.discoveries).pipe(Effect.fork)
        // Once the crawler has joined, infohashes nobody announced (as `import` queues them): each gets a lookup.
        for (let t = 0; t < 60 && (yield* crawler.stats).responsiveNodes < n / 2; t++) yield* Effect.sleep("250 millis")
        yield* crawler.seek(Array.from({ length: 60 }, () => randomBytes(20) as Uint8Array as InfoHash))
        let stats = yield* crawler.stats
        for (let t = 0; t < 80 && (stats.networkSize?.lookups ?? 0) < 25; t++) {
          yield* Effect.sleep("500 millis")
          stats = yield* crawler.stats
        }
        const size = stats.networkSize
        assert.isDefined(size)
        assert.isAtLeast(size!.lookups, 10)
        // 160 other nodes (the crawler's own id excluded); relative error ≈ 1/√(8 · lookups), bounds generous.
        assert.isAbove(size!.nodes, n * 0.6)
        assert.isBelow(size!.nodes, n * 1.5)
        assert.isBelow(size!.low, size!.nodes)
        assert.isAbove(size!.high, size!.nodes)
        // The /metrics gauge follows (refreshed every second).
        yield* Effect.sleep("1200 millis")
        const gauge = yield* Metric.value(CrawlerMetrics.networkSize("estimate"))
        assert.isAbove(gauge.value, n * 0.6)
        yield* crawler.stop(500)
        yield* Fiber.join(drain)
      }).pipe(Effect.provide(MemoryNetworkLive())),
    90_000
  )
})
