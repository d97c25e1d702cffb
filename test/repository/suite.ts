// The behavioural contract of the Repository, run against every backend (memory, SQLite, PostgreSQL).
import { assert, type Vitest } from "@effect/vitest"
import type { Layer } from "effect"
import { Chunk, Effect, Either, Option, Stream } from "effect"
import { type NodeId, toHex } from "../../src/krpc/index.js"
import type { Discovery } from "../../src/repository/Repository.js"
import { RANK_WINDOW, Repository, SEARCH_CAP } from "../../src/repository/Repository.js"
import { housekeep, makeDatabaseState } from "../../src/session/housekeeping.js"
import { makeTorrent, randomInfoHash } from "../support/torrents.js"

const T0 = 1_700_000_000_000

/** Registers the contract with `it` (from `layer(...)`); every test runs on a fresh `repository`. */
export const repositoryContract = <R>(
  it: Vitest.MethodsNonLive<R>,
  repository: Layer.Layer<Repository, unknown, R>
) => {
  const test = <A>(name: string, body: Effect.Effect<A, unknown, Repository>) =>
    it.effect(name, () => Effect.provide(Effect.asVoid(body), repository), 60_000)

  test(
    "accumulates discoveries per source, keeps first/last seen, counts distinct peers",
    Effect.gen(function*() {
      const repo = yield* Repository
      const ih = randomInfoHash()
      const d = (source: Discovery["source"], at: number, peer?: { host: string; port: number }): Discovery => ({
        infoHash: ih,
        source,
        at,
        peer
      })
      yield* repo.recordDiscoveries([d("sample", T0 + 5), d("announce", T0 + 9, { host: "127.0.0.1", port: 1 })])
      yield* repo.recordDiscoveries([
        d("announce", T0 + 1, { host: "127.0.0.1", port: 1 }),
        d("get_peers", T0 + 20),
        d("announce", T0 + 3, { host: "127.0.0.2", port: 2 }),
        d("lookup", T0 + 4, { host: "127.0.0.3", port: 3 })
      ])
      const record = Option.getOrThrow(yield* repo.getInfohash(ih))
      assert.deepStrictEqual(record.seen, { sample: 1, get_peers: 1, announce: 3, lookup: 1 })
      assert.strictEqual(record.firstSeen, T0 + 1)
      assert.strictEqual(record.lastSeen, T0 + 20)
      assert.strictEqual(record.peersSeen, 3)
      assert.strictEqual(record.status, "pending")
      const stats = yield* repo.stats
      assert.strictEqual(stats.infohashes, 1)
      assert.deepStrictEqual(stats.bySource, { sample: 1, get_peers: 1, announce: 1, lookup: 1 })
    })
  )

  test(
    "deduplicates within and across batches",
    Effect.gen(function*() {
      const repo = yield* Repository
      const hashes = Array.from({ length: 50 }, randomInfoHash)
      const batch = hashes.flatMap((h) => [h, h]).map((infoHash, i) => ({
        infoHash,
        source: "sample" as const,
        at: T0 + i
      }))
      yield* repo.recordDiscoveries(batch)
      yield* repo.recordDiscoveries(batch)
      assert.strictEqual((yield* repo.stats).infohashes, 50)
      assert.strictEqual(Option.getOrThrow(yield* repo.getInfohash(hashes[7]!)).seen.sample, 4)
    })
  )

  test(
    "upserts nodes and returns the most recently responsive for bootstrap",
    Effect.gen(function*() {
      const repo = yield* Repository
      const id = randomInfoHash() as Uint8Array as NodeId
      yield* repo.upsertNodes([
        { id, host: "127.0.0.1", port: 1, seenAt: T0 },
        { id, host: "127.0.0.1", port: 1, seenAt: T0 + 5, respondedAt: T0 + 5, version: Buffer.from("LT01") },
        { id, host: "127.0.0.2", port: 2, seenAt: T0, respondedAt: T0 + 1, bep42: true },
        { id, host: "127.0.0.3", port: 3, seenAt: T0 }
      ])
      yield* repo.upsertNodes([{ id, host: "127.0.0.1", port: 1, seenAt: T0 + 9 }])
      assert.strictEqual((yield* repo.stats).nodes, 3)
      assert.deepStrictEqual(yield* repo.recentNodes(10), [{ host: "127.0.0.1", port: 1 }, {
        host: "127.0.0.2",
        port: 2
      }])
      const listed = yield* repo.nodes(2)
      assert.strictEqual(listed.length, 2)
      assert.strictEqual(listed[0]!.host, "127.0.0.1", "most recently seen first")
      assert.strictEqual(listed[0]!.lastSeen, T0 + 9)
      const first = listed[0]!
      assert.deepStrictEqual(Buffer.from(first.id), Buffer.from(id))
      assert.strictEqual(first.firstSeen, T0)
      assert.strictEqual(first.lastResponse, T0 + 5)
      assert.strictEqual(first.timesSeen, 3)
      assert.strictEqual(Buffer.from(first.version!).toString(), "LT01")
      const other = (yield* repo.nodes(10)).find((n) => n.host === "127.0.0.2")!
      assert.strictEqual(other.bep42, true)
      assert.strictEqual(other.lastResponse, T0 + 1)
    })
  )

  test(
    "stores a torrent once, with its files, raw bytes and sources",
    Effect.gen(function*() {
      const repo = yield* Repository
      const t = makeTorrent("Ubuntu 24.04 desktop", [
        { path: "ubuntu-24.04-desktop-amd64.iso", length: 5_000_000_000 },
        { path: "docs/README.txt", length: 1200 }
      ])
      yield* repo.recordDiscoveries([{
        infoHash: t.infoHash,
        source: "announce",
        at: T0 - 50,
        peer: { host: "127.0.0.9", port: 9 }
      }])
      yield* repo.saveTorrents([t, t])
      yield* repo.saveTorrents([{ ...t, name: "changed" }])
      const detail = yield* repo.getTorrent(t.infoHash)
      assert.strictEqual(detail.name, "Ubuntu 24.04 desktop")
      assert.strictEqual(detail.totalLength, 5_000_001_200)
      assert.deepStrictEqual(detail.files.map((f) => [f.path, f.length]), [
        ["ubuntu-24.04-desktop-amd64.iso", 5_000_000_000],
        ["docs/README.txt", 1200]
      ])
      assert.strictEqual(Buffer.from(detail.info).toString("hex"), Buffer.from(t.info).toString("hex"))
      assert.strictEqual(Buffer.from(detail.nameRaw).toString(), t.name)
      assert.strictEqual(detail.discoveredAt, T0 - 50)
      assert.strictEqual(detail.seen.announce, 1)
      assert.deepStrictEqual(detail.peers.map((p) => [p.host, p.port]), [["127.0.0.9", 9]])
      assert.deepStrictEqual(detail.sourcePeer, { host: "127.0.0.1", port: 6881 })
      assert.strictEqual(detail.sourceClient, "-LT2080-")
      assert.strictEqual(Option.getOrThrow(yield* repo.getInfohash(t.infoHash)).status, "fetched")
      const stats = yield* repo.stats
      assert.strictEqual(stats.torrents, 1)
      assert.strictEqual(stats.files, 2)
      const missing = yield* Effect.flip(repo.getTorrent(randomInfoHash()))
      assert.strictEqual(missing._tag, "TorrentNotFound")
    })
  )

  test(
    "records failures; fetched stays fetched; pending ordered by promise",
    Effect.gen(function*() {
      const repo = yield* Repository
      const [a, b, c] = [randomInfoHash(), randomInfoHash(), randomInfoHash()]
      yield* repo.recordDiscoveries([
        { infoHash: a, source: "sample", at: T0 },
        { infoHash: b, source: "announce", at: T0, peer: { host: "127.0.0.1", port: 1 } },
        { infoHash: b, source: "announce", at: T0, peer: { host: "127.0.0.2", port: 1 } },
        { infoHash: c, source: "announce", at: T0, peer: { host: "127.0.0.1", port: 1 } }
      ])
      yield* repo.recordFailures([{ infoHash: c, at: T0 + 1, error: "timeout" }, {
        infoHash: c,
        at: T0 + 2,
        error: "no peers"
      }])
      const rc = Option.getOrThrow(yield* repo.getInfohash(c))
      assert.strictEqual(rc.attempts, 2)
      assert.strictEqual(rc.status, "failed")
      assert.strictEqual(rc.lastError, "no peers")
      const pending = yield* repo.pendingMetadata(10)
      assert.deepStrictEqual(pending.map((p) => toHex(p.infoHash)), [b, c, a].map(toHex))
      const t = makeTorrent("x", [{ path: "x", length: 1 }])
      yield* repo.saveTorrents([t])
      yield* repo.recordFailures([{ infoHash: t.infoHash, at: T0, error: "late failure" }])
      assert.strictEqual(Option.getOrThrow(yield* repo.getInfohash(t.infoHash)).status, "fetched")
    })
  )

  const corpus = [
    makeTorrent("Debian 12 netinst", [{ path: "debian-12-netinst.iso", length: 600_000_000 }], { fetchedAt: T0 + 1 }),
    makeTorrent("Big Buck Bunny", [{ path: "bbb/Big Buck Bunny.mp4", length: 276_000_000 }, {
      path: "bbb/poster.jpg",
      length: 100_000
    }], { fetchedAt: T0 + 2 }),
    makeTorrent("Sintel 4K", [{ path: "sintel/sintel-4k.mkv", length: 4_000_000_000 }, {
      path: "sintel/subs/en.srt",
      length: 40_000
    }, {
      path: "sintel/subs/de.srt",
      length: 41_000
    }], { fetchedAt: T0 + 3 }),
    makeTorrent("debian-live-12 gnome", [{ path: "debian-live-12-gnome.iso", length: 3_000_000_000 }], {
      fetchedAt: T0 + 4
    }),
    makeTorrent("<script>alert(1)</script>", [{ path: "\"quoted\" NEAR(x y) OR AND*.txt", length: 10 }], {
      fetchedAt: T0 + 5
    })
  ]
  const seed = Effect.gen(function*() {
    const repo = yield* Repository
    yield* repo.recordDiscoveries(
      corpus.map((t, i) => ({ infoHash: t.infoHash, source: "sample" as const, at: T0 + i * 1000 }))
    )
    yield* repo.saveTorrents(corpus)
    return repo
  })
  const names = (items: ReadonlyArray<{ name: string }>) => items.map((i) => i.name)

  test(
    "searches names and file paths: every word required, the last as a prefix",
    Effect.gen(function*() {
      const repo = yield* seed
      assert.sameMembers(names((yield* repo.search({ text: "debian" })).items), [
        "Debian 12 netinst",
        "debian-live-12 gnome"
      ])
      assert.deepStrictEqual(names((yield* repo.search({ text: "debian gno" })).items), ["debian-live-12 gnome"])
      assert.deepStrictEqual(names((yield* repo.search({ text: "srt" })).items), ["Sintel 4K"])
      assert.deepStrictEqual(names((yield* repo.search({ text: "poster" })).items), ["Big Buck Bunny"])
      assert.strictEqual((yield* repo.search({ text: "nothing-like-this" })).total, 0)
    })
  )

  test(
    "never lets search text reach SQL or FTS syntax",
    Effect.gen(function*() {
      const repo = yield* seed
      for (
        const text of [
          "\"",
          "'",
          "*",
          "NEAR(",
          "a OR b",
          "'; DROP TABLE torrents; --",
          "\"quoted\"",
          "AND*",
          "^x",
          "name:debian",
          "-debian",
          "(((",
          "\u0000"
        ]
      ) {
        const result = yield* Effect.either(repo.search({ text }))
        assert.isTrue(Either.isRight(result), `search for ${JSON.stringify(text)} must not fail`)
      }
      assert.deepStrictEqual(names((yield* repo.search({ text: "\"quoted\" NEAR" })).items), [
        "<script>alert(1)</script>"
      ])
      assert.strictEqual((yield* repo.stats).torrents, corpus.length, "nothing was dropped")
    })
  )

  test(
    "filters by size, file count and date; sorts; paginates with a total",
    Effect.gen(function*() {
      const repo = yield* seed
      assert.deepStrictEqual(names((yield* repo.search({ minSize: 1_000_000_000, sort: "largest" })).items), [
        "Sintel 4K",
        "debian-live-12 gnome"
      ])
      assert.deepStrictEqual(names((yield* repo.search({ maxSize: 100, sort: "smallest" })).items), [
        "<script>alert(1)</script>"
      ])
      assert.deepStrictEqual(names((yield* repo.search({ minFiles: 2, sort: "oldest" })).items), [
        "Big Buck Bunny",
        "Sintel 4K"
      ])
      assert.deepStrictEqual(names((yield* repo.search({ since: T0 + 3000, sort: "oldest" })).items), [
        "debian-live-12 gnome",
        "<script>alert(1)</script>"
      ])
      assert.deepStrictEqual(names((yield* repo.search({ until: T0 + 1000 })).items), ["Debian 12 netinst"])
      const page1 = yield* repo.search({ sort: "newest", limit: 2 })
      const page2 = yield* repo.search({ sort: "newest", limit: 2, offset: 2 })
      assert.strictEqual(page1.total, 5)
      assert.deepStrictEqual([...names(page1.items), ...names(page2.items)], [
        "<script>alert(1)</script>",
        "debian-live-12 gnome",
        "Sintel 4K",
        "Big Buck Bunny"
      ])
      assert.deepStrictEqual(names((yield* repo.search({ sort: "name", limit: 1 })).items), [
        "<script>alert(1)</script>"
      ])
    })
  )

  test(
    "exports everything, torrents only, or infohashes without metadata",
    Effect.gen(function*() {
      const repo = yield* seed
      const bare = randomInfoHash()
      yield* repo.recordDiscoveries([{ infoHash: bare, source: "get_peers", at: T0 }])
      const all = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.export({})))
      assert.strictEqual(all.length, corpus.length + 1)
      const withMeta = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.export({ hasMetadata: true })))
      assert.strictEqual(withMeta.length, corpus.length)
      assert.isTrue(withMeta.every((i) => i.torrent !== undefined && i.torrent.files.length > 0))
      const without = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.export({ hasMetadata: false })))
      assert.deepStrictEqual(without.map((i) => toHex(i.infoHash)), [toHex(bare)])
      const big = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.export({ minSize: 1_000_000_000 })))
      assert.sameMembers(big.map((i) => i.torrent!.name), ["Sintel 4K", "debian-live-12 gnome"])
      const text = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.export({ text: "bunny" })))
      assert.deepStrictEqual(text.map((i) => i.torrent!.name), ["Big Buck Bunny"])
    })
  )

  test(
    "records crawl sessions",
    Effect.gen(function*() {
      const repo = yield* Repository
      const id = yield* repo.startSession({ bootstrap: ["127.0.0.1:6881"] })
      yield* repo.endSession(id, { infohashes: 3 })
      const [s] = yield* repo.sessions(5)
      assert.strictEqual(s!.id, id)
      assert.deepStrictEqual(s!.settings, { bootstrap: ["127.0.0.1:6881"] })
      assert.deepStrictEqual(s!.totals, { infohashes: 3 })
      assert.isDefined(s!.endedAt)
      assert.strictEqual(s!.state, "ended")
    })
  )

  test(
    "leaves the open session of a crawl still running alone when marking interrupted ones",
    Effect.gen(function*() {
      const repo = yield* Repository
      const id = yield* repo.startSession({})
      yield* repo.heartbeat(id)
      assert.deepStrictEqual(yield* repo.closeInterruptedSessions, [])
      const [s] = yield* repo.sessions(1)
      assert.strictEqual(s!.state, "running")
      assert.isUndefined(s!.endedAt)
    })
  )

  test(
    "blocklist: blocked infohashes and names are purged, not stored again, not fetched, not shown",
    Effect.gen(function*() {
      const repo = yield* Repository
      const keep = makeTorrent("Debian 12 netinst", [{ path: "debian.iso", length: 10 }], { fetchedAt: T0 })
      const byHash = makeTorrent("Blocked by hash", [{ path: "a.bin", length: 10 }], { fetchedAt: T0 })
      const byName = makeTorrent("Spam CAM release 2024", [{ path: "spam/b.mkv", length: 10 }], { fetchedAt: T0 })
      const later = makeTorrent("another cam rip", [{ path: "c.mkv", length: 10 }], { fetchedAt: T0 + 5 })
      const seen = (t: { infoHash: Uint8Array }, at: number): Discovery => ({
        infoHash: t.infoHash as Discovery["infoHash"],
        source: "announce",
        at,
        peer: { host: "127.0.0.1", port: 7 }
      })
      yield* repo.recordDiscoveries([keep, byHash, byName].map((t) => seen(t, T0)))
      yield* repo.saveTorrents([keep, byHash, byName])

      // Adding entries removes what they block; the name pattern blocks the matching torrent's infohash too.
      const { added, purged } = yield* repo.block([
        { kind: "infohash", value: toHex(byHash.infoHash), reason: "asked to" },
        { kind: "name", value: "*cam*", reason: "no cam rips" }
      ])
      assert.deepStrictEqual(added.map((a) => [a.kind, a.value, a.reason]), [
        ["infohash", toHex(byHash.infoHash), "asked to"],
        ["name", "*cam*", "no cam rips"]
      ])
      assert.deepStrictEqual(purged, { torrents: 2, infohashes: 2 })
      const again = yield* repo.block([{ kind: "name", value: "*cam*", reason: "other" }])
      assert.deepStrictEqual(again.added, [], "an entry already there keeps its date and reason")
      const list = yield* repo.blocklist
      assert.deepStrictEqual(
        list.map((b) => [b.kind, b.value, b.via ?? null]),
        [
          ["infohash", toHex(byHash.infoHash), null],
          ["name", "*cam*", null],
          ["infohash", toHex(byName.infoHash), "*cam*"]
        ]
      )
      assert.isTrue(list.every((b) => Number.isFinite(b.addedAt)), "when each was added")

      // Re-discovery: neither stored again nor fetched; a new torrent whose name matches is not stored either.
      yield* repo.recordDiscoveries([seen(byHash, T0 + 9), seen(byName, T0 + 9), seen(later, T0 + 9)])
      yield* repo.saveTorrents([byHash, later])
      yield* repo.recordFailures([{ infoHash: byHash.infoHash as Discovery["infoHash"], at: T0 + 9, error: "x" }])
      assert.isTrue(Option.isNone(yield* repo.getInfohash(byHash.infoHash as Discovery["infoHash"])))
      assert.isTrue(Option.isNone(yield* repo.getInfohash(byName.infoHash as Discovery["infoHash"])))
      assert.isTrue(Option.isNone(yield* repo.getInfohash(later.infoHash as Discovery["infoHash"])))
      const settled = yield* repo.settledInfohashes(
        [byHash, byName, later, keep].map((t) => t.infoHash as Discovery["infoHash"]),
        { minAttempts: 99, since: 0 }
      )
      assert.sameMembers([...settled], [byHash, byName, later, keep].map((t) => toHex(t.infoHash)))

      // Query time: only the unblocked torrent is found, listed or exported.
      const all = yield* repo.search({})
      assert.deepStrictEqual(all.items.map((i) => i.name), ["Debian 12 netinst"])
      assert.strictEqual((yield* repo.search({ text: "cam" })).total, 0)
      const exported = Chunk.toReadonlyArray(yield* Stream.runCollect(repo.export({})))
      assert.deepStrictEqual(exported.map((i) => toHex(i.infoHash)), [toHex(keep.infoHash)])
      assert.isTrue(Either.isLeft(yield* Effect.either(repo.getTorrent(byName.infoHash as Discovery["infoHash"]))))

      // Removing the name pattern frees the infohashes it blocked; removing by id works too.
      assert.strictEqual(yield* repo.unblock("name:*cam*"), 3, "the pattern and the two infohashes it blocked")
      assert.strictEqual(yield* repo.unblock(String(list[0]!.id)), 1)
      assert.deepStrictEqual(yield* repo.blocklist, [])
      yield* repo.saveTorrents([later])
      assert.strictEqual((yield* repo.search({ text: "cam" })).total, 1)
      assert.strictEqual(yield* repo.unblock("name:nothing-like-this"), 0)
    })
  )

  test(
    "retention and eviction delete the oldest rows of each class; fetched torrents only when asked",
    Effect.gen(function*() {
      const repo = yield* Repository
      const old = randomInfoHash()
      const fresh = randomInfoHash()
      const t = makeTorrent("kept torrent", [{ path: "k.bin", length: 1 }], { fetchedAt: T0 })
      yield* repo.recordDiscoveries([
        { infoHash: old, source: "announce", at: T0, peer: { host: "127.0.0.1", port: 1 } },
        { infoHash: fresh, source: "announce", at: T0 + 100, peer: { host: "127.0.0.2", port: 2 } },
        { infoHash: fresh, source: "announce", at: T0 + 10, peer: { host: "127.0.0.3", port: 3 } }
      ])
      yield* repo.saveTorrents([t])
      yield* repo.upsertNodes([
        { id: old as Uint8Array as NodeId, host: "127.0.0.1", port: 1, seenAt: T0 },
        { id: fresh as Uint8Array as NodeId, host: "127.0.0.2", port: 2, seenAt: T0 + 100 }
      ])
      assert.deepStrictEqual(yield* repo.rowCounts, { peers: 3, infohashes: 2, nodes: 2, torrents: 1 })
      // Peers last seen before T0 + 50: two of the three.
      assert.strictEqual(yield* repo.expire("peers", T0 + 50), 2)
      // Unfetched infohashes last seen before T0 + 50: `old` (the fetched torrent's infohash is never one of them).
      assert.strictEqual(yield* repo.expire("infohashes", T0 + 50), 1)
      assert.isTrue(Option.isNone(yield* repo.getInfohash(old)))
      assert.isTrue(Option.isSome(yield* repo.getInfohash(fresh)))
      // The oldest node goes first.
      assert.strictEqual(yield* repo.evict("nodes", 1), 1)
      assert.deepStrictEqual((yield* repo.nodes(10)).map((n) => n.host), ["127.0.0.2"])
      assert.strictEqual((yield* repo.search({})).total, 1, "torrents stay unless torrents are evicted")
      assert.strictEqual(yield* repo.evict("torrents", 5), 1)
      assert.strictEqual((yield* repo.search({})).total, 0)
      assert.deepStrictEqual(yield* repo.rowCounts, { peers: 1, infohashes: 1, nodes: 1, torrents: 0 })
      const size = yield* repo.size
      assert.isAtLeast(size.bytes, size.used >= 0 ? 0 : 1)
      yield* repo.reclaim(1_000_000)
    })
  )

  // Issue 16 item 2: each `--keep-…` setting, alone, through the crawl's housekeeping pass: the old rows of its
  // table go, the recent ones and every other table stay.
  for (
    const [setting, what] of [
      ["keepPeers", "peers"],
      ["keepInfohashes", "infohashes"],
      ["keepNodes", "nodes"],
      ["keepTorrents", "torrents"]
    ] as const
  ) {
    test(
      `retention: ${setting} deletes old ${what} and keeps recent ones (and nothing else)`,
      Effect.gen(function*() {
        const repo = yield* Repository
        const DAY = 86_400_000
        const now = T0 + 100 * DAY
        const ago = (days: number) => now - days * DAY
        const [peerOld, peerNew, unfetchedOld, unfetchedNew] = Array.from({ length: 4 }, randomInfoHash)
        yield* repo.recordDiscoveries([
          // Peer sightings 8 days and 1 hour old (the infohashes themselves are recent: seen by sample today).
          { infoHash: peerOld!, source: "announce", at: ago(8), peer: { host: "127.0.0.1", port: 1 } },
          { infoHash: peerOld!, source: "sample", at: ago(0.01) },
          { infoHash: peerNew!, source: "announce", at: ago(0.04), peer: { host: "127.0.0.2", port: 2 } },
          // Never-fetched infohashes without peers, last seen 40 days and 1 day ago.
          { infoHash: unfetchedOld!, source: "sample", at: ago(40) },
          { infoHash: unfetchedNew!, source: "get_peers", at: ago(1) }
        ])
        const oldTorrent = makeTorrent("old torrent", [{ path: "o.bin", length: 1 }], { fetchedAt: ago(60) })
        const newTorrent = makeTorrent("new torrent", [{ path: "n.bin", length: 1 }], { fetchedAt: ago(1) })
        yield* repo.saveTorrents([oldTorrent, newTorrent])
        yield* repo.upsertNodes([
          { id: peerOld as Uint8Array as NodeId, host: "127.0.0.3", port: 3, seenAt: ago(20) },
          { id: peerNew as Uint8Array as NodeId, host: "127.0.0.4", port: 4, seenAt: ago(0.04) }
        ])
        const before = yield* repo.rowCounts
        assert.deepStrictEqual(before, { peers: 2, infohashes: 4, nodes: 2, torrents: 2 })
        const settings = {
          maxDbSize: undefined,
          keepPeers: undefined,
          keepInfohashes: undefined,
          keepNodes: undefined,
          keepTorrents: undefined,
          housekeepingMillis: 60_000,
          // The defaults: 7 days, 30 days, 14 days; torrents have none (30 days here).
          [setting]: { keepPeers: 7, keepInfohashes: 30, keepNodes: 14, keepTorrents: 30 }[setting] * DAY
        }
        const state = makeDatabaseState(undefined)
        yield* housekeep(repo, settings, state, now)
        const after = yield* repo.rowCounts
        assert.deepStrictEqual(after, { ...before, [what]: before[what] - 1 })
        assert.strictEqual(state.expired[what], 1)
        switch (what) {
          case "infohashes":
            assert.isTrue(Option.isNone(yield* repo.getInfohash(unfetchedOld!)))
            assert.isTrue(Option.isSome(yield* repo.getInfohash(unfetchedNew!)))
            break
          case "nodes":
            assert.deepStrictEqual((yield* repo.nodes(10)).map((n) => n.host), ["127.0.0.4"])
            break
          case "torrents":
            assert.deepStrictEqual((yield* repo.search({})).items.map((t) => t.name), ["new torrent"])
            break
          case "peers":
            // The old sighting went; its infohash (seen recently) stays.
            assert.isTrue(Option.isSome(yield* repo.getInfohash(peerOld!)))
            break
        }
        // A second pass finds nothing more to delete.
        yield* housekeep(repo, settings, state, now)
        assert.deepStrictEqual(yield* repo.rowCounts, after)
      })
    )
  }

  test(
    "saved searches: unique names, new matches after a cursor in (fetched time, infohash) order, deliveries recorded",
    Effect.gen(function*() {
      const repo = yield* Repository
      const saved = yield* repo.addSavedSearch({
        name: "iso",
        query: "q=iso",
        webhook: "http://127.0.0.1:9/h",
        createdAt: T0
      })
      assert.deepStrictEqual(saved.cursor, { fetchedAt: T0, infoHash: undefined })
      const dup = yield* Effect.either(
        repo.addSavedSearch({ name: "iso", query: "", webhook: "http://x/", createdAt: T0 })
      )
      assert.isTrue(Either.isLeft(dup) && dup.left._tag === "SavedSearchExists")
      const t = (name: string, fetchedAt: number) =>
        makeTorrent(name, [{ path: `${name}.iso`, length: 10 }], { fetchedAt })
      const torrents = [
        t("old iso", T0 - 1),
        t("a iso", T0 + 1),
        t("b iso", T0 + 2),
        t("c iso", T0 + 2),
        t("d iso", T0 + 9)
      ]
      yield* repo.saveTorrents([
        ...torrents,
        makeTorrent("other", [{ path: "x.txt", length: 1 }], { fetchedAt: T0 + 3 })
      ])
      const names = (list: ReadonlyArray<{ readonly name: string }>) => list.map((x) => x.name)
      const q = { text: "iso" }
      const all = yield* repo.newMatches(q, saved.cursor, T0 + 100, 10)
      const tied = [torrents[2]!, torrents[3]!].sort((x, y) => toHex(x.infoHash) < toHex(y.infoHash) ? -1 : 1)
      assert.deepStrictEqual(names(all), ["a iso", tied[0]!.name, tied[1]!.name, "d iso"])
      // `until` holds back what was fetched later; a cursor inside a tie continues after it.
      assert.deepStrictEqual(names(yield* repo.newMatches(q, saved.cursor, T0 + 5, 10)), names(all).slice(0, 3))
      const inTie = { fetchedAt: T0 + 2, infoHash: tied[0]!.infoHash }
      assert.deepStrictEqual(names(yield* repo.newMatches(q, inTie, T0 + 100, 10)), [tied[1]!.name, "d iso"])
      assert.deepStrictEqual(names(yield* repo.newMatches(q, saved.cursor, T0 + 100, 2)), names(all).slice(0, 2))
      // Filters apply; sort and paging of the query do not.
      assert.deepStrictEqual(
        names(yield* repo.newMatches({ text: "d", sort: "name", offset: 5, limit: 1 }, saved.cursor, T0 + 100, 10)),
        ["d iso"]
      )

      yield* repo.recordDelivery(saved.id, { at: T0 + 50, error: "down" })
      let [state] = yield* repo.savedSearches
      assert.strictEqual(state!.lastError, "down")
      assert.strictEqual(state!.lastAttemptAt, T0 + 50)
      yield* repo.recordDelivery(saved.id, { at: T0 + 60, cursor: inTie, delivered: 2 })
      ;[state] = yield* repo.savedSearches
      assert.isUndefined(state!.lastError)
      assert.strictEqual(state!.delivered, 2)
      assert.strictEqual(state!.cursor.fetchedAt, T0 + 2)
      assert.strictEqual(toHex(state!.cursor.infoHash!), toHex(tied[0]!.infoHash))
      assert.isTrue(yield* repo.removeSavedSearch("iso"))
      assert.isFalse(yield* repo.removeSavedSearch("iso"))
      assert.strictEqual((yield* repo.savedSearches).length, 0)
    })
  )

  test(
    "import queue: new infohashes counted once, oldest first, leaving once their torrent is stored",
    Effect.gen(function*() {
      const repo = yield* Repository
      const [a, b, c] = [randomInfoHash(), randomInfoHash(), randomInfoHash()]
      assert.strictEqual(yield* repo.queueImports([a, b, a], T0 + 2), 2)
      assert.strictEqual(yield* repo.queueImports([b, c], T0 + 1), 1)
      assert.deepStrictEqual((yield* repo.importQueue(10)).map(toHex), [toHex(c), ...[a, b].map(toHex).sort()])
      assert.strictEqual((yield* repo.importQueue(1)).length, 1)
      const t = makeTorrent("queued then stored", [{ path: "q.bin", length: 1 }])
      yield* repo.queueImports([t.infoHash], T0)
      assert.include((yield* repo.importQueue(10)).map(toHex), toHex(t.infoHash))
      yield* repo.saveTorrents([t])
      assert.notInclude((yield* repo.importQueue(10)).map(toHex), toHex(t.infoHash))
    })
  )

  // Stores SEARCH_CAP + 50 torrents: slow on a busy machine (PostgreSQL especially), hence its own time-out.
  it.effect(
    "search counts at most SEARCH_CAP matches, and pages a common word from its most recent matches",
    () =>
      Effect.provide(
        Effect.asVoid(Effect.gen(function*() {
          const repo = yield* Repository
          const n = SEARCH_CAP + 50
          // Tiny torrents, stored oldest first: "common" in every name, "rare" in 3, sizes growing.
          const all = Array.from(
            { length: n },
            (_, i) =>
              makeTorrent(
                `common item ${i}${i % 4000 === 7 ? " rare" : ""}`,
                [{ path: `f${i}.bin`, length: 1000 + i }],
                {
                  fetchedAt: T0 + i,
                  pieceLength: 1 << 20
                }
              )
          )
          // The 50 oldest in a batch of their own (within a batch, rows are stored in infohash order).
          yield* repo.saveTorrents(all.slice(0, n - SEARCH_CAP))
          for (let i = n - SEARCH_CAP; i < n; i += 1000) yield* repo.saveTorrents(all.slice(i, i + 1000))
          const recent = new Set(all.slice(n - SEARCH_CAP).map((t) => t.name))
          // The newest: a longer word that "common" is a prefix of.
          yield* repo.saveTorrents([
            makeTorrent("item commonality zzz", [{ path: "z.bin", length: 5000 }], {
              fetchedAt: T0 + n,
              pieceLength: 1 << 20
            })
          ])

          const common = yield* repo.search({ text: "common", limit: 50 })
          assert.strictEqual(common.total, SEARCH_CAP)
          assert.isTrue(common.capped)
          assert.strictEqual(common.items.length, 50)
          // Ranked among the RANK_WINDOW most recent only (text alone, capped).
          const ranked = new Set(all.slice(n - RANK_WINDOW).map((t) => t.name))
          for (const t of common.items) assert.isTrue(recent.has(t.name) && ranked.has(t.name), t.name)
          const largest = yield* repo.search({ text: "item", sort: "largest", limit: 3 })
          assert.isTrue(largest.capped)
          assert.deepStrictEqual(largest.items.map((t) => t.name), [n - 1, n - 2, n - 3].map((i) => `common item ${i}`))
          // A capped word with a filter: the filter applies within the most recent matches.
          const filtered = yield* repo.search({ text: "common", minSize: 1000 + 40, sort: "smallest" })
          assert.isTrue(filtered.capped)
          const first = n - SEARCH_CAP
          assert.deepStrictEqual(filtered.items.map((t) => t.name).slice(0, 2), [
            `common item ${first}`,
            `common item ${first + 1}`
          ])
          // Not capped with the filter: exact, over every match.
          const narrow = yield* repo.search({ text: "common", maxSize: 1000 + 59, sort: "smallest", limit: 1 })
          assert.deepStrictEqual({ total: narrow.total, capped: narrow.capped }, { total: 60, capped: false })
          assert.deepStrictEqual(narrow.items.map((t) => t.name), ["common item 0"])

          // "common" matches more than SEARCH_CAP as a whole word: searched whole, so not "commonality", alone or
          // as the last of two words; "commo" matches no whole word: a prefix, which finds it.
          for (const text of ["common", "item common"]) {
            const whole = yield* repo.search({ text, sort: "newest", limit: 1 })
            assert.deepStrictEqual(whole.items.map((t) => t.name), [`common item ${n - 1}`], text)
          }
          for (const text of ["commo", "item commo"]) {
            const prefix = yield* repo.search({ text, sort: "newest", limit: 1 })
            assert.isTrue(prefix.capped)
            assert.deepStrictEqual(prefix.items.map((t) => t.name), ["item commonality zzz"], text)
          }
          const rare = yield* repo.search({ text: "rare" })
          assert.deepStrictEqual({ total: rare.total, capped: rare.capped }, { total: 3, capped: false })
          const everything = yield* repo.search({ limit: 1 })
          assert.deepStrictEqual({ total: everything.total, capped: everything.capped }, {
            total: SEARCH_CAP,
            capped: true
          })
          const few = yield* repo.search({ minSize: 1000 + n - 5 })
          assert.deepStrictEqual({ total: few.total, capped: few.capped }, { total: 5, capped: false })
        })),
        repository
      ),
    300_000
  )
}
