import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, beforeAll, describe, it } from "vitest"
import { toHex } from "../../src/krpc/index.js"
import { RepositorySqlite } from "../../src/repository/layers.js"
import { Repository } from "../../src/repository/Repository.js"
import { runCli, spawnCli } from "../support/cli.js"
import { makeTorrent } from "../support/torrents.js"

const db = join(mkdtempSync(join(tmpdir(), "bitscrape-serve-")), "serve.db")
const sintel = makeTorrent("Sintel 4K", [{ path: "sintel/sintel-4k.mkv", length: 4_000_000_000 }, {
  path: "sintel/subs/en.srt",
  length: 40_000
}])

beforeAll(async () => {
  await Effect.runPromise(Effect.provide(
    Effect.gen(function*() {
      const repo = yield* Repository
      yield* repo.recordDiscoveries([{ infoHash: sintel.infoHash, source: "sample", at: Date.parse("2026-01-10") }])
      yield* repo.saveTorrents([sintel])
    }),
    RepositorySqlite(db)
  ))
})

/** Waits for the "dashboard: <url>" line of a starting CLI. */
const dashboardUrl = (child: ReturnType<typeof spawnCli>) =>
  new Promise<string>((resolve, reject) => {
    let out = ""
    const timer = setTimeout(() => reject(new Error(`no dashboard line in: ${out}`)), 30_000)
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      out += t
      const m = /^dashboard: (http:\/\/\S+)$/m.exec(out)
      if (m !== null) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
  })

describe("bitscrape serve (real CLI)", () => {
  it("serves the web UI and API over an existing database until Ctrl-C", async () => {
    const child = spawnCli(["serve", "--db", db])
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    try {
      const url = await dashboardUrl(child)
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
      const stats = await (await fetch(`${url}api/stats`)).json() as { database: { torrents: number }; live: null }
      assert.strictEqual(stats.database.torrents, 1)
      assert.isNull(stats.live, "no crawl runs in a serve process")
      const found = await (await fetch(`${url}api/search?q=sintel`)).json() as {
        items: Array<{ infohash: string }>
      }
      assert.deepStrictEqual(found.items.map((i) => i.infohash), [toHex(sintel.infoHash)])
      const page = await fetch(url)
      assert.strictEqual(page.status, 200)
      assert.match(page.headers.get("content-type") ?? "", /^text\/html/)
    } finally {
      child.kill("SIGINT")
    }
    assert.strictEqual(await exited, 0)
  }, 60_000)

  it("refuses a non-loopback address without a token (exit 2, naming BITSCRAPE_UI_TOKEN)", async () => {
    const r = await runCli(["serve", "--db", db, "--ui-host", "0.0.0.0"])
    assert.strictEqual(r.status, 2)
    assert.include(r.stderr, "BITSCRAPE_UI_TOKEN")
  }, 60_000)

  it("refuses a database that does not exist", async () => {
    // In a fresh directory: a fixed name in the shared temp directory may have been created by anything.
    const r = await runCli(["serve", "--db", join(mkdtempSync(join(tmpdir(), "bitscrape-none-")), "no-such.db")])
    assert.strictEqual(r.status, 1)
    assert.include(r.stderr, "no database at")
  }, 60_000)
})
