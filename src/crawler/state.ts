import { Effect, Option, Queue, Runtime } from "effect"
import type { CrawlerSettings } from "../config/CrawlerConfig.js"
import type { SocketAddress } from "../domain/address.js"
import { makeAddressFilter, type Verdict } from "../domain/cidr.js"
import { copyId, type InfoHash, toHex } from "../domain/ids.js"
import { inAreas } from "../domain/keyspace.js"
import type { Discovery, NodeSighting } from "../domain/model.js"
import { checkNodeId } from "../krpc/bep42.js"
import type { NodeContact } from "../krpc/compact.js"
import { type Response, responseNodes } from "../krpc/messages.js"
import type { QueryFailure } from "../rpc/KrpcNode.js"
import { type Budget, paceHost } from "../socket/budget.js"
import { IndexedHeap } from "../util/heap.js"
import type { Timers } from "../util/timers.js"
import { type InfohashEvidence, makeEvidence } from "./evidence.js"
import type { Identity } from "./identities.js"
import { FORGET_AFTER_FAILURES, type KnownNode, makeKnownNodes } from "./knownNodes.js"
import * as CrawlerMetrics from "./metrics.js"
import { makeSeenSet } from "./seen.js"

// The state the crawler's stages share (join, walk, sample, harvest, peer finding, back-off), and the few
// operations that record what a stage learnt. Each stage lives in its own file and reads or changes only this.
// Everything here runs in one JavaScript thread: a synchronous step is never interleaved with another.

/** An infohash worth fetching metadata for, with the peers known to have it. */
export interface Candidate {
  readonly infoHash: InfoHash
  readonly peers: ReadonlyArray<SocketAddress>
  /** How the infohash was first learnt. */
  readonly source: Discovery["source"]
  /** Distinct sources and nodes that reported it (evidence that it is live); higher is fetched first. */
  readonly weight?: number | undefined
}

/** Bans remembered for the repository per crawl. */
const MAX_BANS_KEPT = 10_000

/** What the outbound queries were spent on: the crawler's stages that send queries. */
export const STAGES = ["join", "walk", "sample", "peers"] as const
/** One of `STAGES`. */
export type Stage = typeof STAGES[number]

export const makeCrawlState = (
  config: CrawlerSettings,
  identities: ReadonlyArray<Identity>,
  budget: Budget,
  timers: Timers
) =>
  Effect.gen(function*() {
    const now = timers.now
    const filter = makeAddressFilter({
      allow: config.allow,
      deny: config.deny,
      self: identities.map((i) => i.node.local)
    })
    for (const ban of config.bannedHosts) filter.ban(ban)
    const sampleQueue = new IndexedHeap<KnownNode>(
      (a, b) => a.nextSampleAt < b.nextSampleAt || (a.nextSampleAt === b.nextSampleAt && a.firstSeen < b.firstSeen),
      { get: (n) => n.sampleSlot, set: (n, i) => (n.sampleSlot = i) }
    )
    const known = makeKnownNodes(
      config.maxKnownNodes,
      (id) => inAreas(config.targets, id),
      (n) => sampleQueue.remove(n)
    )
    const seen = makeSeenSet(config.seenCapacity)
    /** Infohashes for which a peer was seen (the funnel's second step). */
    const withPeers = makeSeenSet(config.seenCapacity)
    // A node's get_peers alone earns a place among maxQueuedInfohashes entries on probation (evidence.ts).
    const evidence = makeEvidence(
      config.maxQueuedInfohashes * 10,
      config.strategies.askSampler,
      config.maxQueuedInfohashes
    )

    const discoveries = yield* Queue.bounded<Discovery>(config.discoveryBuffer)
    const nodeSightings = yield* Queue.bounded<NodeSighting>(config.discoveryBuffer)
    const candidates = yield* Queue.bounded<Candidate>(config.maxQueuedInfohashes)

    const counts: Record<Discovery["source"], number> = { sample: 0, get_peers: 0, announce: 0, lookup: 0 }
    const queries = { find_node: 0, sample_infohashes: 0, get_peers: 0 }
    /** Queries sent by each stage (lookups count every query of their traversal). */
    const spent: Record<Stage, number> = { join: 0, walk: 0, sample: 0, peers: 0 }
    /** What each stage produced: walk, nodes answering for the first time; sample, new infohashes; peers,
     * infohashes that got peers. */
    const yields: Record<Stage, number> = { join: 0, walk: 0, sample: 0, peers: 0 }
    const filtered: Partial<Record<Verdict, number>> = {}
    /**
     * `discoveriesClosed` / `nodesClosed`: set at stop once that queue of writes has drained, just before it shuts
     * down; from then on a late sighting (an inbound query, a reply still arriving) is neither queued nor counted,
     * so everything counted as discovered was handed to the writer.
     */
    const run = { stopping: false, lastAnswer: -1, discoveriesClosed: false, nodesClosed: false }
    /** Set by the stages that react to sightings (peer finding). */
    const hooks = { evidence: (_e: InfohashEvidence) => {} }
    /** Hosts banned during this crawl, for the repository (kept across restarts with an expiry). Bounded. */
    const bans = new Set<string>()
    /** True when we may talk to `host:port` (counted by reason otherwise). */
    function usable(host: string, port: number) {
      const verdict = filter.check(host, port)
      if (verdict === "ok") return true
      filtered[verdict] = (filtered[verdict] ?? 0) + 1
      CrawlerMetrics.countFiltered(verdict)
      return false
    }

    /** Our identities by the address family of their socket (dual stack: both lists hold every node id). */
    const v4 = identities.filter((i) => i.family === 4)
    const v6 = identities.filter((i) => i.family === 6)
    /** The identities that can reach `host` (those whose socket is of its family); empty if none. */
    function identitiesFor(host: string): ReadonlyArray<Identity> {
      return host.includes(":") ? v6 : v4
    }

    /** Nodes from replies (`nodes` and `nodes6`): each kept if we have a socket of its family to reach it. */
    function learnNodes(contacts: ReadonlyArray<NodeContact>) {
      const t = now()
      for (const c of contacts) {
        if (identitiesFor(c.host).length === 0) {
          filtered["other-family"] = (filtered["other-family"] ?? 0) + 1
          CrawlerMetrics.countFiltered("other-family")
        } else if (usable(c.host, c.port)) known.add(c, t)
      }
    }

    // The callback paths (`…Now`) cannot wait for room in a queue: when one is full, the item waits in a fiber
    // of its own (nothing is dropped), and the dispatcher launches nothing until those are through.
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    let overflowing = 0
    function offerNow<A>(q: Queue.Queue<A>, item: A) {
      if (q.unsafeOffer(item)) return
      overflowing++
      runFork(Queue.offer(q, item)).addObserver(() => overflowing--)
    }

    /** Items buffered in a queue (negative size while consumers wait; a shut-down queue is empty). */
    function depth<A>(q: Queue.Queue<A>) {
      return Math.max(0, Option.getOrElse(q.unsafeSize(), () => 0))
    }

    /** The bookkeeping of a sighting (after its discovery was queued): whether it is new, and the candidate. */
    function note(d: Discovery, reporter: NodeContact | undefined) {
      counts[d.source]++
      CrawlerMetrics.countDiscovery(d.source)
      const key = toHex(d.infoHash)
      const isNew = seen.add(key)
      if (isNew) CrawlerMetrics.uniqueInfohashes.unsafeUpdate(seen.size(), [])
      if (d.peer !== undefined) withPeers.add(key)
      const e = evidence.note(key, d.infoHash, d.source, reporter, d.peer !== undefined, d.at)
      hooks.evidence(e)
      const candidate: Candidate | undefined = config.metadata && d.peer !== undefined
        ? {
          infoHash: copyId(d.infoHash),
          peers: [d.peer],
          source: d.source,
          weight: config.strategies.evidence ? e.weight : 0
        }
        : undefined
      return { isNew, candidate }
    }

    /** Records an infohash sighting; hands peers to the fetcher. Returns whether the infohash is new. */
    function discovered(d: Discovery, reporter?: NodeContact) {
      return Effect.gen(function*() {
        if (run.discoveriesClosed) return false
        yield* Queue.offer(discoveries, d)
        const { candidate, isNew } = note(d, reporter)
        if (candidate !== undefined) yield* Queue.offer(candidates, candidate)
        return isNew
      })
    }

    /** `discovered` for the callback paths. */
    function discoveredNow(d: Discovery, reporter?: NodeContact) {
      if (run.discoveriesClosed) return false
      offerNow(discoveries, d)
      const { candidate, isNew } = note(d, reporter)
      if (candidate !== undefined) offerNow(candidates, candidate)
      return isNew
    }

    /**
     * An infohash someone wants (imported without metadata): its peers are looked for as if a node had asked
     * for it (get_peers evidence), and what the lookups find goes the usual way. Nothing is recorded as discovered.
     */
    function seek(infoHash: Uint8Array) {
      const e = evidence.note(toHex(infoHash), infoHash as InfoHash, "get_peers", undefined, false, now())
      hooks.evidence(e)
    }

    /** The bookkeeping of an answer: the node is alive; its sighting for the repository. */
    function sighting(n: KnownNode, r: Response): NodeSighting {
      const t = now()
      n.lastResponse = t
      run.lastAnswer = t
      n.failures = 0
      // A node answering for the first time becomes a sampling candidate (picked nodes are rescheduled by the
      // sampler itself: their nextSampleAt is no longer 0).
      if (n.inArea && n.samples === undefined && n.nextSampleAt === 0 && n.sampleSlot < 0) sampleQueue.push(n)
      return {
        id: copyId(r.id),
        host: n.host,
        port: n.port,
        seenAt: t,
        respondedAt: t,
        bep42: { valid: true, invalid: false, exempt: undefined }[checkNodeId(r.id, n.host)],
        version: r.v === undefined ? undefined : Uint8Array.prototype.slice.call(r.v),
        // What the sample stage learnt so far (BEP 51 answered, refused or ignored); undefined: not asked yet.
        bep51: n.samples
      }
    }

    function answered(n: KnownNode, r: Response) {
      return Effect.gen(function*() {
        if (!run.nodesClosed) yield* Queue.offer(nodeSightings, sighting(n, r))
        learnNodes(responseNodes(r))
      })
    }

    /** `answered` for the callback paths. */
    function answeredNow(n: KnownNode, r: Response) {
      if (!run.nodesClosed) offerNow(nodeSightings, sighting(n, r))
      learnNodes(responseNodes(r))
    }

    function failedNodeNow(n: KnownNode, error: QueryFailure) {
      if (error._tag === "QueryPaced") return // not sent: says nothing about the node
      // A node that answers with garbage is banned; one that does not answer is forgotten after a few tries.
      if (error._tag === "MalformedResponse") {
        ban(n.host)
        known.remove(n)
        return
      }
      n.failures++
      if (n.failures >= FORGET_AFTER_FAILURES) known.remove(n)
    }

    function failedNode(n: KnownNode, error: QueryFailure) {
      return Effect.sync(() => failedNodeNow(n, error))
    }

    /** Never talks to `host` again in this crawl, and remembers it for the next ones. */
    function ban(host: string) {
      filter.ban(host)
      if (bans.size < MAX_BANS_KEPT) bans.add(host)
    }

    /** True when `host`'s per-IP pace slot is free now (the query itself takes it). */
    function ipFree(host: string, port: number) {
      return ipFreeAt(host, port) <= now()
    }

    /** When `host:port`'s pace slot is free (ms; see `paceHost`). */
    function ipFreeAt(host: string, port: number) {
      return budget.ipFreeAt(paceHost(host, port))
    }

    return {
      config,
      identities,
      identitiesFor,
      /** Address families we have sockets for. */
      families: [...(v4.length > 0 ? [4 as const] : []), ...(v6.length > 0 ? [6 as const] : [])],
      budget,
      now,
      /** One-shot timers on the crawler's Clock (the sample probe). */
      timers,
      filter,
      sampleQueue,
      known,
      seen,
      withPeers,
      evidence,
      discoveries,
      nodeSightings,
      candidates,
      counts,
      queries,
      spent,
      yields,
      filtered,
      bans,
      hooks,
      /** Mutable flags, shared by reference. */
      run,
      /** The share of the packet budget the dispatcher may use (1: all), and why it is lower. */
      backoff: { share: 1, reason: undefined as string | undefined },
      usable,
      learnNodes,
      depth,
      discovered,
      discoveredNow,
      seek,
      answered,
      answeredNow,
      failedNode,
      failedNodeNow,
      /** Items waiting for room in a full queue (the dispatcher waits while there are any). */
      overflowing: () => overflowing,
      ban,
      ipFree,
      ipFreeAt
    }
  })

export type CrawlState = Effect.Effect.Success<ReturnType<typeof makeCrawlState>>
