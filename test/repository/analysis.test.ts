// The Repository's analyses on generated data with known answers, on every backend (memory, SQLite, a real
// PostgreSQL on loopback): content categories and distributions, discovery sources and the funnel, nodes.
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as Migrator from "@effect/sql/Migrator"
import { assert, describe, it as vitestIt, layer } from "@effect/vitest"
import type { Vitest } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CATEGORIES, categoryOf, extensionOf, knownExtensions } from "../../src/domain/categories.js"
import type { NodeId } from "../../src/krpc/index.js"
import { RepositoryPostgres, RepositorySqlite } from "../../src/repository/layers.js"
import { RepositoryMemory } from "../../src/repository/memory.js"
import { sqliteMigrations } from "../../src/repository/migrations.js"
import type { Discovery, InfoHash } from "../../src/repository/Repository.js"
import { Repository } from "../../src/repository/Repository.js"
import { contentFixture } from "../support/analysisFixtures.js"
import { layerPostgresServer, PostgresServer } from "../support/postgres.js"
import { makeTorrent, randomInfoHash } from "../support/torrents.js"

const MiB = 2 ** 20
const GiB = 2 ** 30
const DAY = 86_400_000
const HOUR = 3_600_000
/** Midnight UTC. */
const D0 = 19_676 * DAY

const analysisContract = <R>(it: Vitest.MethodsNonLive<R>, repository: Layer.Layer<Repository, unknown, R>) => {
  const test = <A>(name: string, body: Effect.Effect<A, unknown, Repository>) =>
    it.effect(name, () => Effect.provide(Effect.asVoid(body), repository), 120_000)

  test(
    "content: categories, size and file-count histograms, top extensions, versions, private",
    Effect.gen(function*() {
      const repo = yield* Repository
      yield* repo.saveTorrents(contentFixture())
      const a = yield* repo.analyzeContent({ top: 5 })
      assert.strictEqual(a.torrents, 9)
      assert.strictEqual(a.files, 3 + 11 + 1 + 2 + 4 + 120 + 2 + 3 + 2)
      assert.deepStrictEqual(a.categories.map((c) => [c.category, c.torrents]), [
        ["video", 2],
        ["audio", 2],
        ["software", 1],
        ["archive", 1],
        ["document", 1],
        ["image", 1],
        ["other", 1]
      ])
      assert.strictEqual(a.categories[2]!.bytes, 4.5 * GiB)
      assert.strictEqual(a.categories[1]!.bytes, 301 * MiB)
      // <1 MiB: Misc, Empty, Tie; 1–10 MiB: Backup, Books; 10–100 MiB: Photos; 100 MiB–1 GiB: Movie, Album;
      // 4–16 GiB: ubuntu.iso.
      assert.deepStrictEqual(a.sizes.counts, [3, 2, 1, 2, 0, 1, 0, 0])
      // 1 file: ubuntu; 2–10: Movie, Backup, Books, Misc, Empty, Tie; 11–100: Album; 101–1,000: Photos.
      assert.deepStrictEqual(a.fileCounts.counts, [1, 6, 1, 1, 0])
      assert.deepStrictEqual(a.extensions.map((e) => [e.extension, e.files]), [
        ["jpg", 121],
        ["flac", 10],
        ["pdf", 4],
        ["mp3", 3],
        ["mkv", 2]
      ])
      assert.strictEqual(a.extensions[1]!.bytes, 300 * MiB)
      assert.deepStrictEqual(a.versions, { v1: 7, v2: 1, hybrid: 1 })
      assert.strictEqual(a.private, 1)
      // Ties of the same count are listed by extension ("" is no extension).
      const all = yield* repo.analyzeContent({ top: 8 })
      assert.deepStrictEqual(all.extensions.slice(5).map((e) => e.extension), ["", "7z", "dat"])
    })
  )

  test(
    "content: search and export filter by category; summaries carry it",
    Effect.gen(function*() {
      const repo = yield* Repository
      const fixture = contentFixture()
      yield* repo.saveTorrents(fixture)
      const audio = yield* repo.search({ category: "audio", sort: "name" })
      assert.deepStrictEqual(audio.items.map((t) => [t.name, t.category]), [["Album", "audio"], ["Empty", "audio"]])
      assert.strictEqual(audio.total, 2)
      const text = yield* repo.search({ text: "movie", category: "video" })
      assert.deepStrictEqual(text.items.map((t) => t.name), ["Movie"])
      assert.strictEqual((yield* repo.search({ text: "movie", category: "audio" })).total, 0)
      const detail = yield* repo.getTorrent(fixture[2]!.infoHash)
      assert.strictEqual(detail.category, "software")
    })
  )

  test(
    "sources: per-source counts, exclusive and overlapping infohashes, the funnel overall and by day",
    Effect.gen(function*() {
      const repo = yield* Repository
      const [h1, h2, h3, h5, h6] = Array.from({ length: 5 }, randomInfoHash)
      const fetched = makeTorrent("Fetched", [{ path: "Fetched/a.mkv", length: 1 }])
      const h4 = fetched.infoHash
      const d = (infoHash: InfoHash, source: Discovery["source"], at: number, peer?: string): Discovery => ({
        infoHash,
        source,
        at,
        peer: peer === undefined ? undefined : { host: peer, port: 6881 }
      })
      yield* repo.recordDiscoveries([
        d(h1!, "sample", D0 + HOUR),
        d(h1!, "sample", D0 + 2 * HOUR),
        d(h1!, "announce", D0 + 3 * HOUR, "127.0.0.1"),
        d(h2!, "sample", D0 + 5 * HOUR),
        d(h3!, "get_peers", D0 + DAY + HOUR),
        d(h4, "announce", D0 + DAY + 2 * HOUR, "127.0.0.2"),
        d(h5!, "lookup", D0 + 2 * DAY + HOUR, "127.0.0.3"),
        d(h6!, "sample", D0 + 2 * DAY + 3 * HOUR),
        d(h6!, "get_peers", D0 + 2 * DAY + 4 * HOUR),
        d(h6!, "lookup", D0 + 2 * DAY + 5 * HOUR)
      ])
      yield* repo.saveTorrents([{ ...fetched, fetchedAt: D0 + DAY + 3 * HOUR }])
      yield* repo.recordFailures([{ infoHash: h5!, at: D0 + 2 * DAY + 2 * HOUR, error: "no peer answered" }])
      const a = yield* repo.analyzeSources({ days: 30 })
      assert.strictEqual(a.infohashes, 6)
      assert.deepStrictEqual(
        a.sources.map((s) => [s.source, s.infohashes, s.only, s.sightings, s.withPeers, s.fetched]),
        [
          ["sample", 3, 1, 4, 1, 0],
          ["get_peers", 2, 1, 2, 0, 0],
          ["announce", 2, 1, 2, 2, 1],
          ["lookup", 2, 1, 2, 1, 0]
        ]
      )
      assert.deepStrictEqual(a.overlap.map((o) => [o.a, o.b, o.infohashes]), [
        ["sample", "get_peers", 1],
        ["sample", "announce", 1],
        ["sample", "lookup", 1],
        ["get_peers", "announce", 0],
        ["get_peers", "lookup", 1],
        ["announce", "lookup", 0]
      ])
      assert.deepStrictEqual(a.funnel, { seen: 6, withPeers: 3, fetched: 1, failed: 1 })
      assert.deepStrictEqual(a.byDay, [
        { day: D0, seen: 2, withPeers: 1, fetched: 0 },
        { day: D0 + DAY, seen: 2, withPeers: 1, fetched: 1 },
        { day: D0 + 2 * DAY, seen: 2, withPeers: 1, fetched: 0 }
      ])
      assert.deepStrictEqual((yield* repo.analyzeSources({ days: 2 })).byDay.map((x) => x.day), [
        D0 + DAY,
        D0 + 2 * DAY
      ])
    })
  )

  test(
    "nodes: client versions over node rows, BEP 42 / BEP 51 / read-only / IPv6 shares, torrents by source client",
    Effect.gen(function*() {
      const repo = yield* Repository
      const id1 = randomInfoHash() as Uint8Array as NodeId
      const id2 = randomInfoHash() as Uint8Array as NodeId
      const v = (s: string, a: number, b: number) => Uint8Array.of(s.charCodeAt(0), s.charCodeAt(1), a, b)
      yield* repo.upsertNodes([
        { id: id1, host: "127.0.0.1", port: 1, seenAt: D0, respondedAt: D0, version: v("LT", 1, 2), bep42: true },
        { id: id2, host: "127.0.0.2", port: 2, seenAt: D0, respondedAt: D0, version: v("LT", 1, 2), bep42: false },
        { id: id2, host: "::1", port: 3, seenAt: D0, respondedAt: D0, version: v("UT", 0, 5) },
        { id: id2, host: "127.0.0.4", port: 4, seenAt: D0, readOnly: true },
        { id: id1, host: "127.0.0.5", port: 5, seenAt: D0, respondedAt: D0, version: v("LT", 2, 0) }
      ])
      // BEP 51 learnt later: kept across sightings that do not say.
      yield* repo.upsertNodes([
        { id: id1, host: "127.0.0.1", port: 1, seenAt: D0 + 1, respondedAt: D0 + 1, bep51: true },
        { id: id2, host: "127.0.0.2", port: 2, seenAt: D0 + 1, respondedAt: D0 + 1, bep51: false }
      ])
      yield* repo.upsertNodes([{ id: id1, host: "127.0.0.1", port: 1, seenAt: D0 + 2, respondedAt: D0 + 2 }])
      const [movie, album] = contentFixture()
      yield* repo.saveTorrents([movie!, album!, {
        ...makeTorrent("x", [{ path: "x", length: 1 }]),
        sourceClient: undefined
      }])
      const a = yield* repo.analyzeNodes({ top: 10 })
      assert.strictEqual(a.nodes, 5)
      assert.strictEqual(a.responded, 4)
      assert.deepStrictEqual(
        a.versions.map((x) => [x.version === undefined ? null : Buffer.from(x.version).toString("hex"), x.nodes]),
        [["4c540102", 2], [null, 1], ["4c540200", 1], ["55540005", 1]]
      )
      assert.deepStrictEqual(a.bep42, { valid: 1, invalid: 1, unknown: 3 })
      assert.deepStrictEqual(a.bep51, { yes: 1, no: 1, unknown: 3 })
      assert.strictEqual(a.readOnly, 1)
      assert.deepStrictEqual([a.ipv4, a.ipv6], [4, 1])
      assert.deepStrictEqual(a.torrentClients, [{ client: "-LT2080-", torrents: 2 }, {
        client: undefined,
        torrents: 1
      }])
      assert.strictEqual((yield* repo.analyzeNodes({ top: 1 })).versions.length, 1)
    })
  )

  test(
    "churn: session lengths (first seen → last response) and, by first day, nodes that answered",
    Effect.gen(function*() {
      const repo = yield* Repository
      const node = (host: string, seenAt: number, respondedAt?: number) => ({
        id: new Uint8Array(20).fill(host.length) as NodeId,
        host,
        port: 1,
        seenAt,
        respondedAt
      })
      yield* repo.upsertNodes([
        node("127.0.0.1", D0, D0 + 30_000),
        node("127.0.0.2", D0),
        node("127.0.0.3", D0 + DAY + 1),
        node("127.0.0.40", D0 + DAY + 2),
        node("127.0.0.5", D0 + 2 * DAY)
      ])
      yield* repo.upsertNodes([
        node("127.0.0.2", D0 + 5 * 60_000, D0 + 5 * 60_000),
        node("127.0.0.3", D0 + DAY + 2 * HOUR, D0 + DAY + 2 * HOUR),
        node("127.0.0.5", D0 + 10 * DAY, D0 + 10 * DAY)
      ])
      const a = yield* repo.analyzeChurn({})
      assert.deepStrictEqual([a.nodes, a.responded], [5, 4])
      // <1 min, 1–10 min, 10 min–1 h, 1–6 h, 6–24 h, 1–7 d, ≥ 7 d
      assert.deepStrictEqual(a.sessions.counts, [1, 1, 0, 1, 0, 0, 1])
      assert.deepStrictEqual(a.byDay, [
        { day: D0, seen: 2, responded: 2 },
        { day: D0 + DAY, seen: 2, responded: 1 },
        { day: D0 + 2 * DAY, seen: 1, responded: 1 }
      ])
      assert.strictEqual((yield* repo.analyzeChurn({ days: 1 })).byDay.length, 1)
    })
  )

  test(
    "churn: our queries sent, answered and timed out per interval, interval by span, days, retention",
    Effect.gen(function*() {
      const repo = yield* Repository
      const M0 = D0 + 10 * HOUR
      const MIN = 60_000
      const rate = (at: number, queries: number, responses: number, timeouts: number) => ({
        at,
        queries,
        responses,
        timeouts
      })
      const points = (o: { days?: number } = {}) =>
        Effect.map(repo.analyzeChurn(o), (a) => ({
          interval: a.responseRates.interval,
          points: a.responseRates.points.map((p) => [p.at, p.queries, p.responses, p.timeouts])
        }))
      assert.deepStrictEqual(yield* points(), { interval: MIN, points: [] })
      // Two reports in one minute add up (two crawls, or one crawl's minute written in two parts).
      yield* repo.recordResponseRates([rate(M0, 100, 60, 30), rate(M0 + 30_000, 10, 10, 0)])
      yield* repo.recordResponseRates([rate(M0 + MIN, 50, 25, 20), rate(M0 + 3 * HOUR, 20, 20, 0)])
      assert.deepStrictEqual(yield* points(), {
        interval: MIN,
        points: [[M0, 110, 70, 30], [M0 + MIN, 50, 25, 20], [M0 + 3 * HOUR, 20, 20, 0]]
      })
      // Two days and more: 15-minute intervals (at most 240 points).
      yield* repo.recordResponseRates([rate(M0 + 2 * DAY, 5, 1, 4)])
      assert.deepStrictEqual(yield* points(), {
        interval: 15 * MIN,
        points: [[M0, 160, 95, 50], [M0 + 3 * HOUR, 20, 20, 0], [M0 + 2 * DAY, 5, 1, 4]]
      })
      // The last day only.
      assert.deepStrictEqual(yield* points({ days: 1 }), { interval: MIN, points: [[M0 + 2 * DAY, 5, 1, 4]] })
      // Minutes older than 30 days before the newest are dropped.
      yield* repo.recordResponseRates([rate(M0 + 31 * DAY, 1, 1, 0)])
      const kept = yield* points({ days: 3660 })
      assert.deepStrictEqual(
        kept.points.map((p) => p[0]),
        [M0 + 2 * DAY, M0 + 31 * DAY].map((t) => Math.floor(t / kept.interval) * kept.interval)
      )
    })
  )

  test(
    "popularity: top infohashes by distinct peers (all time or in a window) and by sightings, with names",
    Effect.gen(function*() {
      const repo = yield* Repository
      const torrent = makeTorrent("Popular", [{ path: "Popular", length: 5 }])
      const [hA, hB, hC] = Array.from({ length: 3 }, randomInfoHash)
      const hD = torrent.infoHash
      const d = (infoHash: InfoHash, source: Discovery["source"], at: number, peer?: string): Discovery => ({
        infoHash,
        source,
        at,
        peer: peer === undefined ? undefined : { host: peer, port: 6881 }
      })
      yield* repo.recordDiscoveries([
        ...["127.0.0.1", "127.0.0.2", "127.0.0.3"].map((p) => d(hA!, "announce", D0, p)),
        ...Array.from({ length: 5 }, (_, i) => d(hA!, "sample", D0 + HOUR - i)),
        d(hB!, "announce", D0, "127.0.0.1"),
        d(hB!, "announce", D0 + DAY, "127.0.0.4"),
        d(hB!, "lookup", D0 + DAY, "127.0.0.5"),
        ...Array.from({ length: 10 }, (_, i) => d(hC!, "get_peers", D0 + DAY - i)),
        d(hD, "announce", D0 + 2 * DAY, "127.0.0.9")
      ])
      yield* repo.saveTorrents([torrent])
      const hex = (h: Uint8Array) => Buffer.from(h).toString("hex")
      const rows = (list: ReadonlyArray<{ infoHash: Uint8Array; peers: number; sightings: number }>) =>
        list.map((x) => [hex(x.infoHash), x.peers, x.sightings])
      const tied = [hA!, hB!].sort((x, y) => hex(x) < hex(y) ? -1 : 1)
      const all = yield* repo.analyzePopularity({ top: 10 })
      assert.deepStrictEqual(
        rows(all.byPeers),
        [...tied.map((h) => [hex(h), 3, h === hA ? 8 : 3]), [hex(hD), 1, 1]]
      )
      assert.deepStrictEqual(rows(all.bySightings), [[hex(hC!), 0, 10], [hex(hA!), 3, 8], [hex(hB!), 3, 3], [
        hex(hD),
        1,
        1
      ]])
      assert.strictEqual(all.byPeers.find((x) => hex(x.infoHash) === hex(hD))!.name, "Popular")
      assert.isUndefined(all.byPeers[0]!.name)
      const recent = yield* repo.analyzePopularity({ top: 10, since: D0 + DAY })
      assert.deepStrictEqual(rows(recent.byPeers), [[hex(hB!), 2, 3], [hex(hD), 1, 1]])
      assert.deepStrictEqual(rows(recent.bySightings).map((r) => r[0]), [hex(hC!), hex(hB!), hex(hD)])
      assert.strictEqual((yield* repo.analyzePopularity({ top: 1 })).bySightings.length, 1)
    })
  )

  test(
    "popularity: sightings by source per hour over the last hour/day/week, retention, BEP 33 swarm estimates",
    Effect.gen(function*() {
      const repo = yield* Repository
      const NOW = D0 + 10 * DAY + 30 * 60_000
      const MIN = 60_000
      const [tA, tB] = ["Peered", "Swarmed"].map((n) => makeTorrent(n, [{ path: n, length: 1 }]))
      const [hA, hB, hC] = [tA!.infoHash, tB!.infoHash, randomInfoHash()]
      const d = (
        infoHash: InfoHash,
        source: Discovery["source"],
        at: number,
        extra: Partial<Discovery> = {}
      ): Discovery => ({ infoHash, source, at, ...extra })
      // hC nine days before: alone, it is the last hour's top; once a batch nine days newer came, it is gone.
      yield* repo.recordDiscoveries(Array.from({ length: 10 }, () => d(hC, "sample", NOW - 9 * DAY)))
      const before = yield* repo.analyzePopularity({ now: NOW - 9 * DAY })
      assert.deepStrictEqual(before.windows[0]!.top.map((x) => [x.infoHash, x.sightings]), [[hC, 10]])
      yield* repo.recordDiscoveries([
        ...Array.from({ length: 4 }, () => d(hA, "sample", NOW - 10 * MIN)),
        d(hA, "announce", NOW - 10 * MIN, { peer: { host: "127.0.0.1", port: 1 } }),
        d(hA, "announce", NOW - 10 * MIN, { peer: { host: "127.0.0.2", port: 1 } }),
        d(hA, "lookup", NOW - 5 * MIN, { swarm: { seeders: 12.4, leechers: 30.6 } }),
        // Older, and later in the batch: the latest estimate by time stays.
        d(hA, "lookup", NOW - 50 * MIN, { swarm: { seeders: 1, leechers: 1 } }),
        ...Array.from({ length: 3 }, () => d(hB, "get_peers", NOW - 2 * HOUR)),
        ...Array.from(
          { length: 6 },
          (_, i) => d(hB, "lookup", NOW - 2 * DAY, i === 0 ? { swarm: { seeders: 100, leechers: 0 } } : {})
        )
      ])
      yield* repo.saveTorrents([tA!, tB!])
      const a = yield* repo.analyzePopularity({ now: NOW, top: 10 })
      const hex = (h: Uint8Array) => Buffer.from(h).toString("hex")
      const rows = (i: number) => a.windows[i]!.top.map((x) => [hex(x.infoHash), x.sightings, x.peers])
      assert.deepStrictEqual(a.windows.map((w) => [w.hours, w.since]), [
        [1, D0 + 10 * DAY],
        [24, D0 + 9 * DAY + HOUR],
        [168, D0 + 3 * DAY + HOUR]
      ])
      assert.deepStrictEqual(rows(0), [[hex(hA), 7, 2]])
      assert.deepStrictEqual(a.windows[0]!.top[0]!.bySource, { sample: 4, get_peers: 0, announce: 2, lookup: 1 })
      assert.strictEqual(a.windows[0]!.top[0]!.name, "Peered")
      assert.deepStrictEqual(a.windows[0]!.top[0]!.swarm, { seeders: 12, leechers: 31, at: NOW - 5 * MIN })
      assert.deepStrictEqual(rows(1), [[hex(hA), 8, 2], [hex(hB), 3, 0]])
      assert.deepStrictEqual(rows(2), [[hex(hB), 9, 0], [hex(hA), 8, 2]])
      assert.deepStrictEqual(a.windows[2]!.top[0]!.bySource, { sample: 0, get_peers: 3, announce: 0, lookup: 6 })
      // hC's hours were older than the retention when the newer batch came: dropped.
      const after = yield* repo.analyzePopularity({ now: NOW - 9 * DAY })
      assert.deepStrictEqual(after.windows[0]!.top, [])
      // By swarm estimate: hB (100) before hA (43); since a day ago, only hA was scraped.
      assert.deepStrictEqual(a.bySwarm.map((x) => [hex(x.infoHash), x.seeders, x.leechers, x.name]), [
        [hex(hB), 100, 0, "Swarmed"],
        [hex(hA), 12, 31, "Peered"]
      ])
      const recent = yield* repo.analyzePopularity({ now: NOW, since: NOW - DAY })
      assert.deepStrictEqual(recent.bySwarm.map((x) => hex(x.infoHash)), [hex(hA)])
      // The estimate is kept with the infohash and shown with the torrent; "popular" sorts by it too.
      const ihA = yield* repo.getInfohash(hA)
      assert.deepStrictEqual(Option.getOrThrow(ihA).swarm, { seeders: 12, leechers: 31, at: NOW - 5 * MIN })
      assert.deepStrictEqual((yield* repo.getTorrent(hB)).swarm, { seeders: 100, leechers: 0, at: NOW - 2 * DAY })
      const page = yield* repo.search({ sort: "popular" })
      assert.deepStrictEqual(page.items.map((t) => t.name), ["Swarmed", "Peered"])
      // A blocked infohash takes its hourly sightings with it: it is in no window any more.
      yield* repo.block([{ kind: "infohash", value: hex(hB), reason: "test" }])
      const blocked = yield* repo.analyzePopularity({ now: NOW, top: 10 })
      assert.deepStrictEqual(blocked.windows[2]!.top.map((x) => hex(x.infoHash)), [hex(hA)])
    })
  )

  test(
    "search sorts by popularity: most distinct peers first",
    Effect.gen(function*() {
      const repo = yield* Repository
      const [quiet, busy, none] = ["Quiet", "Busy", "None"].map((n) => makeTorrent(n, [{ path: n, length: 1 }]))
      yield* repo.recordDiscoveries([
        { infoHash: quiet!.infoHash, source: "announce", at: D0, peer: { host: "127.0.0.1", port: 1 } },
        ...[1, 2, 3].map((i) => ({
          infoHash: busy!.infoHash,
          source: "announce" as const,
          at: D0,
          peer: { host: `127.0.0.${i}`, port: 1 }
        }))
      ])
      yield* repo.saveTorrents([quiet!, busy!, none!])
      const page = yield* repo.search({ sort: "popular" })
      assert.deepStrictEqual(page.items.map((t) => t.name), ["Busy", "Quiet", "None"])
    })
  )

  test(
    "empty database: zeros, no rows",
    Effect.gen(function*() {
      const repo = yield* Repository
      const c = yield* repo.analyzeContent({})
      assert.deepStrictEqual([c.torrents, c.bytes, c.files, c.extensions.length], [0, 0, 0, 0])
      assert.deepStrictEqual(c.sizes.counts, [0, 0, 0, 0, 0, 0, 0, 0])
      const s = yield* repo.analyzeSources({})
      assert.deepStrictEqual(s.funnel, { seen: 0, withPeers: 0, fetched: 0, failed: 0 })
      assert.deepStrictEqual(s.byDay, [])
      const n = yield* repo.analyzeNodes({})
      assert.deepStrictEqual([n.nodes, n.versions.length, n.torrentClients.length], [0, 0, 0])
    })
  )
}

describe("categories (pure)", () => {
  vitestIt("extensions: last component, after the last dot, 1–8 ASCII letters or digits, lowercased", () => {
    assert.deepStrictEqual(
      ["a/b.MKV", "a.b/c", ".bashrc", "x.", "x.tar.gz", "x.abcdefghi", "x.é", "dir.v2/file.r00", "README"].map(
        extensionOf
      ),
      ["mkv", "", "", "", "gz", "", "", "r00", ""]
    )
  })
  vitestIt("docs/analysis.md lists exactly the extensions of each category", () => {
    const doc = readFileSync(new URL("../../docs/analysis.md", import.meta.url), "utf8")
    for (const category of CATEGORIES.filter((c) => c !== "other")) {
      const row = new RegExp(`^\\| ${category} \\| (.*) \\|$`, "m").exec(doc)
      assert.isNotNull(row, category)
      const expected = [...knownExtensions].filter(([, c]) => c === category).map(([e]) => e)
      assert.deepStrictEqual(row![1]!.split(", "), expected, category)
    }
  })
  vitestIt("a torrent's category is the one with the most bytes; unknown extensions weigh for other", () => {
    assert.strictEqual(categoryOf([{ path: "a.mkv", length: 10 }, { path: "b.dat", length: 11 }]), "other")
    assert.strictEqual(categoryOf([{ path: "a.mkv", length: 10 }, { path: "b.flac", length: 9 }]), "video")
    assert.strictEqual(categoryOf([{ path: "a.flac", length: 10 }, { path: "b.mkv", length: 10 }]), "video")
    assert.strictEqual(
      categoryOf([{ path: "a.pdf", length: 0 }, { path: "b.jpg", length: 0 }, { path: "c.jpg", length: 0 }]),
      "image"
    )
    assert.strictEqual(categoryOf([]), "other")
  })
})

/** A fresh SQLite file per test, removed afterwards. */
const freshSqlite = Layer.unwrapScoped(Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "bitscrape-analysis-"))),
    (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
  )
  return RepositorySqlite(join(dir, "test.db"))
}))

let databases = 0
const freshPostgres = Layer.unwrapEffect(Effect.gen(function*() {
  const server = yield* PostgresServer
  const url = yield* server.createDatabase(`analysis_${process.pid}_${++databases}`)
  return RepositoryPostgres(url)
}))

describe("analyses: memory", () => {
  layer(Layer.empty)((it) => analysisContract(it, RepositoryMemory))
})

describe("analyses: SQLite", () => {
  layer(Layer.empty)((it) => analysisContract(it, freshSqlite))
})

describe("analyses: PostgreSQL (a real server on loopback)", () => {
  layer(layerPostgresServer(), { timeout: 60_000 })((it) => analysisContract(it, freshPostgres))
})

describe("migration 0005 on a database from before it", () => {
  vitestIt.effect(
    "backfills the category of every stored torrent; a read-only open of an old file refuses the filter",
    () =>
      Effect.gen(function*() {
        const dir = mkdtempSync(join(tmpdir(), "bitscrape-backfill-"))
        const file = join(dir, "old.db")
        const before = Object.fromEntries(Object.entries(sqliteMigrations).filter(([key]) => key < "0005"))
        const fixture = contentFixture()
        // The database as an older BitScrape left it: migrated up to 0003, torrents and files stored.
        yield* Effect.gen(function*() {
          yield* Migrator.make({})({ loader: Migrator.fromRecord(before as never), table: "bitscrape_migrations" })
          const sql = yield* SqlClient.SqlClient
          for (const [i, t] of fixture.entries()) {
            yield* sql.unsafe(
              `INSERT INTO torrents (id, hash, name, name_raw, total_length, private, version, file_count, info,
               discovered_at, fetched_at) VALUES (?, ?, ?, ?, ?, 0, 'v1', ?, ?, 0, 0)`,
              [
                i + 1,
                Buffer.from(t.infoHash),
                t.name,
                Buffer.from(t.name),
                t.totalLength,
                t.files.length,
                Buffer.from(t.info)
              ]
            )
            for (const [j, f] of t.files.entries()) {
              yield* sql.unsafe(`INSERT INTO files (torrent_id, idx, path, length) VALUES (?, ?, ?, ?)`, [
                i + 1,
                j,
                f.path,
                f.length
              ])
            }
          }
        }).pipe(Effect.provide(SqliteClient.layer({ filename: file })), Effect.scoped)
        // Read-only: not migrated, so no categories; filtering by one is refused with a message, not answered wrong.
        const old = yield* Effect.gen(function*() {
          const repo = yield* Repository
          const page = yield* repo.search({})
          const refused = yield* Effect.flip(repo.search({ category: "video" }))
          // No file_extensions table yet: the extensions are counted by scanning the files.
          const content = yield* repo.analyzeContent({ top: 5 })
          return { page, refused, content }
        }).pipe(Effect.provide(RepositorySqlite(file, { readOnly: true })))
        assert.strictEqual(old.page.total, 9)
        assert.isUndefined(old.page.items[0]!.category)
        assert.match(old.refused.message, /predates content categories/)
        const top5 = [["jpg", 121], ["flac", 10], ["pdf", 4], ["mp3", 3], ["mkv", 2]]
        assert.deepStrictEqual(old.content.extensions.map((e) => [e.extension, e.files]), top5)
        const migrated = yield* Effect.gen(function*() {
          const repo = yield* Repository
          return { content: yield* repo.analyzeContent({ top: 5 }), video: yield* repo.search({ category: "video" }) }
        }).pipe(Effect.provide(RepositorySqlite(file)))
        assert.deepStrictEqual(migrated.content.categories.map((c) => c.torrents), [2, 2, 1, 1, 1, 1, 1])
        assert.strictEqual(migrated.video.total, 2)
        // The migration counted the stored files into file_extensions.
        assert.deepStrictEqual(migrated.content.extensions.map((e) => [e.extension, e.files]), top5)
        assert.strictEqual(migrated.content.extensions[1]!.bytes, 300 * 2 ** 20)
        rmSync(dir, { recursive: true, force: true })
      }),
    60_000
  )
})
