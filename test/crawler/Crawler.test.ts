import { assert, describe, it } from "@effect/vitest"
import { Chunk, Context, Duration, Effect, Fiber, Layer, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { dhtConfig, DhtSocket, DhtSocketMemory, MemoryNetworkLive } from "../../src/dht/index.js"
import { inAreas, parseAreaList } from "../../src/domain/keyspace.js"
import {
  decodeMessage,
  encodeMessage,
  type InfoHash,
  type KrpcMessage,
  type NodeId,
  toHex
} from "../../src/krpc/index.js"
import { RepositoryMemory } from "../../src/repository/memory.js"
import { Repository, writeBatched } from "../../src/repository/Repository.js"
import { memoryCrawler } from "../support/crawlerNode.js"
import { memoryNode, type TestNode, testSettings } from "../support/dhtNodes.js"

/** An in-memory swarm of our own nodes, with `torrents` infohashes announced into it. */
const swarm = (n: number, torrents: number) =>
  Effect.gen(function*() {
    const nodes: Array<TestNode> = []
    for (let i = 0; i < n; i++) nodes.push(yield* memoryNode({ host: `127.6.${i >> 8}.${(i & 255) + 1}` }))
    for (let i = 1; i < n; i++) yield* nodes[i]!.dht.bootstrap([nodes[Math.floor(Math.random() * i)]!.address])
    const infohashes = Array.from({ length: torrents }, () => randomBytes(20) as Uint8Array as InfoHash)
    yield* Effect.forEach(infohashes, (ih, i) => nodes[i % n]!.dht.announce(ih, 10_000 + i), { concurrency: 8 })
    return { nodes, infohashes }
  })

describe("Crawler over a 250-node in-memory network", () => {
  it.scopedLive(
    "finds ≥ 99% of the nodes and ≥ 95% of announced infohashes, each source counted",
    () =>
      Effect.gen(function*() {
        const { infohashes, nodes } = yield* swarm(250, 150)
        const { crawler, node } = yield* memoryCrawler({ host: "127.7.0.1" }, {
          bootstrap: [`${nodes[0]!.address.host}:${nodes[0]!.address.port}`],
          minSampleInterval: 1,
          metadata: false
        })
        const repo = yield* Repository
        const writer = yield* writeBatched(crawler.discoveries, repo.recordDiscoveries, {
          size: 500,
          within: "200 millis"
        })
          .pipe(Effect.fork)
        const nodeWriter = yield* writeBatched(crawler.nodes, repo.upsertNodes, { size: 500, within: "200 millis" })
          .pipe(Effect.fork)
        // Passive sources: once the crawler is in their tables, swarm nodes announce and look up infohashes
        // next to the crawler's id, so their get_peers/announce_peer queries reach it.
        const near = Array.from(
          { length: 6 },
          () => Uint8Array.from(randomBytes(20), (x, i) => i < 3 ? node.self[i]! : x) as InfoHash
        )
        yield* Effect.sleep("2 seconds")
        yield* Effect.forEach(near, (ih, i) => nodes[40 + i]!.dht.announce(ih, 20_000 + i), { concurrency: 3 })
        const wanted = new Set([...infohashes, ...near].map(toHex))
        let found = 0
        for (let t = 0; t < 40; t++) {
          yield* Effect.sleep("500 millis")
          const all = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.export({})))
          found = all.filter((i) => wanted.has(toHex(i.infoHash))).length
          const s = yield* crawler.stats
          if (found >= 0.95 * wanted.size && s.knownNodes >= 0.99 * nodes.length) break
        }
        const stats = yield* crawler.stats
        yield* Effect.log(`crawler: ${JSON.stringify(stats)}`)
        assert.isAtLeast(stats.knownNodes, Math.ceil(0.99 * nodes.length))
        assert.isAtLeast(found, Math.ceil(0.95 * wanted.size))
        assert.isAbove(stats.discoveries.sample, 0, "BEP 51 samples")
        assert.isAbove(stats.discoveries.announce, 0, "incoming announce_peer")
        assert.isAbove(stats.discoveries.get_peers, 0, "incoming get_peers")
        assert.isAbove(stats.discoveries.lookup, 0, "get_peers lookups")
        assert.isTrue(stats.filtered.bogon === undefined, "allow 127.0.0.0/8 lets loopback through")
        yield* crawler.stop(1000)
        // After a graceful stop every discovery the crawler counted has reached the repository.
        const written = yield* Fiber.join(writer)
        yield* Fiber.join(nodeWriter)
        const final = yield* crawler.stats
        assert.strictEqual(written, Object.values(final.discoveries).reduce((a, b) => a + b, 0))
        const repoStats = yield* repo.stats
        assert.isAtLeast(repoStats.nodes, Math.ceil(0.99 * nodes.length))
      }).pipe(Effect.provide(MemoryNetworkLive()), Effect.provide(RepositoryMemory)),
    60_000
  )
})

describe("Crawler target areas (--target)", () => {
  it.scopedLive("samples only nodes whose ids lie in the target areas", () =>
    Effect.gen(function*() {
      const { nodes } = yield* swarm(80, 20)
      const areas = ok(parseAreaList("0/1")) // ids whose first bit is 0
      const { crawler } = yield* memoryCrawler({ host: "127.7.0.2" }, {
        bootstrap: [`${nodes[0]!.address.host}:${nodes[0]!.address.port}`],
        targets: areas,
        minSampleInterval: 1,
        metadata: false,
        lookups: false
      })
      const drain = yield* Stream.runDrain(crawler.discoveries).pipe(Effect.fork)
      yield* Effect.sleep("4 seconds")
      const sampledIn = nodes.filter((n) => inAreas(areas, n.node.self)).map((n) =>
        n.node.stats().queriesInByMethod["sample_infohashes"] ?? 0
      )
      const sampledOut = nodes.filter((n) => !inAreas(areas, n.node.self)).map((n) =>
        n.node.stats().queriesInByMethod["sample_infohashes"] ?? 0
      )
      assert.isAbove(sampledIn.reduce((a, b) => a + b, 0), 10, "nodes in the area are sampled")
      assert.strictEqual(sampledOut.reduce((a, b) => a + b, 0), 0, "nodes outside it are not")
      yield* crawler.stop(500)
      yield* Fiber.join(drain)
    }).pipe(Effect.provide(MemoryNetworkLive())), 60_000)
})

const ok = <A>(r: { readonly ok: true; readonly value: A } | { readonly ok: false; readonly bad: string }): A => {
  if (!r.ok) throw new Error(r.bad)
  return r.value
}

describe("Crawler BEP 51 probes", () => {
  it.scopedLive(
    "gives up on a node that ignores sample_infohashes after the short probe time-out",
    () =>
      Effect.gen(function*() {
        // A node that answers find_node but never sample_infohashes, like npm bittorrent-dht.
        const silent = yield* Layer.build(
          DhtSocketMemory.pipe(Layer.provide(dhtConfig(testSettings({ host: "127.7.0.9", port: 6881 }))))
        ).pipe(Effect.map((ctx) => Context.get(ctx, DhtSocket)))
        const silentId = randomBytes(20) as Uint8Array as NodeId
        let samplesIn = 0
        yield* silent.incoming.pipe(
          Stream.runForEach((d) =>
            Effect.suspend(() => {
              const m = decodeMessage(d.bytes)
              if (m._tag === "Left") return Effect.void
              if (m.right._tag === "SampleInfohashesQuery") samplesIn++
              if (m.right._tag !== "FindNodeQuery") return Effect.void
              const reply: KrpcMessage = { _tag: "Response", t: m.right.t, v: undefined, id: silentId, nodes: [] }
              return silent.send(d.host, d.port, encodeMessage(reply))
            })
          ),
          Effect.forkScoped
        )
        const { crawler, node } = yield* memoryCrawler(
          { host: "127.7.0.10", queryTimeout: Duration.seconds(30) },
          { bootstrap: ["127.7.0.9:6881"], sampleProbeTimeoutMillis: 300, metadata: false, lookups: false }
        )
        const drain = yield* Stream.runDrain(crawler.discoveries).pipe(Effect.fork)
        // Every query to the node is paced one per second per IP (join, the DHT's own bootstrap lookups, the walk):
        // the probe goes out within a few seconds.
        for (let i = 0; i < 150 && samplesIn === 0; i++) yield* Effect.sleep("100 millis")
        assert.strictEqual(samplesIn, 1, "the node is probed")
        yield* Effect.sleep("600 millis")
        // The probe was abandoned long before the 30 s query time-out, and the node is not probed again.
        assert.strictEqual(yield* node.inflight, 0)
        yield* Effect.sleep("2500 millis")
        assert.strictEqual(samplesIn, 1)
        yield* crawler.stop(500)
        yield* Fiber.join(drain)
      }).pipe(Effect.provide(MemoryNetworkLive())),
    30_000
  )
})
