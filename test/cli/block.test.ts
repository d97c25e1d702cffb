// Issue 16 item 8, through the real CLI: `bitscrape block add|list|remove`, and `crawl --blocklist FILE` against
// a loopback swarm: blocked infohashes and names are neither stored nor fetched nor shown, on re-discovery too.
import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { demoCatalog } from "../../src/demo/catalog.js"
import { makeDemoSwarm } from "../../src/demo/swarm.js"
import { runCli } from "../support/cli.js"

const HEX = "0123456789abcdef0123456789abcdef01234567"
const cli = (args: ReadonlyArray<string>) => Effect.promise(() => runCli(args, {}, 120_000))

describe("bitscrape block", () => {
  it.live(
    "adds, lists and removes entries, with when and why; bad entries are usage errors",
    () =>
      Effect.gen(function*() {
        const db = join(mkdtempSync(join(tmpdir(), "bitscrape-block-")), "b.db")
        const added = yield* cli(["block", "add", HEX, "name:*cam*", "--reason", "not wanted", "--db", db])
        assert.strictEqual(added.status, 0, added.stderr)
        assert.match(added.stdout, new RegExp(`blocked infohash ${HEX} \\(entry 1\\)`))
        assert.match(added.stdout, /blocked name \*cam\* \(entry 2\)/)
        const again = yield* cli(["block", "add", HEX.toUpperCase(), "--db", db])
        assert.match(again.stdout, /1 already blocked/)

        const listed = yield* cli(["block", "list", "--json", "--db", db])
        assert.strictEqual(listed.status, 0, listed.stderr)
        const entries = listed.stdout.trim().split("\n").map((l) =>
          JSON.parse(l) as { id: number; kind: string; value: string; reason: string; addedAt: string }
        )
        assert.deepStrictEqual(entries.map((e) => [e.id, e.kind, e.value, e.reason]), [
          [1, "infohash", HEX, "not wanted"],
          [2, "name", "*cam*", "not wanted"]
        ])
        assert.isFalse(Number.isNaN(Date.parse(entries[0]!.addedAt)))

        const bad = yield* cli(["block", "add", "infohash:12", "--db", db])
        assert.strictEqual(bad.status, 2)
        assert.match(bad.stderr, /"infohash:12": "12" is not an infohash/)
        const everything = yield* cli(["block", "add", "*", "--db", db])
        assert.strictEqual(everything.status, 2)
        assert.match(everything.stderr, /would block every torrent/)

        const removed = yield* cli(["block", "remove", "1", "name:*cam*", "--db", db])
        assert.strictEqual(removed.status, 0, removed.stderr)
        const missing = yield* cli(["block", "remove", "7", "--db", db])
        assert.strictEqual(missing.status, 1)
        assert.match(missing.stderr, /"7" is not on the blocklist/)
        const empty = yield* cli(["block", "list", "--db", db])
        assert.match(empty.stdout, /the blocklist is empty/)
      }),
    120_000
  )

  it.scopedLive(
    "crawl --blocklist FILE: blocked infohashes and names are not stored, fetched or shown, found again or not",
    () =>
      Effect.gen(function*() {
        const catalog = demoCatalog(10)
        const byHash = catalog.find((t) => t.name.startsWith("archlinux"))!
        const byName = catalog.filter((t) => t.name.includes("FLAC"))
        const swarm = yield* makeDemoSwarm({ nodes: 30, torrents: 10, seeders: 4, log: () => Effect.void })
        const dir = mkdtempSync(join(tmpdir(), "bitscrape-blockcrawl-"))
        const db = join(dir, "crawl.db")
        const file = join(dir, "blocklist.txt")
        writeFileSync(
          file,
          `# what I never want\n${Buffer.from(byHash.infoHash).toString("hex")} # not this one\nname:*[flac]*\n`
        )
        const crawl = (seconds: number) =>
          cli([
            "crawl",
            "--no-ui",
            ...["--allow", "127.0.0.0/8", "--bootstrap", `${swarm.bootstrap.host}:${swarm.bootstrap.port}`],
            ...["--bind", "127.67.0.1", "--port", "0", "--db", db, "--duration", String(seconds)],
            ...["--blocklist", file]
          ])
        const run = yield* crawl(15)
        assert.strictEqual(run.status, 0, run.stderr)
        const open = () => new Database(db, { readonly: true })
        const check = () => {
          const d = open()
          const names = (d.prepare("SELECT name FROM torrents").all() as Array<{ name: string }>).map((r) => r.name)
          const stored = new Set(
            (d.prepare("SELECT lower(hex(hash)) AS h FROM infohashes").all() as Array<{ h: string }>).map((r) => r.h)
          )
          const has = (hash: Uint8Array) => stored.has(Buffer.from(hash).toString("hex"))
          const blocklist = d.prepare("SELECT kind, value, reason, via FROM blocklist ORDER BY id").all() as Array<
            { kind: string; value: string; reason: string; via: string | null }
          >
          d.close()
          return { names, has, blocklist }
        }
        const first = check()
        assert.isAtLeast(first.names.length, 3, `fetched: ${first.names.join(", ")}`)
        assert.notInclude(first.names, byHash.name)
        for (const t of byName) assert.notInclude(first.names, t.name)
        assert.isFalse(first.has(byHash.infoHash), "the blocked infohash is not stored")
        assert.deepStrictEqual(first.blocklist.slice(0, 2).map((b) => [b.kind, b.value, b.reason]), [
          ["infohash", Buffer.from(byHash.infoHash).toString("hex"), "not this one"],
          ["name", "*[flac]*", `from ${file}`]
        ])
        // FLAC torrents fetched by this crawl had their infohashes blocked via the pattern, never stored.
        for (const b of first.blocklist.slice(2)) assert.deepStrictEqual([b.kind, b.via], ["infohash", "*[flac]*"])

        // Shown nowhere: search and export skip them even though the swarm still announces them.
        const search = yield* cli(["search", "--json", "--db", db, "--limit", "50"])
        assert.strictEqual(search.status, 0, search.stderr)
        assert.notInclude(search.stdout, "FLAC")
        assert.notInclude(search.stdout, "archlinux")
        const show = yield* cli(["show", Buffer.from(byHash.infoHash).toString("hex"), "--db", db])
        assert.strictEqual(show.status, 1)

        // A second crawl re-discovers them and still stores none of them.
        const run2 = yield* crawl(8)
        assert.strictEqual(run2.status, 0, run2.stderr)
        const second = check()
        assert.notInclude(second.names, byHash.name)
        for (const t of byName) assert.notInclude(second.names, t.name)
        assert.isFalse(second.has(byHash.infoHash))
        // The FLAC torrents the crawls fetched were blocked via the pattern, and are not stored either.
        const via = new Set(second.blocklist.filter((b) => b.via !== null).map((b) => b.value))
        const fetchedFlac = byName.filter((t) => via.has(Buffer.from(t.infoHash).toString("hex")))
        assert.isAtLeast(fetchedFlac.length, 1, "a FLAC torrent was fetched and blocked by its name")
        for (const t of fetchedFlac) assert.isFalse(second.has(t.infoHash), t.name)
      }),
    180_000
  )
})
