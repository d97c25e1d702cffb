// `bitscrape saved` and deliveries under `bitscrape serve`, through the real CLI, to a loopback receiver.
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import type { WebhookPayload } from "../../src/alerts/SavedSearchRunner.js"
import { RepositorySqlite } from "../../src/repository/layers.js"
import { Repository } from "../../src/repository/Repository.js"
import { runCli, spawnCli } from "../support/cli.js"
import { makeTorrent } from "../support/torrents.js"

const dir = mkdtempSync(join(tmpdir(), "bitscrape-saved-cli-"))
const db = join(dir, "saved.db")
const received: Array<WebhookPayload> = []
const server = createServer((req, res) => {
  let body = ""
  req.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => {
    received.push(JSON.parse(body) as WebhookPayload)
    res.writeHead(204).end()
  })
})
let hook = ""

const store = (torrents: ReadonlyArray<ReturnType<typeof makeTorrent>>) =>
  Effect.runPromise(Effect.provide(Effect.flatMap(Repository, (r) => r.saveTorrents(torrents)), RepositorySqlite(db)))

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  await store([
    makeTorrent("Sintel old", [{ path: "sintel-old.mkv", length: 1000 }], { fetchedAt: Date.now() - 86_400_000 })
  ])
})
afterAll(() => server.close())

const fast = { BITSCRAPE_WEBHOOK_SETTLE: "0 millis", BITSCRAPE_WEBHOOK_RETRY_BASE: "20 millis" }

describe("bitscrape saved (real CLI)", () => {
  it("add checks its input; list, run --once, remove", async () => {
    const bad = [
      [["saved", "add", "bad/name", "--search", "x", "--webhook", hook], /saved search name/],
      [
        ["saved", "add", "ok", "--search", "q=x&min_size=huge", "--webhook", hook],
        /--search: min_size: "huge" is not a size/
      ],
      [["saved", "add", "ok", "--search", "x", "--webhook", "ftp://h/"], /--webhook: a webhook is an http/],
      [["saved", "add", "ok", "--search", "x", "--webhook", "not a url"], /--webhook: "not a url" is not a URL/]
    ] as const
    for (const [args, message] of bad) {
      const r = await runCli([...args, "--db", db])
      assert.strictEqual(r.status, 2, r.stderr)
      assert.match(r.stderr, message)
    }
    const added = await runCli([
      "saved",
      "add",
      "sintel",
      "--search",
      "http://127.0.0.1:8881/search?q=sintel&page=3&min_size=1KB",
      "--webhook",
      hook,
      "--db",
      db,
      "--json"
    ])
    assert.strictEqual(added.status, 0, added.stderr)
    assert.strictEqual(JSON.parse(added.stdout).query, "q=sintel&min_size=1KB")
    const dup = await runCli(["saved", "add", "sintel", "--search", "x", "--webhook", hook, "--db", db])
    assert.strictEqual(dup.status, 1)
    assert.match(dup.stderr, /exists already/)

    await store([
      makeTorrent("Sintel new", [{ path: "sintel-new.mkv", length: 5000 }], { fetchedAt: Date.now() + 1 }),
      makeTorrent("Other new", [{ path: "other.mkv", length: 5000 }], { fetchedAt: Date.now() + 2 })
    ])
    // Fetched "in the future" by a few ms: wait until they are in the past.
    await new Promise((r) => setTimeout(r, 20))
    const run = await runCli(["saved", "run", "--once", "--db", db], fast)
    assert.strictEqual(run.status, 0, run.stderr)
    assert.match(run.stdout, /sintel: delivered 1 new match\(es\) in 1 POST\(s\)/)
    assert.deepStrictEqual(received.map((b) => b.matches.map((m) => m.name)), [["Sintel new"]])

    const listed = await runCli(["saved", "list", "--json", "--db", db])
    const [entry] = listed.stdout.trim().split("\n").map((l) =>
      JSON.parse(l) as { name: string; delivered: number; last_error: null }
    )
    assert.strictEqual(entry!.name, "sintel")
    assert.strictEqual(entry!.delivered, 1)
    assert.isNull(entry!.last_error)

    const removed = await runCli(["saved", "remove", "sintel", "--db", db])
    assert.strictEqual(removed.status, 0)
    const again = await runCli(["saved", "remove", "sintel", "--db", db])
    assert.strictEqual(again.status, 1)
    assert.match(again.stderr, /no saved search named "sintel"/)
  }, 120_000)

  it("serve delivers saved searches' new matches", async () => {
    const added = await runCli(["saved", "add", "films", "--search", "mkv", "--webhook", hook, "--db", db])
    assert.strictEqual(added.status, 0, added.stderr)
    const before = received.length
    await store([makeTorrent("Film served", [{ path: "film.mkv", length: 1 }], { fetchedAt: Date.now() + 1 })])
    const child = spawnCli(["serve", "--db", db], { ...fast, BITSCRAPE_WEBHOOK_INTERVAL: "200 millis" })
    try {
      for (let i = 0; i < 300 && received.length === before; i++) await new Promise((r) => setTimeout(r, 100))
      assert.deepStrictEqual(received.slice(before).map((b) => b.matches.map((m) => m.name)), [["Film served"]])
    } finally {
      child.kill("SIGINT")
      await new Promise((resolve) => child.on("exit", resolve))
    }
  }, 120_000)
})
