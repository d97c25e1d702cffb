// The fetcher against peers that misbehave in every way we know: each ends in a typed, counted outcome —
// never a crash, a hang past the deadline, or unbounded memory — and no socket is left open.
// Under TestClock (`it.scoped`): the seeders are real loopback sockets, the sessions' time-outs run on the test's
// clock, so a stall is ended by `TestClock.adjust`, never by waiting, and a failure that needs the clock to move
// before it happens is not "before the deadline".
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, TestClock } from "effect"
import { randomBytes } from "node:crypto"
import { fetcherConfig } from "../../src/config/FetcherConfig.js"
import type { InfoHash } from "../../src/krpc/index.js"
import { MetadataFetcher, MetadataFetcherLive } from "../../src/metadata/MetadataFetcher.js"
import { fetchFromPeer } from "../../src/metadata/peerSession.js"
import { encode } from "../../src/wire/bencode.js"
import { eventually } from "../support/eventually.js"
import { type HostileBehaviour, makeHostileSeeder } from "../support/seeders/hostileSeeder.js"

/** A multi-file info dictionary of about 40 KiB: three metadata pieces. */
const bigInfo = encode({
  name: "Hostile test album",
  "piece length": 262144,
  pieces: randomBytes(20 * 50),
  files: Array.from(
    { length: 400 },
    (_, i) => ({ length: 1000 + i, path: ["disc", `track ${i} ${"x".repeat(40)}.flac`] })
  )
})

const open = (seeder: { host: string; port: number; infoHash: Uint8Array }, maxMetadataSize = 10 << 20) =>
  fetchFromPeer({
    infoHash: seeder.infoHash,
    host: seeder.host,
    port: seeder.port,
    peerId: randomBytes(20),
    client: "BitScrape test",
    connectTimeoutMillis: 2000,
    maxMetadataSize
  }).pipe(Effect.timeout("4 seconds"), Effect.either)

/** A session decided by the peer's bytes alone; one still running after them meets its 4 s deadline (TestClock). */
const session = (seeder: { host: string; port: number; infoHash: Uint8Array }, maxMetadataSize?: number) =>
  Effect.gen(function*() {
    const running = yield* Effect.fork(open(seeder, maxMetadataSize))
    yield* eventually(() => running.unsafePoll() !== null, 4000)
    yield* TestClock.adjust("4 seconds")
    return yield* Fiber.join(running)
  })

const expectations: ReadonlyArray<readonly [HostileBehaviour, string]> = [
  ["lies-about-size", "HashMismatch"],
  ["wrong-pieces", "HashMismatch"],
  ["disconnect-mid-piece", "Closed"],
  ["huge-length-prefix", "ProtocolError"],
  ["bad-piece-index", "BadPiece"],
  ["reject-all", "Rejected"],
  ["no-extension-bit", "NoExtensionProtocol"],
  ["wrong-infohash-handshake", "WrongInfohash"],
  ["flood", "Flood"]
]

describe("peer sessions against hostile seeders", () => {
  it.scoped("an honest seeder gives verified metadata of several pieces", () =>
    Effect.gen(function*() {
      const seeder = yield* makeHostileSeeder({ host: "127.30.0.1", infoDict: bigInfo, behaviour: "honest" })
      const r = yield* session(seeder)
      assert.isTrue(Either.isRight(r), JSON.stringify(r))
      if (Either.isRight(r)) {
        const { info } = r.right
        assert.isAbove(bigInfo.length, 2 * 16384)
        assert.strictEqual(info.files.length, 400)
        assert.strictEqual(Buffer.compare(Buffer.from(info.info), Buffer.from(bigInfo)), 0)
      }
    }))

  for (const [behaviour, reason] of expectations) {
    it.scoped(`${behaviour} → ${reason}`, () =>
      Effect.gen(function*() {
        const seeder = yield* makeHostileSeeder({ host: "127.30.0.2", infoDict: bigInfo, behaviour })
        const r = yield* session(seeder)
        assert.isTrue(Either.isLeft(r), "fails")
        if (Either.isLeft(r)) {
          assert.strictEqual(r.left._tag, "PeerFetchError", "a typed failure before the deadline")
          if (r.left._tag === "PeerFetchError") assert.strictEqual(r.left.reason, reason, r.left.detail)
        }
        yield* eventually(() => seeder.openConnections() === 0)
        assert.strictEqual(seeder.openConnections(), 0, "no connection left open")
      }))
  }

  it.scoped("metadata larger than the limit is refused before any piece is requested", () =>
    Effect.gen(function*() {
      const seeder = yield* makeHostileSeeder({ host: "127.30.0.3", infoDict: bigInfo, behaviour: "honest" })
      const r = yield* session(seeder, 16384)
      assert.isTrue(Either.isLeft(r) && r.left._tag === "PeerFetchError" && r.left.reason === "MetadataTooLarge")
      assert.strictEqual(seeder.requests(), 0)
    }))

  it.scoped("a stalled peer hits the per-peer deadline, and interruption closes the socket", () =>
    Effect.gen(function*() {
      const seeder = yield* makeHostileSeeder({ host: "127.30.0.4", infoDict: bigInfo, behaviour: "stall" })
      const fetcher = yield* Effect.provide(MetadataFetcher, MetadataFetcherLive).pipe(
        Effect.provide(fetcherConfig({ peerTimeout: Duration.millis(500) }))
      )
      const fetching = yield* Effect.fork(Effect.either(fetcher.fetch(seeder.infoHash as InfoHash, [seeder])))
      yield* eventually(() => seeder.requests() > 0) // connected, both handshakes done, pieces asked for
      yield* TestClock.adjust("500 millis")
      const r = yield* Fiber.join(fetching)
      assert.isTrue(Either.isLeft(r))
      if (Either.isLeft(r)) assert.strictEqual(r.left.attempts[0]?.reason, "Timeout")
      const stalled = yield* Effect.fork(open(seeder))
      yield* eventually(() => seeder.openConnections() === 1)
      assert.strictEqual(seeder.openConnections(), 1)
      yield* Fiber.interrupt(stalled)
      yield* eventually(() => seeder.openConnections() === 0)
      assert.strictEqual(seeder.openConnections(), 0)
    }))
})

describe("MetadataFetcher", () => {
  it.scoped("a peer with an impossible address (port 0, as a hostile DHT node may announce) fails typed", () =>
    Effect.gen(function*() {
      const fetcher = yield* Effect.provide(MetadataFetcher, MetadataFetcherLive).pipe(
        Effect.provide(fetcherConfig())
      )
      const e = yield* Effect.flip(
        fetcher.fetch(randomBytes(20) as Uint8Array as InfoHash, [{ host: "127.31.1.1", port: 0 }])
      )
      assert.strictEqual(e.reason, "AllPeersFailed")
      assert.strictEqual(e.attempts[0]?.reason, "ConnectFailed")
    }))

  it.scoped("tries several peers: liars and stallers lose, the honest one wins; dead peers are remembered", () =>
    Effect.gen(function*() {
      const liar = yield* makeHostileSeeder({ host: "127.31.0.1", infoDict: bigInfo, behaviour: "wrong-pieces" })
      const staller = yield* makeHostileSeeder({ host: "127.31.0.2", infoDict: bigInfo, behaviour: "stall" })
      const honest = yield* makeHostileSeeder({ host: "127.31.0.3", infoDict: bigInfo, behaviour: "honest" })
      const fetcher = yield* Effect.provide(MetadataFetcher, MetadataFetcherLive).pipe(
        Effect.provide(fetcherConfig({ peerTimeout: Duration.seconds(2), parallelPeers: 2 }))
      )
      const torrent = yield* fetcher.fetch(honest.infoHash as InfoHash, [liar, staller, honest])
      assert.strictEqual(torrent.files.length, 400)
      assert.deepStrictEqual(torrent.sourcePeer, { host: honest.host, port: honest.port })
      // The liar is now in the dead-peer cache: a second fetch with only it fails at once with NoPeers.
      const again = yield* Effect.flip(fetcher.fetch(honest.infoHash as InfoHash, [liar]))
      assert.strictEqual(again.reason, "NoPeers")
      const stats = yield* fetcher.stats
      assert.isAtLeast(stats.peerFailures.HashMismatch ?? 0, 1)
    }))
})
