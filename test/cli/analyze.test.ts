// `bitscrape analyze <content|sources|clients>` as a user runs it (the real CLI over an SQLite file), on
// generated data with known answers; and `search --category`.
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, beforeAll, describe, it } from "vitest"
import type { NodeId } from "../../src/krpc/index.js"
import { RepositorySqlite } from "../../src/repository/layers.js"
import { Repository } from "../../src/repository/Repository.js"
import { contentFixture } from "../support/analysisFixtures.js"
import { runCli } from "../support/cli.js"

const dir = mkdtempSync(join(tmpdir(), "bitscrape-analyze-"))
const db = join(dir, "data.db")
const torrents = contentFixture()
const D0 = Date.parse("2026-03-01")

beforeAll(async () => {
  await Effect.runPromise(Effect.provide(
    Effect.gen(function*() {
      const repo = yield* Repository
      yield* repo.recordDiscoveries(torrents.map((t, i) => ({
        infoHash: t.infoHash,
        source: i % 3 === 0 ? "sample" as const : "announce" as const,
        at: D0 + i * 86_400_000,
        peer: i % 3 === 0 ? undefined : { host: "127.0.0.7", port: 7000 + i }
      })))
      yield* repo.saveTorrents(torrents.slice(0, 6))
      const id = new Uint8Array(20).fill(7) as NodeId
      yield* repo.upsertNodes([
        {
          id,
          host: "127.0.0.1",
          port: 1,
          seenAt: D0,
          respondedAt: D0,
          version: Uint8Array.of(76, 84, 2, 0),
          bep51: true
        },
        { id, host: "127.0.0.2", port: 2, seenAt: D0, respondedAt: D0, version: Uint8Array.of(76, 84, 1, 2) },
        { id, host: "::1", port: 3, seenAt: D0, respondedAt: D0, version: Uint8Array.of(85, 84, 0, 5), bep51: false }
      ])
    }),
    RepositorySqlite(db)
  ))
}, 30_000)

describe("bitscrape analyze (real CLI, SQLite)", () => {
  it("content: text, --json and --csv agree with the data", async () => {
    const json = await runCli(["analyze", "content", "--db", db, "--json", "--top", "3"])
    assert.strictEqual(json.status, 0, json.stderr)
    const r = JSON.parse(json.stdout)
    assert.strictEqual(r.torrents, 6)
    assert.deepStrictEqual(
      r.categories.map((c: { category: string; torrents: number }) => [c.category, c.torrents]),
      [["video", 1], ["audio", 1], ["software", 1], ["archive", 1], ["document", 1], ["image", 1], ["other", 0]]
    )
    assert.deepStrictEqual(r.extensions.map((e: { extension: string }) => e.extension), ["jpg", "flac", "pdf"])
    assert.deepStrictEqual(r.versions, { v1: 4, v2: 1, hybrid: 1 })
    const csv = await runCli(["analyze", "content", "--db", db, "--csv"])
    assert.strictEqual(csv.status, 0, csv.stderr)
    const lines = csv.stdout.trim().split("\n")
    assert.strictEqual(lines[0], "section,key,metric,value")
    assert.include(lines, "categories,software,torrents,1")
    assert.include(lines, "extensions,jpg,files,121")
    assert.include(lines, "versions,,hybrid,1")
    const text = await runCli(["analyze", "content", "--db", db])
    assert.strictEqual(text.status, 0, text.stderr)
    assert.match(text.stdout, /torrents\s+6 /)
    assert.match(text.stdout, /image\s+1\s+16\.7 %/)
  }, 120_000)

  it("sources: per source, overlap and the funnel by day", async () => {
    const r = JSON.parse((await runCli(["analyze", "sources", "--db", db, "--json", "--days", "2"])).stdout)
    assert.strictEqual(r.infohashes, 9)
    assert.deepStrictEqual(r.sources.map((s: { source: string; infohashes: number }) => [s.source, s.infohashes]), [
      ["sample", 3],
      ["get_peers", 0],
      ["announce", 6],
      ["lookup", 0]
    ])
    assert.deepStrictEqual(r.funnel, { seen: 9, with_peers: 6, fetched: 6, failed: 0 })
    assert.deepStrictEqual(r.by_day, [
      { day: "2026-03-08", seen: 1, with_peers: 1, fetched: 0 },
      { day: "2026-03-09", seen: 1, with_peers: 1, fetched: 0 }
    ])
  }, 120_000)

  it("clients: KRPC v decoded into client and version, protocol support", async () => {
    const r = JSON.parse((await runCli(["analyze", "clients", "--db", db, "--json"])).stdout)
    assert.deepStrictEqual(r.clients, [
      { code: "LT", client: "libtorrent (Rasterbar)", nodes: 2 },
      { code: "UT", client: "µTorrent", nodes: 1 }
    ])
    assert.deepStrictEqual(r.versions.map((v: { version: string }) => v.version), ["1.2", "2.0", "0.5"])
    assert.deepStrictEqual(r.bep51, { yes: 1, no: 1, unknown: 1 })
    assert.deepStrictEqual([r.ipv4, r.ipv6], [2, 1])
    const text = await runCli(["analyze", "clients", "--db", db])
    assert.include(text.stdout, "50.0 % of those asked")
  }, 120_000)

  it("churn and popularity: JSON with the survival curve; --since narrows popularity", async () => {
    const churn = JSON.parse((await runCli(["analyze", "churn", "--db", db, "--json"])).stdout)
    assert.deepStrictEqual([churn.nodes, churn.responded], [3, 3])
    assert.deepStrictEqual(churn.sessions.map((b: { surviving: number }) => b.surviving)[0], 1)
    const pop = JSON.parse((await runCli(["analyze", "popularity", "--db", db, "--json", "--top", "2"])).stdout)
    assert.strictEqual(pop.since, null)
    assert.strictEqual(pop.by_peers.length, 2)
    assert.deepStrictEqual(pop.by_peers.map((x: { peers: number }) => x.peers), [1, 1])
    const recent = JSON.parse(
      (await runCli(["analyze", "popularity", "--db", db, "--json", "--since", "2026-03-09"])).stdout
    )
    assert.strictEqual(recent.since, "2026-03-09T00:00:00.000Z")
    assert.deepStrictEqual(recent.by_peers.map((x: { name: string | null }) => x.name), [null])
    const bad = await runCli(["analyze", "popularity", "--db", db, "--since", "yesterday"])
    assert.strictEqual(bad.status, 2)
    assert.include(bad.stderr, "--since")
  }, 120_000)

  it("search --category filters; bad input is a usage error naming the flag", async () => {
    const r = JSON.parse((await runCli(["search", "--db", db, "--json", "--category", "audio"])).stdout)
    assert.deepStrictEqual(r.items.map((t: { name: string; category: string }) => [t.name, t.category]), [[
      "Album",
      "audio"
    ]])
    const bad = await runCli(["search", "--db", db, "--category", "movies"])
    assert.strictEqual(bad.status, 2)
    assert.include(bad.stderr, "--category")
    const both = await runCli(["analyze", "content", "--db", db, "--json", "--csv"])
    assert.strictEqual(both.status, 1)
    assert.include(both.stderr, "--json or --csv")
    const top = await runCli(["analyze", "content", "--db", db, "--top", "0"])
    assert.strictEqual(top.status, 2)
    assert.include(top.stderr, "--top")
  }, 120_000)
})
