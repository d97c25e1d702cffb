// /metrics as Prometheus and Grafana see it: `promtool check metrics` (Debian's prometheus package) passes on the
// exposition of a running crawl (the offline demo) and of `serve`; the DHT byte counters and the database gauges
// carry real values; and every query of the Grafana dashboard in docs/ names a metric that one of them exposes.
import { Effect } from "effect"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { RepositorySqlite } from "../../src/repository/layers.js"
import { Repository } from "../../src/repository/Repository.js"
import { spawnCli } from "../support/cli.js"
import { runProcess } from "../support/process.js"
import { makeTorrent } from "../support/torrents.js"

const PROMTOOL = "/usr/bin/promtool"
const DASHBOARD = fileURLToPath(new URL("../../docs/grafana/bitscrape-dashboard.json", import.meta.url))

/** Starts a long-running CLI, waits for its dashboard URL; `stop` sends Ctrl-C and waits for the exit. */
const start = async (args: ReadonlyArray<string>) => {
  const child = spawnCli(args)
  let out = ""
  child.stderr.setEncoding("utf8").on("data", (t: string) => (out += t))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no dashboard line in: ${out}`)), 60_000)
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      out += t
      const m = /dashboard"?:\s*"?(http:\/\/[^\s"]+)/.exec(out)
      if (m !== null) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
  })
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.on("exit", () => resolve())
        child.kill("SIGINT")
      })
  }
}

const scrape = async (url: string) => {
  const r = await fetch(`${url}metrics`)
  assert.strictEqual(r.status, 200)
  assert.match(r.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/)
  return r.text()
}

/** Runs `promtool check metrics` on an exposition; its complaints (none when it passes). */
const promtool = async (text: string) => {
  if (!existsSync(PROMTOOL)) {
    throw new Error(`${PROMTOOL} is missing: install Debian's prometheus package (scripts/provision.sh does)`)
  }
  const r = await runProcess(PROMTOOL, ["check", "metrics"], { input: text, timeoutMs: 30_000 })
  return { code: r.code, complaints: `${r.stdout}${r.stderr}`.trim() }
}

/** Sample values by series (`name{labels}`). */
const samples = (text: string) =>
  new Map(
    text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) => {
      const i = l.lastIndexOf(" ")
      return [l.slice(0, i), Number(l.slice(i + 1))] as const
    })
  )
/** Metric names exposed (histograms' _bucket/_sum/_count included). */
const names = (text: string) => new Set([...samples(text).keys()].map((k) => k.replace(/\{.*$/, "")))

let crawl = ""
let serve = ""

beforeAll(async () => {
  const demo = await start(["demo", "--duration", "60", "--nodes", "80", "--torrents", "20", "--seeders", "6"])
  try {
    // Let the crawl run and fetch for a while, then read its metrics.
    for (let i = 0; i < 60; i++) {
      await new Promise((r) => setTimeout(r, 500))
      crawl = await scrape(demo.url)
      if ((samples(crawl).get("bitscrape_metadata_outcomes_total{outcome=\"fetched\"}") ?? 0) > 0 && i >= 8) break
    }
  } finally {
    await demo.stop()
  }

  const db = join(mkdtempSync(join(tmpdir(), "bitscrape-metrics-")), "m.db")
  await Effect.runPromise(Effect.provide(
    Effect.gen(function*() {
      const repo = yield* Repository
      const id = yield* repo.startSession({})
      yield* repo.saveTorrents([makeTorrent("Metrics", [{ path: "m.bin", length: 10 }, { path: "n.bin", length: 5 }])])
      yield* repo.endSession(id, {})
    }),
    RepositorySqlite(db)
  ))
  const served = await start(["serve", "--db", db])
  try {
    serve = await scrape(served.url)
  } finally {
    await served.stop()
  }
}, 180_000)

afterAll(() => undefined)

describe("/metrics", () => {
  it("promtool check metrics passes on a crawl's /metrics", async () => {
    assert.deepStrictEqual(await promtool(crawl), { code: 0, complaints: "" })
    const s = samples(crawl)
    assert.isAbove(s.get("bitscrape_dht_bytes_in_total")!, 0)
    assert.isAbove(s.get("bitscrape_dht_bytes_out_total")!, s.get("bitscrape_dht_packets_out_total")!)
    assert.isTrue(s.has("bitscrape_dht_stored_peers"))
    assert.isTrue(s.has("effect_fiber_started_total"))
    assert.isTrue(s.has("effect_fiber_active"))
  })

  it("promtool check metrics passes on serve's /metrics, with the database gauges", async () => {
    assert.deepStrictEqual(await promtool(serve), { code: 0, complaints: "" })
    const s = samples(serve)
    assert.strictEqual(s.get("bitscrape_db_torrents"), 1)
    assert.strictEqual(s.get("bitscrape_db_files"), 2)
    assert.strictEqual(s.get("bitscrape_db_infohashes"), 1)
    assert.strictEqual(s.get("bitscrape_db_sessions"), 1)
    assert.isAbove(s.get("bitscrape_db_size_bytes")!, 4096)
    const started = s.get("bitscrape_db_last_crawl_start_timestamp_seconds")!
    assert.isAbove(started, Date.now() / 1000 - 3600)
    assert.isAtLeast(s.get("bitscrape_db_last_crawl_end_timestamp_seconds")!, started)
  })

  it("every query of the Grafana dashboard names a metric /metrics exposes", () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as {
      panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>
    }
    const exposed = new Set([...names(crawl), ...names(serve)])
    const graphs = dashboard.panels.filter((p) => p.type !== "row")
    assert.isAbove(graphs.length, 10)
    for (const panel of graphs) {
      assert.isAbove(panel.targets?.length ?? 0, 0, panel.title)
      for (const { expr } of panel.targets!) {
        // A metric in PromQL is an identifier followed by its selector (every query here selects $instance).
        const metrics = [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1]!)
        assert.isAbove(metrics.length, 0, `${panel.title}: ${expr}`)
        for (const m of metrics) assert.isTrue(exposed.has(m), `${panel.title}: ${m} is not exposed`)
      }
    }
  })
})
