import {
  Cause,
  Chunk,
  Context,
  Deferred,
  Duration,
  Effect,
  Either,
  FiberSet,
  Layer,
  Metric,
  Option,
  Stream
} from "effect"
import { randomBytes } from "node:crypto"
import { FetcherConfig } from "../config/FetcherConfig.js"
import type { SocketAddress } from "../domain/address.js"
import { copyId, type InfoHash, toHex } from "../domain/ids.js"
import type { FetchFailure, Torrent } from "../domain/model.js"
import { taggedCounter } from "../observability/metrics.js"
import { makeRttEstimator } from "../util/rtt.js"
import { type AttemptSuccess, makeConnectionLimiter, startAttempt } from "./attempt.js"
import { type FailureKind, failureKind, MetadataUnavailable, type PeerFetchError } from "./errors.js"
import { makeFetchQueue } from "./fetchQueue.js"

export * from "./errors.js"

/** An infohash to fetch, with peers that have it. */
export interface FetchRequest {
  readonly infoHash: InfoHash
  readonly peers: ReadonlyArray<SocketAddress>
  /** How strongly the caller believes the infohash is live (higher is fetched first); 0 when unknown. */
  readonly weight?: number | undefined
}

/** What the fetcher made of one infohash. */
export type FetchOutcome =
  | { readonly _tag: "Fetched"; readonly torrent: Torrent }
  | { readonly _tag: "Failed"; readonly failure: FetchFailure; readonly final: boolean }

/** A snapshot of the fetcher: queue depth, sessions running, outcomes so far, and peer failures by reason. */
export interface FetcherStats {
  readonly queued: number
  readonly active: number
  readonly fetched: number
  readonly failed: number
  readonly droppedQueued: number
  readonly peerFailures: Readonly<Partial<Record<PeerFetchError["reason"], number>>>
  /** Distinct infohashes with at least one peer connection established (`run` only). */
  readonly connected: number
  /** Infohashes given up, by why (`run` only). */
  readonly givenUp: Readonly<Record<FailureKind, number>>
}

const outcomesMetric = Metric.counter("bitscrape_metadata_outcomes_total", { description: "metadata fetch outcomes" })
const peerFailureMetric = Metric.counter("bitscrape_metadata_peer_failures_total", {
  description: "peers that failed to give metadata, by reason"
})
const connectionsMetric = Metric.gauge("bitscrape_metadata_connections", { description: "open peer connections" })

/**
 * Downloads and verifies torrent metadata (BEP 9/10) from peers: one-off with `fetch`, or continuously with
 * `run`, which schedules the most promising infohashes first under a global connection cap, retries with
 * backoff, and remembers dead peers and given-up infohashes in bounded caches.
 */
export class MetadataFetcher extends Context.Tag("bitscrape/MetadataFetcher")<MetadataFetcher, {
  /** Fetches one torrent's metadata from `peers`; fails with MetadataUnavailable when none gives it. */
  readonly fetch: (
    infoHash: InfoHash,
    peers: ReadonlyArray<SocketAddress>
  ) => Effect.Effect<Torrent, MetadataUnavailable>
  /** Fetches what arrives on `requests` (merged by infohash, best first); one outcome per attempt. */
  readonly run: <E, R>(
    requests: Stream.Stream<FetchRequest, E, R>,
    options?: RunOptions
  ) => Stream.Stream<FetchOutcome, E, R>
  readonly stats: Effect.Effect<FetcherStats>
}>() {}

/** Options of `MetadataFetcher.run`. */
export interface RunOptions {
  /**
   * When this completes, attempts still running are abandoned and the stream ends once every outcome already
   * delivered has been pulled (a graceful stop that loses no fetched torrent).
   */
  readonly abandon?: Deferred.Deferred<void>
}

/** Outcomes waiting for a slow consumer before `run` stops starting attempts. */
const OUTCOME_BUFFER = 1024

const make = Effect.gen(function*() {
  const config = yield* FetcherConfig
  const clock = yield* Effect.clock
  const now = () => clock.unsafeCurrentTimeMillis()
  const peerId = Buffer.concat([Buffer.from("-BS0001-"), randomBytes(12)])
  const connections = makeConnectionLimiter(config.maxConnections, (open) => connectionsMetric.unsafeUpdate(open, []))
  const dead = new Map<string, number>() // peer → until (ms)
  const stats = { fetched: 0, failed: 0, active: 0, droppedQueued: 0, connected: 0 }
  const givenUp: Record<FailureKind, number> = { "no-peers": 0, dead: 0, refused: 0, hostile: 0, "gave-up": 0 }
  const peerFailures: Partial<Record<PeerFetchError["reason"], number>> = {}
  let queuedNow = () => 0

  const deadUntil = (key: string) => {
    const until = dead.get(key)
    if (until === undefined) return 0
    if (until > now()) return until
    dead.delete(key)
    return 0
  }
  const markDead = (key: string) => {
    dead.delete(key)
    dead.set(key, now() + Duration.toMillis(config.deadPeerTtl))
    if (dead.size > config.deadPeers) dead.delete(dead.keys().next().value!)
  }
  const onPeerError = (e: PeerFetchError) => {
    peerFailures[e.reason] = (peerFailures[e.reason] ?? 0) + 1
    taggedCounter(peerFailureMetric, "reason", e.reason).unsafeUpdate(1, [])
    // Peers that are unreachable or lie are not worth trying again soon; a slow one may do better later.
    if (e.reason !== "Timeout") markDead(e.peer)
  }

  const maxConnectMillis = Duration.toMillis(config.connectTimeout)
  const connects = makeRttEstimator({
    minMillis: Math.min(config.minConnectTimeoutMillis, maxConnectMillis),
    maxMillis: maxConnectMillis,
    factor: 3
  })
  const session = {
    peerId,
    client: config.client,
    get connectTimeoutMillis() {
      return config.adaptiveConnectTimeout ? connects.timeout() : maxConnectMillis
    },
    peerTimeoutMillis: Duration.toMillis(config.peerTimeout),
    maxMetadataSize: config.maxMetadataSize
  }
  const deadlineMillis = Duration.toMillis(config.infohashDeadline)

  const attemptOptions = (infoHash: InfoHash, peers: ReadonlyArray<SocketAddress>) => ({
    infoHash,
    peers,
    parallelPeers: config.parallelPeers,
    deadlineMillis,
    limiter: connections,
    session,
    onPeerError,
    onPeerConnected: (millis: number) => connects.record(millis)
  })

  const toTorrent = (infoHash: InfoHash, { metadata, peer }: AttemptSuccess): Torrent => ({
    ...metadata.info,
    infoHash: copyId(infoHash),
    fetchedAt: now(),
    sourcePeer: { host: peer.host, port: peer.port },
    sourceClient: metadata.client
  })

  const fetch = (
    infoHash: InfoHash,
    peers: ReadonlyArray<SocketAddress>
  ): Effect.Effect<Torrent, MetadataUnavailable> =>
    Effect.suspend(() => {
      const t = now()
      const candidates = peers.filter((p) => deadUntil(`${p.host}:${p.port}`) <= t).slice(0, config.peersPerInfohash)
      if (candidates.length === 0) {
        return Effect.fail(new MetadataUnavailable({ infoHash: toHex(infoHash), reason: "NoPeers", attempts: [] }))
      }
      // One attempt (attempt.ts) as an effect: interrupting it closes its sockets and gives back their slots.
      return Effect.async<Torrent, MetadataUnavailable>((resume) => {
        const cancel = startAttempt(
          attemptOptions(infoHash, candidates),
          (r) => resume(Either.isRight(r) ? Effect.succeed(toTorrent(infoHash, r.right)) : Effect.fail(r.left))
        )
        return Effect.sync(cancel)
      })
    })

  const run = <E, R>(
    requests: Stream.Stream<FetchRequest, E, R>,
    options: RunOptions = {}
  ): Stream.Stream<FetchOutcome, E, R> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const queue = makeFetchQueue({
        maxQueued: config.maxQueued,
        maxAttempts: config.maxAttempts,
        retryBackoffMillis: Duration.toMillis(config.retryBackoff),
        peersPerInfohash: config.peersPerInfohash,
        deadUntil,
        onDrop: () => stats.droppedQueued++
      })
      // Running attempts (their cancel functions): the scope's finalizer cancels them, closing every socket.
      const attempts = new Set<() => void>()
      // Outcomes not yet pulled by the consumer; while OUTCOME_BUFFER wait, no new attempt starts.
      let outcomes: Array<FetchOutcome> = []
      let failure: Cause.Cause<E> | undefined
      let wakeConsumer: (() => void) | undefined
      let inputDone = false
      let closed = false
      let wakeAt = Infinity
      const fork = yield* FiberSet.makeRuntime<never>()

      // Outcomes of one event-loop turn reach the consumer together: one wake-up per turn, not per outcome.
      let flushing = false
      const flush = () => {
        flushing = false
        notify()
      }
      const deliver = (outcome: FetchOutcome) => {
        outcomes.push(outcome)
        if (!flushing) {
          flushing = true
          setImmediate(flush)
        }
      }
      const notify = () => {
        const wake = wakeConsumer
        wakeConsumer = undefined
        wake?.()
      }

      const startNext = (): boolean => {
        const picked = queue.next(now())
        if (picked === undefined) return false
        const { entry, peers } = picked
        stats.active++
        let finished = false
        const cancel = startAttempt(
          {
            ...attemptOptions(entry.infoHash, peers),
            onConnected: () => {
              if (entry.connected) return
              entry.connected = true
              stats.connected++
            }
          },
          (r) => {
            finished = true
            attempts.delete(cancel)
            stats.active--
            if (Either.isRight(r)) {
              queue.settle(entry, true, now())
              stats.fetched++
              taggedCounter(outcomesMetric, "outcome", "fetched").unsafeUpdate(1, [])
              deliver({ _tag: "Fetched", torrent: toTorrent(entry.infoHash, r.right) })
            } else {
              const final = queue.settle(entry, false, now())
              if (final) {
                stats.failed++
                givenUp[failureKind(r.left)]++
              }
              taggedCounter(outcomesMetric, "outcome", final ? "failed" : "retry").unsafeUpdate(1, [])
              deliver({
                _tag: "Failed",
                final,
                failure: { infoHash: entry.infoHash, at: now(), error: r.left.message }
              })
            }
            pump()
          }
        )
        if (!finished) attempts.add(cancel)
        return true
      }

      /** Starts the best ready infohashes while connection slots are free; called on every change. */
      const pump = (): void => {
        if (closed) return
        if (inputDone) {
          if (attempts.size === 0) notify() // the consumer sees the end once it has every outcome
          return
        }
        while (
          attempts.size < config.maxConnections && connections.free() > 0 && outcomes.length < OUTCOME_BUFFER &&
          startNext()
        ) {
          // one more started
        }
        // Backoffs and dead-peer expiries: wake up when the first one is due.
        const due = queue.nextDue()
        if (due !== undefined && due < wakeAt) {
          wakeAt = due
          fork(Effect.zipRight(
            Effect.sleep(Math.max(0, due - now())),
            Effect.sync(() => {
              if (wakeAt === due) wakeAt = Infinity
              pump()
            })
          ))
        }
      }

      /** The consumer's pull: every outcome so far, else wait for one; the end after the last attempt. */
      const pull: Effect.Effect<Chunk.Chunk<FetchOutcome>, Option.Option<E>> = Effect.suspend(() => {
        if (outcomes.length > 0) {
          const chunk = Chunk.unsafeFromArray(outcomes)
          outcomes = []
          pump()
          return Effect.succeed(chunk)
        }
        if (failure !== undefined) return Effect.failCause(Cause.map(failure, Option.some))
        if (inputDone && attempts.size === 0) return Effect.fail(Option.none())
        if (abandoned) {
          closed = true
          for (const cancel of attempts) cancel()
          stats.active -= attempts.size
          attempts.clear()
          return Effect.fail(Option.none())
        }
        return Effect.zipRight(
          Effect.async<void>((resume) => {
            wakeConsumer = () => resume(Effect.void)
            return Effect.sync(() => (wakeConsumer = undefined))
          }),
          pull
        )
      })

      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          closed = true
          for (const cancel of attempts) cancel()
          stats.active -= attempts.size
          attempts.clear()
        })
      )
      queuedNow = () => queue.size()
      let abandoned = false
      if (options.abandon !== undefined) {
        yield* Deferred.await(options.abandon).pipe(
          Effect.zipRight(Effect.sync(() => {
            abandoned = true
            notify()
          })),
          Effect.forkScoped
        )
      }
      yield* Effect.acquireRelease(Effect.sync(() => connections.onRelease(pump)), (off) => Effect.sync(off))
      yield* requests.pipe(
        Stream.runForEachChunk((chunk) =>
          Effect.sync(() => {
            const t = now()
            for (const r of chunk) queue.add(r.infoHash, r.peers, t, r.weight ?? 0)
            pump()
          })
        ),
        Effect.catchAllCause((cause) =>
          Effect.sync(() => {
            if (!Cause.isInterruptedOnly(cause)) failure = cause
          })
        ),
        Effect.ensuring(Effect.sync(() => {
          inputDone = true
          // Waiting infohashes are not started any more; running ones finish and are reported.
          queue.dropWaiting()
          notify()
        })),
        Effect.forkScoped
      )
      return Stream.repeatEffectChunkOption(pull)
    }))

  return MetadataFetcher.of({
    fetch,
    run,
    stats: Effect.sync(() => ({
      queued: queuedNow(),
      active: stats.active,
      fetched: stats.fetched,
      failed: stats.failed,
      droppedQueued: stats.droppedQueued,
      peerFailures: { ...peerFailures },
      connected: stats.connected,
      givenUp: { ...givenUp }
    }))
  })
})

/** The fetcher with `FetcherConfig`. */
export const MetadataFetcherLive = Layer.effect(MetadataFetcher, make)
