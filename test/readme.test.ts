// Every `npx bitscrape …` line in the README is run here, as written, against loopback: the environment points
// the crawl at a loopback swarm and a temporary database, and placeholders get real values.
import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { toHex } from "../src/krpc/index.js"
import { encode } from "../src/wire/bencode.js"
import { runCli, spawnCli } from "./support/cli.js"
import { liveNode, type TestNode } from "./support/dhtNodes.js"
import { makeHostileSeeder } from "./support/seeders/hostileSeeder.js"

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
const commands = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split("\n"))
  .flatMap((line) => line.split("&&").map((part) => part.trim()))
  .filter((part) => part.startsWith("npx bitscrape"))
  .map((part) => part.replace(/^npx bitscrape\s*/, "").split(/\s+/).filter((w) => w !== ""))

/** Starts `serve`, reads its dashboard URL, asks the API for the stats, then sends Ctrl-C. */
const serveOnce = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  new Promise<{ status: number | null; torrents: number }>((resolve, reject) => {
    const child = spawnCli(args, env)
    let out = ""
    let torrents = -1
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.on("exit", (status) => {
      clearTimeout(timer)
      resolve({ status, torrents })
    })
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      const before = out
      out += t
      const url = /^dashboard: (\S+)$/m.exec(out)?.[1]
      if (url === undefined || /^dashboard: /m.test(before)) return
      fetch(`${url}api/stats`).then((r) => r.json() as Promise<{ database: { torrents: number } }>).then(
        (stats) => {
          torrents = stats.database.torrents
          child.kill("SIGINT")
        },
        reject
      )
    })
  })

describe("README examples", () => {
  it("lists the main job, the demo and the data commands", () => {
    const names = commands.map((c) => c[0])
    for (const n of ["crawl", "demo", "stats", "search", "show", "export", "fetch", "serve"]) assert.include(names, n)
  })

  it.scopedLive("every `npx bitscrape` line runs as written (against loopback)", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "bitscrape-readme-"))
      const db = join(dir, "bitscrape.db")
      const nodes: Array<TestNode> = []
      for (let i = 1; i <= 10; i++) nodes.push(yield* liveNode({ host: `127.37.0.${i}` }))
      for (let i = 1; i < nodes.length; i++) yield* nodes[i]!.dht.bootstrap([nodes[0]!.address])
      const info = encode({
        name: "ubuntu-24.04-desktop-amd64.iso",
        "piece length": 262144,
        pieces: randomBytes(40),
        length: 5e9
      })
      const seeder = yield* makeHostileSeeder({ host: "127.37.0.2", infoDict: info, behaviour: "honest" })
      yield* nodes[1]!.dht.announce(seeder.infoHash as never, seeder.port)
      const env = {
        BITSCRAPE_BOOTSTRAP: `${nodes[0]!.address.host}:${nodes[0]!.address.port}`,
        BITSCRAPE_BIND: "127.37.0.200",
        BITSCRAPE_PORT: "0",
        BITSCRAPE_ALLOW: "127.0.0.0/8",
        BITSCRAPE_DB: db,
        BITSCRAPE_DURATION: "8"
      }
      const fill = (args: ReadonlyArray<string>) =>
        args.map((a) =>
          a === "<infohash>"
            ? toHex(seeder.infoHash)
            : a === "<host:port>"
            ? `${seeder.host}:${seeder.port}`
            : a === "crawl.jsonl"
            ? join(dir, "crawl.jsonl")
            : a
        )
      // The demo writes its own database; the crawl must run first so the data commands have something to read.
      const order = [...commands].sort((a, b) => (a[0] === "crawl" ? -1 : b[0] === "crawl" ? 1 : 0))
      for (const args of order) {
        const demoEnv = args[0] === "demo" ? { BITSCRAPE_DB: join(dir, "demo.db") } : {}
        if (args[0] === "serve") {
          // Serves until Ctrl-C: check it answers, then stop it.
          const r = yield* Effect.promise(() => serveOnce(fill(args), env))
          assert.strictEqual(r.status, 0, `bitscrape ${args.join(" ")}`)
          assert.isAtLeast(r.torrents, 1, "serve shows the crawled database")
          continue
        }
        // The demo starts a swarm of 300 nodes, then crawls for 30 s: give it room on a busy machine.
        const r = yield* Effect.promise(() =>
          runCli(fill(args), { ...env, ...demoEnv }, args[0] === "demo" ? 150_000 : undefined)
        )
        assert.strictEqual(r.status, 0, `bitscrape ${args.join(" ")}\n${r.stderr}`)
      }
      const file = new Database(db, { readonly: true })
      const torrents = (file.prepare("SELECT name FROM torrents").all() as Array<{ name: string }>).map((t) => t.name)
      file.close()
      assert.include(torrents, "ubuntu-24.04-desktop-amd64.iso", "the crawl fetched the seeded torrent")
      assert.include(readFileSync(join(dir, "crawl.jsonl"), "utf8"), "ubuntu-24.04-desktop-amd64.iso")
    }), 180_000)
})
