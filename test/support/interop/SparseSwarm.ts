// The sparse third-party swarm of issue 14 as a scoped resource: npm `bittorrent-dht` nodes (no BEP 51) with a few
// python3-libtorrent sessions (BEP 51, a short sample interval) among them. The libtorrent sessions seed real
// torrents with their DHT on, so the announces land at whichever nodes are closest to each infohash — mostly
// bittorrent-dht nodes, which cannot be sampled. A crawler finds a torrent by BEP 51 only when a libtorrent session
// stores it; otherwise by passive reach (announces and get_peers arriving at its own node ids) or lookups. Swarm
// nodes run background get_peers lookups for the torrents (as downloaders would).
import { Clock, Duration, Effect, Random, Schedule } from "effect"
import type { Scope } from "effect"
import { randomBytes } from "node:crypto"
import { type BittorrentDhtSwarmApi, type DhtContact, makeBittorrentDhtSwarm } from "./BittorrentDhtSwarm.js"
import type { InteropProcessError } from "./jsonLinesProcess.js"
import { type LibtorrentSwarmApi, makeLibtorrentSwarm, type SeededDhtTorrent } from "./LibtorrentSwarm.js"

export interface SparseSwarmOptions {
  /** npm bittorrent-dht nodes (default 200). */
  readonly dhtNodes?: number
  /** python3-libtorrent sessions (default 10). */
  readonly sessions?: number
  /** Torrents, spread evenly over the sessions (default 60). */
  readonly torrents?: number
  /** dht_sample_infohashes_interval of the sessions, seconds (default 60). */
  readonly sampleInterval?: number
  /** dht_announce_interval of the sessions, seconds (default 120). */
  readonly announceInterval?: number
  /** One background get_peers lookup from a random swarm node every this many ms (default 2000). */
  readonly lookupEveryMillis?: number
  /**
   * What the background lookups look for: "torrents" (default; a random one of the seeded torrents, as downloaders
   * would) or "random" targets (table upkeep only). In a swarm this small a bittorrent-dht lookup queries a large
   * share of all nodes, so torrent lookups pass most infohashes to any crawler node as get_peers queries — far more
   * than in the real DHT, where a lookup only reaches the nodes near its target.
   */
  readonly lookupTargets?: "torrents" | "random"
  /** First bittorrent-dht node's address (default "127.60.0.1"); the nodes take consecutive addresses. */
  readonly dhtBaseHost?: string
  /** First libtorrent session's address (default "127.61.0.1"). */
  readonly sessionBaseHost?: string
  /** Time after seeding for the first announces to be stored (default 20 s). */
  readonly settle?: Duration.DurationInput
}

export interface SparseSwarmApi {
  /** One bittorrent-dht node to bootstrap from. */
  readonly bootstrap: DhtContact
  readonly torrents: ReadonlyArray<SeededDhtTorrent>
  readonly dht: BittorrentDhtSwarmApi
  readonly libtorrent: LibtorrentSwarmApi
  /** Background lookups run so far. */
  readonly backgroundLookups: () => number
  /** Milliseconds from start to ready (settle included). */
  readonly startupMillis: number
}

/** Starts the swarm in the current Scope; closing it stops the lookups and both processes. */
export const makeSparseSwarm = (
  options: SparseSwarmOptions = {}
): Effect.Effect<SparseSwarmApi, InteropProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const sessions = options.sessions ?? 10
    const dhtNodes = options.dhtNodes ?? 200
    const torrentCount = options.torrents ?? 60
    const libtorrent = yield* makeLibtorrentSwarm({
      size: sessions,
      baseHost: options.sessionBaseHost ?? "127.61.0.1",
      interconnect: sessions - 1,
      sampleInfohashesInterval: options.sampleInterval ?? 60,
      // Stock DHT rate limits (a crawler must stay under them); more peer connections than the stock 200, since
      // crawlers connect many times for metadata.
      extraSettings: { dht_announce_interval: options.announceInterval ?? 120, connections_limit: 2000 },
      startTimeout: "60 seconds"
    })
    // Every bittorrent-dht node also bootstraps from three sessions, so the sessions are in the swarm's tables.
    const dht = yield* makeBittorrentDhtSwarm({
      size: dhtNodes,
      baseHost: options.dhtBaseHost ?? "127.60.0.1",
      extraBootstrap: libtorrent.contacts.slice(0, 3).map(({ host, port }) => ({ host, port })),
      startTimeout: "120 seconds"
    })
    // libtorrent never adds its bootstrap routers to its table and drops bittorrent-dht's oversized replies
    // (INTEROP.md): give each session 20 swarm nodes directly.
    for (let i = 0; i < sessions; i++) {
      for (let j = 0; j < 20; j++) {
        const c = dht.contacts[(i * 20 + j * 7) % dhtNodes]!
        yield* libtorrent.addDhtNode(i, c.host, c.port)
      }
    }
    const label = `sparse-${started.toString(36)}`
    const perSession = Array.from({ length: sessions }, (_, i) =>
      Math.floor(torrentCount / sessions) + (i < torrentCount % sessions ? 1 : 0))
    const torrents = (yield* Effect.forEach(perSession, (n, i) =>
      libtorrent.seed(i, n, label))).flat()

    let lookups = 0
    const lookup = Effect.gen(function*() {
      const node = yield* Random.nextIntBetween(0, dhtNodes)
      const target = options.lookupTargets === "random"
        ? randomBytes(20).toString("hex")
        : torrents[yield* Random.nextIntBetween(0, torrents.length)]!.infoHashHex
      lookups++
      yield* Effect.ignore(dht.lookup(node, target))
    })
    // Each lookup runs in its own fiber, so a slow one never delays the next.
    yield* Effect.forkScoped(
      Effect.fork(lookup).pipe(
        Effect.repeat(Schedule.spaced(Duration.millis(options.lookupEveryMillis ?? 2000)))
      )
    )
    yield* Effect.sleep(options.settle ?? "20 seconds")
    const startupMillis = (yield* Clock.currentTimeMillis) - started
    const api: SparseSwarmApi = {
      bootstrap: dht.contacts[0]!,
      torrents,
      dht,
      libtorrent,
      backgroundLookups: () => lookups,
      startupMillis
    }
    return api
  })
