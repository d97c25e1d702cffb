import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { demoCatalog } from "../../src/demo/catalog.js"
import { runCli } from "../support/cli.js"

describe("bitscrape demo (real CLI, offline)", () => {
  it("crawls its loopback swarm, fetches the seeded torrents' metadata and stores them", async () => {
    const db = join(mkdtempSync(join(tmpdir(), "bitscrape-demo-test-")), "demo.db")
    const r = await runCli([
      "demo",
      "--nodes",
      "120",
      "--torrents",
      "40",
      "--seeders",
      "12",
      "--duration",
      "15",
      "--db",
      db
    ])
    assert.strictEqual(r.status, 0, r.stderr)
    assert.include(r.stdout, "crawl ended after")
    assert.include(r.stdout, `bitscrape search --db ${db}`)
    const file = new Database(db, { readonly: true })
    const names = (file.prepare("SELECT name FROM torrents").all() as Array<{ name: string }>).map((x) => x.name)
    // Dual stack (BEP 32): the swarm has IPv6 nodes and seeders on ::1, and the crawl reached them.
    const v6 = file.prepare("SELECT count(*) AS n FROM nodes WHERE host = '::1'").get() as { n: number }
    const fromV6 = file.prepare("SELECT count(*) AS n FROM torrents WHERE source_host = '::1'").get() as { n: number }
    file.close()
    assert.isAbove(v6.n, 0, "IPv6 nodes stored")
    assert.isAbove(fromV6.n, 0, "metadata fetched over IPv6")
    const seeded = new Set(demoCatalog(40).map((t) => t.name))
    assert.isAtLeast(names.filter((n) => seeded.has(n)).length, 36, `fetched ${names.length} of 40`)
    const search = await runCli(["search", "--db", db, "--json", "--sort", "largest", "--limit", "5"])
    assert.strictEqual(JSON.parse(search.stdout).items.length, 5)
  }, 90_000)
})
