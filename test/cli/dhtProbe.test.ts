// `bitscrape analyze size` and `bitscrape scrape` as a user runs them, against a loopback DHT of 40 BitScrape
// nodes on real UDP (127.8.0.x): the size estimate lands near the truth, and the scrape counts the announcers.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { type InfoHash, toHex } from "../../src/krpc/index.js"
import { runCli } from "../support/cli.js"
import { liveNode, type TestNode } from "../support/dhtNodes.js"

const SIZE = 40

describe("bitscrape analyze size / scrape (real CLI, loopback DHT)", () => {
  it.scopedLive(
    "estimate the swarm's size and an infohash's peers; bad input is a usage error",
    () =>
      Effect.gen(function*() {
        const nodes: Array<TestNode> = []
        for (let i = 0; i < SIZE; i++) nodes.push(yield* liveNode({ host: `127.8.0.${i + 1}` }))
        for (let i = 1; i < SIZE; i++) yield* nodes[i]!.dht.bootstrap([nodes[Math.floor(Math.random() * i)]!.address])
        const ih = randomBytes(20) as Uint8Array as InfoHash
        // 12 nodes announce themselves as peers of the infohash (to the 8 nodes closest to it).
        for (const n of nodes.slice(0, 12)) yield* n.dht.announce(ih, 6881)
        const entry = `${nodes[0]!.address.host}:${nodes[0]!.address.port}`
        const common = ["--bootstrap", entry, "--bind", "127.0.0.1"]

        const size = yield* Effect.promise(() => runCli(["analyze", "size", ...common, "--lookups", "60", "--json"]))
        assert.strictEqual(size.status, 0, size.stderr)
        const s = JSON.parse(size.stdout)
        // 60 lookups × 8 = 480 points: ±9 % at 2σ; the margin also covers a lookup that misses a close node.
        assert.isAtLeast(s.nodes, SIZE * 0.75, size.stdout)
        assert.isAtMost(s.nodes, SIZE * 1.25, size.stdout)
        assert.isAtMost(s.low, s.nodes)
        assert.isAtLeast(s.high, s.nodes)
        assert.strictEqual(s.lookups, 60)

        const scraped = yield* Effect.promise(() => runCli(["scrape", toHex(ih), ...common, "--json"]))
        assert.strictEqual(scraped.status, 0, scraped.stderr)
        const r = JSON.parse(scraped.stdout)
        assert.strictEqual(r.infohash, toHex(ih))
        assert.isAtLeast(r.answered, 8)
        assert.strictEqual(r.seeds, 0)
        assert.closeTo(r.peers, 12, 2)
        const text = yield* Effect.promise(() => runCli(["scrape", `magnet:?xt=urn:btih:${toHex(ih)}`, ...common]))
        assert.match(text.stdout, /about 0 seeds and 1[0-4] other peers/)

        const bad = yield* Effect.promise(() => runCli(["scrape", "not-a-hash"]))
        assert.strictEqual(bad.status, 2)
        assert.include(bad.stderr, "neither a magnet link nor an infohash")
        const badLookups = yield* Effect.promise(() => runCli(["analyze", "size", "--lookups", "0"]))
        assert.strictEqual(badLookups.status, 2)
        assert.include(badLookups.stderr, "--lookups")
      }),
    240_000
  )
})
