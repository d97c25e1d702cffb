import bencode from "bencode"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, beforeAll, describe, it } from "vitest"
import { toHex } from "../../src/krpc/index.js"
import { RepositorySqlite } from "../../src/repository/layers.js"
import { Repository } from "../../src/repository/Repository.js"
import { runCli } from "../support/cli.js"
import { makeTorrent, randomInfoHash } from "../support/torrents.js"

const dir = mkdtempSync(join(tmpdir(), "bitscrape-cli-"))
const db = join(dir, "data.db")
const sintel = makeTorrent("Sintel 4K", [{ path: "sintel/sintel-4k.mkv", length: 4_000_000_000 }, {
  path: "sintel/subs/en.srt",
  length: 40_000
}])
const bunny = makeTorrent("Big Buck Bunny", [{ path: "Big Buck Bunny.mp4", length: 276_000_000 }])
const evil = makeTorrent("=cmd|'/C calc'!A0 <script>alert(1)</script>", [{ path: "a,\"b\".txt", length: 5 }])
const bare = randomInfoHash()

beforeAll(async () => {
  await Effect.runPromise(Effect.provide(
    Effect.gen(function*() {
      const repo = yield* Repository
      yield* repo.recordDiscoveries([
        {
          infoHash: sintel.infoHash,
          source: "announce",
          at: Date.parse("2026-01-10"),
          peer: { host: "127.0.0.7", port: 7 }
        },
        { infoHash: bunny.infoHash, source: "sample", at: Date.parse("2026-03-01") },
        { infoHash: evil.infoHash, source: "sample", at: Date.parse("2026-05-01") },
        { infoHash: bare, source: "get_peers", at: Date.parse("2026-06-01") }
      ])
      yield* repo.saveTorrents([sintel, bunny, evil])
    }),
    RepositorySqlite(db)
  ))
}, 60_000)

describe("bitscrape search / show / stats / export (real CLI, SQLite)", () => {
  it("search prints matches and --json is machine-readable", async () => {
    const text = await runCli(["search", "sintel", "--db", db])
    assert.strictEqual(text.status, 0, text.stderr)
    assert.include(text.stdout, "1 torrent found")
    assert.include(text.stdout, toHex(sintel.infoHash))
    const json = JSON.parse(
      (await runCli(["search", "--db", db, "--json", "--min-size", "200MB", "--sort", "largest"])).stdout
    )
    assert.strictEqual(json.total, 2)
    assert.deepStrictEqual(json.items.map((i: { name: string }) => i.name), ["Sintel 4K", "Big Buck Bunny"])
    const env = await runCli(["search", "--json", "--since", "2026-02-01"], { BITSCRAPE_DB: db })
    assert.strictEqual(JSON.parse(env.stdout).total, 2, "BITSCRAPE_DB is read when --db is absent")
  })

  it("show prints files and a magnet link; --json too; accepts a magnet", async () => {
    const text = await runCli(["show", toHex(sintel.infoHash), "--db", db])
    assert.strictEqual(text.status, 0, text.stderr)
    assert.include(text.stdout, "sintel/subs/en.srt")
    assert.include(text.stdout, `magnet:?xt=urn:btih:${toHex(sintel.infoHash)}&dn=Sintel%204K`)
    const json = JSON.parse(
      (await runCli(["show", `magnet:?xt=urn:btih:${toHex(sintel.infoHash)}`, "--db", db, "--json"])).stdout
    )
    assert.strictEqual(json.length, 4_000_040_000)
    assert.strictEqual(json.seen.announce, 1)
  })

  it("stats --json", async () => {
    const s = JSON.parse((await runCli(["stats", "--db", db, "--json"])).stdout)
    assert.strictEqual(s.infohashes, 4)
    assert.strictEqual(s.torrents, 3)
  })

  it("export jsonl carries the documented fields; metadata fields only when known", async () => {
    const r = await runCli(["export", "--db", db])
    assert.strictEqual(r.status, 0, r.stderr)
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l))
    assert.strictEqual(lines.length, 4)
    const s = lines.find((l) => l.infohash === toHex(sintel.infoHash))
    assert.deepStrictEqual(Object.keys(s).sort(), [
      "discovered_at",
      "fetched_at",
      "files",
      "infohash",
      "length",
      "magnet",
      "name",
      "source"
    ])
    assert.match(s.source, /^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:.]+\]):\d+$/, "host:port, IPv6 in brackets")
    assert.deepStrictEqual(s.files, [{ path: "sintel/sintel-4k.mkv", length: 4_000_000_000 }, {
      path: "sintel/subs/en.srt",
      length: 40_000
    }])
    const b = lines.find((l) => l.infohash === toHex(bare))
    assert.deepStrictEqual(Object.keys(b).sort(), ["discovered_at", "infohash", "magnet"])
    const without = (await runCli(["export", "--db", db, "--has-metadata", "no"])).stdout.trim().split("\n")
    assert.strictEqual(without.length, 1)
  })

  it("export csv quotes fields and defuses formulas", async () => {
    const out = join(dir, "out.csv")
    const r = await runCli(["export", "--db", db, "--format", "csv", "--out", out, "--has-metadata", "yes"])
    assert.strictEqual(r.status, 0, r.stderr)
    const csv = readFileSync(out, "utf8").trim().split("\n")
    assert.strictEqual(csv[0], "infohash,infohash_v2,name,length,files,discovered_at,fetched_at,magnet,source")
    assert.strictEqual(csv.length, 4)
    const evilLine = csv.find((l) => l.startsWith(toHex(evil.infoHash)))!
    assert.include(evilLine, ",'=cmd|'/C calc'!A0 <script>alert(1)</script>,")
  })

  it("export torrent writes byte-exact .torrent files whose info hash is the infohash", async () => {
    const out = join(dir, "torrents")
    const r = await runCli(["export", "--db", db, "--format", "torrent", "--out", out])
    assert.strictEqual(r.status, 0, r.stderr)
    const files = readdirSync(out).sort()
    assert.strictEqual(files.length, 3)
    for (const t of [sintel, bunny, evil]) {
      const bytes = readFileSync(join(out, `${toHex(t.infoHash)}.torrent`))
      const decoded = bencode.decode(bytes) as { info: unknown }
      assert.isDefined(decoded.info)
      const info = bytes.subarray(7, bytes.length - 1)
      assert.strictEqual(createHash("sha1").update(info).digest("hex"), toHex(t.infoHash))
      assert.strictEqual(Buffer.compare(info, Buffer.from(t.info)), 0)
    }
  })

  it("exit codes: 2 for usage errors, 1 for runtime failures", async () => {
    const [badSize, badHash, badFormat, noOut, missing, notFound, version] = await Promise.all([
      runCli(["search", "--db", db, "--min-size", "lots"]),
      runCli(["show", "not-a-hash", "--db", db]),
      runCli(["export", "--db", db, "--format", "xml"]),
      runCli(["export", "--db", db, "--format", "torrent"]),
      runCli(["stats", "--db", join(dir, "nope.db")]),
      runCli(["show", "00".repeat(20), "--db", db]),
      runCli(["--version"])
    ])
    assert.deepStrictEqual([badSize, badHash, badFormat, noOut].map((r) => r.status), [2, 2, 2, 2])
    assert.strictEqual(missing.status, 1)
    assert.include(missing.stderr, "no database at")
    assert.strictEqual(notFound.status, 1)
    assert.strictEqual(version.status, 0)
  })
})
