// Issue 14, item 5: `bitscrape crawl` on the sparse third-party swarm (200 npm bittorrent-dht nodes without BEP 51,
// 10 python3-libtorrent sessions with BEP 51 and a 60 s sample interval, 60 torrents seeded by the sessions and
// re-announced every 120 s, background get_peers lookups for the torrents), bootstrapped from one bittorrent-dht node.
// Most announces land at bittorrent-dht nodes, which cannot be sampled, so a crawler finds most torrents only through
// passive reach (announces and get_peers arriving at its node ids) and lookups. The test runs the real CLI for at
// most CRAWL_SECONDS and asserts the share of the swarm's torrents whose metadata it fetched (its database).
// Not a timing assertion: the crawl gets a fixed window and the figure is its recall; bench/sparse.ts reports the
// same swarm over time, side by side with a reference crawler.
import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { spawnCli } from "../support/cli.js"
import { makeSparseSwarm } from "../support/interop/SparseSwarm.js"

/** Extra `bitscrape crawl` arguments under test: issue 14's acceptance runs 32 node ids. */
const EXTRA_ARGS: ReadonlyArray<string> = ["--identities", "32"]
/**
 * Least share of the 60 torrents fetched within CRAWL_SECONDS: issue 14's target. With the swarm's background
 * lookups at 5 per second (every torrent is looked up several times in the window) `--identities 32` fetched 59/60
 * by 60 s and 60/60 by 90 s at a load average of 18 on 2 cores; one id fetched 48/60 (bench/sparse.ts,
 * docs/benchmarks.md "sparse").
 */
const MIN_RECALL = 0.95
const CRAWL_SECONDS = 120
/**
 * One background lookup (for a random one of the torrents) every this many ms. At one per 2 s only ~63 % of the
 * torrents are looked up at all in 120 s, and no crawler can find a torrent that is neither looked up, announced to
 * it nor stored by a BEP 51 node: docs/benchmarks.md "sparse" measures both rates.
 */
const LOOKUP_EVERY_MILLIS = 200

const fetchedHashes = (db: string): ReadonlySet<string> => {
  try {
    const reader = new Database(db, { readonly: true, fileMustExist: true })
    try {
      const rows = reader.prepare("SELECT hash FROM torrents").all() as Array<{ hash: Buffer }>
      return new Set(rows.map((r) => r.hash.toString("hex")))
    } finally {
      reader.close()
    }
  } catch {
    return new Set() // not created yet, or busy
  }
}

describe("interop: bitscrape crawl on a sparse third-party swarm (issue 14)", () => {
  it.scopedLive(
    `fetches at least ${MIN_RECALL * 100} % of the swarm's torrents within ${CRAWL_SECONDS} s`,
    () =>
      Effect.gen(function*() {
        const swarm = yield* makeSparseSwarm({ settle: "5 seconds", lookupEveryMillis: LOOKUP_EVERY_MILLIS })
        const wanted = new Set(swarm.torrents.map((t) => t.infoHashHex))
        assert.strictEqual(wanted.size, 60, "60 distinct torrents are seeded")
        const db = join(mkdtempSync(join(tmpdir(), "bitscrape-sparse-")), "crawl.db")
        const child = yield* Effect.acquireRelease(
          Effect.sync(() =>
            spawnCli([
              "crawl",
              ...["--bootstrap", `${swarm.bootstrap.host}:${swarm.bootstrap.port}`],
              ...["--bind", "127.71.0.1", "--port", "0", "--allow", "127.0.0.0/8", "--no-ui", "--json"],
              ...["--db", db, "--duration", String(CRAWL_SECONDS)],
              ...EXTRA_ARGS
            ])
          ),
          (c) => Effect.sync(() => c.exitCode === null && c.kill("SIGKILL"))
        )
        let stderr = ""
        child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr = (stderr + t).slice(-4000)))
        child.stdout.resume()
        const exited = Effect.async<number | null>((resume) => {
          if (child.exitCode !== null) return resume(Effect.succeed(child.exitCode))
          child.once("exit", (code) => resume(Effect.succeed(code)))
        })
        // Stop early once everything is fetched; the crawl ends itself after CRAWL_SECONDS otherwise.
        const poll: Effect.Effect<void> = Effect.suspend(() =>
          [...wanted].every((h) => fetchedHashes(db).has(h))
            ? Effect.sync(() => child.kill("SIGINT"))
            : Effect.zipRight(Effect.sleep("2 seconds"), poll)
        )
        const code = yield* Effect.raceFirst(exited, Effect.zipRight(poll, exited)).pipe(
          Effect.timeoutFail({
            duration: `${CRAWL_SECONDS + 60} seconds`,
            onTimeout: () => new Error(`crawl did not end; stderr: ${stderr}`)
          })
        )
        assert.strictEqual(code, 0, `crawl exits cleanly; stderr: ${stderr}`)
        const fetched = [...fetchedHashes(db)].filter((h) => wanted.has(h))
        const recall = fetched.length / wanted.size
        assert.isAtLeast(
          recall,
          MIN_RECALL,
          `fetched ${fetched.length} of ${wanted.size} torrents (extra args: ${EXTRA_ARGS.join(" ") || "none"})`
        )
      }),
    (CRAWL_SECONDS + 150) * 1000
  )
})
