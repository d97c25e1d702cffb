// Issue 14 item 7, through the real CLI: a second `crawl` on the same database, after every node it saved has
// gone, sends its first crawl queries within 5 s; torrents fetched by the first crawl are not fetched again;
// infohashes the first crawl gave up on, and hosts it banned, are honoured by the second.
import { assert, describe, it } from "@effect/vitest"
import bencode from "bencode"
import Database from "better-sqlite3"
import { Effect, Either, Exit, Scope } from "effect"
import { randomBytes } from "node:crypto"
import dgram from "node:dgram"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { demoCatalog } from "../../src/demo/catalog.js"
import { makeDemoSwarm } from "../../src/demo/swarm.js"
import type { InfoHash, NodeId } from "../../src/domain/ids.js"
import { decodeMessage, encodeMessage } from "../../src/krpc/codec.js"
import { spawnCli } from "../support/cli.js"

interface Line {
  readonly elapsed?: number
  readonly spent?: { readonly walk: number; readonly sample: number; readonly peers: number }
  readonly summary?: boolean
  readonly funnel?: { readonly fetched: number; readonly connected: number }
}

/** Runs `crawl` to its --duration; the JSON lines it printed. */
const crawl = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.promise(() =>
    new Promise<{ code: number | null; lines: Array<Line>; stderr: string }>((resolve) => {
      const child = spawnCli(["crawl", "--json", "--no-ui", "--allow", "127.0.0.0/8", ...args], {
        BITSCRAPE_PROGRESS_INTERVAL: "1",
        ...env
      })
      let out = ""
      let stderr = ""
      child.stdout.setEncoding("utf8").on("data", (t: string) => (out += t))
      child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t))
      child.on("exit", (code) =>
        resolve({
          code,
          stderr,
          lines: out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Line)
        }))
    })
  )

/**
 * Two extra nodes beside the swarm: `giver` has one infohash in its BEP 51 sample and hands out a peer for it
 * that refuses connections (the fetch fails at once: given up with --max-attempts 1); `liar` answers every
 * query with garbage (it gets banned). Both count the queries they receive.
 */
const extras = Effect.acquireRelease(
  Effect.async<{ giver: dgram.Socket; liar: dgram.Socket; hash: InfoHash; counts: Record<string, number> }>(
    (resume) => {
      const hash = randomBytes(20) as Uint8Array as InfoHash
      const counts = { giver: 0, liar: 0 }
      const giver = dgram.createSocket("udp4")
      const liar = dgram.createSocket("udp4")
      const id = randomBytes(20) as Uint8Array as NodeId
      giver.on("message", (bytes, info) => {
        const m = decodeMessage(bytes)
        if (Either.isLeft(m) || m.right._tag === "Response" || m.right._tag === "ErrorMessage") return
        counts.giver++
        const q = m.right
        const reply = q._tag === "SampleInfohashesQuery"
          ? { _tag: "Response" as const, t: q.t, id, interval: 5, num: 1, samples: [hash] }
          : q._tag === "GetPeersQuery"
          ? {
            _tag: "Response" as const,
            t: q.t,
            id,
            token: Uint8Array.of(9),
            values: [{ host: "127.64.0.9", port: 9 }]
          }
          : { _tag: "Response" as const, t: q.t, id }
        giver.send(encodeMessage(reply), info.port, info.address)
      })
      liar.on("message", (bytes, info) => {
        const m = decodeMessage(bytes)
        if (Either.isLeft(m) || m.right._tag === "Response" || m.right._tag === "ErrorMessage") return
        counts.liar++
        // A reply with our transaction id but an id of the wrong length: undecodable.
        liar.send(bencode.encode({ t: Buffer.from(m.right.t), y: "r", r: { id: "short" } }), info.port, info.address)
      })
      giver.bind(
        0,
        "127.64.0.1",
        () => liar.bind(0, "127.64.0.2", () => resume(Effect.succeed({ giver, liar, hash, counts })))
      )
    }
  ),
  ({ giver, liar }) =>
    Effect.sync(() => {
      giver.close()
      liar.close()
    })
)

const torrentHashes = (db: string) => {
  const file = new Database(db, { readonly: true })
  const rows = file.prepare("SELECT hex(hash) AS h FROM torrents").all() as Array<{ h: string }>
  file.close()
  return new Set(rows.map((r) => r.h.toLowerCase()))
}

describe("a second crawl on the same database", () => {
  it.scopedLive(
    "starts within 5 s although its saved nodes are dead, and refetches, retries and asks nothing it settled",
    () =>
      Effect.gen(function*() {
        const db = join(mkdtempSync(join(tmpdir(), "bitscrape-restart-")), "crawl.db")
        const { giver, liar, hash, counts } = yield* extras
        const extra = [
          `127.64.0.1:${giver.address().port}`,
          `127.64.0.2:${liar.address().port}`
        ]
        const log = () => Effect.void
        assert.deepStrictEqual(demoCatalog(14).slice(0, 10).map((t) => t.name), demoCatalog(10).map((t) => t.name))

        // First crawl: a swarm with 10 torrents, the giver and the liar.
        const first = yield* Scope.make()
        const a = yield* makeDemoSwarm({ nodes: 40, torrents: 10, seeders: 4, log }).pipe(Scope.extend(first))
        // Both crawls: the swarm of the moment plus the giver and the liar, one attempt per infohash.
        const crawlFor = (swarm: { readonly bootstrap: { host: string; port: number } }, seconds: number) =>
          crawl([
            ...["--bootstrap", [`${swarm.bootstrap.host}:${swarm.bootstrap.port}`, ...extra].join(",")],
            ...["--bind", "127.65.0.1", "--port", "0", "--db", db, "--duration", String(seconds)]
          ], { BITSCRAPE_MAX_ATTEMPTS: "1" })
        // 30 s: on a busy machine the giver's sample, the ask and the refused fetch can take a while to happen.
        const run1 = yield* crawlFor(a, 30)
        assert.strictEqual(run1.code, 0, run1.stderr)
        const fetched1 = torrentHashes(db)
        assert.isAtLeast(fetched1.size, 5, `first crawl fetched ${fetched1.size}`)
        const file = new Database(db, { readonly: true })
        const givenUp = file.prepare("SELECT status, attempts FROM infohashes WHERE hash = ?").get(Buffer.from(hash)) as
          | { status: string; attempts: number }
          | undefined
        const banned = file.prepare("SELECT host FROM bans").all() as Array<{ host: string }>
        file.close()
        assert.deepStrictEqual(
          givenUp,
          { status: "failed", attempts: 1 },
          "the first crawl gave up on the giver's infohash"
        )
        assert.deepStrictEqual(banned.map((b) => b.host), ["127.64.0.2"], "the liar was banned")

        // The first swarm goes: every node the first crawl saved is dead. A new one (same torrents, and 4 more) rises.
        yield* Scope.close(first, Exit.void)
        const b = yield* makeDemoSwarm({ nodes: 40, torrents: 14, seeders: 4, log })
        const liarBefore = counts.liar
        const giverBefore = counts.giver
        const run2 = yield* crawlFor(b, 15)
        assert.strictEqual(run2.code, 0, run2.stderr)
        const working = run2.lines.find((l) => (l.spent?.walk ?? 0) + (l.spent?.sample ?? 0) > 0)
        assert.isDefined(working, "the second crawl walked or sampled")
        assert.isAtMost(working!.elapsed!, 5, "first crawl queries within 5 s")

        const fetched2 = torrentHashes(db)
        const fresh = [...fetched2].filter((h) => !fetched1.has(h))
        const summary = run2.lines.find((l) => l.summary === true)
        assert.isDefined(summary)
        assert.isAtLeast(fresh.length, 1, "the second crawl fetched the new torrents")
        assert.strictEqual(summary!.funnel!.fetched, fresh.length, "…and none it had already")
        assert.isAbove(counts.giver, giverBefore, "the giver's sample was seen again")
        const file2 = new Database(db, { readonly: true })
        const after = file2.prepare("SELECT attempts FROM infohashes WHERE hash = ?").get(Buffer.from(hash)) as {
          attempts: number
        }
        file2.close()
        assert.strictEqual(after.attempts, 1, "the given-up infohash was not tried again")
        assert.strictEqual(counts.liar, liarBefore, "the banned host was not queried")
      }),
    180_000
  )
})
