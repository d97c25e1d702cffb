// The loopback test swarm itself: 200 nodes (120 npm bittorrent-dht + 80 BitScrape) and 100 torrents start fast,
// every announced torrent is findable with get_peers, BitScrape nodes reveal announced infohashes over BEP 51, and
// the background lookups reach the nodes. One swarm is shared by the tests of this file (STYLE c.6).
import { assert, layer } from "@effect/vitest"
import { Chunk, Duration, Effect, Random } from "effect"
import { randomBytes } from "node:crypto"
import { infoHashFromHex, toHex } from "../../../src/krpc/index.js"
import { liveNode } from "../dhtNodes.js"
import { layerTestSwarm, TestSwarm } from "./TestSwarm.js"

const SIZE = { bittorrentDht: 120, bitscrape: 80, torrents: 100 }
const probeSettings = { queryTimeout: Duration.seconds(2), maxPps: 2000, burst: 200 }

layer(layerTestSwarm({ ...SIZE, activityEvery: "250 millis" }), { timeout: "60 seconds", excludeTestServices: true })(
  "TestSwarm: 120 bittorrent-dht + 80 BitScrape nodes, 100 torrents",
  (it) => {
    it.effect("starts with every announcement acknowledged and nothing off loopback (start-up time logged)", () =>
      Effect.gen(function*() {
        const swarm = yield* TestSwarm
        const stats = yield* swarm.stats()
        yield* Effect.log(
          `started in ${swarm.startupMillis} ms ${JSON.stringify(swarm.phases)}; coverage ` +
            `${stats.coverage.storedAtBitscrape}/${stats.coverage.infohashes}; memory ${JSON.stringify(stats.memory)}`
        )
        // No timed assertion (the machine is shared): the layer's own start timeout bounds it; the log says how long.
        assert.strictEqual(swarm.nodes.length, 200)
        assert.strictEqual(new Set(swarm.nodes.map((n) => n.host)).size, 200, "every node has its own address")
        assert.strictEqual(swarm.infohashes.length, SIZE.torrents)
        assert.deepStrictEqual(stats.announcements, {
          planned: swarm.announcements.length,
          done: swarm.announcements.length,
          failed: 0
        })
        assert.strictEqual(new Set(swarm.announcements.map((a) => a.port)).size, swarm.announcements.length)
        assert.isTrue(swarm.announcements.some((a) => a.kind === "bittorrent-dht"))
        assert.isTrue(swarm.announcements.some((a) => a.kind === "bitscrape"))
        assert.isAtLeast(stats.coverage.fraction, 0.9)
        assert.deepStrictEqual(yield* swarm.bitscrapeNodes!.violations(), [])
        assert.deepStrictEqual(yield* swarm.bitscrapeNodes!.warnings(), [])
      }))

    it.effect("a fresh BitScrape node finds every announced peer of 20 torrents with get_peers", () =>
      Effect.gen(function*() {
        const swarm = yield* TestSwarm
        const probe = yield* liveNode({ ...probeSettings, host: "127.19.0.1" })
        const joined = yield* probe.dht.bootstrap([swarm.bootstrap])
        assert.isAtLeast(joined.responded, 8)
        const sample = Chunk.toReadonlyArray(Chunk.take(yield* Random.shuffle(swarm.infohashes), 20))
        const misses = yield* Effect.forEach(sample, (hex) =>
          Effect.gen(function*() {
            // Under CPU load a lookup can lose a reply to a timeout; a second lookup is what a client would do.
            const got = new Set<string>()
            for (let attempt = 0; attempt < 2; attempt++) {
              const found = yield* probe.dht.getPeers(infoHashFromHex(hex)!)
              for (const p of found.peers) got.add(`${p.host}:${p.port}`)
              if (swarm.announcements.every((a) => a.infoHashHex !== hex || got.has(`${a.host}:${a.port}`))) break
            }
            return swarm.announcements
              .filter((a) => a.infoHashHex === hex && !got.has(`${a.host}:${a.port}`))
              .map((a) => `${hex} from ${a.kind} ${a.index} (${a.host}:${a.port})`)
          }), { concurrency: 5 })
        assert.deepStrictEqual(misses.flat(), [])
      }).pipe(Effect.scoped))

    it.effect("sample_infohashes to the BitScrape nodes returns announced infohashes, as many as each stores", () =>
      Effect.gen(function*() {
        const swarm = yield* TestSwarm
        const ours = swarm.bitscrapeNodes!
        const probe = yield* liveNode({ ...probeSettings, host: "127.19.0.2" })
        const announced = new Set(swarm.infohashes)
        const sampled = new Set<string>()
        const mismatched: Array<string> = []
        for (const node of swarm.nodes.filter((n) => n.kind === "bitscrape")) {
          const reply = yield* probe.node.sampleInfohashes(node, randomBytes(20))
          const stored = yield* ours.stored(node.index)
          if (reply.num !== stored.length) {
            mismatched.push(`node ${node.index}: num ${reply.num}, stored ${stored.length}`)
          }
          for (const s of reply.samples ?? []) sampled.add(toHex(s))
        }
        assert.deepStrictEqual(mismatched, [])
        assert.deepStrictEqual([...sampled].filter((h) => !announced.has(h)), [], "only announced infohashes")
        const coverage = yield* swarm.coverage()
        yield* Effect.log(
          `BEP 51 revealed ${sampled.size} of ${announced.size} infohashes (coverage ${coverage.fraction})`
        )
        assert.isAtLeast(sampled.size, Math.floor(0.8 * coverage.storedAtBitscrape))
        // bittorrent-dht ignores sample_infohashes: the query times out.
        const theirs = swarm.nodes.find((n) => n.kind === "bittorrent-dht")!
        const ignored = yield* Effect.flip(probe.node.sampleInfohashes(theirs, randomBytes(20)))
        assert.strictEqual(ignored._tag, "QueryTimeout")
      }).pipe(Effect.scoped))

    it.effect("background get_peers lookups keep reaching the nodes (what a passive crawler harvests)", () =>
      Effect.gen(function*() {
        const ours = (yield* TestSwarm).bitscrapeNodes!
        const before = yield* ours.stats()
        yield* Effect.sleep("1500 millis")
        const after = yield* ours.stats()
        assert.isTrue(after.activity.running)
        assert.isAbove(after.activity.lookups, before.activity.lookups)
        assert.strictEqual(after.activity.failed, 0)
        assert.isAbove(after.harvest.getPeersIn, before.harvest.getPeersIn)
      }))
  }
)
