import { Clock, Context, Deferred, Effect, Fiber, Layer, Option, Queue, Stream } from "effect"
import dns from "node:dns"
import { CrawlerConfig } from "../config/CrawlerConfig.js"
import { parseHostPort, parseIP, type SocketAddress } from "../krpc/address.js"
import { checkNodeId } from "../krpc/bep42.js"
import type { NodeContact } from "../krpc/compact.js"
import { copyId, type InfoHash, toHex } from "../krpc/ids.js"
import { type Response, responseNodes } from "../krpc/messages.js"
import type { Discovery, NodeSighting } from "../repository/model.js"
import { Dht } from "../rpc/Dht.js"
import { KrpcNode, type QueryFailure } from "../rpc/KrpcNode.js"
import { IndexedHeap } from "../util/heap.js"
import { makeAddressFilter, type Verdict } from "./addressFilter.js"
import { FORGET_AFTER_FAILURES, type KnownNode, makeKnownNodes } from "./knownNodes.js"
import * as CrawlerMetrics from "./metrics.js"
import { makeIpPacer, makeSeenSet } from "./seen.js"
import { inAreas, neighbourOf, randomTarget } from "./targets.js"

/** An infohash worth fetching metadata for, with the peers known to have it. */
export interface Candidate {
  readonly infoHash: InfoHash
  readonly peers: ReadonlyArray<SocketAddress>
  /** How the infohash was first learnt. */
  readonly source: Discovery["source"]
}

/** A snapshot of the crawler's progress. */
export interface CrawlerStats {
  readonly knownNodes: number
  readonly responsiveNodes: number
  readonly uniqueInfohashes: number
  readonly discoveries: Readonly<Record<Discovery["source"], number>>
  readonly queries: Readonly<Record<"find_node" | "sample_infohashes" | "get_peers", number>>
  readonly filtered: Readonly<Partial<Record<Verdict, number>>>
  readonly queueDepths: {
    readonly discoveries: number
    readonly nodes: number
    readonly candidates: number
    readonly lookups: number
  }
  /** Extra delay per query while the network answers poorly (0 when not backing off). */
  readonly backoffMillis: number
  /** Why discovery slowed, when it did. */
  readonly backoffReason: string | undefined
}

/**
 * The explorer: joins the DHT, walks the keyspace with find_node, samples nodes (BEP 51) honouring their
 * `interval`, harvests infohashes from incoming get_peers/announce_peer, and looks up peers for new infohashes.
 * Discoveries leave through bounded queues: when nobody drains them fast enough the crawler waits (never grows).
 */
export class Crawler extends Context.Tag("bitscrape/Crawler")<Crawler, {
  /** Every infohash sighting, with its source (and peer for announces and lookups). */
  readonly discoveries: Stream.Stream<Discovery>
  /** Every node sighting (answers to our queries). */
  readonly nodes: Stream.Stream<NodeSighting>
  /** New infohashes with their peers, deduplicated, for the metadata fetcher (when `metadata` is on). */
  readonly candidates: Stream.Stream<Candidate>
  /** Progress counters. */
  readonly stats: Effect.Effect<CrawlerStats>
  /**
   * Graceful stop: no new queries; in-flight ones settle (at most `grace`); then, once consumers have drained
   * the queues, the streams end. Safe to call more than once.
   */
  readonly stop: (grace: number) => Effect.Effect<void>
}>() {}

/** Resolves a "host:port" bootstrap entry to IP addresses (host names through DNS). */
export const resolveBootstrap = (entry: string): Effect.Effect<ReadonlyArray<SocketAddress>> => {
  const parsed = parseHostPort(entry)
  if (parsed === undefined) return Effect.succeed([])
  const { host, port } = parsed
  if (parseIP(host) !== undefined) return Effect.succeed([{ host, port }])
  return Effect.tryPromise(() => dns.promises.lookup(host, { all: true })).pipe(
    Effect.map((addresses) => addresses.map((a) => ({ host: a.address, port }))),
    Effect.catchAll((e) => Effect.as(Effect.logWarning(`cannot resolve bootstrap ${entry}`, e), []))
  )
}

const make = Effect.gen(function*() {
  const config = yield* CrawlerConfig
  const node = yield* KrpcNode
  const dht = yield* Dht
  const clock = yield* Effect.clock
  const now = () => clock.unsafeCurrentTimeMillis()

  const filter = makeAddressFilter({ allow: config.allow, deny: config.deny, self: [node.local] })
  const sampleQueue = new IndexedHeap<KnownNode>(
    (a, b) => a.nextSampleAt < b.nextSampleAt || (a.nextSampleAt === b.nextSampleAt && a.firstSeen < b.firstSeen),
    { get: (n) => n.sampleSlot, set: (n, i) => (n.sampleSlot = i) }
  )
  const known = makeKnownNodes(
    config.maxKnownNodes,
    (id) => inAreas(config.targets, id),
    (n) => sampleQueue.remove(n)
  )
  const pacer = makeIpPacer(config.perIpIntervalMillis)
  const seen = makeSeenSet(config.seenCapacity)
  const looked = makeSeenSet(config.seenCapacity)

  const discoveries = yield* Queue.bounded<Discovery>(config.discoveryBuffer)
  const nodeSightings = yield* Queue.bounded<NodeSighting>(config.discoveryBuffer)
  const candidates = yield* Queue.bounded<Candidate>(config.maxQueuedInfohashes)
  const lookupQueue = yield* Queue.dropping<InfoHash>(config.maxQueuedInfohashes)

  /** Items buffered in a queue (its size is negative while consumers wait; a shut-down queue is empty). */
  const depth = <A>(q: Queue.Queue<A>) => Math.max(0, Option.getOrElse(q.unsafeSize(), () => 0))

  const counts = { sample: 0, get_peers: 0, announce: 0, lookup: 0 }
  const queries = { find_node: 0, sample_infohashes: 0, get_peers: 0 }
  const filtered: Partial<Record<Verdict, number>> = {}
  let stopping = false
  const backoff = { millis: 0, reason: undefined as string | undefined }

  // === Recording what we learn ===

  const usable = (host: string, port: number) => {
    const verdict = filter.check(host, port)
    if (verdict === "ok") return true
    filtered[verdict] = (filtered[verdict] ?? 0) + 1
    CrawlerMetrics.countFiltered(verdict)
    return false
  }

  const learnNodes = (contacts: ReadonlyArray<NodeContact>) => {
    const t = now()
    for (const c of contacts) if (usable(c.host, c.port)) known.add(c, t)
  }

  const discovered = (d: Discovery) =>
    Effect.gen(function*() {
      counts[d.source]++
      CrawlerMetrics.countDiscovery(d.source)
      yield* Queue.offer(discoveries, d)
      const key = toHex(d.infoHash)
      const isNew = seen.add(key)
      if (isNew) CrawlerMetrics.uniqueInfohashes.unsafeUpdate(seen.size(), [])
      if (isNew && config.lookups && d.peer === undefined && looked.add(key)) {
        if (!lookupQueue.unsafeOffer(copyId(d.infoHash))) CrawlerMetrics.countQueueDrop("lookups")
      }
      // Every peer sighting feeds the fetcher (which merges peers by infohash and skips what it already has).
      if (config.metadata && d.peer !== undefined) {
        yield* Queue.offer(candidates, { infoHash: copyId(d.infoHash), peers: [d.peer], source: d.source })
      }
    })

  const answered = (n: KnownNode, r: Response) =>
    Effect.gen(function*() {
      const t = now()
      n.lastResponse = t
      n.failures = 0
      // A node answering for the first time becomes a sampling candidate (picked nodes are rescheduled by the
      // sampler itself: their nextSampleAt is no longer 0).
      if (n.inArea && n.samples === undefined && n.nextSampleAt === 0 && n.sampleSlot < 0) sampleQueue.push(n)
      yield* Queue.offer(nodeSightings, {
        id: copyId(r.id),
        host: n.host,
        port: n.port,
        seenAt: t,
        respondedAt: t,
        bep42: { valid: true, invalid: false, exempt: undefined }[checkNodeId(r.id, n.host)],
        version: r.v === undefined ? undefined : Uint8Array.prototype.slice.call(r.v)
      })
      learnNodes(responseNodes(r))
    })

  const failedNode = (n: KnownNode, error: QueryFailure) =>
    Effect.sync(() => {
      // A node that answers with garbage is banned; one that does not answer is forgotten after a few tries.
      if (error._tag === "MalformedResponse") {
        filter.ban(n.host)
        known.remove(n)
        return
      }
      n.failures++
      if (n.failures >= FORGET_AFTER_FAILURES) known.remove(n)
    })

  /** Applies the per-IP pace and the back-off delay; false when the IP was queried too recently. */
  const paced = (n: KnownNode) =>
    Effect.suspend(() => {
      if (!pacer.tryTake(n.host, now())) return Effect.succeed(false)
      n.lastQueried = now()
      return backoff.millis > 0 ? Effect.as(Effect.sleep(backoff.millis), true) : Effect.succeed(true)
    })

  // === Stage: join ===

  const joined = yield* Deferred.make<void>()

  const join = Effect.gen(function*() {
    const resolved = yield* Effect.forEach(config.bootstrap, resolveBootstrap, { concurrency: 4 })
    const addresses = resolved.flat().filter((a) => usable(a.host, a.port))
    if (addresses.length === 0) {
      return yield* Effect.logWarning("no usable bootstrap address; waiting for incoming queries")
    }
    // Ask the bootstrap addresses directly and start walking and sampling at once: the walk finds the rest.
    // The full bootstrap (own-id lookup, then one refresh lookup per bucket) fills our routing table in the
    // background; waiting for it stalled the crawl for up to 37 s when a dead node sat among the closest.
    yield* Effect.forEach(addresses, (a) =>
      node.findNode(a, randomTarget(config.targets)).pipe(
        Effect.tap((r) => Effect.sync(() => learnNodes(responseNodes(r)))),
        Effect.ignore
      ), { concurrency: 4, discard: true })
    yield* Deferred.succeed(joined, undefined)
    yield* Effect.logInfo(`joined the DHT through ${addresses.length} address(es); ${known.size()} nodes known`)
    const result = yield* dht.bootstrap(addresses)
    learnNodes(result.closest.map((r) => r.contact))
  })

  // === Stage: walk (continuous find_node) ===

  let walkRound = 0
  const nextToWalk = (): KnownNode | undefined => {
    const fresh = known.takeFresh(1)[0]
    if (fresh !== undefined) return fresh
    // Everyone was queried once: revisit the least recently queried responsive node.
    let best: KnownNode | undefined
    for (const n of known.values()) {
      if (n.lastResponse < 0) continue
      if (best === undefined || n.lastQueried < best.lastQueried) best = n
      if (++walkRound % 2048 === 0) break
    }
    return best !== undefined && now() - best.lastQueried > 30_000 ? best : undefined
  }

  const walkOne = Effect.gen(function*() {
    const n = nextToWalk()
    if (n === undefined) return yield* Effect.sleep(200)
    if (!(yield* paced(n))) return
    queries.find_node++
    // Alternate: a target near the node itself (its neighbourhood) and a random target in the areas.
    const target = n.inArea && Math.random() < 0.5
      ? neighbourOf(n.id)
      : randomTarget(config.targets)
    yield* node.findNode(n.contact, target).pipe(
      Effect.matchEffect({ onFailure: (e) => failedNode(n, e), onSuccess: (r) => answered(n, r) })
    )
  })

  // === Stage: BEP 51 sampling ===

  // Nodes that answered us, in the target areas and not known to refuse BEP 51, ordered by when they may be
  // sampled next (then oldest first): picking one is O(log n) whatever the size of the known-node store.
  const nextToSample = (): KnownNode | undefined => {
    const n = sampleQueue.peek()
    if (n === undefined || n.nextSampleAt > now()) return undefined
    return sampleQueue.pop()
  }

  /** Back into the sampling queue at its `nextSampleAt`, unless it refused BEP 51 or was forgotten meanwhile. */
  const reschedule = (n: KnownNode) => {
    if (n.samples === false || known.get(n.host, n.port) !== n) sampleQueue.remove(n)
    else if (sampleQueue.has(n)) sampleQueue.update(n)
    else sampleQueue.push(n)
  }

  const sampleOne = Effect.gen(function*() {
    const n = nextToSample()
    if (n === undefined) return yield* Effect.sleep(250)
    // Reserve the node for a while even before asking (it is out of the queue until rescheduled).
    n.nextSampleAt = now() + config.minSampleInterval * 1000
    return yield* sampleNode(n).pipe(Effect.ensuring(Effect.sync(() => reschedule(n))))
  })

  const sampleNode = (n: KnownNode) =>
    Effect.gen(function*() {
      if (!(yield* paced(n))) {
        n.nextSampleAt = now() + config.perIpIntervalMillis
        return
      }
      queries.sample_infohashes++
      const query = node.sampleInfohashes(n.contact, randomTarget(config.targets))
      // A node not yet known to support BEP 51 gets a short probe: many ignore the query without a word.
      const reply = yield* Effect.either(
        n.samples === true ? query : Effect.timeoutTo(query, {
          duration: config.sampleProbeTimeoutMillis,
          onTimeout: () => undefined,
          onSuccess: (r) => r
        })
      )
      if (reply._tag === "Left") {
        if (reply.left._tag === "KrpcError" || n.samples !== true) n.samples = false
        return yield* failedNode(n, reply.left)
      }
      if (reply.right === undefined) {
        n.samples = false // silent on BEP 51; still a node for the walk
        return
      }
      const r = reply.right
      n.samples = true
      n.nextSampleAt = now() + Math.max(config.minSampleInterval, r.interval ?? 0) * 1000
      yield* answered(n, r)
      const t = now()
      for (const ih of r.samples ?? []) yield* discovered({ infoHash: copyId(ih), source: "sample", at: t })
    })

  // === Stage: passive harvest of incoming get_peers / announce_peer ===

  const harvest = node.harvest.pipe(
    Stream.runForEach((h) =>
      discovered({
        infoHash: copyId(h.infoHash),
        source: h.kind === "announce_peer" ? "announce" : "get_peers",
        at: now(),
        peer: h.peer !== undefined && usable(h.peer.host, h.peer.port) ? h.peer : undefined
      })
    )
  )

  // === Stage: get_peers lookups for new infohashes ===

  const lookupOne = Effect.gen(function*() {
    const ih = yield* Queue.take(lookupQueue)
    queries.get_peers++
    const result = yield* dht.getPeers(ih)
    const t = now()
    const peers = result.peers.filter((p) => usable(p.host, p.port))
    if (peers.length === 0) yield* discovered({ infoHash: ih, source: "lookup", at: t })
    for (const p of peers) yield* discovered({ infoHash: ih, source: "lookup", at: t, peer: p })
    learnNodes(result.closest.map((r) => r.contact))
  })

  // === Back-off: slow down when the network stops answering ===

  const adapt = Effect.gen(function*() {
    let last = { out: node.stats().queriesOut, timeouts: node.stats().timeouts }
    for (;;) {
      yield* Effect.sleep("5 seconds")
      const s = node.stats()
      const sent = s.queriesOut - last.out
      const lost = s.timeouts - last.timeouts
      last = { out: s.queriesOut, timeouts: s.timeouts }
      if (sent < 20) continue
      const ratio = lost / sent
      if (ratio > 0.5) {
        backoff.millis = Math.min(2000, Math.max(50, backoff.millis * 2))
        backoff.reason = `${
          Math.round(ratio * 100)
        }% of queries timed out in the last 5 s; pacing each query by ${backoff.millis} ms`
        yield* Effect.logWarning(`discovery slowed: ${backoff.reason}`)
      } else if (ratio < 0.2 && backoff.millis > 0) {
        backoff.millis = backoff.millis <= 50 ? 0 : Math.floor(backoff.millis / 2)
        backoff.reason = backoff.millis === 0 ? undefined : backoff.reason
      }
      CrawlerMetrics.backoffMillis.unsafeUpdate(backoff.millis, [])
    }
  })

  // === Gauges for /metrics, refreshed every second ===

  const gauges = Effect.gen(function*() {
    for (;;) {
      const t = now()
      CrawlerMetrics.knownNodes.unsafeUpdate(known.size(), [])
      CrawlerMetrics.responsiveNodes.unsafeUpdate(known.responsive(t, 15 * 60_000), [])
      CrawlerMetrics.queueDepth("discoveries").unsafeUpdate(depth(discoveries), [])
      CrawlerMetrics.queueDepth("nodes").unsafeUpdate(depth(nodeSightings), [])
      CrawlerMetrics.queueDepth("candidates").unsafeUpdate(depth(candidates), [])
      CrawlerMetrics.queueDepth("lookups").unsafeUpdate(depth(lookupQueue), [])
      yield* Effect.sleep("1 second")
    }
  })

  // === Running the stages ===

  const untilStopped = (step: Effect.Effect<void>, concurrency: number) =>
    Effect.forEach(
      Array.from({ length: concurrency }),
      () =>
        Effect.whileLoop({
          while: () => !stopping,
          body: () => step.pipe(Effect.catchAllCause((cause) => Effect.logDebug("crawler step failed", cause))),
          step: () => {}
        }),
      { concurrency: "unbounded", discard: true }
    )

  const workers = yield* Effect.all([
    join.pipe(Effect.ensuring(Deferred.succeed(joined, undefined)), Effect.forkScoped),
    Effect.zipRight(Deferred.await(joined), untilStopped(walkOne, config.walkConcurrency)).pipe(Effect.forkScoped),
    Effect.zipRight(Deferred.await(joined), untilStopped(sampleOne, config.sampleConcurrency)).pipe(Effect.forkScoped),
    config.lookups
      ? Effect.zipRight(Deferred.await(joined), untilStopped(lookupOne, config.lookupConcurrency)).pipe(
        Effect.forkScoped
      )
      : Effect.forkScoped(Effect.void)
  ])
  const background = yield* Effect.all([
    harvest.pipe(Effect.forkScoped),
    adapt.pipe(Effect.forkScoped),
    gauges.pipe(Effect.forkScoped)
  ])

  const drained = Effect.gen(function*() {
    for (let i = 0; i < 100; i++) {
      if (depth(discoveries) + depth(nodeSightings) + depth(candidates) === 0) return
      yield* Effect.sleep(20)
    }
  })

  const stop = (grace: number) =>
    Effect.gen(function*() {
      if (stopping) return
      stopping = true
      // In-flight queries settle (or time out) within the grace period; then the stages are interrupted.
      // (Stop runs in finalizers, which are uninterruptible: the timed waits must be interruptible themselves,
      // or their timeouts could never cancel them.)
      yield* Effect.forEach(workers, (f) => Fiber.await(f), { discard: true }).pipe(
        Effect.interruptible,
        Effect.timeout(grace),
        Effect.ignore
      )
      yield* Effect.forEach([...workers, ...background], Fiber.interrupt, { discard: true })
      yield* drained.pipe(Effect.interruptible, Effect.timeout(grace), Effect.ignore)
      yield* Queue.shutdown(discoveries)
      yield* Queue.shutdown(nodeSightings)
      yield* Queue.shutdown(candidates)
    }).pipe(Effect.uninterruptible)

  yield* Effect.addFinalizer(() => stop(1000))

  const stats = Effect.gen(function*() {
    const t = yield* Clock.currentTimeMillis
    return {
      knownNodes: known.size(),
      responsiveNodes: known.responsive(t, 15 * 60_000),
      uniqueInfohashes: seen.size(),
      discoveries: { ...counts },
      queries: { ...queries },
      filtered: { ...filtered },
      queueDepths: {
        discoveries: depth(discoveries),
        nodes: depth(nodeSightings),
        candidates: depth(candidates),
        lookups: depth(lookupQueue)
      },
      backoffMillis: backoff.millis,
      backoffReason: backoff.reason
    }
  })

  return Crawler.of({
    discoveries: Stream.fromQueue(discoveries, { maxChunkSize: 1024 }),
    nodes: Stream.fromQueue(nodeSightings, { maxChunkSize: 1024 }),
    candidates: Stream.fromQueue(candidates),
    stats,
    stop
  })
})

/** The crawler over the DHT node (`Dht`, `KrpcNode`) and `CrawlerConfig`; its stages live in the layer's scope. */
export const CrawlerLive = Layer.scoped(Crawler, make)
