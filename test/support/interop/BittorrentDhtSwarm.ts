// A swarm of npm `bittorrent-dht` nodes in one child process, as a scoped resource (STYLE c.6 "External peers as
// scoped services"). Every node binds its own 127.x address; the child runs under the loopback guard.
import { Clock, Context, Duration, Effect, Layer } from "effect"
import type { Scope } from "effect"
import { fileURLToPath } from "node:url"
import { InteropProcessError, spawnJsonLines, withLiveClock } from "./jsonLinesProcess.js"
import { isLoopbackHost, loopbackHosts } from "./loopbackHosts.js"

export interface HostPort {
  readonly host: string
  readonly port: number
}

export interface DhtContact extends HostPort {
  readonly idHex: string
}

export interface BittorrentDhtSwarmOptions {
  /** Number of nodes. */
  readonly size: number
  /** First node's address; node i gets the i-th address from here on (default "127.1.0.1"). */
  readonly baseHost?: string
  /** UDP port for every node; 0 (default) picks an ephemeral port per node. */
  readonly port?: number
  /** Added to every node's bootstrap list, e.g. our own node so the swarm finds it. Loopback only. */
  readonly extraBootstrap?: ReadonlyArray<HostPort>
  /** How many earlier nodes each node bootstraps from (default 8; node 0 is always one of them). */
  readonly fanout?: number
  /** Wait until each node's table holds min(size - 1, 8) entries before returning (default true). */
  readonly awaitConverged?: boolean
  /** Limit for start-up, convergence included (default 30 s). */
  readonly startTimeout?: Duration.DurationInput
}

export interface BittorrentDhtSwarmApi {
  /** The nodes as they were when the swarm became ready, in index order. */
  readonly contacts: ReadonlyArray<DhtContact>
  /** Milliseconds from spawn to ready (and converged, when awaited). */
  readonly startupMillis: number
  /** The nodes, asked afresh. */
  readonly nodes: () => Effect.Effect<ReadonlyArray<DhtContact>, InteropProcessError>
  /** Number of contacts in node i's routing table. */
  readonly tableSize: (i: number) => Effect.Effect<number, InteropProcessError>
  /** Routing-table sizes of all nodes, in index order. */
  readonly tableSizes: () => Effect.Effect<ReadonlyArray<number>, InteropProcessError>
  /** Whether node i's routing table holds the node id `idHex`. */
  readonly tableHas: (i: number, idHex: string) => Effect.Effect<boolean, InteropProcessError>
  /** Node ids (hex) in node i's routing table. */
  readonly tableIds: (i: number) => Effect.Effect<ReadonlyArray<string>, InteropProcessError>
  /** Node i announces itself as a peer on `port` for `infoHashHex` (lookup, then announce_peer); resolves when done. */
  readonly announce: (i: number, infoHashHex: string, port: number) => Effect.Effect<void, InteropProcessError>
  /** A get_peers lookup from node i; the distinct peers it found (its own store included). */
  readonly lookup: (i: number, infoHashHex: string) => Effect.Effect<ReadonlyArray<HostPort>, InteropProcessError>
  /** Node i pings host:port and adds it to its table if it answers; returns at once (poll `tableHas`). */
  readonly addNode: (i: number, host: string, port: number) => Effect.Effect<void, InteropProcessError>
  /** Warnings the nodes emitted so far (socket errors, malformed input): a test may require none. */
  readonly warnings: () => Effect.Effect<ReadonlyArray<string>, InteropProcessError>
  /** Polls until every node's table holds at least `minEntries` contacts; fails with CommandTimeout otherwise. */
  readonly awaitConverged: (
    minEntries: number,
    timeout: Duration.DurationInput
  ) => Effect.Effect<ReadonlyArray<number>, InteropProcessError>
}

export class BittorrentDhtSwarm extends Context.Tag("bitscrape/test/BittorrentDhtSwarm")<
  BittorrentDhtSwarm,
  BittorrentDhtSwarmApi
>() {}

const workerPath = fileURLToPath(new URL("./dhtSwarmWorker.mjs", import.meta.url))
const guardPath = fileURLToPath(new URL("../loopbackGuard.mjs", import.meta.url))

const badConfig = (message: string) =>
  new InteropProcessError({ reason: "BadConfig", process: "bittorrent-dht swarm", message })

/** Starts the swarm in the current Scope; closing the Scope destroys every node and ends the process. */
export const makeBittorrentDhtSwarm = (
  options: BittorrentDhtSwarmOptions
): Effect.Effect<BittorrentDhtSwarmApi, InteropProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const startTimeout = Duration.decode(options.startTimeout ?? "30 seconds")
    const extraBootstrap = options.extraBootstrap ?? []
    if (!extraBootstrap.every((c) => isLoopbackHost(c.host))) {
      return yield* badConfig(`extraBootstrap must be loopback: ${JSON.stringify(extraBootstrap)}`)
    }
    const hosts = yield* Effect.try({
      try: () => loopbackHosts(options.baseHost ?? "127.1.0.1", options.size),
      catch: (e) => badConfig(String(e))
    })
    const started = yield* Clock.currentTimeMillis
    const config = { hosts, port: options.port ?? 0, extraBootstrap, fanout: options.fanout ?? 8 }
    const child = yield* spawnJsonLines({
      name: `bittorrent-dht swarm (${options.size} nodes from ${hosts[0]})`,
      command: process.execPath,
      args: ["--import", guardPath, workerPath, JSON.stringify(config)],
      startTimeout,
      missingHint: "Is Node installed, and is bittorrent-dht installed (npm install --save-dev bittorrent-dht@^11)?"
    })
    const contacts = child.ready.nodes as ReadonlyArray<DhtContact>

    const tableSizes = () => child.request<ReadonlyArray<number>>("tableSizes", [])
    const awaitConverged = (minEntries: number, timeout: Duration.DurationInput) => {
      let last: ReadonlyArray<number> = []
      const poll: Effect.Effect<ReadonlyArray<number>, InteropProcessError> = Effect.flatMap(tableSizes(), (sizes) => {
        last = sizes
        return sizes.every((n) => n >= minEntries) ? Effect.succeed(sizes) : Effect.zipRight(Effect.sleep(100), poll)
      })
      return poll.pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new InteropProcessError({
              reason: "CommandTimeout",
              process: "bittorrent-dht swarm",
              message: `bittorrent-dht swarm: not every node reached ${minEntries} contacts within ` +
                `${Duration.format(timeout)}; table sizes: ${last.join(",")}`
            })
        }),
        withLiveClock
      )
    }

    if (options.awaitConverged ?? true) {
      const elapsed = (yield* Clock.currentTimeMillis) - started
      const remaining = Duration.millis(Math.max(0, Duration.toMillis(startTimeout) - elapsed))
      yield* awaitConverged(Math.min(options.size - 1, 8), remaining)
    }

    const api: BittorrentDhtSwarmApi = {
      contacts,
      startupMillis: (yield* Clock.currentTimeMillis) - started,
      nodes: () => child.request<ReadonlyArray<DhtContact>>("nodes", []),
      tableSize: (i) => child.request<number>("tableSize", [i]),
      tableSizes,
      tableHas: (i, idHex) => child.request<boolean>("tableHas", [i, idHex]),
      tableIds: (i) => child.request<ReadonlyArray<string>>("tableIds", [i]),
      announce: (i, infoHashHex, port) => Effect.asVoid(child.request("announce", [i, infoHashHex, port])),
      lookup: (i, infoHashHex) => child.request<ReadonlyArray<HostPort>>("lookup", [i, infoHashHex]),
      addNode: (i, host, port) => Effect.asVoid(child.request("addNode", [i, host, port])),
      warnings: () => child.request<ReadonlyArray<string>>("warnings", []),
      awaitConverged
    }
    return api
  }).pipe(withLiveClock)

/** The swarm as a layer: `it.layer(layerBittorrentDhtSwarm({ size: 200 }))` shares one swarm across tests. */
export const layerBittorrentDhtSwarm = (options: BittorrentDhtSwarmOptions) =>
  Layer.scoped(BittorrentDhtSwarm, makeBittorrentDhtSwarm(options))
