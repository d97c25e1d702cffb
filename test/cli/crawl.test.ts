import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { InfoHash } from "../../src/krpc/index.js"
import { runCli, spawnCli } from "../support/cli.js"
import { liveNode, type TestNode } from "../support/dhtNodes.js"

/** A small swarm of our own nodes on real UDP (127.12.x.y), with announced infohashes. */
const swarm = (n: number, torrents: number, base: number) =>
  Effect.gen(function*() {
    const nodes: Array<TestNode> = []
    for (let i = 0; i < n; i++) nodes.push(yield* liveNode({ host: `127.12.${base}.${i + 1}` }))
    for (let i = 1; i < n; i++) yield* nodes[i]!.dht.bootstrap([nodes[Math.floor(Math.random() * i)]!.address])
    const hashes = Array.from({ length: torrents }, () => randomBytes(20) as Uint8Array as InfoHash)
    yield* Effect.forEach(hashes, (ih, i) => nodes[i % n]!.dht.announce(ih, 30_000 + i), { concurrency: 8 })
    return nodes
  })

interface Progress {
  readonly dashboard?: string
  readonly uniqueInfohashes?: number
  readonly summary?: boolean
  readonly stats?: { readonly uniqueInfohashes: number }
  readonly funnel?: { readonly seen: number }
}

describe("bitscrape crawl (real CLI against a loopback swarm)", () => {
  it.scopedLive(
    "Ctrl-C ends the crawl within 5 s and loses nothing it reported as discovered",
    () =>
      Effect.gen(function*() {
        const nodes = yield* swarm(30, 60, 1)
        const db = join(mkdtempSync(join(tmpdir(), "bitscrape-crawl-")), "crawl.db")
        const child = spawnCli([
          "crawl",
          "--bootstrap",
          `${nodes[0]!.address.host}:${nodes[0]!.address.port}`,
          "--bind",
          "127.13.0.1",
          "--port",
          "0",
          "--allow",
          "127.0.0.0/8",
          "--db",
          db,
          "--json"
        ], { BITSCRAPE_PROGRESS_INTERVAL: "1" })
        const lines: Array<Progress> = []
        let stderr = ""
        child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t))
        let raw = ""
        let pending = ""
        child.stdout.setEncoding("utf8").on("data", (t: string) => {
          raw += t
          pending += t
          const complete = pending.split("\n")
          pending = complete.pop()!
          for (const l of complete.filter((x) => x.startsWith("{"))) lines.push(JSON.parse(l))
        })
        const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
          child.on("exit", (code) => resolve({ code, at: Date.now() }))
        )
        // Wait until the crawl has reported discoveries, then interrupt it.
        yield* Effect.promise(async () => {
          for (let i = 0; i < 300 && !lines.some((l) => (l.uniqueInfohashes ?? 0) >= 20); i++) {
            await new Promise((r) => setTimeout(r, 100))
          }
        })
        const reported = Math.max(...lines.map((l) => l.uniqueInfohashes ?? 0))
        assert.isAtLeast(reported, 20, stderr)
        // A dashboard is watching (its event stream never ends by itself): it must not hold up the exit.
        const dashboard = lines.find((l) => l.dashboard !== undefined)?.dashboard
        assert.isDefined(dashboard, "the crawl announces its dashboard")
        const watching = yield* Effect.promise(() => fetch(`${dashboard}api/live`))
        assert.strictEqual(watching.status, 200)
        // The yield funnel is on /metrics and in every progress line.
        const metrics = yield* Effect.promise(() => fetch(`${dashboard}metrics`).then((r) => r.text()))
        assert.match(metrics, /bitscrape_funnel_infohashes\{step="seen"\} \d+/)
        assert.match(metrics, /bitscrape_funnel_query_share\{stage="walk"\} [\d.e-]+/)
        const progress = lines.filter((l) => l.funnel !== undefined)
        assert.isNotEmpty(progress, "progress lines carry the funnel")
        assert.isAtLeast(progress.at(-1)!.funnel!.seen, 20)
        const signalled = Date.now()
        child.kill("SIGINT")
        const { code, at } = yield* Effect.promise(() => exited)
        assert.strictEqual(code, 0, stderr)
        assert.isBelow(at - signalled, 5000, "exits within 5 seconds")
        const summary = lines.find((l) => l.summary === true)
        assert.isDefined(summary, `prints a final summary; stderr: ${stderr}`)
        const file = new Database(db, { readonly: true })
        const stored = (file.prepare("SELECT count(*) AS n FROM infohashes").get() as { n: number }).n
        const session = file.prepare("SELECT ended_at FROM sessions").get() as { ended_at: number | null }
        file.close()
        assert.isAtLeast(
          stored,
          reported,
          `every infohash reported before Ctrl-C is in the database; summary ${JSON.stringify(summary)} ${stderr} ${
            raw.split("\n").filter((l) => !l.startsWith("{")).join("\n")
          }`
        )
        assert.isAtLeast(stored, summary!.stats!.uniqueInfohashes)
        assert.isNotNull(session.ended_at, "the session record was closed")
        // `stats` shows the database's funnel and the last crawl's.
        const stats = yield* Effect.promise(() => runCli(["stats", "--db", db]))
        assert.strictEqual(stats.status, 0, stats.stderr)
        assert.match(stats.stdout, /yield +\d+ infohashes → \d+ with peers → \d+ fetched/)
        assert.match(stats.stdout, /last crawl +funnel \d+ seen → \d+ with peers → \d+ connected → \d+ fetched/)
      }),
    90_000
  )

  it.scopedLive("a second Ctrl-C exits at once", () =>
    Effect.gen(function*() {
      const db = join(mkdtempSync(join(tmpdir(), "bitscrape-crawl-")), "crawl.db")
      const child = spawnCli([
        "crawl",
        "--bootstrap",
        "127.14.0.9:9", // nobody there: the crawl just waits
        "--bind",
        "127.14.0.1",
        "--port",
        "0",
        "--allow",
        "127.0.0.0/8",
        "--db",
        db,
        "--json"
      ], { BITSCRAPE_PROGRESS_INTERVAL: "1" })
      let out = ""
      child.stdout.setEncoding("utf8").on("data", (t: string) => (out += t))
      const exited = new Promise<number>((resolve) => child.on("exit", () => resolve(Date.now())))
      yield* Effect.promise(async () => {
        for (let i = 0; i < 300 && !out.includes("uniqueInfohashes"); i++) await new Promise((r) => setTimeout(r, 100))
      })
      child.kill("SIGINT")
      // Signals are not queued: let the first be taken before sending the second.
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 150)))
      const start = Date.now()
      child.kill("SIGINT")
      const at = yield* Effect.promise(() => exited)
      assert.isBelow(at - start, 500)
    }), 60_000)
})
