import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { type InfoHash, toHex } from "../../src/krpc/index.js"
import { encode } from "../../src/wire/bencode.js"
import { runCli } from "../support/cli.js"
import { liveNode, type TestNode } from "../support/dhtNodes.js"
import { makeHostileSeeder } from "../support/seeders/hostileSeeder.js"

const info = encode({
  name: "Fetch me",
  "piece length": 16384,
  pieces: randomBytes(40),
  files: [{ length: 10, path: ["a.txt"] }, { length: 20, path: ["dir", "b.txt"] }]
})

describe("bitscrape fetch (real CLI)", () => {
  it.scopedLive("fetches from --peer and prints the metadata, or JSON", () =>
    Effect.gen(function*() {
      const seeder = yield* makeHostileSeeder({ host: "127.34.0.1", infoDict: info, behaviour: "honest" })
      const hex = toHex(seeder.infoHash)
      const text = yield* Effect.promise(() => runCli(["fetch", hex, "--peer", `${seeder.host}:${seeder.port}`]))
      assert.strictEqual(text.status, 0, text.stderr)
      assert.include(text.stdout, "Fetch me")
      assert.include(text.stdout, "dir/b.txt")
      const json = yield* Effect.promise(() =>
        runCli(["fetch", `magnet:?xt=urn:btih:${hex}&x.pe=${seeder.host}:${seeder.port}`, "--json"])
      )
      assert.strictEqual(json.status, 0, json.stderr)
      const parsed = JSON.parse(json.stdout)
      assert.strictEqual(parsed.infohash, hex)
      assert.deepStrictEqual(parsed.files, [{ path: "a.txt", length: 10 }, { path: "dir/b.txt", length: 20 }])
    }), 60_000)

  it.scopedLive("without --peer it finds peers through the DHT", () =>
    Effect.gen(function*() {
      const seeder = yield* makeHostileSeeder({ host: "127.35.0.1", infoDict: info, behaviour: "honest" })
      // A small DHT; the node on the seeder's own address announces the seeder's TCP port.
      const nodes: Array<TestNode> = []
      for (let i = 1; i <= 12; i++) nodes.push(yield* liveNode({ host: `127.35.0.${i}` }))
      for (let i = 1; i < nodes.length; i++) yield* nodes[i]!.dht.bootstrap([nodes[0]!.address])
      const announced = yield* nodes[0]!.dht.announce(seeder.infoHash as InfoHash, seeder.port)
      assert.isAbove(announced.announced, 0)
      const r = yield* Effect.promise(() =>
        runCli([
          "fetch",
          toHex(seeder.infoHash),
          "--bootstrap",
          `${nodes[3]!.address.host}:${nodes[3]!.address.port}`,
          "--bind",
          "127.35.0.200",
          "--json"
        ])
      )
      assert.strictEqual(r.status, 0, r.stderr)
      assert.strictEqual(JSON.parse(r.stdout).name, "Fetch me")
    }), 60_000)

  it.scopedLive("fails with exit 1 and a reason when no peer gives the metadata", () =>
    Effect.gen(function*() {
      const liar = yield* makeHostileSeeder({ host: "127.36.0.1", infoDict: info, behaviour: "reject-all" })
      const r = yield* Effect.promise(() =>
        runCli(["fetch", toHex(liar.infoHash), "--peer", `${liar.host}:${liar.port}`])
      )
      assert.strictEqual(r.status, 1)
      assert.include(r.stderr, "Rejected")
      const bad = yield* Effect.promise(() => runCli(["fetch", "not-a-hash"]))
      assert.strictEqual(bad.status, 2)
    }), 60_000)
})
