// npm webtorrent seeding generated torrents on loopback, in one child process, as a scoped resource. Each torrent
// has its own WebTorrent client listening on its own 127.x address; all public discovery is off (see
// webtorrentSeeder.mjs for the settings and the listen-address workaround).
import { Clock, Context, Effect, Layer } from "effect"
import type { Duration, Scope } from "effect"
import { fileURLToPath } from "node:url"
import { InteropProcessError, spawnJsonLines, withLiveClock } from "../interop/jsonLinesProcess.js"
import { loopbackHosts } from "../interop/loopbackHosts.js"
import type { SeededTorrent } from "./types.js"

export interface WebtorrentTorrentSpec {
  /** The torrent's name: its folder, or its one file when `files` is a single file with this name. */
  readonly name: string
  /** Zero-filled files; paths are relative to the torrent's folder, "/"-separated. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly length: number }>
  /** Piece length (default: create-torrent's choice). */
  readonly pieceLength?: number
}

const pad = (n: number, width: number) => String(n).padStart(width, "0")

/** Single-file, multi-file (nested, a zero-length file), 600 long paths (info dict > 16 KiB), and a UTF-8 name. */
export const defaultWebtorrentTorrents: ReadonlyArray<WebtorrentTorrentSpec> = [
  { name: "wt-single-file.bin", files: [{ path: "wt-single-file.bin", length: 100_000 }] },
  {
    name: "wt-multi-file",
    files: [
      { path: "a.bin", length: 40_000 },
      { path: "sub/dir/b.bin", length: 70_000 },
      { path: "empty.txt", length: 0 }
    ]
  },
  {
    name: "wt-600-long-paths",
    files: Array.from({ length: 600 }, (_, i) => ({
      path: `a-rather-long-directory-name-${pad(Math.floor(i / 20), 3)}/nested-subdirectory-with-a-long-name/` +
        `file-${pad(i, 4)}-with-a-long-descriptive-name.bin`,
      length: 100 + i
    }))
  },
  {
    name: "Café ☕ 日本語 — wt",
    files: [{ path: "naïve résumé.txt", length: 1234 }, { path: "Ünïcödé/ファイル.bin", length: 5678 }]
  }
]

export interface WebtorrentSeedersOptions {
  /** Default `defaultWebtorrentTorrents`. */
  readonly torrents?: ReadonlyArray<WebtorrentTorrentSpec>
  /** Torrent i listens on the i-th address from here on (default "127.40.0.1"). */
  readonly baseHost?: string
  /** TCP port of every client; 0 (default) picks an ephemeral port per client. */
  readonly port?: number
  /** Limit for start-up: files written, hashed and seeding (default 30 s). */
  readonly startTimeout?: Duration.DurationInput
}

export interface WebtorrentSeedersApi {
  /** Milliseconds from spawn to every torrent seeding. */
  readonly startupMillis: number
  /** The seeded torrents, in the order of the specs. */
  readonly torrents: () => Effect.Effect<ReadonlyArray<SeededTorrent>, InteropProcessError>
  /** Non-loopback traffic the child's loopback guard refused since the last call (should stay empty). */
  readonly violations: () => Effect.Effect<ReadonlyArray<string>, InteropProcessError>
  /** Per client: its torrents' completion and peer counts, and bytes uploaded. */
  readonly status: () => Effect.Effect<
    ReadonlyArray<{
      readonly torrents: ReadonlyArray<{ readonly infoHashHex: string; readonly done: boolean; readonly peers: number }>
      readonly uploaded: number
    }>,
    InteropProcessError
  >
}

export class WebtorrentSeeders extends Context.Tag("bitscrape/test/WebtorrentSeeders")<
  WebtorrentSeeders,
  WebtorrentSeedersApi
>() {}

const workerPath = fileURLToPath(new URL("./webtorrentSeeder.mjs", import.meta.url))
const guardPath = fileURLToPath(new URL("../loopbackGuard.mjs", import.meta.url))

const badConfig = (message: string) =>
  new InteropProcessError({
    reason: "BadConfig",
    process: "webtorrent seeders",
    message: `webtorrent seeders: ${message}`
  })

const safePart = (part: string) => part !== "" && part !== "." && part !== ".." && !part.includes("\\")

const checkSpec = (spec: WebtorrentTorrentSpec): string | undefined => {
  if (!safePart(spec.name) || spec.name.includes("/")) return `bad torrent name ${JSON.stringify(spec.name)}`
  if (spec.files.length === 0) return `${spec.name}: no files`
  for (const file of spec.files) {
    if (!file.path.split("/").every(safePart)) return `${spec.name}: bad path ${JSON.stringify(file.path)}`
    if (!Number.isSafeInteger(file.length) || file.length < 0) return `${spec.name}: bad length ${file.length}`
  }
  return undefined
}

/** Starts the seeders in the current Scope; closing the Scope destroys every client and ends the process. */
export const makeWebtorrentSeeders = (
  options: WebtorrentSeedersOptions = {}
): Effect.Effect<WebtorrentSeedersApi, InteropProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const torrents = options.torrents ?? defaultWebtorrentTorrents
    const problem = torrents.map(checkSpec).find((p) => p !== undefined)
    if (problem !== undefined) return yield* badConfig(problem)
    const hosts = yield* Effect.try({
      try: () => loopbackHosts(options.baseHost ?? "127.40.0.1", torrents.length),
      catch: (e) => badConfig(String(e))
    })
    const started = yield* Clock.currentTimeMillis
    const child = yield* spawnJsonLines({
      name: `webtorrent seeders (${torrents.length} torrents from ${hosts[0]})`,
      command: process.execPath,
      args: ["--import", guardPath, workerPath, JSON.stringify({ hosts, port: options.port ?? 0, torrents })],
      startTimeout: options.startTimeout ?? "30 seconds",
      missingHint: "Is Node installed, and npm webtorrent (npm install --save-dev webtorrent@^3.0.21)?"
    })
    const api: WebtorrentSeedersApi = {
      startupMillis: (yield* Clock.currentTimeMillis) - started,
      torrents: () => child.request<ReadonlyArray<SeededTorrent>>("torrents", []),
      violations: () => child.request<ReadonlyArray<string>>("violations", []),
      status: () => child.request("status", [])
    }
    return api
  }).pipe(withLiveClock)

/** The seeders as a layer, e.g. `it.layer(layerWebtorrentSeeders())`. */
export const layerWebtorrentSeeders = (options: WebtorrentSeedersOptions = {}) =>
  Layer.scoped(WebtorrentSeeders, makeWebtorrentSeeders(options))
