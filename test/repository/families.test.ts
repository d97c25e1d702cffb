import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { jsonRecord } from "../../src/cli/export.js"
import { type InfoHash, type NodeId, toHex } from "../../src/krpc/index.js"
import { RepositorySqlite } from "../../src/repository/layers.js"
import { RepositoryMemory } from "../../src/repository/memory.js"
import { Repository } from "../../src/repository/Repository.js"
import { makeTorrent } from "../support/torrents.js"
import { webFixture } from "../support/web.js"

// Issue 18, item 3: counts by address family in the repository's stats, the API and /metrics; IPv6 addresses
// exported as [addr]:port. The family is read from the stored address (no column: an IPv6 literal has a colon).

const nodeId = () => randomBytes(20) as Uint8Array as NodeId

/** Stores 3 IPv4 and 2 IPv6 nodes, and peer sightings: 2 IPv4 and 3 IPv6 (one infohash seen from both). */
const seed = Effect.gen(function*() {
  const repo = yield* Repository
  const at = Date.parse("2026-12-01")
  yield* repo.upsertNodes([
    ...["192.0.2.1", "192.0.2.2", "198.51.100.3"].map((host) => ({ id: nodeId(), host, port: 6881, seenAt: at })),
    ...["2001:db8::1", "2001:db8:1::2"].map((host) => ({ id: nodeId(), host, port: 6881, seenAt: at }))
  ])
  const a = randomBytes(20) as Uint8Array as InfoHash
  const b = randomBytes(20) as Uint8Array as InfoHash
  yield* repo.recordDiscoveries([
    { infoHash: a, source: "announce", at, peer: { host: "192.0.2.1", port: 7000 } },
    { infoHash: a, source: "lookup", at, peer: { host: "2001:db8::1", port: 7000 } },
    { infoHash: b, source: "lookup", at, peer: { host: "192.0.2.9", port: 7001 } },
    { infoHash: b, source: "lookup", at, peer: { host: "2001:db8::9", port: 7001 } },
    { infoHash: b, source: "lookup", at, peer: { host: "2001:db8::10", port: 7002 } }
  ])
  return repo
})

const expected = { nodes: { ipv4: 3, ipv6: 2 }, peers: { ipv4: 2, ipv6: 3 } }

describe("counts by address family", () => {
  it.effect("memory repository", () =>
    Effect.gen(function*() {
      const repo = yield* seed
      assert.deepStrictEqual((yield* repo.stats).byFamily, expected)
    }).pipe(Effect.provide(RepositoryMemory)))

  it.scoped("SQLite repository", () =>
    Effect.gen(function*() {
      const repo = yield* seed
      assert.deepStrictEqual((yield* repo.stats).byFamily, expected)
    }).pipe(Effect.provide(Layer.fresh(RepositorySqlite(join(mkdtempSync(join(tmpdir(), "bs-fam-")), "f.db"))))))

  it.scopedLive("GET /api/stats and /metrics split nodes and peers by family", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      yield* seed.pipe(Effect.provideService(Repository, web.repo))
      const stats = yield* Effect.promise(() =>
        fetch(`${web.url}api/stats`).then((r) => r.json() as Promise<{ database: { by_family: unknown } }>)
      )
      // The fixture adds peer sightings of its own, all on 127.0.0.9 (IPv4).
      const seeded = (yield* web.repo.stats).byFamily
      assert.deepStrictEqual(stats.database.by_family, seeded)
      assert.strictEqual(seeded.peers.ipv6, 3)
      const metrics = yield* Effect.promise(() => fetch(`${web.url}metrics`).then((r) => r.text()))
      assert.match(metrics, /^bitscrape_db_nodes_by_family\{family="ipv6"\} 2$/m)
      assert.match(metrics, /^bitscrape_db_nodes_by_family\{family="ipv4"\} 3$/m)
      assert.match(metrics, /^bitscrape_db_peers_by_family\{family="ipv6"\} 3$/m)
    }))

  it("export writes the source peer as host:port, an IPv6 one as [addr]:port", () => {
    const torrent = makeTorrent("over v6", [{ path: "over v6", length: 10 }])
    const item = (host: string) => ({
      infoHash: torrent.infoHash,
      discoveredAt: 0,
      torrent: { ...torrent, discoveredAt: 0, sourcePeer: { host, port: 51413 } }
    })
    assert.strictEqual(jsonRecord(item("2001:db8::7")).source, "[2001:db8::7]:51413")
    assert.strictEqual(jsonRecord(item("192.0.2.7")).source, "192.0.2.7:51413")
    assert.strictEqual(toHex(torrent.infoHash).length, 40)
  })
})
