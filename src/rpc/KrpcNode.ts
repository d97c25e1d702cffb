import type { Stream } from "effect"
import { Cause, Context, Duration, Effect, Either, Exit, Fiber, FiberId, Layer, Option, Queue, Runtime } from "effect"
import { DhtConfig } from "../config/DhtConfig.js"
import type { InfoHash, NodeId } from "../domain/ids.js"
import { checkNodeId } from "../krpc/bep42.js"
import { decodeMessage, encodeMessage, peekTransactionId } from "../krpc/codec.js"
import type { NodeContact } from "../krpc/compact.js"
import type { ErrorMessage, KrpcMessage, Response, Want } from "../krpc/messages.js"
import { methodOf } from "../krpc/messages.js"
import * as Metrics from "../observability/metrics.js"
import { FamilyTables } from "../routing/FamilyTables.js"
import { RoutingTable } from "../routing/RoutingTable.js"
import { paceHost } from "../socket/budget.js"
import { DhtSocket } from "../socket/DhtSocket.js"
import { fromQueueLingering } from "../util/lingering.js"
import { makeRttEstimator } from "../util/rtt.js"
import { makeTimers } from "../util/timers.js"
import {
  KrpcError,
  MalformedResponse,
  type QueryFailure,
  QueryPaced,
  type QueryTimeout,
  queryTimeout
} from "./errors.js"
import { makePeerStore } from "./peerStore.js"
import { respond } from "./responder.js"
import { makeTokenIssuer } from "./tokens.js"

export * from "./errors.js"

/** Where to send a query; with the node id when known, so a timeout can mark that node as failing. */
export interface Target {
  readonly host: string
  readonly port: number
  readonly id?: Uint8Array | undefined
}

/** One outbound query, as `request` (the callback path) takes it. */
export type Outbound =
  | { readonly method: "ping" }
  | { readonly method: "find_node"; readonly target: Uint8Array }
  | { readonly method: "get_peers"; readonly infoHash: InfoHash; /** BEP 33 */ readonly scrape?: boolean }
  | { readonly method: "sample_infohashes"; readonly target: Uint8Array }

/** A query we received that tells the crawler something: an infohash somebody looks for or announces. */
export interface Harvest {
  readonly kind: "get_peers" | "announce_peer"
  readonly infoHash: InfoHash
  readonly from: NodeContact
  /** announce_peer: the announced peer address. */
  readonly peer?: { readonly host: string; readonly port: number } | undefined
}

/** Counters of one node, for tests and live stats (process-wide Metrics aggregate all nodes). */
export interface KrpcStats {
  queriesIn: number
  /** Queries received, by method (unknown methods under their own name). */
  queriesInByMethod: Record<string, number>
  queriesOut: number
  responses: number
  timeouts: number
  errors: number
  malformed: number
  unexpected: number
  harvestDropped: number
  /** Replies that came after their query had timed out (their RTT still feeds the time-out estimate). */
  late: number
  /** Queries not sent because their IP's pace slot was too far away (QueryPaced). */
  paced: number
  /** announce_peer queries with a token we did not issue (or an expired one): not harvested, not stored. */
  invalidTokens: number
}

/**
 * A KRPC endpoint (BEP 5): sends queries and matches replies by transaction id and source address, answers
 * queries (ping, find_node, get_peers, announce_peer, sample_infohashes; 204 for anything else) unless
 * read-only (BEP 43), and keeps the routing table informed of who is alive.
 */
export class KrpcNode extends Context.Tag("bitscrape/KrpcNode")<KrpcNode, {
  readonly self: NodeId
  readonly local: { readonly host: string; readonly port: number }
  /** Sends `ping`. */
  readonly ping: (to: Target) => Effect.Effect<Response, QueryFailure>
  /** Sends `find_node`; the reply's `nodes`/`nodes6` hold the closest contacts the node knows. */
  readonly findNode: (to: Target, target: Uint8Array) => Effect.Effect<Response, QueryFailure>
  /** Sends `get_peers`; fails with MalformedResponse if the reply has no token. */
  readonly getPeers: (to: Target, infoHash: InfoHash) => Effect.Effect<Response, QueryFailure>
  /** Sends `announce_peer` with a token from an earlier get_peers reply of the same node. */
  readonly announcePeer: (
    to: Target,
    infoHash: InfoHash,
    port: number,
    token: Uint8Array,
    impliedPort?: boolean
  ) => Effect.Effect<Response, QueryFailure>
  /** Sends BEP 51 `sample_infohashes`. */
  readonly sampleInfohashes: (to: Target, target: Uint8Array) => Effect.Effect<Response, QueryFailure>
  /**
   * The same queries without a fiber: `done` is called once, with the reply or the failure (get_peers without a
   * token fails with MalformedResponse, as `getPeers` does). For hot paths — the crawler sends hundreds a second
   * — nothing lives through the round trip but the transaction record, so little survives to the old
   * generation. Same pace, budget, time-outs and counters as the effects; not interruptible (the transaction
   * ends by reply or time-out, or when the node closes). Returns a cancel function: the transaction is
   * forgotten and `done` is not called.
   */
  readonly request: (
    to: Target,
    query: Outbound,
    done: (result: Either.Either<Response, QueryFailure>) => void
  ) => () => void
  /** Infohashes learnt from incoming get_peers/announce_peer; a bounded buffer, dropping (and counting) when full. */
  readonly harvest: Stream.Stream<Harvest>
  /** Queries awaiting a reply. */
  readonly inflight: Effect.Effect<number>
  /** This node's counters. */
  readonly stats: () => Readonly<KrpcStats>
  /** The current query time-out (ms), from measured round-trip times, and their median. */
  readonly timing: () => { readonly timeoutMillis: number; readonly medianRttMillis: number | undefined }
}>() {}

interface Pending {
  /** Resumes the waiting query; set when it starts waiting (a reply that comes first waits in `early`). */
  done: ((exit: Settled) => void) | undefined
  early: Settled | undefined
  readonly deadline: number
  readonly sentAt: number
  readonly host: string
  readonly port: number
  readonly method: string
}

/** How a transaction ended: the reply (or error reply), a malformed reply or a time-out, or interruption. */
type Settled = Exit.Exit<Response | ErrorMessage, MalformedResponse | QueryTimeout>

/** BEP 32 `want` of a dual-stack node: nodes of both families. */
const BOTH: ReadonlyArray<Want> = ["n4", "n6"]

const HARVEST_BUFFER = 4096
/** Timed-out transactions remembered, so a late reply is recognised (and its RTT measured). */
const EXPIRED_MEMORY = 4096

/** Shortest sleep of the time-out sweeper (ms). */
const SWEEP_MILLIS = 50

const make = Effect.gen(function*() {
  const config = yield* DhtConfig
  const socket = yield* DhtSocket
  const table = yield* RoutingTable
  const timers = yield* makeTimers
  const now = timers.now
  const self = table.self
  const family = socket.local.host.includes(":") ? 6 as const : 4 as const
  // Dual stack (BEP 32): the node of the other family with our id registers its table here too.
  const siblings = Option.getOrUndefined(yield* Effect.serviceOption(FamilyTables))
  siblings?.register(family, table.unsafeClosest)
  const other = family === 4 ? 6 as const : 4 as const
  /** `want` of our queries: both families once this id has a socket of each, else none (our family). */
  const want = (): ReadonlyArray<Want> | undefined => siblings?.closest(other) !== undefined ? BOTH : undefined
  const stats: KrpcStats = {
    queriesIn: 0,
    queriesInByMethod: {},
    queriesOut: 0,
    responses: 0,
    timeouts: 0,
    errors: 0,
    malformed: 0,
    unexpected: 0,
    harvestDropped: 0,
    late: 0,
    paced: 0,
    invalidTokens: 0
  }
  const tokens = makeTokenIssuer()
  const store = makePeerStore({
    ttlMillis: Duration.toMillis(config.peerTtl),
    maxInfohashes: config.maxStoredInfohashes,
    maxPeers: config.maxPeersPerInfohash
  })
  // bitscrape_dht_stored_peers: this node's share of the process-wide count, kept current on every change.
  let storedPeers = 0
  const countStored = () => {
    const n = store.size().peers
    Metrics.adjustStoredPeers(n - storedPeers)
    storedPeers = n
  }
  const peers: typeof store = {
    ...store,
    announce: (infoHash, peer, at, seed) => {
      store.announce(infoHash, peer, at, seed)
      countStored()
    },
    sweep: (at) => {
      store.sweep(at)
      countStored()
    }
  }
  yield* Effect.addFinalizer(() => Effect.sync(() => Metrics.adjustStoredPeers(-storedPeers)))
  const harvestQueue = yield* Queue.dropping<Harvest>(HARVEST_BUFFER)
  const pending = new Map<number, Pending>()
  const expired = new Map<number, { readonly sentAt: number; readonly host: string; readonly port: number }>()
  const rtt = makeRttEstimator({
    minMillis: Math.min(config.minQueryTimeoutMillis, Duration.toMillis(config.queryTimeout)),
    maxMillis: Duration.toMillis(config.queryTimeout)
  })
  const adaptive = config.adaptiveTimeout
  const slots = yield* Effect.makeSemaphore(config.maxInflight)
  let nextT = Math.floor(Math.random() * 0xffffffff)

  const budget = socket.budget
  const runFork = Runtime.runFork(yield* Effect.runtime<never>())
  const ctx = { self, config, family, closest: table.unsafeClosest, closestOf: siblings?.closest, tokens, peers, now }

  const complete = (p: Pending, exit: Settled) => {
    if (p.done !== undefined) p.done(exit)
    else p.early = exit
  }

  // === Inbound: one synchronous step per datagram ===

  /** Completes the pending query a reply belongs to, matched by transaction id *and* source address. */
  const settle = (
    t: Uint8Array,
    host: string,
    port: number,
    exit: Settled
  ): Pending | "wrong-source" | "unknown" => {
    if (t.length !== 4) return "unknown"
    const key = ((t[0]! << 24) | (t[1]! << 16) | (t[2]! << 8) | t[3]!) >>> 0
    const p = pending.get(key)
    if (p === undefined) {
      const gone = expired.get(key)
      if (gone !== undefined && gone.host === host && gone.port === port) {
        expired.delete(key)
        stats.late++
        rtt.record(now() - gone.sentAt)
      }
      return "unknown"
    }
    if (p.host !== host || p.port !== port) return "wrong-source"
    pending.delete(key)
    rtt.record(now() - p.sentAt)
    complete(p, exit)
    return p
  }

  const handle = (bytes: Uint8Array, host: string, port: number): void => {
    const decoded = decodeMessage(bytes)
    if (Either.isLeft(decoded)) {
      stats.malformed++
      Metrics.countDrop("malformed")
      const t = peekTransactionId(bytes)
      if (t !== undefined) {
        settle(
          t,
          host,
          port,
          Exit.fail(new MalformedResponse({ method: "?", host, port, reason: decoded.left.reason }))
        )
      }
      return
    }
    const message: KrpcMessage = decoded.right
    switch (message._tag) {
      case "Response":
      case "ErrorMessage": {
        const settled = settle(message.t, host, port, Exit.succeed(message))
        if (typeof settled === "string") {
          stats.unexpected++
          Metrics.countDrop(settled === "unknown" ? "unexpected-response" : "wrong-source")
          return
        }
        if (message._tag === "Response") {
          stats.responses++
          Metrics.unsafeIncrement(Metrics.responses)
          Metrics.countResponse(settled.method)
          table.unsafeObserve(
            { id: message.id, host, port },
            { kind: "response", bep42: checkNodeId(message.id, host), version: message.v }
          )
        } else {
          stats.errors++
          Metrics.unsafeIncrement(Metrics.errorsIn)
        }
        return
      }
      default: {
        stats.queriesIn++
        const method = methodOf(message)
        stats.queriesInByMethod[method] = (stats.queriesInByMethod[method] ?? 0) + 1
        Metrics.countQueryIn(method)
        if (config.readOnly) return // BEP 43: a read-only node answers no queries.
        if (message._tag !== "UnknownQuery" && message.ro !== true) {
          table.unsafeObserve(
            { id: message.id, host, port },
            { kind: "query", bep42: checkNodeId(message.id, host), version: message.v }
          )
        }
        // An announce whose token we did not issue to this IP (BEP 5) tells us nothing we can trust: counted on
        // its own, neither harvested as an announce nor stored (respond() answers it with error 203).
        const forged = message._tag === "AnnouncePeerQuery" && !tokens.verify(message.token, host, now())
        if (forged) {
          stats.invalidTokens++
          Metrics.unsafeIncrement(Metrics.invalidTokens)
        }
        if (message._tag === "GetPeersQuery" || (message._tag === "AnnouncePeerQuery" && !forged)) {
          const accepted = harvestQueue.unsafeOffer({
            kind: message._tag === "GetPeersQuery" ? "get_peers" : "announce_peer",
            infoHash: message.info_hash,
            from: { id: message.id, host, port },
            peer: message._tag === "AnnouncePeerQuery"
              ? { host, port: message.implied_port === true ? port : message.port }
              : undefined
          })
          if (!accepted) stats.harvestDropped++
        }
        if (config.neighbourIds) Metrics.unsafeIncrement(Metrics.neighbourReplies)
        if (message._tag === "AnnouncePeerQuery") {
          // respond() stores the announced peer: run it whether or not the reply can be sent.
          socket.trySend(host, port, encodeMessage(respond(ctx, message, host, port)))
        } else {
          socket.trySend(host, port, () => encodeMessage(respond(ctx, message, host, port)))
        }
      }
    }
  }

  yield* socket.handle(handle)

  // Query timeouts: one sweeper fiber instead of a timer and a fiber per query. It sleeps until the earliest
  // deadline (deadlines grow in insertion order: one timeout for all) and parks while nothing is pending.
  const timeoutMillis = Duration.toMillis(config.queryTimeout)
  const somethingPending = yield* Effect.makeLatch(false)
  const expire = Effect.sync(() => {
    const t = now()
    for (const [key, p] of pending) {
      if (p.deadline > t) return p.deadline - t
      pending.delete(key)
      expired.set(key, { sentAt: p.sentAt, host: p.host, port: p.port })
      if (expired.size > EXPIRED_MEMORY) expired.delete(expired.keys().next().value!)
      complete(p, Exit.fail(queryTimeout(p.method, p.host, p.port)))
    }
    somethingPending.unsafeClose()
    return undefined
  })
  yield* expire.pipe(
    // At most one wake-up per SWEEP_MILLIS: with ~half the queries timing out (normal on the DHT) the earliest
    // deadline moves every few ms, and a time-out a few ms late costs nothing.
    Effect.flatMap((wait) =>
      wait === undefined ? somethingPending.await : Effect.sleep(Duration.millis(Math.max(wait, SWEEP_MILLIS)))
    ),
    Effect.forever,
    Effect.forkScoped
  )

  // Expired announced peers are dropped lazily on access; a periodic sweep bounds idle memory too.
  yield* Effect.sync(() => peers.sweep(now())).pipe(
    Effect.delay("1 minute"),
    Effect.forever,
    Effect.forkScoped
  )

  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const p of pending.values()) complete(p, Exit.interrupt(FiberId.none))
      pending.clear()
    })
  )

  // === Outbound ===

  /** Registers a transaction: its id `t`, sent now, due by the current time-out. */
  const open = (to: Target, method: string): { readonly key: number; readonly t: Uint8Array; readonly p: Pending } => {
    let key = (nextT = (nextT + 1) >>> 0)
    while (pending.has(key)) key = nextT = (nextT + 1) >>> 0
    const t = Uint8Array.of(key >>> 24, (key >>> 16) & 0xff, (key >>> 8) & 0xff, key & 0xff)
    const sentAt = now()
    const p: Pending = {
      done: undefined,
      early: undefined,
      host: to.host,
      port: to.port,
      method,
      sentAt,
      deadline: sentAt + (adaptive ? rtt.timeout() : timeoutMillis)
    }
    pending.set(key, p)
    somethingPending.unsafeOpen()
    stats.queriesOut++
    Metrics.countQueryOut(method)
    Metrics.inflight.unsafeUpdate(pending.size, [])
    return { key, t, p }
  }

  const close = (key: number) => {
    pending.delete(key)
    Metrics.inflight.unsafeUpdate(pending.size, [])
  }

  /**
   * What a settled transaction means for the query: an error reply is a KrpcError; a time-out is counted and
   * marks the node failing in the routing table. `undefined` when it was interrupted.
   */
  const outcome = (to: Target, method: string, exit: Settled): Either.Either<Response, QueryFailure> | undefined => {
    if (Exit.isSuccess(exit)) {
      const reply = exit.value
      return reply._tag === "ErrorMessage"
        ? Either.left(new KrpcError({ method, host: to.host, port: to.port, code: reply.code, message: reply.message }))
        : Either.right(reply)
    }
    const failure = Cause.failureOption(exit.cause)
    if (Option.isNone(failure)) return undefined
    const e = failure.value
    if (e._tag === "MalformedResponse") return Either.left(new MalformedResponse({ ...e, method }))
    stats.timeouts++
    Metrics.unsafeIncrement(Metrics.timeouts)
    if (to.id !== undefined) table.unsafeFailed(to.id)
    return Either.left(e)
  }

  /**
   * A query's packet from the shared budget (ms to wait before it may go), once its IP slot is reserved: when it
   * must wait, the IP's pace counts from when it leaves, not from its slot.
   */
  const reservePacket = (host: string, t: number) => {
    const wait = budget.reservePacket(t)
    if (wait > 0) budget.holdIp(host, t + wait)
    return wait
  }

  /**
   * Every query goes through the per-IP pace first (waiting at most `maxPaceWaitMillis` for its IP's slot),
   * then the packet budget (in `transact`).
   */
  const send = (
    to: Target,
    method: string,
    build: (t: Uint8Array) => KrpcMessage
  ): Effect.Effect<Response, QueryFailure> =>
    Effect.suspend(() => {
      const wait = budget.reserveIp(paceHost(to.host, to.port), now(), config.maxPaceWaitMillis)
      if (wait < 0) {
        stats.paced++
        return Effect.fail(new QueryPaced({ method, host: to.host, port: to.port }))
      }
      const query = transact(to, method, build)
      return wait === 0 ? query : Effect.zipRight(Effect.sleep(wait), query)
    })

  const transact = (
    to: Target,
    method: string,
    build: (t: Uint8Array) => KrpcMessage
  ): Effect.Effect<Response, QueryFailure> =>
    slots.withPermits(1)(
      Effect.suspend(() => {
        const { key, p, t } = open(to, method)
        const bytes = encodeMessage(build(t))
        const packetWait = reservePacket(paceHost(to.host, to.port), now())
        const transmit = Effect.sync(() => socket.transmit(to.host, to.port, bytes))
        return (packetWait === 0 ? transmit : Effect.zipRight(Effect.sleep(packetWait), transmit)).pipe(
          Effect.zipRight(
            Effect.async<Settled>((resume) => {
              if (p.early !== undefined) return resume(Effect.succeed(p.early))
              p.done = (exit) => resume(Effect.succeed(exit))
            })
          ),
          Effect.flatMap((exit) => outcome(to, method, exit) ?? Effect.interrupt),
          Effect.ensuring(Effect.sync(() => close(key)))
        )
      })
    )

  const envelope = (t: Uint8Array) => ({ t, v: config.version, id: self, ro: config.readOnly ? true : undefined })

  const build = (q: Outbound) => (t: Uint8Array): KrpcMessage => {
    switch (q.method) {
      case "ping":
        return { _tag: "PingQuery", ...envelope(t) }
      case "find_node":
        return { _tag: "FindNodeQuery", ...envelope(t), target: q.target as NodeId, want: want() }
      case "get_peers":
        return { _tag: "GetPeersQuery", ...envelope(t), info_hash: q.infoHash, want: want(), scrape: q.scrape }
      case "sample_infohashes":
        return { _tag: "SampleInfohashesQuery", ...envelope(t), target: q.target as NodeId, want: want() }
    }
  }

  /** A get_peers reply must carry a token (BEP 5). */
  const checked = (to: Target, q: Outbound, result: Either.Either<Response, QueryFailure>) =>
    q.method === "get_peers" && Either.isRight(result) && result.right.token === undefined
      ? Either.left(new MalformedResponse({ method: "get_peers", host: to.host, port: to.port, reason: "no token" }))
      : result

  const request = (
    to: Target,
    q: Outbound,
    done: (result: Either.Either<Response, QueryFailure>) => void
  ): () => void => {
    const t0 = now()
    const wait = budget.reserveIp(paceHost(to.host, to.port), t0, config.maxPaceWaitMillis)
    if (wait < 0) {
      stats.paced++
      done(Either.left(new QueryPaced({ method: q.method, host: to.host, port: to.port })))
      return () => {}
    }
    if (wait > 0 || pending.size >= config.maxInflight) {
      // Rare on the hot path (callers pick free IPs): the effect waits on the Clock and for a slot.
      const query = transact(to, q.method, build(q))
      const fiber = runFork(Effect.either(wait === 0 ? query : Effect.zipRight(Effect.sleep(wait), query)))
      fiber.addObserver((exit) => {
        if (Exit.isSuccess(exit)) done(checked(to, q, exit.value))
      })
      return () => void runFork(Fiber.interrupt(fiber))
    }
    const { key, p, t } = open(to, q.method)
    p.done = (exit) => {
      close(key)
      // Interrupted when the node closes: reported as a time-out (no reply came).
      const result = outcome(to, q.method, exit) ??
        Either.left(queryTimeout(q.method, to.host, to.port))
      done(checked(to, q, result))
    }
    const bytes = encodeMessage(build(q)(t))
    const packetWait = reservePacket(paceHost(to.host, to.port), t0)
    if (packetWait === 0) socket.transmit(to.host, to.port, bytes)
    else timers.after(packetWait, () => socket.transmit(to.host, to.port, bytes))
    return () => {
      if (pending.get(key) === p) close(key)
      p.done = () => {}
    }
  }

  return KrpcNode.of({
    self,
    local: socket.local,
    ping: (to) => send(to, "ping", build({ method: "ping" })),
    findNode: (to, target) => send(to, "find_node", build({ method: "find_node", target })),
    getPeers: (to, infoHash) =>
      send(to, "get_peers", build({ method: "get_peers", infoHash })).pipe(
        Effect.filterOrFail(
          (r) => r.token !== undefined,
          () => new MalformedResponse({ method: "get_peers", host: to.host, port: to.port, reason: "no token" })
        )
      ),
    announcePeer: (to, infoHash, port, token, impliedPort) =>
      send(to, "announce_peer", (t) => ({
        _tag: "AnnouncePeerQuery",
        ...envelope(t),
        info_hash: infoHash,
        port,
        token,
        implied_port: impliedPort,
        seed: undefined
      })),
    sampleInfohashes: (to, target) => send(to, "sample_infohashes", build({ method: "sample_infohashes", target })),
    request,
    // In batches: a busy node hears many queries, and a wake-up per query costs more than handling it.
    harvest: fromQueueLingering(harvestQueue, 1024, 100),
    inflight: Effect.sync(() => pending.size),
    stats: () => stats,
    timing: () => ({ timeoutMillis: adaptive ? rtt.timeout() : timeoutMillis, medianRttMillis: rtt.median() })
  })
})

/** The KRPC node over `DhtSocket` and `RoutingTable`; its receive loop lives in the layer's scope. */
export const KrpcNodeLive = Layer.scoped(KrpcNode, make)
