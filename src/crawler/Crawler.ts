import type { Stream } from "effect"
import { Clock, Context, Effect, Fiber, Layer, Option, Queue } from "effect"
import { CrawlerConfig } from "../config/CrawlerConfig.js"
import type { Verdict } from "../domain/cidr.js"
import { toHex } from "../domain/ids.js"
import type { Discovery, NodeSighting } from "../domain/model.js"
import { spanStarter } from "../observability/spans.js"
import type { SizeEstimate } from "../rpc/networkSize.js"
import { fromQueueLingering } from "../util/lingering.js"
import { makeTimers } from "../util/timers.js"
import { makeControl } from "./backoff.js"
import { makeDispatcher } from "./dispatch.js"
import { harvest } from "./harvest.js"
import { Identities, IdentitiesFromNode } from "./identities.js"
import { join } from "./join.js"
import * as CrawlerMetrics from "./metrics.js"
import { makePeers } from "./peers.js"
import { makeSample } from "./sample.js"
import { type Candidate, makeCrawlState, type Stage, STAGES } from "./state.js"
import { makeWalk } from "./walk.js"

export { resolveBootstrap } from "./join.js"
export type { Candidate, Stage } from "./state.js"

/** A snapshot of the crawler's progress. */
export interface CrawlerStats {
  readonly knownNodes: number
  readonly responsiveNodes: number
  /** Known and responsive nodes by address family (BEP 32 dual stack crawls both). */
  readonly families: {
    readonly known: { readonly ipv4: number; readonly ipv6: number }
    readonly responsive: { readonly ipv4: number; readonly ipv6: number }
  }
  readonly uniqueInfohashes: number
  readonly discoveries: Readonly<Record<Discovery["source"], number>>
  readonly queries: Readonly<Record<"find_node" | "sample_infohashes" | "get_peers", number>>
  /** Queries sent by each stage (a lookup counts each query of its traversal). */
  readonly spent: Readonly<Record<Stage, number>>
  /** The dispatcher's current shares of the packet budget, by stage. */
  readonly shares: Readonly<Partial<Record<Stage, number>>>
  /** UDP packets sent by all identities (queries and replies). */
  readonly packetsOut: number
  /** Our queries so far, over all identities: sent, answered, timed out (the response rate's counts). */
  readonly rpc: { readonly queries: number; readonly responses: number; readonly timeouts: number }
  /** Peer finding: get_peers to samplers and full lookups, and how many found peers. */
  readonly peerFinding: {
    readonly asked: number
    readonly askedWithPeers: number
    readonly lookups: number
    readonly lookupsWithPeers: number
    /** Answers (asks and lookups) that carried BEP 33 filters, hence a swarm estimate. */
    readonly scraped: number
    readonly queued: number
    /** Infohashes in the evidence store (src/crawler/evidence.ts), and of those on probation. */
    readonly evidence: number
    readonly onProbation: number
  }
  /** Distinct infohashes for which at least one peer was seen (announce or get_peers reply). */
  readonly infohashesWithPeers: number
  readonly identities: number
  /** announce_peer received with a token we did not issue (not harvested). */
  readonly invalidTokens: number
  /** Current query time-out (ms, from measured RTTs) and median RTT. */
  readonly timing: { readonly timeoutMillis: number; readonly medianRttMillis: number | undefined }
  /**
   * Number of DHT nodes estimated from the closest responders of the latest get_peers lookups (k-closest
   * estimator, src/rpc/networkSize.ts) with its 95 % interval; undefined before the first lookup. Counts
   * responsive nodes: read it beside `timeoutRate`.
   */
  readonly networkSize: SizeEstimate | undefined
  /** Share of our queries that timed out in the last 5 s, and its slow baseline. */
  readonly timeoutRate: { readonly recent: number; readonly baseline: number | undefined }
  readonly filtered: Readonly<Partial<Record<Verdict, number>>>
  readonly queueDepths: {
    readonly discoveries: number
    readonly nodes: number
    readonly candidates: number
    readonly lookups: number
  }
  /** Share of the packet budget in use while backing off (1 when not backing off). */
  readonly budgetShare: number
  /** Extra delay per query while backing off (ms; 0 when not backing off). */
  readonly backoffMillis: number
  /** Why discovery slowed, when it did. */
  readonly backoffReason: string | undefined
}

/**
 * The explorer: joins the DHT, walks the keyspace with find_node, samples nodes (BEP 51) honouring their
 * `interval`, harvests infohashes from incoming get_peers/announce_peer, and finds peers (ask the sampler,
 * lookups) for the infohashes with the best evidence — with one or several node ids, sending as fast as the
 * shared packet budget allows, never more than one query per interval to any one IP. Discoveries leave through
 * bounded queues: when nobody drains them fast enough the crawler waits (never grows).
 */
export class Crawler extends Context.Tag("bitscrape/Crawler")<Crawler, {
  /** Every infohash sighting, with its source (and peer for announces and lookups). */
  readonly discoveries: Stream.Stream<Discovery>
  /** Every node sighting (answers to our queries). */
  readonly nodes: Stream.Stream<NodeSighting>
  /** Infohashes with peers, for the metadata fetcher (when `metadata` is on); repeated as more peers appear. */
  readonly candidates: Stream.Stream<Candidate>
  /** Tells the crawler that fetching from an infohash's known peers failed, so it looks for more peers. */
  readonly fetchFailed: (infoHash: Uint8Array) => Effect.Effect<void>
  /** Looks for peers of infohashes someone wants (imported without metadata), then fetches them as usual. */
  readonly seek: (infoHashes: ReadonlyArray<Uint8Array>) => Effect.Effect<void>
  /** Hosts banned during this crawl (they answered with garbage). */
  readonly bans: Effect.Effect<ReadonlyArray<string>>
  /** Progress counters. */
  readonly stats: Effect.Effect<CrawlerStats>
  /**
   * Graceful stop: no new queries; in-flight ones settle (at most `grace`); then, once consumers have drained
   * the queues, the streams end. Safe to call more than once.
   */
  readonly stop: (grace: number) => Effect.Effect<void>
}>() {}

// Stop order (docs/architecture.md "Crawler stages"): (1) the dispatcher launches nothing more; (2) tasks in
// flight settle within the grace period, then are interrupted; (3) join, harvest and the control loop are
// interrupted; (4) the queues drain into their consumers (at most the grace period); (5) they shut down, which
// ends the streams. The identities' sockets close afterwards, with the layer's scope.

/** How long a reader of `discoveries` and `nodes` waits for more records after the first (ms). */
const LINGER_MILLIS = 250
/** The same for `candidates`, which the fetcher should get soon. */
const CANDIDATE_LINGER_MILLIS = 50

const make = Effect.gen(function*() {
  const config = yield* CrawlerConfig
  const { all: identities, budget } = yield* Identities
  const timers = yield* makeTimers
  const now = timers.now

  const s = yield* makeCrawlState(config, identities, budget, timers)
  // Spans of the stages' queries (children of the span current now, e.g. the crawl command's), when exported.
  const startSpan = yield* spanStarter
  const walk = makeWalk(s, startSpan)
  const sample = makeSample(s, startSpan)
  const peers = makePeers(s, startSpan)
  /** Dispatched tasks in flight at most (memory bound; the budget usually limits them long before). */
  const maxInflight = 512
  const dispatcher = yield* makeDispatcher(s, [
    { stage: "peers", next: peers.next },
    { stage: "sample", next: sample.next },
    { stage: "walk", next: walk.next }
  ], maxInflight)
  const control = makeControl(s, dispatcher)

  // === Gauges for /metrics, refreshed every second ===

  const gauges = Effect.gen(function*() {
    for (;;) {
      const t = now()
      const families = s.known.families(t, 15 * 60_000)
      CrawlerMetrics.knownNodes.unsafeUpdate(s.known.size(), [])
      CrawlerMetrics.responsiveNodes.unsafeUpdate(families.responsive.ipv4 + families.responsive.ipv6, [])
      for (const family of ["ipv4", "ipv6"] as const) {
        CrawlerMetrics.knownNodesByFamily(family).unsafeUpdate(families.known[family], [])
        CrawlerMetrics.responsiveNodesByFamily(family).unsafeUpdate(families.responsive[family], [])
      }
      CrawlerMetrics.queueDepth("discoveries").unsafeUpdate(s.depth(s.discoveries), [])
      CrawlerMetrics.queueDepth("nodes").unsafeUpdate(s.depth(s.nodeSightings), [])
      CrawlerMetrics.queueDepth("candidates").unsafeUpdate(s.depth(s.candidates), [])
      CrawlerMetrics.queueDepth("lookups").unsafeUpdate(peers.queued(), [])
      CrawlerMetrics.budgetShare.unsafeUpdate(s.backoff.share, [])
      const size = peers.networkSize()
      if (size !== undefined) {
        CrawlerMetrics.networkSize("estimate").unsafeUpdate(size.nodes, [])
        CrawlerMetrics.networkSize("low").unsafeUpdate(size.low, [])
        CrawlerMetrics.networkSize("high").unsafeUpdate(size.high, [])
      }
      for (const stage of STAGES) {
        CrawlerMetrics.stageQueries(stage).unsafeUpdate(s.spent[stage], [])
      }
      yield* Effect.sleep("1 second")
    }
  })

  const quiet = <A, E>(effect: Effect.Effect<A, E>) =>
    effect.pipe(Effect.catchAllCause((cause) => Effect.logDebug("crawler stage failed", cause)))

  const dispatching = yield* Effect.forkScoped(quiet(dispatcher.loop))
  const background = yield* Effect.all([
    Effect.forkScoped(quiet(join(s))),
    Effect.forkScoped(quiet(harvest(s))),
    Effect.forkScoped(quiet(control.loop)),
    Effect.forkScoped(gauges)
  ])

  /** Polls until `done()` (at most ~2 s), for the candidates queue at stop. */
  const until = (done: () => boolean) =>
    Effect.gen(function*() {
      for (let i = 0; i < 100 && !done(); i++) yield* Effect.sleep(20)
    })
  const layerScope = yield* Effect.scope
  const empty = <A>(q: Queue.Queue<A>) => Option.getOrElse(q.unsafeSize(), () => 0) <= 0
  // The discoveries and node sightings queues are writes the repository still owes: each is shut down (which
  // ends its stream) only at a moment when it is empty and no offer waits for room, however long its consumer
  // takes to get there. Sightings still arrive meanwhile (inbound queries, late replies) and are written; once a
  // queue has drained, its flag (`discoveriesClosed`, `nodesClosed`) stops them (uncounted), the overflow fibers
  // counted in `overflowing` finish, and the queue shuts down.
  const closeWhenDrained = <A>(q: Queue.Queue<A>, close: () => void) =>
    Effect.gen(function*() {
      const drained = () => empty(q) && s.overflowing() === 0
      while (!drained()) yield* Effect.sleep(20)
      close()
      while (!drained()) yield* Effect.sleep(20)
      yield* Queue.shutdown(q)
    })

  const stop = (grace: number) =>
    Effect.gen(function*() {
      if (s.run.stopping) return
      s.run.stopping = true
      // (Stop runs in finalizers, which are uninterruptible: the timed waits must be interruptible themselves,
      // or their timeouts could never cancel them.)
      yield* Fiber.interrupt(dispatching)
      yield* dispatcher.drain(grace)
      yield* Effect.forEach(background, Fiber.interrupt, { discard: true })
      // Candidates are work for the fetcher, not writes: what it has not taken within the grace is dropped.
      yield* until(() => empty(s.candidates)).pipe(Effect.interruptible, Effect.timeout(grace), Effect.ignore)
      yield* Queue.shutdown(s.candidates)
      // The writes' queues end once drained, in the background (owned by the layer's scope), so the caller can
      // wait for its writers as long as it likes.
      yield* Effect.forkIn(
        Effect.all([
          closeWhenDrained(s.discoveries, () => s.run.discoveriesClosed = true),
          closeWhenDrained(s.nodeSightings, () => s.run.nodesClosed = true)
        ], { concurrency: 2 }).pipe(Effect.interruptible),
        layerScope
      )
    }).pipe(Effect.uninterruptible)

  // When the layer closes, whatever is still queued has no consumer any more: every queue is shut down.
  yield* Effect.addFinalizer(() =>
    Effect.zipRight(
      stop(1000),
      Effect.all([Queue.shutdown(s.discoveries), Queue.shutdown(s.nodeSightings), Queue.shutdown(s.candidates)])
    )
  )

  const stats = Effect.gen(function*() {
    const t = yield* Clock.currentTimeMillis
    let packetsOut = 0
    let invalidTokens = 0
    const rpc = { queries: 0, responses: 0, timeouts: 0 }
    for (const id of identities) {
      packetsOut += id.socket.stats().packetsOut
      const n = id.node.stats()
      invalidTokens += n.invalidTokens
      rpc.queries += n.queriesOut
      rpc.responses += n.responses
      rpc.timeouts += n.timeouts
    }
    const families = s.known.families(t, 15 * 60_000)
    return {
      knownNodes: s.known.size(),
      responsiveNodes: families.responsive.ipv4 + families.responsive.ipv6,
      families,
      uniqueInfohashes: s.seen.size(),
      discoveries: { ...s.counts },
      queries: { ...s.queries },
      spent: { ...s.spent },
      shares: dispatcher.shares(),
      packetsOut,
      rpc,
      peerFinding: {
        ...peers.stats,
        queued: peers.queued(),
        evidence: s.evidence.size(),
        onProbation: s.evidence.probationSize()
      },
      infohashesWithPeers: s.withPeers.size(),
      // Node ids (a dual-stack id has a socket of each family, and counts once).
      identities: new Set(identities.map((i) => toHex(i.node.self))).size,
      invalidTokens,
      timing: identities[0]!.node.timing(),
      timeoutRate: { recent: control.status.recent, baseline: control.status.baseline },
      networkSize: peers.networkSize(),
      filtered: { ...s.filtered },
      queueDepths: {
        discoveries: s.depth(s.discoveries),
        nodes: s.depth(s.nodeSightings),
        candidates: s.depth(s.candidates),
        lookups: peers.queued()
      },
      budgetShare: s.backoff.share,
      backoffMillis: s.backoff.share >= 1 ? 0 : Math.round(((1 / s.backoff.share) - 1) * 1000 / budget.maxPps),
      backoffReason: s.backoff.reason
    }
  })

  return Crawler.of({
    // Read in batches: records arrive one or two at a time from callbacks (src/util/lingering.ts).
    discoveries: fromQueueLingering(s.discoveries, 1024, LINGER_MILLIS),
    nodes: fromQueueLingering(s.nodeSightings, 1024, LINGER_MILLIS),
    candidates: fromQueueLingering(s.candidates, 256, CANDIDATE_LINGER_MILLIS),
    fetchFailed: (infoHash) => Effect.sync(() => peers.fetchFailed(toHex(infoHash))),
    seek: (infoHashes) => Effect.sync(() => infoHashes.forEach((ih) => s.seek(ih))),
    bans: Effect.sync(() => [...s.bans]),
    stats,
    stop
  })
})

/** The crawler over the identities given (`IdentitiesLive(n)` for several node ids) and `CrawlerConfig`. */
export const CrawlerFromIdentities = Layer.scoped(Crawler, make)

/** The crawler over the one DHT node in the context (`KrpcNode`, `Dht`, `DhtSocket`) and `CrawlerConfig`. */
export const CrawlerLive = CrawlerFromIdentities.pipe(Layer.provide(IdentitiesFromNode))
