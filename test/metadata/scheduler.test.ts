// Under TestClock (`it.scoped`): the seeders are real loopback sockets; the backoffs, the sessions' time-outs and the
// input's end run on the test's clock, which moves only while no attempt is in flight.
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Fiber, Option, Stream, TestClock } from "effect"
import { randomBytes } from "node:crypto"
import { fetcherConfig } from "../../src/config/FetcherConfig.js"
import { type InfoHash, toHex } from "../../src/krpc/index.js"
import { MetadataFetcher, MetadataFetcherLive } from "../../src/metadata/MetadataFetcher.js"
import { encode } from "../../src/wire/bencode.js"
import { eventually } from "../support/eventually.js"
import { makeHostileSeeder } from "../support/seeders/hostileSeeder.js"

const info = (name: string) => encode({ name, "piece length": 16384, pieces: randomBytes(20), length: 1234 })

describe("MetadataFetcher.run (scheduler)", () => {
  it.scoped(
    "fetches what it can, retries with backoff, gives up after maxAttempts, and ends with its input",
    () =>
      Effect.gen(function*() {
        const good = yield* Effect.forEach(
          ["alpha", "beta"],
          (n, i) => makeHostileSeeder({ host: `127.32.0.${i + 1}`, infoDict: info(n), behaviour: "honest" })
        )
        const liar = yield* makeHostileSeeder({ host: "127.32.0.9", infoDict: info("gamma"), behaviour: "reject-all" })
        const fetcher = yield* Effect.provide(MetadataFetcher, MetadataFetcherLive).pipe(
          Effect.provide(fetcherConfig({ retryBackoff: Duration.millis(100), maxAttempts: 2, maxConnections: 6 }))
        )
        // The liar's infohash is requested twice with new "peers" so a retry has someone to try.
        const requests = Stream.fromIterable([
          { infoHash: liar.infoHash as InfoHash, peers: [liar] },
          ...good.map((s) => ({ infoHash: s.infoHash as InfoHash, peers: [s] })),
          { infoHash: liar.infoHash as InfoHash, peers: [{ host: liar.host, port: liar.port }] }
        ]).pipe(Stream.concat(Stream.fromEffect(Effect.sleep("1500 millis")).pipe(Stream.drain)))
        const collecting = yield* Effect.fork(Stream.runCollect(fetcher.run(requests)))
        // The clock moves in 100 ms steps, each once the first attempts are over and nothing is in flight.
        const quiet = () => {
          const stats = Effect.runSync(fetcher.stats)
          return stats.fetched === 2 && stats.active === 0 && liar.connections() > 0
        }
        for (let step = 0; step < 30 && Option.isNone(yield* Fiber.poll(collecting)); step++) {
          yield* eventually(quiet)
          yield* TestClock.adjust("100 millis")
        }
        const outcomes = Chunk.toReadonlyArray(yield* Fiber.join(collecting))
        const fetched = outcomes.flatMap((o) => o._tag === "Fetched" ? [o.torrent.name] : [])
        assert.sameMembers(fetched, ["alpha", "beta"])
        const failures = outcomes.flatMap((o) => o._tag === "Failed" ? [o] : [])
        assert.isAtLeast(failures.length, 1)
        assert.isTrue(failures.every((f) => toHex(f.failure.infoHash) === toHex(liar.infoHash)))
        assert.include(failures[0]!.failure.error, "Rejected")
        const stats = yield* fetcher.stats
        assert.strictEqual(stats.fetched, 2)
      }),
    30_000
  )

  it.scoped("takes the most announced infohash first when connections are scarce", () =>
    Effect.gen(function*() {
      const seeders = yield* Effect.forEach(
        ["alpha", "beta", "gamma"],
        (n, i) => makeHostileSeeder({ host: `127.32.1.${i + 1}`, infoDict: info(n), behaviour: "honest" })
      )
      const fetcher = yield* Effect.provide(MetadataFetcher, MetadataFetcherLive).pipe(
        Effect.provide(fetcherConfig({ maxConnections: 1 }))
      )
      const req = (i: number) => {
        const s = seeders[i]!
        return { infoHash: s.infoHash as InfoHash, peers: [{ host: s.host, port: s.port }] }
      }
      // One chunk: all are queued before the first starts. beta announced 3 times, gamma twice, alpha once.
      const requests = Stream.fromIterable([req(0), req(1), req(1), req(2), req(1), req(2)]).pipe(
        Stream.concat(Stream.never)
      )
      const outcomes = yield* Stream.runCollect(fetcher.run(requests).pipe(Stream.take(3)))
      const names = Chunk.toReadonlyArray(outcomes).map((o) => o._tag === "Fetched" ? o.torrent.name : "failed")
      assert.deepStrictEqual(names, ["beta", "gamma", "alpha"])
    }))

  it.scoped("closing the outcome stream interrupts the attempts and closes every connection", () =>
    Effect.gen(function*() {
      const stallers = yield* Effect.forEach(
        ["s1", "s2", "s3"],
        (n, i) => makeHostileSeeder({ host: `127.32.2.${i + 1}`, infoDict: info(n), behaviour: "stall" })
      )
      const fetcher = yield* Effect.provide(MetadataFetcher, MetadataFetcherLive).pipe(
        Effect.provide(fetcherConfig())
      )
      const requests = Stream.fromIterable(stallers.map((s) => ({ infoHash: s.infoHash as InfoHash, peers: [s] })))
        .pipe(Stream.concat(Stream.never))
      const consumer = yield* Effect.fork(Stream.runDrain(fetcher.run(requests)))
      const open = () => stallers.reduce((n, s) => n + s.openConnections(), 0)
      yield* eventually(() => open() === 3)
      assert.strictEqual(open(), 3)
      assert.strictEqual((yield* fetcher.stats).active, 3)
      yield* Fiber.interrupt(consumer)
      yield* eventually(() => open() === 0)
      assert.strictEqual(open(), 0, "no connection left open")
      assert.strictEqual((yield* fetcher.stats).active, 0)
    }))
})
