// `bitscrape demo --profile realistic` through the real CLI: the crawl runs against the realistic network model
// (silent nodes, loss, stale and hostile peers) and still fetches metadata. No exact counts: only that it works.
import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { runCli } from "../support/cli.js"

describe("bitscrape demo --profile realistic (real CLI, offline)", () => {
  it("crawls the realistic network model and fetches at least one torrent", async () => {
    const db = join(mkdtempSync(join(tmpdir(), "bitscrape-realistic-demo-")), "demo.db")
    const r = await runCli([
      "demo",
      "--profile",
      "realistic",
      "--nodes",
      "1000",
      "--torrents",
      "40",
      "--bep51-share",
      "0.5",
      "--duration",
      "20",
      "--no-ui",
      "--json",
      "--db",
      db
    ])
    assert.strictEqual(r.status, 0, r.stderr)
    const file = new Database(db, { readonly: true })
    const fetched = (file.prepare("SELECT count(*) AS n FROM torrents").get() as { n: number }).n
    file.close()
    assert.isAtLeast(fetched, 1, `no torrent fetched; stdout: ${r.stdout.slice(-2000)}`)
  }, 120_000)
})
