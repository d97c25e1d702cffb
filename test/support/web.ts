// A web server for tests: the real WebServerLive on 127.0.0.1 and a free port, over a Repository seeded with
// a few torrents (two of them named like XSS payloads), with a LiveStats feed the test can publish to.
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { webConfig, type WebSettings } from "../../src/config/WebConfig.js"
import { type InfoHash, toHex } from "../../src/krpc/index.js"
import { RepositoryMemory } from "../../src/repository/memory.js"
import { Repository } from "../../src/repository/Repository.js"
import { WebInfo } from "../../src/web/handlers.js"
import { LiveStats, LiveStatsLive } from "../../src/web/LiveStats.js"
import { WebServer, WebServerLive } from "../../src/web/WebServer.js"
import { makeTorrent } from "./torrents.js"

export const XSS_NAMES = ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>"] as const

/** Torrents every web test can expect: an ordinary multi-file one, a big ISO, and the XSS cases. */
export const seedTorrents = () => [
  makeTorrent("Ubuntu 24.04 desktop amd64", [
    { path: "ubuntu-24.04-desktop-amd64.iso", length: 6_114_656_256 },
    { path: "docs/README.txt", length: 1_200 },
    { path: "docs/<b>bold</b>.txt", length: 10 }
  ], { fetchedAt: 1_764_000_000_000 }),
  makeTorrent("debian-12.8.0-amd64-netinst.iso", [{ path: "debian-12.8.0-amd64-netinst.iso", length: 661_651_456 }], {
    fetchedAt: 1_764_000_100_000
  }),
  ...XSS_NAMES.map((name, i) =>
    makeTorrent(name, [{ path: `${name}/${name}.mkv`, length: 1000 + i }, { path: "other.txt", length: 5 }], {
      fetchedAt: 1_764_000_200_000 + i
    })
  )
]

export interface WebFixture {
  readonly url: string
  readonly hashes: ReadonlyArray<string>
  readonly live: Context.Tag.Service<LiveStats>
  readonly repo: Context.Tag.Service<Repository>
}

/** Builds the server into the current scope; `repository` defaults to a fresh in-memory one. */
export const webFixture = (
  settings: Partial<Omit<WebSettings, "token">> & { readonly token?: string } = {},
  repository: Layer.Layer<Repository, unknown> = RepositoryMemory
) =>
  Effect.gen(function*() {
    const { token, ...rest } = settings
    const config = webConfig({
      port: 0,
      ...rest,
      token: token === undefined ? Option.none() : Option.some(Redacted.make(token))
    })
    const info = Layer.succeed(WebInfo, {
      version: "test",
      database: ":memory:",
      host: rest.host ?? "127.0.0.1",
      port: 0,
      token: token !== undefined
    })
    const ctx = yield* Layer.build(
      WebServerLive.pipe(Layer.provideMerge(Layer.mergeAll(config, info, LiveStatsLive, repository)))
    )
    const repo = Context.get(ctx, Repository)
    const torrents = seedTorrents()
    yield* repo.recordDiscoveries(
      torrents.map((t, i) => ({
        infoHash: t.infoHash as InfoHash,
        source: "announce" as const,
        at: 1_764_000_000_000 + i,
        peer: { host: "127.0.0.9", port: 6000 + i }
      }))
    )
    yield* repo.saveTorrents(torrents)
    return {
      url: Context.get(ctx, WebServer).url,
      hashes: torrents.map((t) => toHex(t.infoHash)),
      live: Context.get(ctx, LiveStats),
      repo
    } satisfies WebFixture
  })
