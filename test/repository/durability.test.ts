import { assert, describe, it, layer } from "@effect/vitest"
import Database from "better-sqlite3"
import { Chunk, Duration, Effect, Option, Stream } from "effect"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { InfoHash } from "../../src/krpc/index.js"
import { RepositoryPostgres } from "../../src/repository/layers.js"
import { RepositoryMemory } from "../../src/repository/memory.js"
import { Repository, writeBatched } from "../../src/repository/Repository.js"
import { layerPostgresServer, PostgresServer } from "../support/postgres.js"

const WRITER = fileURLToPath(new URL("./fixtures/writer.ts", import.meta.url))
const hashOf = (seed: string, i: number) => createHash("sha1").update(`${seed}:${i}`).digest()

/** Runs the writer child; resolves with the batches it reported committed and how it ended. */
const runWriter = (
  args: ReadonlyArray<string>,
  killAfter?: number
) =>
  Effect.async<{ committed: number; code: number | null; signal: string | null; stderr: string }>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", WRITER, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let committed = 0
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      committed += text.split("\n").filter((l) => l.startsWith("committed")).length
      if (killAfter !== undefined && committed >= killAfter) child.kill("SIGKILL")
    })
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text))
    child.on("exit", (code, signal) => resume(Effect.succeed({ committed, code, signal, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("durability", () => {
  it.live(
    "after kill -9 mid-crawl the SQLite database opens cleanly with every committed batch",
    () =>
      Effect.gen(function*() {
        const dir = mkdtempSync(join(tmpdir(), "bitscrape-kill-"))
        const file = join(dir, "crawl.db")
        const run = yield* runWriter([file, "100000", "200", "k9", "0"], 25)
        assert.strictEqual(run.signal, "SIGKILL", run.stderr)
        assert.isAtLeast(run.committed, 25)
        const db = new Database(file)
        assert.strictEqual(db.pragma("integrity_check", { simple: true }), "ok")
        const has = db.prepare("SELECT 1 FROM infohashes WHERE hash = ?")
        for (let b = 0; b < run.committed; b++) {
          for (const i of [b * 200, b * 200 + 199]) {
            assert.isDefined(has.get(hashOf("k9", i)), `batch ${b} (reported committed) is present`)
          }
        }
        // A batch is all or nothing: the row count is a whole number of batches.
        const count = (db.prepare("SELECT count(*) AS n FROM infohashes").get() as { n: number }).n
        assert.strictEqual(count % 200, 0)
        db.close()
        rmSync(dir, { recursive: true, force: true })
      }),
    60_000
  )

  it.effect("writeBatched groups by size or time, and flushes the last partial batch when the stream ends", () =>
    Effect.gen(function*() {
      const repo = yield* Repository
      const batches: Array<number> = []
      const written = yield* writeBatched(
        Stream.fromIterable(Array.from({ length: 2500 }, (_, i) => i)),
        (batch) =>
          Effect.zipRight(
            Effect.sync(() => batches.push(batch.length)),
            repo.recordDiscoveries(batch.map((i) => ({
              infoHash: hashOf("wb", i) as Uint8Array as InfoHash,
              source: "lookup" as const,
              at: i
            })))
          ),
        { size: 1000, within: Duration.minutes(1) }
      )
      assert.strictEqual(written, 2500)
      assert.deepStrictEqual(batches, [1000, 1000, 500])
      assert.strictEqual((yield* repo.stats).infohashes, 2500)
    }).pipe(Effect.provide(RepositoryMemory)))

  it.live("a slow database slows the producer instead of buffering without bound", () =>
    Effect.gen(function*() {
      let produced = 0
      let written = 0
      let maxLag = 0
      const source = Stream.repeatEffect(Effect.sync(() => ++produced)).pipe(Stream.take(400))
      yield* writeBatched(source, (batch) =>
        Effect.sync(() => {
          written += batch.length
          maxLag = Math.max(maxLag, produced - written)
        }).pipe(Effect.zipLeft(Effect.sleep("5 millis"))), { size: 10, within: Duration.seconds(1) })
      assert.strictEqual(written, 400)
      // The producer never ran more than a couple of batches ahead of the committed writes.
      assert.isAtMost(maxLag, 40)
    }))
})

describe("several crawlers, one PostgreSQL", () => {
  layer(layerPostgresServer(), { timeout: 60_000 })((it) => {
    it.effect(
      "two processes writing overlapping infohashes concurrently lose and duplicate nothing",
      () =>
        Effect.gen(function*() {
          const server = yield* PostgresServer
          const url = yield* server.createDatabase(`two_writers_${process.pid}`)
          // Both write the same 20 batches × 500 keys, in different shuffled orders, at the same time.
          const [a, b] = yield* Effect.all([
            runWriter([url, "20", "500", "shared"]),
            runWriter([url, "20", "500", "shared"])
          ], {
            concurrency: 2
          })
          assert.strictEqual(a.code, 0, a.stderr)
          assert.strictEqual(b.code, 0, b.stderr)
          const stats = yield* Effect.provide(
            Effect.flatMap(Repository, (repo) =>
              Effect.all({
                stats: repo.stats,
                sample: repo.getInfohash(hashOf("shared", 1234) as Uint8Array as InfoHash),
                all: Effect.map(Stream.runCollect(repo.export({})), Chunk.size)
              })),
            RepositoryPostgres(url)
          )
          assert.strictEqual(stats.stats.infohashes, 10_000)
          assert.strictEqual(stats.all, 10_000)
          assert.strictEqual(Option.getOrThrow(stats.sample).seen.sample, 2, "each process's sighting counted once")
        }),
      120_000
    )
  })
})
