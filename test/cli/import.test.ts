// `bitscrape import` through the real CLI: .torrent files and directories verified and stored byte-exact, infohash
// lists and magnet links queued for the next crawl, bad inputs named, --fetch from a loopback seeder.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { verifyTorrentFile } from "../../src/cli/importInputs.js"
import { type InfoHash, toHex } from "../../src/krpc/index.js"
import { RepositorySqlite } from "../../src/repository/layers.js"
import { Repository } from "../../src/repository/Repository.js"
import { encode } from "../../src/wire/bencode.js"
import { torrentFile } from "../../src/wire/torrentInfo.js"
import { runCli } from "../support/cli.js"
import { makeHostileSeeder } from "../support/seeders/hostileSeeder.js"
import { makeTorrent } from "../support/torrents.js"

const inDb = <A>(db: string, f: (repo: Repository["Type"]) => Effect.Effect<A, unknown>) =>
  Effect.promise(() => Effect.runPromise(Effect.provide(Effect.flatMap(Repository, f), RepositorySqlite(db))))

describe(".torrent verification", () => {
  it("computes the infohash from the info dictionary and refuses what is not a torrent", () => {
    const t = makeTorrent("Verified", [{ path: "a.bin", length: 100 }, { path: "b.bin", length: 5 }])
    // Other keys around info (announce, comment) are allowed; the infohash is of the info bytes only.
    const file = Buffer.concat([
      Buffer.from("d8:announce20:http://127.0.0.1/ann7:comment2:hi4:info"),
      Buffer.from(t.info),
      Buffer.from("e")
    ])
    const ok = verifyTorrentFile(file)
    assert.isTrue(ok._tag === "Right")
    if (ok._tag === "Right") assert.strictEqual(toHex(ok.right.infoHash), toHex(t.infoHash))
    const bad = (bytes: Uint8Array) => {
      const r = verifyTorrentFile(bytes)
      return r._tag === "Left" ? r.left : "accepted"
    }
    assert.match(bad(Buffer.from("not bencode")), /not a \.torrent file/)
    assert.match(bad(Buffer.from("d4:infoi1ee")), /invalid info dictionary/)
    assert.match(bad(Buffer.from("d3:foo3:bare")), /without an info dictionary/)
    assert.match(bad(Buffer.from("d4:infod4:name1:x")), /not a \.torrent file/)
    // Too few piece hashes for the content.
    const short = encode({ name: "short", "piece length": 16384, pieces: randomBytes(20), length: 100_000 })
    assert.match(bad(torrentFile(short)), /piece hashes do not fit/)
  })
})

describe("bitscrape import (real CLI)", () => {
  it.scopedLive(
    "stores .torrent files (directories too), queues infohashes, names every bad input",
    () =>
      Effect.gen(function*() {
        const dir = mkdtempSync(join(tmpdir(), "bitscrape-import-"))
        const db = join(dir, "import.db")
        const one = makeTorrent("Import one", [{ path: "one.iso", length: 1000 }])
        const two = makeTorrent("Import two", [{ path: "x/two.mkv", length: 2000 }, { path: "x/two.srt", length: 10 }])
        mkdirSync(join(dir, "torrents", "sub"), { recursive: true })
        writeFileSync(join(dir, "torrents", "one.torrent"), torrentFile(one.info))
        writeFileSync(join(dir, "torrents", "sub", "two.TORRENT"), torrentFile(two.info))
        writeFileSync(join(dir, "torrents", "sub", "broken.torrent"), "d4:infoi1ee")
        writeFileSync(join(dir, "torrents", "notes.txt"), "ignored in a directory")
        const [h1, h2, h3] = [randomBytes(20), randomBytes(20), randomBytes(20)].map((b) => b.toString("hex"))
        writeFileSync(
          join(dir, "list.txt"),
          `# infohashes from elsewhere\n${h1}\n\n${
            h2!.toUpperCase()
          }\nmagnet:?xt=urn:btih:${h3}&dn=three\nnot-a-hash\n${h1}\n`
        )
        // h4 is queued bare now; its .torrent arrives later.
        const found = makeTorrent("Found later", [{ path: "f.bin", length: 1 }])
        const h4 = toHex(found.infoHash)
        const r = yield* Effect.promise(() =>
          runCli([
            "import",
            join(dir, "torrents"),
            join(dir, "list.txt"),
            h4,
            join(dir, "missing.torrent"),
            "--db",
            db,
            "--json"
          ])
        )
        assert.strictEqual(r.status, 1, r.stderr) // some inputs were bad; the rest was imported
        const summary = JSON.parse(r.stdout)
        assert.strictEqual(summary.torrents_stored, 2)
        assert.strictEqual(summary.infohashes_queued, 4)
        assert.deepStrictEqual(summary.problems.map((p: { where: string }) => p.where.replace(dir, "DIR")), [
          "DIR/torrents/sub/broken.torrent",
          "DIR/list.txt:6",
          "DIR/missing.torrent"
        ])
        assert.match(r.stderr, /not imported as asked/)

        const stored = yield* inDb(db, (repo) =>
          Effect.all({
            one: repo.getTorrent(one.infoHash),
            two: repo.getTorrent(two.infoHash),
            queue: repo.importQueue(100)
          }))
        // Stored byte-exact: the info dictionary hashes to the infohash.
        assert.strictEqual(createHash("sha1").update(stored.one.info).digest("hex"), toHex(one.infoHash))
        assert.deepStrictEqual(stored.two.files.map((f) => f.path), ["x/two.mkv", "x/two.srt"])
        assert.sameMembers(stored.queue.map(toHex), [h1, h2, h3, h4])

        // Again: nothing new; queued infohashes whose torrent got stored leave the queue.
        writeFileSync(join(dir, "found.torrent"), torrentFile(found.info))
        const again = yield* Effect.promise(() =>
          runCli(["import", join(dir, "torrents", "one.torrent"), h1, join(dir, "found.torrent"), "--db", db, "--json"])
        )
        assert.strictEqual(again.status, 0, again.stderr)
        const s2 = JSON.parse(again.stdout)
        assert.strictEqual(s2.torrents_already_stored, 1)
        assert.strictEqual(s2.infohashes_queued, 0)
        assert.strictEqual(s2.infohashes_already_queued, 1)
        assert.strictEqual(s2.torrents_stored, 1)
        assert.sameMembers((yield* inDb(db, (repo) => repo.importQueue(100))).map(toHex), [h1, h2, h3])

        // From standard input, in a pipe: `-`.
        const viaStdin = yield* Effect.promise(() =>
          runCli(["import", "--db", db, "--json", "-"], {}, undefined, `${randomBytes(20).toString("hex")}\n`)
        )
        assert.strictEqual(viaStdin.status, 0, viaStdin.stderr)
        assert.strictEqual(JSON.parse(viaStdin.stdout).infohashes_queued, 1)
      }),
    120_000
  )

  it.scopedLive("--fetch fetches bare infohashes now; what cannot be fetched is queued", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "bitscrape-import-fetch-"))
      const db = join(dir, "import.db")
      const info = encode({ name: "Fetched on import", "piece length": 16384, pieces: randomBytes(20), length: 10 })
      const seeder = yield* makeHostileSeeder({ host: "127.36.0.1", infoDict: info, behaviour: "honest" })
      const unreachable = randomBytes(20).toString("hex")
      const r = yield* Effect.promise(() =>
        runCli([
          "import",
          `magnet:?xt=urn:btih:${toHex(seeder.infoHash)}&x.pe=${seeder.host}:${seeder.port}`,
          `magnet:?xt=urn:btih:${unreachable}&x.pe=127.36.0.2:9`,
          "--fetch",
          "--timeout",
          "5",
          "--db",
          db,
          "--json"
        ])
      )
      assert.strictEqual(r.status, 1, r.stderr)
      const summary = JSON.parse(r.stdout)
      assert.strictEqual(summary.infohashes_fetched, 1)
      assert.strictEqual(summary.infohashes_queued, 1)
      assert.deepStrictEqual(summary.fetch_failures.map((f: { infohash: string }) => f.infohash), [unreachable])
      const t = yield* inDb(db, (repo) => repo.getTorrent(seeder.infoHash as InfoHash))
      assert.strictEqual(t.name, "Fetched on import")
      assert.deepStrictEqual((yield* inDb(db, (repo) => repo.importQueue(10))).map(toHex), [unreachable])
    }), 120_000)
})
