// M python3-libtorrent sessions in one python process, as a scoped resource (STYLE c.6 "External peers as scoped
// services"). Settings and their reasons live in libtorrent_settings.py; INTEROP.md has the measured background.
import { Clock, Context, Duration, Effect, Layer } from "effect"
import type { Scope } from "effect"
import { fileURLToPath } from "node:url"
import type { DhtContact, HostPort } from "./BittorrentDhtSwarm.js"
import { InteropProcessError, spawnJsonLines, withLiveClock } from "./jsonLinesProcess.js"
import { isLoopbackHost, loopbackHosts } from "./loopbackHosts.js"

export const PYTHON = "/usr/bin/python3"
const INSTALL_HINT = "python3-libtorrent must be installed for Debian's /usr/bin/python3: " +
  "apt-get install -y python3-libtorrent"

export interface LibtorrentSwarmOptions {
  /** Number of sessions. */
  readonly size: number
  /** First session's address; session i gets the i-th address from here on (default "127.2.0.1"). */
  readonly baseHost?: string
  /**
   * Every session's address instead of `baseHost` (127.x or "::1"; may repeat, e.g. several sessions on [::1],
   * each on its own port: then `port` must be 0, and libtorrent keeps at most one of them per routing table).
   */
  readonly hosts?: ReadonlyArray<string>
  /** Listen port (TCP, uTP and DHT) of every session; 0 (default) picks an ephemeral port per session. */
  readonly port?: number
  /**
   * dht_bootstrap_nodes of every session (loopback only). libtorrent treats these as routers: it queries them
   * but never puts them in its routing table.
   */
  readonly bootstrap?: ReadonlyArray<HostPort>
  /** Each session add_dht_node()s this many ring neighbours, which do enter its table (default 8). */
  readonly interconnect?: number
  /** dht_block_ratelimit: packets/s one source IP may send before it is blocked (stock 5). */
  readonly dhtBlockRateLimit?: number
  /** dht_upload_rate_limit in bytes/s (stock 8000). */
  readonly dhtUploadRateLimit?: number
  /** dht_sample_infohashes_interval in seconds: how long a served BEP 51 sample stays fixed (stock 21600). */
  readonly sampleInfohashesInterval?: number
  /** Any other libtorrent settings_pack names and values; applied last. */
  readonly extraSettings?: Readonly<Record<string, string | number | boolean>>
  /** Wait until every session's table holds min(size - 1, interconnect) nodes (default true). */
  readonly awaitConnected?: boolean
  /** Limit for start-up, connection included (default 20 s). */
  readonly startTimeout?: Duration.DurationInput
}

export interface SampleInfohashesReply {
  /** Seconds until the node serves a new sample. */
  readonly interval: number
  /** Number of infohashes the node stores. */
  readonly num: number
  readonly samples: ReadonlyArray<string>
  readonly nodes: ReadonlyArray<DhtContact>
}

/** A torrent seeded by a session of the swarm (`seed`). */
export interface SeededDhtTorrent {
  readonly infoHashHex: string
  readonly name: string
  /** Index of the seeding session. */
  readonly session: number
  /** The session's address and listen port, where BEP 9 metadata is served. */
  readonly peer: HostPort
}

export interface DhtNodesReport {
  readonly idHex: string | null
  readonly numNodes: number
  readonly numReplacements: number
  readonly buckets: ReadonlyArray<{ readonly nodes: number; readonly replacements: number }>
  /** The live routing-table entries (from dht_live_nodes). */
  readonly nodes: ReadonlyArray<DhtContact>
}

export interface LibtorrentSwarmApi {
  /** The sessions as they were when the swarm became ready, in index order. */
  readonly contacts: ReadonlyArray<DhtContact>
  /** Milliseconds from spawn to ready (and connected, when awaited). */
  readonly startupMillis: number
  /** The sessions (DHT node id, address, listen port), asked afresh. */
  readonly sessions: () => Effect.Effect<ReadonlyArray<DhtContact>, InteropProcessError>
  /**
   * Session i announces itself for `infoHashHex`. With 2.0.8's python bindings `dht_announce` cannot be called, so
   * the hash is added as a metadata-less torrent whose DHT announce is forced: the announced port is then the
   * session's listen port (returned), not `port`.
   */
  readonly announce: (
    i: number,
    infoHashHex: string,
    port: number
  ) => Effect.Effect<{ readonly method: string; readonly port: number }, InteropProcessError>
  /**
   * Session i seeds `count` new single-file v1 torrents (sparse files, seed_mode) with its DHT on and announces them
   * at once; libtorrent re-announces every dht_announce_interval (120 s here). `label` makes the names unique.
   */
  readonly seed: (
    i: number,
    count: number,
    label: string
  ) => Effect.Effect<ReadonlyArray<SeededDhtTorrent>, InteropProcessError>
  /** Every seeded torrent's state, in seeding order. */
  readonly seedStatus: () => Effect.Effect<
    ReadonlyArray<
      { readonly seeding: boolean; readonly paused: boolean; readonly peers: number; readonly uploaded: number }
    >,
    InteropProcessError
  >
  /** dht_get_peers from session i; peers collected for `seconds` (default 3) or until `minPeers` are found. */
  readonly getPeers: (
    i: number,
    infoHashHex: string,
    options?: { readonly seconds?: number; readonly minPeers?: number }
  ) => Effect.Effect<ReadonlyArray<HostPort>, InteropProcessError>
  /** BEP 51 sample_infohashes from session i to host:port; fails with CommandFailed if no reply in `seconds`. */
  readonly sampleInfohashes: (
    i: number,
    host: string,
    port: number,
    targetHex: string,
    seconds?: number
  ) => Effect.Effect<SampleInfohashesReply, InteropProcessError>
  /** Session i's routing table: bucket counts (dht_stats) and live entries (dht_live_nodes). */
  readonly dhtNodes: (i: number) => Effect.Effect<DhtNodesReport, InteropProcessError>
  /** Session i pings host:port (add_dht_node); it enters the table if it answers. */
  readonly addDhtNode: (i: number, host: string, port: number) => Effect.Effect<void, InteropProcessError>
  /** Session-stats counters by metric name, e.g. "dht.dht_torrents" (infohashes stored) or "dht.dht_messages_in". */
  readonly counters: (
    i: number,
    names: ReadonlyArray<string>
  ) => Effect.Effect<Readonly<Record<string, number>>, InteropProcessError>
}

export class LibtorrentSwarm extends Context.Tag("bitscrape/test/LibtorrentSwarm")<
  LibtorrentSwarm,
  LibtorrentSwarmApi
>() {}

/** The python side of the harness (exported for tests of its failure modes). */
export const LIBTORRENT_SCRIPT = fileURLToPath(new URL("./libtorrent_node.py", import.meta.url))

const failure = (reason: InteropProcessError["reason"], message: string) =>
  new InteropProcessError({ reason, process: "libtorrent swarm", message: `libtorrent swarm: ${message}` })

const settingsFrom = (options: LibtorrentSwarmOptions): Record<string, string | number | boolean> => ({
  ...(options.dhtBlockRateLimit === undefined ? {} : { dht_block_ratelimit: options.dhtBlockRateLimit }),
  ...(options.dhtUploadRateLimit === undefined ? {} : { dht_upload_rate_limit: options.dhtUploadRateLimit }),
  ...(options.sampleInfohashesInterval === undefined
    ? {}
    : { dht_sample_infohashes_interval: options.sampleInfohashesInterval }),
  ...options.extraSettings
})

/** Starts the sessions in the current Scope; closing the Scope ends the python process. */
export const makeLibtorrentSwarm = (
  options: LibtorrentSwarmOptions
): Effect.Effect<LibtorrentSwarmApi, InteropProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const bootstrap = options.bootstrap ?? []
    if (!bootstrap.every((c) => c.host === "::1" || isLoopbackHost(c.host))) {
      return yield* failure("BadConfig", `bootstrap must be loopback: ${JSON.stringify(bootstrap)}`)
    }
    const hosts = options.hosts !== undefined
      ? options.hosts.every((h) => h === "::1" || isLoopbackHost(h)) && options.hosts.length === options.size
        ? options.hosts
        : yield* failure("BadConfig", `hosts must be ${options.size} loopback addresses: ${options.hosts}`)
      : yield* Effect.try({
        try: () => loopbackHosts(options.baseHost ?? "127.2.0.1", options.size),
        catch: (e) => failure("BadConfig", String(e))
      })
    const interconnect = options.interconnect ?? 8
    const config = { hosts, port: options.port ?? 0, bootstrap, interconnect, settings: settingsFrom(options) }
    const started = yield* Clock.currentTimeMillis
    const startTimeout = Duration.decode(options.startTimeout ?? "20 seconds")
    const child = yield* spawnJsonLines({
      name: `libtorrent swarm (${options.size} sessions from ${hosts[0]})`,
      command: PYTHON,
      args: [LIBTORRENT_SCRIPT, JSON.stringify(config)],
      startTimeout,
      missingHint: INSTALL_HINT
    })
    const dhtNodes = (i: number) => child.request<DhtNodesReport>("dhtNodes", [i])

    if (options.awaitConnected ?? true) {
      const want = Math.min(options.size - 1, interconnect)
      let last: ReadonlyArray<number> = []
      const poll: Effect.Effect<void, InteropProcessError> = Effect.flatMap(
        Effect.forEach(hosts, (_, i) => dhtNodes(i)),
        (reports) => {
          last = reports.map((r) => r.numNodes)
          return last.every((n) => n >= want) ? Effect.void : Effect.zipRight(Effect.sleep(100), poll)
        }
      )
      const elapsed = (yield* Clock.currentTimeMillis) - started
      yield* poll.pipe(Effect.timeoutFail({
        duration: Duration.millis(Math.max(0, Duration.toMillis(startTimeout) - elapsed)),
        onTimeout: () => failure("StartTimeout", `sessions did not reach ${want} table entries; sizes: ${last}`)
      }))
    }

    const api: LibtorrentSwarmApi = {
      // Asked after the wait: a session's DHT node id is only known once its DHT has started.
      contacts: yield* child.request<ReadonlyArray<DhtContact>>("sessions", []),
      startupMillis: (yield* Clock.currentTimeMillis) - started,
      sessions: () => child.request<ReadonlyArray<DhtContact>>("sessions", []),
      announce: (i, infoHashHex, port) => child.request("announce", [i, infoHashHex, port]),
      seed: (i, count, label) => child.request("seed", [i, count, label], "120 seconds"),
      seedStatus: () => child.request("seedStatus", []),
      getPeers: (i, infoHashHex, opts) =>
        child.request("getPeers", [i, infoHashHex, opts?.seconds ?? 3, opts?.minPeers ?? 0], "60 seconds"),
      sampleInfohashes: (i, host, port, targetHex, seconds = 5) =>
        child.request("sampleInfohashes", [i, host, port, targetHex, seconds], "60 seconds"),
      dhtNodes,
      addDhtNode: (i, host, port) => Effect.asVoid(child.request("addDhtNode", [i, host, port])),
      counters: (i, names) => child.request("counters", [i, names])
    }
    return api
  }).pipe(withLiveClock)

/** The sessions as a layer, e.g. `it.layer(layerLibtorrentSwarm({ size: 4 }))`. */
export const layerLibtorrentSwarm = (options: LibtorrentSwarmOptions) =>
  Layer.scoped(LibtorrentSwarm, makeLibtorrentSwarm(options))
