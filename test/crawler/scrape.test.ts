// BEP 33 in the crawl: the peer-finding get_peers carry scrape=1 (no extra packet), our own nodes answer with
// Bloom filters of the seeders and leechers announced to them, and the crawl stores the swarm estimate with the
// infohash.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import { randomBytes } from "node:crypto"
import { MemoryNetworkLive } from "../../src/dht/index.js"
import type { InfoHash } from "../../src/krpc/index.js"
import { RepositoryMemory } from "../../src/repository/memory.js"
import { Repository, writeBatched } from "../../src/repository/Repository.js"
import { announceFrom } from "../support/announcers.js"
import { memoryCrawler } from "../support/crawlerNode.js"
import { memoryNode, type TestNode } from "../support/dhtNodes.js"

describe("Crawler BEP 33 scrapes", () => {
  it.scopedLive(
    "a crawl stores the swarm estimate of an infohash 20 seeders and 40 leechers announced",
    () =>
      Effect.gen(function*() {
        const nodes: Array<TestNode> = []
        for (let i = 0; i < 24; i++) nodes.push(yield* memoryNode({ host: `127.6.0.${i + 1}` }))
        for (let i = 1; i < nodes.length; i++) yield* nodes[i]!.dht.bootstrap([nodes[Math.floor(i / 2)]!.address])
        const ih = randomBytes(20) as Uint8Array as InfoHash
        // Every seeder and leecher announces to the 4 nodes closest to the infohash (as real clients do).
        const closest = (yield* nodes[0]!.dht.getPeers(ih)).closest.slice(0, 4).map((r) => r.contact)
        for (let i = 1; i <= 60; i++) {
          for (const to of closest) yield* announceFrom(`127.8.${i <= 20 ? 1 : 2}.${i}`, to, ih, i <= 20)
        }
        const { crawler } = yield* memoryCrawler({ host: "127.7.0.1" }, {
          bootstrap: [`${nodes[0]!.address.host}:${nodes[0]!.address.port}`],
          minSampleInterval: 1,
          metadata: false
        })
        const repo = yield* Repository
        const writer = yield* writeBatched(crawler.discoveries, repo.recordDiscoveries, {
          size: 100,
          within: "100 millis"
        }).pipe(Effect.fork)
        let swarm: { seeders: number; leechers: number } | undefined
        for (let t = 0; t < 80 && swarm === undefined; t++) {
          yield* Effect.sleep("500 millis")
          swarm = Option.getOrUndefined(yield* repo.getInfohash(ih))?.swarm
        }
        assert.isDefined(swarm, "a swarm estimate was stored")
        assert.closeTo(swarm!.seeders, 20, 3)
        assert.closeTo(swarm!.leechers, 40, 5)
        const stats = yield* crawler.stats
        assert.isAtLeast(stats.peerFinding.scraped, 1)
        yield* crawler.stop(500)
        yield* Fiber.join(writer)
      }).pipe(Effect.provide(MemoryNetworkLive()), Effect.provide(RepositoryMemory)),
    60_000
  )
})
