// The metadata seeders themselves, on loopback: npm webtorrent and python3-libtorrent serve what they report, checked
// with an independent client (npm bittorrent-protocol + ut_metadata, SHA-1 only) and the strict mini client (which
// also verifies SHA-256 for v2); the hostile seeder serves honestly in "honest" mode and misbehaves as promised in
// every other mode. A missing package fails the test naming what to install.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { createHash } from "node:crypto"
import { makeTorrent } from "../torrents.js"
import { HOSTILE_BEHAVIOURS, makeHostileSeeder, otherTorrentInfo } from "./hostileSeeder.js"
import type { HostileBehaviour, HostileSeederOptions } from "./hostileSeeder.js"
import { makeLibtorrentSeeders } from "./LibtorrentSeeders.js"
import type { MiniClientError } from "./metadataClient.js"
import { fetchMetadata } from "./metadataClient.js"
import { hexBytes, infoBytes } from "./types.js"
import { fetchWithUtMetadata } from "./utMetadataClient.mjs"
import { makeWebtorrentSeeders } from "./WebtorrentSeeders.js"

const sha1Hex = (bytes: Uint8Array) => createHash("sha1").update(bytes).digest("hex")
const sha256Hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

/** The client's error, or a defect naming what came back instead (never the whole, huge result). */
const failureOf = <A extends { readonly metadataSize: number }>(self: Effect.Effect<A, MiniClientError>) =>
  Effect.flatMap(
    Effect.either(self),
    Either.match({
      onLeft: Effect.succeed,
      onRight: (got) => Effect.dieMessage(`expected a failure, got ${got.metadataSize} bytes of metadata`)
    })
  )

const utMetadata = (options: Parameters<typeof fetchWithUtMetadata>[0]) =>
  Effect.tryPromise({ try: () => fetchWithUtMetadata(options), catch: (e) => e as Error })

describe("WebtorrentSeeders", () => {
  it.scopedLive(
    "webtorrent seeds every default torrent and serves its info dict to ut_metadata and the mini client",
    () =>
      Effect.gen(function*() {
        const seeders = yield* makeWebtorrentSeeders()
        yield* Effect.log(`webtorrent: 4 torrents seeding in ${seeders.startupMillis} ms`)
        const torrents = yield* seeders.torrents()
        assert.strictEqual(torrents.length, 4)
        assert.strictEqual(new Set(torrents.map((t) => t.peer.host)).size, 4, "one address per torrent")
        for (const t of torrents) {
          const info = infoBytes(t)
          assert.strictEqual(sha1Hex(info), t.infoHashHex, `${t.name}: reported infoHex hashes to the infohash`)
          assert.match(t.peer.host, /^127\./)
          const viaUt = yield* utMetadata({ ...t.peer, infoHashHex: t.infoHashHex })
          assert.isTrue(same(viaUt.info, info), `${t.name}: ut_metadata got the reported bytes`)
          const viaMini = yield* fetchMetadata({ ...t.peer, handshakeHash: hexBytes(t.infoHashHex) })
          assert.isTrue(same(viaMini.info, info), `${t.name}: mini client got the reported bytes`)
        }
        const [single, multi, large, unicode] = torrents
        assert.deepStrictEqual(single.files, [{ path: "wt-single-file.bin", length: 100_000 }])
        assert.deepInclude(multi.files, { path: "empty.txt", length: 0 })
        assert.deepInclude(multi.files, { path: "sub/dir/b.bin", length: 70_000 })
        assert.strictEqual(large.files.length, 600)
        assert.isAbove(large.infoSize, 16_384)
        assert.isAbove(large.metadataPieces, 1)
        assert.strictEqual(unicode.name, "Café ☕ 日本語 — wt")
        const status = yield* seeders.status()
        assert.isTrue(status.every((c) => c.torrents.every((t) => t.done)), "every client is a seeder")
        assert.deepStrictEqual(yield* seeders.violations(), [], "webtorrent stayed on loopback")
      }),
    40_000
  )
})

describe("LibtorrentSeeders", () => {
  it.scopedLive(
    "libtorrent seeds every kind and serves it: v1 and hybrid to ut_metadata, v2 and hybrid by SHA-256",
    () =>
      Effect.gen(function*() {
        const seeders = yield* makeLibtorrentSeeders()
        const torrents = yield* seeders.torrents()
        yield* Effect.log(`libtorrent: ${torrents.length} torrents seeding in ${seeders.startupMillis} ms`)
        const byKind = new Map(torrents.map((t) => [t.kind, t]))
        assert.strictEqual(torrents.length, 14)
        for (const t of torrents) {
          const info = infoBytes(t)
          assert.strictEqual(t.infoSize, info.length)
          assert.deepStrictEqual(t.peer, seeders.peer)
          if (t.infoHashHex !== null) {
            assert.strictEqual(sha1Hex(info), t.infoHashHex, `${t.kind}: SHA-1`)
            const viaUt = yield* utMetadata({ ...t.peer, infoHashHex: t.infoHashHex })
            assert.isTrue(same(viaUt.info, info), `${t.kind}: ut_metadata got the reported bytes`)
          }
          if (t.infoHashV2Hex !== null) {
            assert.strictEqual(sha256Hex(info), t.infoHashV2Hex, `${t.kind}: SHA-256`)
            assert.strictEqual(t.infoHashV2TruncatedHex, t.infoHashV2Hex.slice(0, 40))
            const viaV2 = yield* fetchMetadata({
              ...t.peer,
              handshakeHash: hexBytes(t.infoHashV2TruncatedHex!),
              verify: { sha256: hexBytes(t.infoHashV2Hex) }
            })
            assert.isTrue(same(viaV2.info, info), `${t.kind}: fetched by the truncated v2 hash`)
          } else {
            const viaMini = yield* fetchMetadata({ ...t.peer, handshakeHash: hexBytes(t.handshakeHashHex) })
            assert.isTrue(same(viaMini.info, info), `${t.kind}: mini client`)
          }
        }

        const kind = (k: string) => byKind.get(k as never)!
        assert.strictEqual(kind("v1-single").version, "v1")
        assert.strictEqual(kind("v1-single").files.length, 1)
        assert.isAbove(kind("v1-multi-large").infoSize, 16_384)
        for (const size of [16_384, 16_385, 32_767, 32_768, 32_769]) {
          assert.strictEqual(kind(`v1-size-${size}`).infoSize, size)
        }
        assert.strictEqual(kind("v1-size-32769").metadataPieces, 3)
        assert.strictEqual(kind("v2-only").version, "v2")
        assert.isNull(kind("v2-only").infoHashHex)
        assert.strictEqual(kind("hybrid").version, "hybrid")
        assert.isTrue(kind("hybrid").files.some((f) => f.pad === true), "hybrid has BEP 47 pad files")
        assert.isTrue(kind("v1-pads").files.some((f) => f.pad === true), "v1-pads has BEP 47 pad files")
        assert.isTrue(kind("v1-pads").files.some((f) => f.length === 0 && f.pad !== true), "and a zero-length file")
        assert.strictEqual(kind("v1-3000-files").files.length, 3000)
        assert.include(kind("latin1-raw").nameHex, "436166e9", "raw ISO-8859-1 'Café'")
        assert.isNull(kind("latin1-raw").nameUtf8)
        assert.strictEqual(kind("latin1-utf8").nameUtf8, "Café crème brûlée à la française")
        assert.strictEqual(kind("html-name").name, "<script>alert(1)</script>")

        // INTEROP.md: ut_metadata verifies SHA-1 only, so it cannot fetch a v2-only torrent.
        const v2 = kind("v2-only")
        const refused = yield* Effect.either(
          utMetadata({ ...v2.peer, infoHashHex: v2.infoHashV2TruncatedHex!, timeoutMs: 1000 })
        )
        assert.isTrue(Either.isLeft(refused), "ut_metadata cannot fetch v2-only metadata")

        const status = yield* seeders.status()
        assert.isTrue(status.every((s) => s.seeding), "every torrent seeding")
      }),
    50_000
  )
})

describe("hostile seeder", () => {
  // Over 16 KiB, so several metadata pieces.
  const torrent = makeTorrent(
    "hostile-fixture",
    Array.from({ length: 400 }, (_, i) => ({ path: `some/fairly/long/directory/name/file-${i}.bin`, length: i + 1 }))
  )
  const host = "127.42.0.1"

  it.scopedLive("honest: the mini client and ut_metadata both get the info dict", () =>
    Effect.gen(function*() {
      assert.isAbove(torrent.info.length, 16_384)
      const seeder = yield* makeHostileSeeder({ host, infoDict: torrent.info, behaviour: "honest" })
      assert.strictEqual(Buffer.from(seeder.infoHash).toString("hex"), Buffer.from(torrent.infoHash).toString("hex"))
      const got = yield* fetchMetadata({ host, port: seeder.port, handshakeHash: seeder.infoHash })
      assert.isTrue(same(got.info, torrent.info))
      assert.strictEqual(got.reqq, 250)
      const viaUt = yield* utMetadata({ host, port: seeder.port, infoHashHex: sha1Hex(torrent.info) })
      assert.isTrue(same(viaUt.info, torrent.info))
      assert.strictEqual(seeder.connections(), 2)
      assert.strictEqual(seeder.requests(), 2 * Math.ceil(torrent.info.length / 16_384))

      // With reqq 1 a client that keeps one request in flight still succeeds.
      const strict = yield* makeHostileSeeder({ host, infoDict: torrent.info, behaviour: "honest", reqq: 1 })
      const one = yield* fetchMetadata({ host, port: strict.port, handshakeHash: strict.infoHash, pipeline: 1 })
      assert.isTrue(same(one.info, torrent.info))
      // ...and one that ignores it gets rejects.
      const greedy = yield* failureOf(
        fetchMetadata({ host, port: strict.port, handshakeHash: strict.infoHash, pipeline: 8, respectReqq: false })
      )
      assert.strictEqual(greedy.reason, "Rejected")
    }))

  const expected: ReadonlyArray<
    readonly [HostileBehaviour, MiniClientError["reason"], Partial<HostileSeederOptions>?]
  > = [
    ["lies-about-size", "HashMismatch"],
    ["lies-about-size", "HashMismatch", { claimedSize: torrent.info.length - 100 }],
    ["wrong-pieces", "HashMismatch"],
    ["stall", "Timeout"],
    ["disconnect-mid-piece", "Closed"],
    ["flood", "Timeout"],
    ["huge-length-prefix", "MessageTooLong"],
    ["bad-piece-index", "BadPiece"],
    ["reject-all", "Rejected"],
    ["no-extension-bit", "NoExtensionProtocol"],
    ["wrong-infohash-handshake", "HandshakeMismatch"]
  ]

  it.scopedLive("every other behaviour misbehaves as documented", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(
        [...new Set(expected.map(([b]) => b))].sort(),
        HOSTILE_BEHAVIOURS.filter((b) => b !== "honest").sort(),
        "every behaviour is covered"
      )
      for (const [behaviour, reason, extra] of expected) {
        yield* Effect.scoped(Effect.gen(function*() {
          const seeder = yield* makeHostileSeeder({ host, infoDict: torrent.info, behaviour, ...extra })
          const error = yield* failureOf(
            fetchMetadata({ host, port: seeder.port, handshakeHash: seeder.infoHash, timeoutMillis: 600 })
          )
          assert.strictEqual(error.reason, reason, `${behaviour}: ${error.detail}`)
          assert.strictEqual(seeder.connections(), 1)
          if (behaviour === "flood") assert.isAbove(seeder.floodSent(), 1000, "flood sent a lot in 600 ms")
        }))
      }
    }), 20_000)

  it.scopedLive("wrong-infohash-handshake fools ut_metadata (it checks the peer's handshake hash)", () =>
    Effect.gen(function*() {
      const other = otherTorrentInfo()
      const seeder = yield* makeHostileSeeder({
        host,
        infoDict: torrent.info,
        behaviour: "wrong-infohash-handshake",
        otherInfoDict: other
      })
      const got = yield* utMetadata({ host, port: seeder.port, infoHashHex: sha1Hex(torrent.info) })
      assert.strictEqual(got.remoteInfoHashHex, sha1Hex(other))
      assert.isTrue(same(got.info, other), "ut_metadata accepted another torrent's metadata")
    }))
})
