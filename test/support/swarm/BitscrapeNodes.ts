// M BitScrape DHT nodes (src/dht over real UDP) in one child process, as a scoped resource: the counterpart of
// ../interop/BittorrentDhtSwarm.ts for our own implementation. Every node binds its own 127.x address; the child
// runs under the loopback guard and through tsx (bitscrapeNodesWorker.ts).
import { Clock, Duration, Effect } from "effect"
import type { Scope } from "effect"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { DhtContact, HostPort } from "../interop/BittorrentDhtSwarm.js"
import { InteropProcessError, spawnJsonLines, withLiveClock } from "../interop/jsonLinesProcess.js"
import { isLoopbackHost, loopbackHosts } from "../interop/loopbackHosts.js"

export interface BitscrapeNodesOptions {
  /** Number of nodes. */
  readonly size: number
  /** First node's address; node i gets the i-th address from here on (default "127.11.0.1"). */
  readonly baseHost?: string
  /** UDP port for every node; 0 (default) picks an ephemeral port per node. */
  readonly port?: number
  /** Outbound packets/s per node, replies included (default 200: a moderate node, as a crawler meets them). */
  readonly maxPps?: number
  /** Token-bucket burst per node (default 100). */
  readonly burst?: number
  /** Per-query timeout (default 2 s). */
  readonly queryTimeout?: Duration.DurationInput
  /** Bucket size k (default 8, BEP 5). */
  readonly k?: number
  /** Limit for the worker to bind every node (default 30 s). */
  readonly startTimeout?: Duration.DurationInput
}

export interface JoinOptions {
  /** External addresses each node bootstraps from, picked at random from the list (default 4). */
  readonly fanout?: number
  /** Other BitScrape nodes each node also bootstraps from (default 2). */
  readonly peers?: number
  /**
   * "light" (default): an own-id lookup, about a quarter of the work; "full": `Dht.bootstrap`, the own-id lookup plus
   * a refresh lookup per bucket (fuller tables: median 62 vs 33 contacts at 1,000 nodes).
   */
  readonly mode?: "full" | "light"
  /** Nodes joining at once (default 64). */
  readonly concurrency?: number
  /** Limit for the whole join (default 120 s). */
  readonly timeout?: Duration.DurationInput
}

export interface Summary {
  readonly min: number
  readonly median: number
  readonly max: number
}

/** What the worker reports: sums over its nodes, plus its own process memory. */
export interface BitscrapeNodesStats {
  readonly nodes: number
  readonly tableSizes: Summary
  /** KrpcNode counters summed over the nodes (queriesIn, queriesOut, responses, timeouts, …). */
  readonly krpc: Readonly<Record<string, number>>
  /** DhtSocket counters summed over the nodes (packetsIn/Out, droppedRateLimited, …). */
  readonly socket: Readonly<Record<string, number>>
  /** Incoming queries read from the nodes' harvest streams. */
  readonly harvest: { readonly getPeersIn: number; readonly announcesIn: number }
  /** Distinct infohashes announced to at least one node, and how many nodes received any announce. */
  readonly stored: { readonly infohashes: number; readonly nodesStoring: number }
  readonly activity: {
    readonly running: boolean
    readonly ticks: number
    readonly lookups: number
    readonly failed: number
    readonly skipped: number
    readonly withPeers: number
  }
  readonly warnings: number
  /** `process.memoryUsage()` of the worker. */
  readonly memory: Readonly<Record<string, number>>
}

export interface BitscrapeNodesApi {
  /** The nodes as they were bound, in index order. */
  readonly contacts: ReadonlyArray<DhtContact>
  readonly pid: number
  /** Milliseconds from spawn to every node listening. */
  readonly startupMillis: number
  readonly nodes: () => Effect.Effect<ReadonlyArray<DhtContact>, InteropProcessError>
  readonly tableSize: (i: number) => Effect.Effect<number, InteropProcessError>
  readonly tableSizes: () => Effect.Effect<ReadonlyArray<number>, InteropProcessError>
  /** Every node bootstraps from some of `addresses` (loopback only) and some of its sibling nodes. */
  readonly join: (
    addresses: ReadonlyArray<HostPort>,
    options?: JoinOptions
  ) => Effect.Effect<{ readonly millis: number; readonly tableSizes: Summary }, InteropProcessError>
  /** Node i announces itself on `port` for `infoHashHex` (`Dht.announce`); how many of the closest accepted. */
  readonly announce: (
    i: number,
    infoHashHex: string,
    port: number
  ) => Effect.Effect<{ readonly announced: number; readonly responded: number }, InteropProcessError>
  /** A get_peers lookup (`Dht.getPeers`) from node i; the distinct peers found. */
  readonly getPeers: (i: number, infoHashHex: string) => Effect.Effect<ReadonlyArray<HostPort>, InteropProcessError>
  /** Infohashes (hex) announced to node i: what its BEP 51 samples are drawn from. */
  readonly stored: (i: number) => Effect.Effect<ReadonlyArray<string>, InteropProcessError>
  /** `stored` for every node, in index order. */
  readonly storedAll: () => Effect.Effect<ReadonlyArray<ReadonlyArray<string>>, InteropProcessError>
  /**
   * Starts (or replaces) the background activity: every `every`, `perTick` random nodes look up a random one of
   * `infoHashHexes` with get_peers. Returns false when there is nothing to look up.
   */
  readonly startActivity: (
    infoHashHexes: ReadonlyArray<string>,
    every: Duration.DurationInput,
    perTick: number
  ) => Effect.Effect<boolean, InteropProcessError>
  readonly stopActivity: () => Effect.Effect<void, InteropProcessError>
  readonly stats: () => Effect.Effect<BitscrapeNodesStats, InteropProcessError>
  /** Warnings the worker recorded (failed joins or lookups). */
  readonly warnings: () => Effect.Effect<ReadonlyArray<string>, InteropProcessError>
  /** Loopback-guard violations inside the worker (UDP errors are only counted there, so ask): must stay empty. */
  readonly violations: () => Effect.Effect<ReadonlyArray<string>, InteropProcessError>
}

const workerPath = fileURLToPath(new URL("./bitscrapeNodesWorker.ts", import.meta.url))
const guardPath = fileURLToPath(new URL("../loopbackGuard.mjs", import.meta.url))
/** tsx's ESM loader, by absolute URL, so the child does not depend on its working directory. */
const tsxLoader = () => pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

const PROCESS = "BitScrape DHT nodes"

const badConfig = (message: string) => new InteropProcessError({ reason: "BadConfig", process: PROCESS, message })

/** Starts the nodes in the current Scope (bound, not yet joined); closing the Scope ends the process. */
export const makeBitscrapeNodes = (
  options: BitscrapeNodesOptions
): Effect.Effect<BitscrapeNodesApi, InteropProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const hosts = yield* Effect.try({
      try: () => loopbackHosts(options.baseHost ?? "127.11.0.1", options.size),
      catch: (e) => badConfig(String(e))
    })
    const started = yield* Clock.currentTimeMillis
    const config = {
      hosts,
      port: options.port ?? 0,
      maxPps: options.maxPps ?? 200,
      burst: options.burst ?? 100,
      queryTimeoutMillis: Duration.toMillis(Duration.decode(options.queryTimeout ?? "2 seconds")),
      ...(options.k === undefined ? {} : { k: options.k })
    }
    const child = yield* spawnJsonLines({
      name: `${PROCESS} (${options.size} nodes from ${hosts[0]})`,
      command: process.execPath,
      args: ["--import", guardPath, "--import", tsxLoader(), workerPath, JSON.stringify(config)],
      startTimeout: options.startTimeout ?? "30 seconds",
      missingHint: "Is tsx installed (npm ci)?"
    })
    const startupMillis = (yield* Clock.currentTimeMillis) - started

    const api: BitscrapeNodesApi = {
      contacts: child.ready.nodes as ReadonlyArray<DhtContact>,
      pid: child.pid,
      startupMillis,
      nodes: () => child.request("nodes", []),
      tableSize: (i) => child.request("tableSize", [i]),
      tableSizes: () => child.request("tableSizes", []),
      join: (addresses, join = {}) =>
        addresses.every((a) => isLoopbackHost(a.host))
          ? child.request(
            "join",
            [addresses, {
              fanout: join.fanout ?? 4,
              peers: join.peers ?? 2,
              mode: join.mode ?? "light",
              concurrency: join.concurrency ?? 64
            }],
            join.timeout ?? "120 seconds"
          )
          : Effect.fail(badConfig(`join addresses must be loopback: ${JSON.stringify(addresses)}`)),
      announce: (i, infoHashHex, port) => child.request("announce", [i, infoHashHex, port]),
      getPeers: (i, infoHashHex) => child.request("getPeers", [i, infoHashHex]),
      stored: (i) => child.request("stored", [i]),
      storedAll: () => child.request("storedAll", []),
      startActivity: (infoHashHexes, every, perTick) =>
        child.request("startActivity", [
          infoHashHexes,
          Math.max(1, Math.round(Duration.toMillis(Duration.decode(every)))),
          perTick
        ]),
      stopActivity: () => Effect.asVoid(child.request("stopActivity", [])),
      stats: () => child.request("stats", []),
      warnings: () => child.request("warnings", []),
      violations: () => child.request("violations", [])
    }
    return api
  }).pipe(withLiveClock)
