// Our MetadataFetcher against seeders nobody here wrote, on loopback: npm webtorrent and Debian's
// python3-libtorrent (v1, v2-only, hybrid, pad files, info dictionaries across 16 KiB boundaries, thousands of
// files, non-UTF-8 and HTML names). Every download must verify and match the seeder's info dictionary byte for byte.
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { fetcherConfig } from "../../src/config/FetcherConfig.js"
import { infoHashFromHex, toHex } from "../../src/krpc/index.js"
import { MetadataFetcher, MetadataFetcherLive } from "../../src/metadata/MetadataFetcher.js"
import { decodeText } from "../../src/wire/torrentInfo.js"
import { layerLibtorrentSeeders, LibtorrentSeeders } from "../support/seeders/LibtorrentSeeders.js"
import { layerWebtorrentSeeders, WebtorrentSeeders } from "../support/seeders/WebtorrentSeeders.js"

const fetcher = Effect.provide(MetadataFetcher, MetadataFetcherLive).pipe(Effect.provide(fetcherConfig()))

describe("interop: metadata from python3-libtorrent seeders", () => {
  layer(layerLibtorrentSeeders({ host: "127.41.0.1" }), { timeout: 60_000, excludeTestServices: true })((it) => {
    it.effect("fetches and verifies every kind of torrent libtorrent seeds, byte-exact", () =>
      Effect.gen(function*() {
        const seeders = yield* LibtorrentSeeders
        const f = yield* fetcher
        const torrents = yield* seeders.torrents()
        assert.isAtLeast(torrents.length, 14)
        for (const t of torrents) {
          const got = yield* f.fetch(infoHashFromHex(t.handshakeHashHex)!, [t.peer])
          const label = `${t.kind} (${t.version})`
          assert.strictEqual(Buffer.from(got.info).toString("hex"), t.infoHex, label)
          assert.strictEqual(got.version, t.version, label)
          assert.strictEqual(Buffer.from(got.nameRaw).toString("hex"), t.nameHex, label)
          if (t.infoHashV2Hex !== null) assert.strictEqual(toHex(got.infoHashV2!), t.infoHashV2Hex, label)
          const realFiles = t.files.filter((x) => x.pad !== true)
          assert.strictEqual(got.files.length, realFiles.length, label)
          assert.strictEqual(got.totalLength, realFiles.reduce((n, x) => n + x.length, 0), label)
        }
      }), 120_000)

    it.effect(
      "hybrid torrents are fetched under both their v1 and their truncated v2 hash",
      () =>
        Effect.gen(function*() {
          const seeders = yield* LibtorrentSeeders
          const f = yield* fetcher
          const hybrid = yield* seeders.torrent("hybrid")
          const byV2 = yield* f.fetch(infoHashFromHex(hybrid.infoHashV2TruncatedHex!)!, [hybrid.peer])
          assert.strictEqual(Buffer.from(byV2.info).toString("hex"), hybrid.infoHex)
          assert.strictEqual(byV2.version, "hybrid")
        }),
      60_000
    )

    it.effect(
      "non-UTF-8 names decode sensibly with the raw bytes kept; name.utf-8 wins when present",
      () =>
        Effect.gen(function*() {
          const seeders = yield* LibtorrentSeeders
          const f = yield* fetcher
          const raw = yield* seeders.torrent("latin1-raw")
          const got = yield* f.fetch(infoHashFromHex(raw.handshakeHashHex)!, [raw.peer])
          assert.strictEqual(got.name, decodeText(Buffer.from(raw.nameHex, "hex")).text)
          assert.notInclude(got.name, "\uFFFD")
          assert.isTrue(got.files.some((x) => x.pathRaw !== undefined), "raw path bytes kept")
          const withUtf8 = yield* seeders.torrent("latin1-utf8")
          const got2 = yield* f.fetch(infoHashFromHex(withUtf8.handshakeHashHex)!, [withUtf8.peer])
          assert.strictEqual(got2.name, withUtf8.nameUtf8)
          const html = yield* seeders.torrent("html-name")
          const got3 = yield* f.fetch(infoHashFromHex(html.handshakeHashHex)!, [html.peer])
          assert.strictEqual(got3.name, "<script>alert(1)</script>")
        }),
      60_000
    )
  })
})

describe("interop: metadata from npm webtorrent seeders", () => {
  layer(layerWebtorrentSeeders({ baseHost: "127.40.0.1" }), { timeout: 60_000, excludeTestServices: true })((it) => {
    it.effect("fetches and verifies every torrent webtorrent seeds, byte-exact", () =>
      Effect.gen(function*() {
        const seeders = yield* WebtorrentSeeders
        const f = yield* fetcher
        const torrents = yield* seeders.torrents()
        assert.isAtLeast(torrents.length, 4)
        for (const t of torrents) {
          const got = yield* f.fetch(infoHashFromHex(t.infoHashHex)!, [t.peer])
          assert.strictEqual(Buffer.from(got.info).toString("hex"), t.infoHex, t.name)
          assert.strictEqual(got.name, t.name)
          assert.strictEqual(got.files.length, t.files.filter((x) => x.pad !== true).length, t.name)
        }
        assert.isTrue(torrents.some((t) => t.metadataPieces > 1), "a multi-piece info dictionary was among them")
        assert.deepStrictEqual(yield* seeders.violations(), [])
      }), 120_000)
  })
})
