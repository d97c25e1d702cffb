import { Cause, Data, Effect, Exit, Scope } from "effect"
import type { SocketAddress } from "../../domain/address.js"
import { toHex } from "../../domain/ids.js"
import { addressPlan } from "./addresses.js"
import type { IpInbound } from "./ipStats.js"
import { makeModel, type ModelStats } from "./model.js"
import { type RealisticNetworkOptions, type ResolvedOptions, resolveOptions } from "./options.js"
import { type HostilePeerInfo, type LiveTorrent, makePeers, type StalePeerInfo } from "./peers.js"
import { makeRng } from "./rng.js"
import { dropSupport, dropSynsTo, type StaleMode } from "./stalePeers.js"
import { startTraffic } from "./traffic.js"
import { startWorkerPool } from "./workerPool.js"

// A realistic Mainline DHT on loopback, owned by the project (issue 14): thousands of simulated nodes on real
// UDP sockets (one 127.x address each, spread over worker processes), real BEP 9 seeders, hostile and stale peers,
// and the real DHT's unpleasant facts (silent nodes, delays, loss, churn, partial BEP 51, dos_blocker, stale
// infohashes). Any crawler, ours or a third party's, runs against it unchanged. docs/model.md describes it.

export class RealisticNetworkError extends Data.TaggedError("RealisticNetworkError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export interface RealisticNetworkInfo {
  /** How stale peers' TCP connects fail: "drop" (SYNs dropped by iptables: time-outs) or "stall" (accept, silence). */
  readonly staleMode: StaleMode
  /** Why that mode was chosen. */
  readonly staleModeReason: string
  /** The simulated nodes' addresses, and the stale peers' (the iptables rule's destination). */
  readonly nodeCidr: string
  readonly staleCidr: string
  readonly workerPids: ReadonlyArray<number>
  /** Every option, defaults filled in. */
  readonly options: ResolvedOptions
  /** Milliseconds from the call to a running network. */
  readonly startupMs: number
}

export interface RealisticNetworkStats extends ModelStats {
  readonly nodesAlive: number
  readonly externalsKnown: number
  /** Distinct external IPs some dos_blocker node has blocked. */
  readonly dosBlockedIps: number
}

/** One simulated node as the model sees it (ground truth for tests; crawlers must find this out themselves). */
export interface SimNodeInfo {
  readonly host: string
  readonly port: number
  readonly id: string
  readonly answers: boolean
  readonly bep51: boolean
  readonly dosBlocker: boolean
  readonly alive: boolean
}

export interface RealisticNetwork {
  /** A few answering nodes that never leave: give these to a crawler. */
  readonly bootstrap: ReadonlyArray<SocketAddress>
  /** Simulated nodes at the start. */
  readonly nodes: number
  readonly liveTorrents: ReadonlyArray<LiveTorrent>
  /** Infohashes (hex) whose announced peers are all gone. */
  readonly staleInfohashes: ReadonlyArray<string>
  readonly hostile: ReadonlyArray<HostilePeerInfo>
  readonly stalePeers: ReadonlyArray<StalePeerInfo>
  readonly info: RealisticNetworkInfo
  /** Counters since the start. */
  readonly stats: () => RealisticNetworkStats
  /** UDP packets received from each external IP, and the most within any 1-second window. */
  readonly inboundByIp: () => ReadonlyArray<IpInbound>
  readonly describeNodes: () => ReadonlyArray<SimNodeInfo>
  /**
   * Live torrents (hex) that some alive, answering BEP 51 node stores now: what `sample_infohashes` can reveal at
   * this moment (ground truth for benchmarks; the rest can only be found by passive reach).
   */
  readonly liveAtBep51Nodes: () => ReadonlyArray<string>
}

const attempt = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (cause) => new RealisticNetworkError({ message: `${what}: ${cause}`, cause }) })

/** Starts the model in the caller's scope; closing the scope stops workers, servers and the iptables rule. */
export const makeRealisticNetwork = (
  options: RealisticNetworkOptions = {}
): Effect.Effect<RealisticNetwork, RealisticNetworkError, Scope.Scope> =>
  Effect.gen(function*() {
    const started = Date.now()
    const o = yield* Effect.try({
      try: () => resolveOptions(options),
      catch: (e) => new RealisticNetworkError({ message: String(e), cause: e })
    })
    const rng = makeRng(o.seed)
    const plan = addressPlan(o.addressBlock)
    const support = dropSupport()
    if (o.staleMode === "drop" && !support.ok) {
      return yield* new RealisticNetworkError({ message: `staleMode "drop" needs root in a netns: ${support.why}` })
    }
    const staleMode: StaleMode = o.staleMode === "auto" ? (support.ok ? "drop" : "stall") : o.staleMode
    const model = makeModel(o, plan, rng)
    yield* Effect.addFinalizer(() => Effect.sync(model.close))
    const drawn = Array.from({ length: o.nodes }, (_, slot) => model.draw(slot, slot < o.bootstrapCount))

    const pool = yield* Effect.acquireRelease(
      attempt(
        "starting worker processes",
        () => startWorkerPool(Math.ceil(o.nodes / o.nodesPerWorker), model.received)
      ),
      (p) => Effect.promise(p.stop)
    )
    const ports = yield* attempt("binding node sockets", () => pool.bind(drawn.map((d) => [d.slot, plan.node(d.slot)])))
    for (const d of drawn) model.add(d, ports.get(d.slot)!)
    model.attach(pool)

    if (staleMode === "drop") {
      yield* dropSynsTo(plan.staleCidr).pipe(
        Effect.mapError((e) => new RealisticNetworkError({ message: e.message, cause: e }))
      )
    }
    const peers = yield* makePeers(o, plan, rng, staleMode, model.receivedByClient).pipe(
      Effect.mapError((e) => new RealisticNetworkError({ message: `starting peers: ${e.message}`, cause: e }))
    )
    const targets = {
      live: peers.live.map((t) => Buffer.from(t.infoHash, "hex")),
      stale: peers.stale.map((h) => Buffer.from(h, "hex"))
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => startTraffic(o, model, plan, rng, pool, peers.announcements, targets)),
      (t) => Effect.sync(t.stop)
    )

    return {
      bootstrap: drawn.filter((d) => d.bootstrap).map((d) => ({ host: plan.node(d.slot), port: ports.get(d.slot)! })),
      nodes: o.nodes,
      liveTorrents: peers.live,
      staleInfohashes: peers.stale,
      hostile: peers.hostile,
      stalePeers: peers.stalePeers,
      info: {
        staleMode,
        staleModeReason: staleMode === "drop"
          ? support.why
          : o.staleMode === "stall"
          ? "stall requested"
          : `stall: ${support.why}`,
        nodeCidr: plan.nodeCidr,
        staleCidr: plan.staleCidr,
        workerPids: pool.pids,
        options: o,
        startupMs: Date.now() - started
      },
      stats: () => ({
        ...model.stats,
        queries: { ...model.stats.queries },
        nodesAlive: model.nodes.filter((n) => n?.alive).length,
        externalsKnown: model.externals.size,
        dosBlockedIps: model.blockedIps.size
      }),
      inboundByIp: () => model.ipStats.snapshot(),
      liveAtBep51Nodes: () => {
        const live = new Set(peers.live.map((t) => t.infoHash))
        const found = new Set<string>()
        for (const n of model.nodes) {
          if (n === undefined || !n.alive || !n.answers || !n.bep51) continue
          for (const key of n.store.keys()) if (live.has(key)) found.add(key)
        }
        return [...found]
      },
      describeNodes: () =>
        model.nodes.flatMap((n) =>
          n === undefined ? [] : [{
            host: n.member.host,
            port: n.member.port,
            id: toHex(n.id),
            answers: n.answers,
            bep51: n.bep51,
            dosBlocker: n.dos !== undefined,
            alive: n.alive
          }]
        )
    }
  })

/**
 * The same for scripts without Effect (bench .mjs files): resolves once the network runs; `stop()` closes it.
 * Rejects with the RealisticNetworkError (or defect) that stopped it from starting.
 */
export const startRealisticNetwork = async (
  options: RealisticNetworkOptions = {}
): Promise<RealisticNetwork & { readonly stop: () => Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(Scope.extend(makeRealisticNetwork(options), scope))
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit))
    throw Cause.squash(exit.cause)
  }
  let stopping: Promise<void> | undefined
  return {
    ...exit.value,
    stop: () => (stopping ??= Effect.runPromise(Scope.close(scope, Exit.void)))
  }
}
