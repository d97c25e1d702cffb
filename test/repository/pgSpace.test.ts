// The disk budget's measure on PostgreSQL (src/repository/pgSpace.ts, docs/scaling.md): `bytes` is BitScrape's
// tables as PostgreSQL reports their files; `used` follows the live rows (it drops when rows are deleted, though the
// files do not shrink); the space VACUUM frees is reused by new rows, so the files stop growing; and only one
// process at a time holds the housekeeping lock.
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { RepositoryPostgres } from "../../src/repository/layers.js"
import { splitTable } from "../../src/repository/pgSpace.js"
import { Repository } from "../../src/repository/Repository.js"
import { layerPostgresServer, PostgresServer } from "../support/postgres.js"
import { randomInfoHash } from "../support/torrents.js"

const T0 = 1_700_000_000_000

describe("splitTable", () => {
  it("splits a table's bytes in the shares of its heap; an empty heap is used", () => {
    assert.deepStrictEqual(splitTable({ total: 1000, heap: 0, live: 0, dead: 0 }), { used: 1000, dead: 0, free: 0 })
    assert.deepStrictEqual(splitTable({ total: 2000, heap: 1000, live: 500, dead: 250 }), {
      used: 1000,
      dead: 500,
      free: 500
    })
    // Estimates beyond the heap are cut to it.
    assert.deepStrictEqual(splitTable({ total: 2000, heap: 1000, live: 1200, dead: 300 }), {
      used: 2000,
      dead: 0,
      free: 0
    })
  })
})

let databases = 0
const twoRepositories = Effect.gen(function*() {
  const server = yield* PostgresServer
  const url = yield* server.createDatabase(`space_${process.pid}_${++databases}`)
  const open = (u: string) => Effect.map(Layer.build(Layer.fresh(RepositoryPostgres(u))), Context.get(Repository))
  return { a: yield* open(url), b: yield* open(url) }
})

/** `count` peer sightings of distinct infohashes, seen at T0 + i. */
const sightings = (count: number, from: number) =>
  Array.from({ length: count }, (_, i) => ({
    infoHash: randomInfoHash(),
    source: "announce" as const,
    at: T0 + from + i,
    peer: { host: "127.0.0.1", port: 1 + ((from + i) % 60000) }
  }))

describe("PostgreSQL disk measure (a real server on loopback)", () => {
  layer(layerPostgresServer(), { timeout: 60_000 })((it) => {
    it.scoped("used follows the live rows; VACUUM's free space is reused, so the files stop growing", () =>
      Effect.gen(function*() {
        const { a: repo } = yield* twoRepositories
        const empty = yield* repo.size
        assert.isAbove(empty.bytes, 0)
        for (let i = 0; i < 8; i++) yield* repo.recordDiscoveries(sightings(2000, i * 2000))
        const full = yield* repo.size
        assert.isAbove(full.bytes, empty.bytes + 1_000_000, JSON.stringify(full))
        // Freshly written tables have little free space (the rest of bytes - used is the dead row versions the
        // upserts left: reusable after a VACUUM).
        assert.isAbove(full.bytes - full.free!, 0.8 * full.bytes, JSON.stringify(full))
        assert.strictEqual((yield* repo.rowCounts).peers, 16_000)

        // Half the sightings and their infohashes go: used drops by about the half of what they took; the files
        // stay (PostgreSQL does not shrink them), and VACUUM marks the space free.
        assert.strictEqual(yield* repo.evict("peers", 8000), 8000)
        assert.strictEqual(yield* repo.evict("infohashes", 8000), 8000)
        yield* repo.reclaim(10_000_000)
        const half = yield* repo.size
        assert.isBelow(half.used, 0.65 * full.used, JSON.stringify({ full, half }))
        assert.isAbove(half.used, 0.35 * full.used, JSON.stringify({ full, half }))
        // (VACUUM adds the free space and visibility maps: a few pages.)
        assert.isAtMost(half.bytes, 1.05 * full.bytes)
        assert.isAbove(half.free!, 0.3 * full.bytes, JSON.stringify(half))

        // As many rows again fill that space: the files grow by little.
        for (let i = 8; i < 12; i++) yield* repo.recordDiscoveries(sightings(2000, i * 2000))
        const again = yield* repo.size
        assert.isAtMost(again.bytes, 1.1 * full.bytes, JSON.stringify({ full, again }))
        assert.isAbove(again.used, 0.8 * full.used, JSON.stringify({ full, again }))
        assert.deepStrictEqual(Object.keys(again.classes ?? {}).sort(), ["infohashes", "nodes", "peers", "torrents"])
      }))

    it.scoped("one process at a time holds the housekeeping lock; the other skips", () =>
      Effect.gen(function*() {
        const { a, b } = yield* twoRepositories
        const inner = yield* a.exclusively(b.exclusively(Effect.succeed("b ran")))
        assert.deepStrictEqual(inner, Option.some(Option.none()))
        // Released after: the other takes it.
        assert.deepStrictEqual(yield* b.exclusively(Effect.succeed("b ran")), Option.some("b ran"))
        // Released on failure too.
        yield* Effect.flip(a.exclusively(Effect.fail("boom")))
        assert.deepStrictEqual(yield* b.exclusively(Effect.succeed(1)), Option.some(1))
      }))
  })
})
