// One python3-libtorrent 2.0.8 session seeding generated torrents on a loopback address, as a scoped resource:
// v1, v2-only and hybrid torrents, info dicts across metadata piece boundaries, thousands of files, non-UTF-8 and
// HTML names. The python side (libtorrent_seeder.py) documents every kind; settings are those of
// ../interop/libtorrent_settings.py with the DHT off.
import { Clock, Context, Effect, Layer } from "effect"
import type { Duration, Scope } from "effect"
import { fileURLToPath } from "node:url"
import { InteropProcessError, spawnJsonLines, withLiveClock } from "../interop/jsonLinesProcess.js"
import { PYTHON } from "../interop/LibtorrentSwarm.js"
import { isLoopbackHost } from "../interop/loopbackHosts.js"
import type { HostPort, SeededFile } from "./types.js"

export const LIBTORRENT_TORRENT_KINDS = [
  "v1-single",
  "v1-multi-large",
  "v1-size-16384",
  "v1-size-16385",
  "v1-size-32767",
  "v1-size-32768",
  "v1-size-32769",
  "v2-only",
  "hybrid",
  "v1-pads",
  "v1-3000-files",
  "latin1-raw",
  "latin1-utf8",
  "html-name"
] as const

export type LibtorrentTorrentKind = typeof LIBTORRENT_TORRENT_KINDS[number]

export interface LibtorrentSeededTorrent {
  /** A kind above, or `bulk-00000`… for the `bulk` torrents. */
  readonly kind: LibtorrentTorrentKind | `bulk-${string}`
  readonly version: "v1" | "v2" | "hybrid"
  /** SHA-1 of the info dict (v1 and hybrid), hex; null for v2-only. */
  readonly infoHashHex: string | null
  /** SHA-256 of the info dict (v2 and hybrid), 64 hex digits; null for v1. */
  readonly infoHashV2Hex: string | null
  /** The v2 hash truncated to 20 bytes (what the DHT and handshakes use for v2), hex; null for v1. */
  readonly infoHashV2TruncatedHex: string | null
  /** The 20 bytes to put in a handshake: the v1 hash when there is one, else the truncated v2 hash. */
  readonly handshakeHashHex: string
  /** `name` decoded as UTF-8 (invalid bytes become U+FFFD); the raw bytes are `nameHex`. */
  readonly name: string
  readonly nameHex: string
  /** `name.utf-8` when the dict has one. */
  readonly nameUtf8: string | null
  /** As the dict lists them: the v1 `files` list (pads included and marked) or the v2 file tree. */
  readonly files: ReadonlyArray<SeededFile>
  readonly infoHex: string
  readonly infoSize: number
  readonly metadataPieces: number
  readonly peer: HostPort
}

export interface LibtorrentSeedersOptions {
  /** The session's address (default "127.41.0.1"). */
  readonly host?: string
  /** Listen port (TCP and uTP); 0 (default) picks an ephemeral one. */
  readonly port?: number
  /** Which kinds to seed (default all). */
  readonly kinds?: ReadonlyArray<LibtorrentTorrentKind>
  /** Extra small single-file v1 torrents, e.g. for a benchmark (default 0). */
  readonly bulk?: number
  /** Any other libtorrent settings_pack names and values; applied last. */
  readonly extraSettings?: Readonly<Record<string, string | number | boolean>>
  /** Limit for start-up: files made, torrents created and hashed, all seeding (default 60 s). */
  readonly startTimeout?: Duration.DurationInput
}

export interface LibtorrentSeedersApi {
  /** Where every torrent is served. */
  readonly peer: HostPort
  /** Milliseconds from spawn to every torrent seeding. */
  readonly startupMillis: number
  readonly torrents: () => Effect.Effect<ReadonlyArray<LibtorrentSeededTorrent>, InteropProcessError>
  /** The torrent of one kind; fails with CommandFailed if that kind is not seeded. */
  readonly torrent: (
    kind: LibtorrentSeededTorrent["kind"]
  ) => Effect.Effect<LibtorrentSeededTorrent, InteropProcessError>
  /** libtorrent's view of each torrent: state, seeding, connected peers, bytes uploaded. */
  readonly status: () => Effect.Effect<
    ReadonlyArray<{
      readonly kind: string
      readonly state: string
      readonly seeding: boolean
      readonly peers: number
      readonly uploaded: number
    }>,
    InteropProcessError
  >
}

export class LibtorrentSeeders extends Context.Tag("bitscrape/test/LibtorrentSeeders")<
  LibtorrentSeeders,
  LibtorrentSeedersApi
>() {}

const SCRIPT = fileURLToPath(new URL("./libtorrent_seeder.py", import.meta.url))
const NAME = "libtorrent seeders"

const failure = (reason: InteropProcessError["reason"], message: string) =>
  new InteropProcessError({ reason, process: NAME, message: `${NAME}: ${message}` })

/** Starts the session in the current Scope; closing the Scope ends the python process and removes its files. */
export const makeLibtorrentSeeders = (
  options: LibtorrentSeedersOptions = {}
): Effect.Effect<LibtorrentSeedersApi, InteropProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? "127.41.0.1"
    if (!isLoopbackHost(host)) return yield* failure("BadConfig", `host must be in 127.0.0.0/8: ${host}`)
    const config = {
      host,
      port: options.port ?? 0,
      kinds: options.kinds ?? null,
      bulk: options.bulk ?? 0,
      settings: options.extraSettings ?? {}
    }
    const started = yield* Clock.currentTimeMillis
    const child = yield* spawnJsonLines({
      name: `${NAME} (${host})`,
      command: PYTHON,
      args: [SCRIPT, JSON.stringify(config)],
      startTimeout: options.startTimeout ?? "60 seconds",
      missingHint: "python3-libtorrent must be installed for Debian's /usr/bin/python3: " +
        "apt-get install -y python3-libtorrent"
    })
    const startupMillis = (yield* Clock.currentTimeMillis) - started
    const torrents = () => child.request<ReadonlyArray<LibtorrentSeededTorrent>>("torrents", [])
    const api: LibtorrentSeedersApi = {
      peer: child.ready.peer as HostPort,
      startupMillis,
      torrents,
      torrent: (kind) =>
        Effect.flatMap(torrents(), (all) => {
          const found = all.find((t) => t.kind === kind)
          return found === undefined
            ? Effect.fail(failure("CommandFailed", `no torrent of kind ${kind} is seeded`))
            : Effect.succeed(found)
        }),
      status: () => child.request("status", [])
    }
    return api
  }).pipe(withLiveClock)

/** The seeders as a layer, e.g. `it.layer(layerLibtorrentSeeders())`. */
export const layerLibtorrentSeeders = (options: LibtorrentSeedersOptions = {}) =>
  Layer.scoped(LibtorrentSeeders, makeLibtorrentSeeders(options))
