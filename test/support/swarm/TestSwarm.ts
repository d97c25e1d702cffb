// The loopback test swarm for crawler tests and `bitscrape demo`: hundreds of DHT nodes, each on its own 127.x
// address — npm bittorrent-dht nodes (one child process) and BitScrape nodes that store peers and answer BEP 51
// sample_infohashes (another child process) — joined into one network, with torrents announced into it by seeders
// of both kinds and background get_peers lookups, so that every discovery source a crawler has is exercised:
// find_node/get_peers replies (nodes), sample_infohashes (BitScrape nodes only), and incoming get_peers and
// announce_peer queries (passive harvest).
import { Clock, Context, Deferred, Effect, Layer, Option, Random } from "effect"
import type { Duration, Scope } from "effect"
import { randomBytes } from "node:crypto"
import type { BittorrentDhtSwarmApi, DhtContact, HostPort } from "../interop/BittorrentDhtSwarm.js"
import { makeBittorrentDhtSwarm } from "../interop/BittorrentDhtSwarm.js"
import { InteropProcessError, withLiveClock } from "../interop/jsonLinesProcess.js"
import type {
  BitscrapeNodesApi,
  BitscrapeNodesOptions,
  BitscrapeNodesStats,
  JoinOptions,
  Summary
} from "./BitscrapeNodes.js"
import { makeBitscrapeNodes } from "./BitscrapeNodes.js"
import { findChildPid, residentBytes } from "./processMemory.js"

export type NodeKind = "bittorrent-dht" | "bitscrape"

export interface SwarmNode extends DhtContact {
  readonly kind: NodeKind
  /** Index within its kind (what the harness commands take). */
  readonly index: number
}

/** One seeder announcing one torrent: `host:port` is the peer a get_peers lookup should return for it. */
export interface Announcement extends HostPort {
  readonly infoHashHex: string
  /** The seeder: a node of this kind and index, announcing from its own address. */
  readonly kind: NodeKind
  readonly index: number
}

export interface TestSwarmOptions {
  /** npm bittorrent-dht nodes (on `baseHosts.bittorrentDht`, default from 127.10.0.1). */
  readonly bittorrentDht: number
  /** BitScrape nodes (on `baseHosts.bitscrape`, default from 127.11.0.1). */
  readonly bitscrape: number
  /** Torrents to announce. */
  readonly torrents: number
  /** Infohashes (hex) to announce, in order, instead of random ones; random ones fill up to `torrents`. */
  readonly infohashes?: ReadonlyArray<string>
  readonly baseHosts?: { readonly bittorrentDht?: string; readonly bitscrape?: string }
  /** Seeders per torrent, each count equally likely (default 1 to 3). */
  readonly seeders?: { readonly min: number; readonly max: number }
  /** Peer port of the first announcement; each further one gets the next port (default 20000). */
  readonly firstPeerPort?: number
  /** Background get_peers lookups by BitScrape nodes: how often (default 1 s)… */
  readonly activityEvery?: Duration.DurationInput
  /** …and how many per round (default 2; 0 turns the activity off). */
  readonly activityLookups?: number
  /**
   * true (default): return once the networks are joined and every announcement is acknowledged. false: return as
   * soon as every node listens; joining, announcing and the activity go on in the background (`settled`).
   */
  readonly settle?: boolean
  /** How BitScrape nodes join (default: light, from 4 bittorrent-dht and 2 BitScrape nodes). */
  readonly join?: JoinOptions
  /** Per-node settings of the BitScrape nodes (default 200 packets/s, 2 s query timeout). */
  readonly bitscrapeNodes?: Omit<BitscrapeNodesOptions, "size" | "baseHost">
  /** Announcements in flight at once (default 32). */
  readonly announceConcurrency?: number
  /** Limit for the bittorrent-dht swarm to start and converge (default 60 s). */
  readonly startTimeout?: Duration.DurationInput
}

/** For what share of the announced infohashes at least one BitScrape node stores a peer (so BEP 51 can reveal it). */
export interface Coverage {
  readonly infohashes: number
  readonly storedAtBitscrape: number
  readonly fraction: number
  /** Announced infohashes stored per BitScrape node. */
  readonly perNode: Summary
}

export interface TestSwarmStats {
  readonly nodes: { readonly bittorrentDht: number; readonly bitscrape: number }
  readonly announcements: { readonly planned: number; readonly done: number; readonly failed: number }
  readonly coverage: Coverage
  readonly bittorrentDhtTableSizes: Summary
  /** The BitScrape worker's own counters (undefined without BitScrape nodes). */
  readonly bitscrape: BitscrapeNodesStats | undefined
  /** Resident memory of the two child processes (bytes; undefined where /proc cannot tell). */
  readonly memory: { readonly bittorrentDhtWorker: number | undefined; readonly bitscrapeWorker: number | undefined }
}

export interface Phases {
  /** Both child processes up (their start-up overlaps), bittorrent-dht tables converged. */
  start: number
  /** addNode to every bittorrent-dht node, then every BitScrape node's bootstrap. */
  join: number
  /** Every announcement acknowledged (or given up). */
  announce: number
}

export interface TestSwarmApi {
  /** One node to bootstrap from: bittorrent-dht node 0, the hub every bittorrent-dht node joined through. */
  readonly bootstrap: HostPort
  /** Every node: bittorrent-dht nodes first, then BitScrape nodes. */
  readonly nodes: ReadonlyArray<SwarmNode>
  /** Hex of every announced infohash. */
  readonly infohashes: ReadonlyArray<string>
  /** Every planned announcement (with `settle`, all done unless `stats().announcements.failed` says otherwise). */
  readonly announcements: ReadonlyArray<Announcement>
  /** Milliseconds from the start to return (joined and announced, with `settle`). */
  readonly startupMillis: number
  /** Where the start-up time went (ms; join and announce are 0 until done without `settle`). */
  readonly phases: Phases
  /** Completes when joining and announcing are done (at once with `settle`). */
  readonly settled: Effect.Effect<void, InteropProcessError>
  readonly stats: () => Effect.Effect<TestSwarmStats, InteropProcessError>
  /** The coverage figure alone (one request to the BitScrape worker). */
  readonly coverage: () => Effect.Effect<Coverage, InteropProcessError>
  /** The bittorrent-dht harness, for direct commands (absent with 0 bittorrent-dht nodes). */
  readonly bittorrentDht: BittorrentDhtSwarmApi | undefined
  /** The BitScrape-nodes harness (absent with 0 BitScrape nodes). */
  readonly bitscrapeNodes: BitscrapeNodesApi | undefined
}

export class TestSwarm extends Context.Tag("bitscrape/test/TestSwarm")<TestSwarm, TestSwarmApi>() {}

const badConfig = (message: string) => new InteropProcessError({ reason: "BadConfig", process: "test swarm", message })

const summary = (values: ReadonlyArray<number>): Summary => {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    min: sorted[0] ?? 0,
    median: sorted[Math.floor(sorted.length / 2)] ?? 0,
    max: sorted[sorted.length - 1] ?? 0
  }
}

/** `count` distinct random indices below `size`. */
const distinctIndices = (size: number, count: number) =>
  Effect.gen(function*() {
    const chosen = new Set<number>()
    while (chosen.size < Math.min(count, size)) chosen.add(yield* Random.nextIntBetween(0, size))
    return [...chosen]
  })

/** Seeders for every torrent, alternating between the two kinds (when both exist), with distinct peer ports. */
const planAnnouncements = (
  infohashes: ReadonlyArray<string>,
  nodes: { readonly bittorrentDht: ReadonlyArray<HostPort>; readonly bitscrape: ReadonlyArray<HostPort> },
  seeders: { readonly min: number; readonly max: number },
  firstPort: number
) =>
  Effect.gen(function*() {
    const plan: Array<Announcement> = []
    let turn = 0
    for (const infoHashHex of infohashes) {
      const count = yield* Random.nextIntBetween(seeders.min, seeders.max + 1)
      const byKind = { "bittorrent-dht": 0, bitscrape: 0 }
      for (let j = 0; j < count; j++, turn++) {
        const bittorrentDht = turn % 2 === 0 ? nodes.bittorrentDht.length > 0 : nodes.bitscrape.length === 0
        byKind[bittorrentDht ? "bittorrent-dht" : "bitscrape"]++
      }
      for (const kind of ["bittorrent-dht", "bitscrape"] as const) {
        const pool = kind === "bittorrent-dht" ? nodes.bittorrentDht : nodes.bitscrape
        for (const index of yield* distinctIndices(pool.length, byKind[kind])) {
          plan.push({ infoHashHex, kind, index, host: pool[index]!.host, port: firstPort + plan.length })
        }
      }
    }
    return plan
  })

/**
 * Starts the swarm in the current Scope; closing it stops the activity and both child processes. Steps: both
 * harnesses start at once; every bittorrent-dht node is told about two random BitScrape nodes (addNode) and every
 * BitScrape node bootstraps from random bittorrent-dht and BitScrape nodes; then the seeders announce and the
 * activity starts.
 */
export const makeTestSwarm = (
  options: TestSwarmOptions
): Effect.Effect<TestSwarmApi, InteropProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const seeders = options.seeders ?? { min: 1, max: 3 }
    const firstPeerPort = options.firstPeerPort ?? 20_000
    if (options.bittorrentDht + options.bitscrape === 0) return yield* badConfig("a swarm needs at least one node")
    if (seeders.min < 1 || seeders.max < seeders.min) return yield* badConfig(`bad seeders ${JSON.stringify(seeders)}`)
    if (firstPeerPort < 1 || firstPeerPort + options.torrents * seeders.max > 65_535) {
      return yield* badConfig(`peer ports from ${firstPeerPort} run past 65535 for ${options.torrents} torrents`)
    }
    const given = options.infohashes ?? []
    if (!given.every((h) => /^[0-9a-fA-F]{40}$/.test(h))) return yield* badConfig("infohashes must be 40 hex digits")
    const infohashes = [
      ...given.slice(0, options.torrents).map((h) => h.toLowerCase()),
      ...Array.from({ length: Math.max(0, options.torrents - given.length) }, () => randomBytes(20).toString("hex"))
    ]
    const started = yield* Clock.currentTimeMillis

    // === Both networks, side by side ===
    const bittorrentDhtBase = options.baseHosts?.bittorrentDht ?? "127.10.0.1"
    const [dht, ours] = yield* Effect.all([
      options.bittorrentDht === 0 ? Effect.succeed(undefined) : makeBittorrentDhtSwarm({
        size: options.bittorrentDht,
        baseHost: bittorrentDhtBase,
        startTimeout: options.startTimeout ?? "60 seconds"
      }),
      options.bitscrape === 0 ? Effect.succeed(undefined) : makeBitscrapeNodes({
        ...options.bitscrapeNodes,
        size: options.bitscrape,
        baseHost: options.baseHosts?.bitscrape ?? "127.11.0.1"
      })
    ], { concurrency: "unbounded" })
    const phases: Phases = { start: (yield* Clock.currentTimeMillis) - started, join: 0, announce: 0 }
    const dhtContacts = dht?.contacts ?? []
    const ourContacts = ours?.contacts ?? []
    const nodes: ReadonlyArray<SwarmNode> = [
      ...dhtContacts.map((c, index) => ({ ...c, kind: "bittorrent-dht" as const, index })),
      ...ourContacts.map((c, index) => ({ ...c, kind: "bitscrape" as const, index }))
    ]
    const announcements = yield* planAnnouncements(
      infohashes,
      { bittorrentDht: dhtContacts, bitscrape: ourContacts },
      seeders,
      firstPeerPort
    )
    const tally = { done: 0, failed: 0 }

    // === Joining, announcing, activity ===
    /** Tells bittorrent-dht node i about two random BitScrape nodes (it pings them, then adds them). */
    const introduce = (i: number) =>
      Effect.gen(function*() {
        for (const j of yield* distinctIndices(ourContacts.length, 2)) {
          yield* dht!.addNode(i, ourContacts[j]!.host, ourContacts[j]!.port)
        }
      })
    const connect = Effect.gen(function*() {
      if (dht !== undefined && ours !== undefined) {
        yield* Effect.forEach(dhtContacts, (_, i) => introduce(i), { concurrency: 16, discard: true })
      }
      if (ours !== undefined) {
        yield* ours.join(dhtContacts.map(({ host, port }) => ({ host, port })), options.join)
      }
    })
    const notAccepted = (a: Announcement) =>
      new InteropProcessError({
        reason: "CommandFailed",
        process: "test swarm",
        message: `announce ${a.infoHashHex} from BitScrape node ${a.index}: no node accepted it`
      })
    const attempt = (a: Announcement): Effect.Effect<void, InteropProcessError> =>
      a.kind === "bittorrent-dht"
        ? dht!.announce(a.index, a.infoHashHex, a.port)
        : Effect.flatMap(
          ours!.announce(a.index, a.infoHashHex, a.port),
          (r) => r.announced > 0 ? Effect.void : Effect.fail(notAccepted(a))
        )
    /** One announcement, tried three times; a failure is counted and logged, never fatal. */
    const announceOne = (a: Announcement) =>
      Effect.gen(function*() {
        const outcome = yield* Effect.either(Effect.retry(attempt(a), { times: 2 }))
        if (outcome._tag === "Right") {
          tally.done++
        } else {
          tally.failed++
          yield* Effect.logWarning(outcome.left.message)
        }
      })
    const timed = <A, E>(phase: "join" | "announce", effect: Effect.Effect<A, E>) =>
      Effect.gen(function*() {
        const t0 = yield* Clock.currentTimeMillis
        const result = yield* effect
        phases[phase] = (yield* Clock.currentTimeMillis) - t0
        return result
      })
    const setUp = Effect.gen(function*() {
      yield* timed("join", connect)
      yield* timed(
        "announce",
        Effect.forEach(announcements, announceOne, { concurrency: options.announceConcurrency ?? 32, discard: true })
      )
      const lookups = options.activityLookups ?? 2
      if (ours !== undefined && lookups > 0 && infohashes.length > 0) {
        yield* ours.startActivity(infohashes, options.activityEvery ?? "1 second", lookups)
      }
    })
    const settledSignal = yield* Deferred.make<void, InteropProcessError>()
    if (options.settle ?? true) {
      yield* setUp
      yield* Deferred.succeed(settledSignal, undefined)
    } else {
      yield* setUp.pipe(Effect.exit, Effect.flatMap((exit) => Deferred.done(settledSignal, exit)), Effect.forkScoped)
    }

    const coverage = (): Effect.Effect<Coverage, InteropProcessError> =>
      Effect.map(ours === undefined ? Effect.succeed([]) : ours.storedAll(), (stored) => {
        const wanted = new Set(infohashes)
        const covered = new Set<string>()
        for (const list of stored) for (const h of list) if (wanted.has(h)) covered.add(h)
        return {
          infohashes: wanted.size,
          storedAtBitscrape: covered.size,
          fraction: wanted.size === 0 ? 0 : covered.size / wanted.size,
          perNode: summary(stored.map((list) => list.filter((h) => wanted.has(h)).length))
        }
      })

    const stats = () =>
      Effect.gen(function*() {
        const dhtPid = yield* findChildPid(["dhtSwarmWorker.mjs", `"hosts":["${bittorrentDhtBase}"`])
        const memoryOf = (pid: Option.Option<number>) =>
          Effect.map(
            Option.match(pid, { onNone: () => Effect.succeed(Option.none<number>()), onSome: residentBytes }),
            Option.getOrUndefined
          )
        return {
          nodes: { bittorrentDht: dhtContacts.length, bitscrape: ourContacts.length },
          announcements: { planned: announcements.length, ...tally },
          coverage: yield* coverage(),
          bittorrentDhtTableSizes: summary(dht === undefined ? [] : yield* dht.tableSizes()),
          bitscrape: ours === undefined ? undefined : yield* ours.stats(),
          memory: {
            bittorrentDhtWorker: dht === undefined ? undefined : yield* memoryOf(dhtPid),
            bitscrapeWorker: ours === undefined ? undefined : yield* memoryOf(Option.some(ours.pid))
          }
        }
      })

    const api: TestSwarmApi = {
      bootstrap: { host: nodes[0]!.host, port: nodes[0]!.port },
      nodes,
      infohashes,
      announcements,
      startupMillis: (yield* Clock.currentTimeMillis) - started,
      phases,
      settled: Deferred.await(settledSignal),
      stats,
      coverage,
      bittorrentDht: dht,
      bitscrapeNodes: ours
    }
    return api
  }).pipe(withLiveClock)

/** The swarm as a layer, to share one across the tests of a file: `layer(layerTestSwarm({...}))(…)`. */
export const layerTestSwarm = (options: TestSwarmOptions) => Layer.scoped(TestSwarm, makeTestSwarm(options))
