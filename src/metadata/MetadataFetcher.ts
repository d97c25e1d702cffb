import { Clock, Context, Duration, Effect, Either, Layer, Metric, Option, Queue, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { FetcherConfig } from "../config/FetcherConfig.js"
import type { SocketAddress } from "../krpc/address.js"
import { copyId, type InfoHash, toHex } from "../krpc/ids.js"
import { taggedCounter } from "../observability/metrics.js"
import type { FetchFailure, Torrent } from "../repository/model.js"
import { MetadataUnavailable, PeerFetchError } from "./errors.js"
import { fetchFromPeer, type PeerMetadata } from "./peerSession.js"

export * from "./errors.js"

/** An infohash to fetch, with peers that have it. */
export interface FetchRequest {
  readonly infoHash: InfoHash
  readonly peers: ReadonlyArray<SocketAddress>
}

/** What the fetcher made of one infohash. */
export type FetchOutcome =
  | { readonly _tag: "Fetched"; readonly torrent: Torrent }
  | { readonly _tag: "Failed"; readonly failure: FetchFailure; readonly final: boolean }

export interface FetcherStats {
  readonly queued: number
  readonly active: number
  readonly fetched: number
  readonly failed: number
  readonly droppedQueued: number
  readonly peerFailures: Readonly<Partial<Record<PeerFetchError["reason"], number>>>
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
  readonly run: <E, R>(requests: Stream.Stream<FetchRequest, E, R>) => Stream.Stream<FetchOutcome, E, R>
  readonly stats: Effect.Effect<FetcherStats>
}>() {}

interface Entry {
  readonly infoHash: InfoHash
  readonly key: string
  readonly peers: Map<string, SocketAddress>
  readonly tried: Set<string>
  announces: number
  lastSeen: number
  attempts: number
  notBefore: number
  active: boolean
}

const make = Effect.gen(function*() {
  const config = yield* FetcherConfig
  const clock = yield* Effect.clock
  const now = () => clock.unsafeCurrentTimeMillis()
  const peerId = Buffer.concat([Buffer.from("-BS0001-"), randomBytes(12)])
  const connections = yield* Effect.makeSemaphore(config.maxConnections)
  const dead = new Map<string, number>() // peer → until (ms)
  const stats = { fetched: 0, failed: 0, droppedQueued: 0, active: 0, open: 0 }
  const peerFailures: Partial<Record<PeerFetchError["reason"], number>> = {}
  let queuedNow = () => 0

  const isDead = (key: string) => {
    const until = dead.get(key)
    if (until === undefined) return false
    if (until > now()) return true
    dead.delete(key)
    return false
  }
  const markDead = (key: string) => {
    dead.delete(key)
    dead.set(key, now() + Duration.toMillis(config.deadPeerTtl))
    if (dead.size > config.deadPeers) dead.delete(dead.keys().next().value!)
  }

  const tryPeer = (infoHash: InfoHash, peer: SocketAddress): Effect.Effect<PeerMetadata, PeerFetchError> =>
    connections.withPermits(1)(
      Effect.acquireUseRelease(
        Effect.sync(() => {
          stats.open++
          connectionsMetric.unsafeUpdate(stats.open, [])
        }),
        () =>
          fetchFromPeer({
            infoHash,
            host: peer.host,
            port: peer.port,
            peerId,
            client: config.client,
            connectTimeoutMillis: Duration.toMillis(config.connectTimeout),
            maxMetadataSize: config.maxMetadataSize
          }).pipe(
            Effect.timeoutFail({
              duration: config.peerTimeout,
              onTimeout: () =>
                new PeerFetchError({
                  reason: "Timeout",
                  peer: `${peer.host}:${peer.port}`,
                  detail: "peer deadline passed"
                })
            })
          ),
        () =>
          Effect.sync(() => {
            stats.open--
            connectionsMetric.unsafeUpdate(stats.open, [])
          })
      )
    ).pipe(
      Effect.tapError((e) =>
        Effect.sync(() => {
          peerFailures[e.reason] = (peerFailures[e.reason] ?? 0) + 1
          taggedCounter(peerFailureMetric, "reason", e.reason).unsafeUpdate(1, [])
          // Peers that are unreachable or lie are not worth trying again soon.
          if (e.reason !== "Timeout" || e.detail.includes("no connection")) markDead(e.peer)
        })
      )
    )

  const fetch = (
    infoHash: InfoHash,
    peers: ReadonlyArray<SocketAddress>
  ): Effect.Effect<Torrent, MetadataUnavailable> =>
    Effect.gen(function*() {
      const hex = toHex(infoHash)
      const candidates = peers.filter((p) => !isDead(`${p.host}:${p.port}`)).slice(0, config.peersPerInfohash)
      if (candidates.length === 0) {
        return yield* Effect.fail(new MetadataUnavailable({ infoHash: hex, reason: "NoPeers", attempts: [] }))
      }
      const errors: Array<PeerFetchError> = []
      // Waves of `parallelPeers`: the first peer to deliver verified metadata wins; the rest are interrupted.
      for (let i = 0; i < candidates.length; i += config.parallelPeers) {
        const wave = candidates.slice(i, i + config.parallelPeers).map((p) =>
          Effect.map(tryPeer(infoHash, p), (m) => [p, m] as const).pipe(
            Effect.tapError((e) => Effect.sync(() => errors.push(e)))
          )
        )
        const won = yield* Effect.either(Effect.raceAll(wave))
        if (Either.isRight(won)) {
          const [peer, m] = won.right
          const fetchedAt = yield* Clock.currentTimeMillis
          return {
            ...m.info,
            infoHash: copyId(infoHash),
            fetchedAt,
            sourcePeer: { host: peer.host, port: peer.port },
            sourceClient: m.client
          } satisfies Torrent
        }
      }
      return yield* Effect.fail(new MetadataUnavailable({ infoHash: hex, reason: "AllPeersFailed", attempts: errors }))
    }).pipe(
      Effect.timeoutFail({
        duration: config.infohashDeadline,
        onTimeout: () => new MetadataUnavailable({ infoHash: toHex(infoHash), reason: "Deadline", attempts: [] })
      })
    )

  const run = <E, R>(requests: Stream.Stream<FetchRequest, E, R>): Stream.Stream<FetchOutcome, E, R> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const entries = new Map<string, Entry>()
      const finished = new Set<string>() // fetched or given up: bounded below
      const outcomes = yield* Queue.bounded<FetchOutcome>(1024)
      const wake = yield* Queue.sliding<void>(1)

      const add = (r: FetchRequest) => {
        const key = toHex(r.infoHash)
        if (finished.has(key)) return
        let e = entries.get(key)
        if (e === undefined) {
          if (entries.size >= config.maxQueued) {
            // Full: drop the least promising waiting infohash (counted) to make room.
            let worst: Entry | undefined
            for (const x of entries.values()) {
              if (!x.active && (worst === undefined || score(x) < score(worst))) worst = x
            }
            if (worst === undefined) return
            entries.delete(worst.key)
            stats.droppedQueued++
          }
          e = {
            infoHash: copyId(r.infoHash),
            key,
            peers: new Map(),
            tried: new Set(),
            announces: 0,
            lastSeen: now(),
            attempts: 0,
            notBefore: 0,
            active: false
          }
          entries.set(key, e)
        }
        e.announces++
        e.lastSeen = now()
        for (const p of r.peers) if (e.peers.size < 64) e.peers.set(`${p.host}:${p.port}`, p)
        wake.unsafeOffer(undefined)
      }

      /** More peers and sightings first, fewer failed attempts, recent activity breaks ties. */
      const score = (e: Entry) => e.peers.size * 4 + Math.min(e.announces, 20) - e.attempts * 10 + e.lastSeen / 1e13

      const hasUntried = (e: Entry) => {
        for (const k of e.peers.keys()) if (!e.tried.has(k) && !isDead(k)) return true
        return false
      }

      const pick = (): Entry | undefined => {
        const t = now()
        let best: Entry | undefined
        for (const e of entries.values()) {
          if (e.active || e.notBefore > t) continue
          if (!hasUntried(e)) continue
          if (best === undefined || score(e) > score(best)) best = e
        }
        return best
      }

      const attempt = (e: Entry) =>
        Effect.gen(function*() {
          e.active = true
          stats.active++
          e.attempts++
          const peers = [...e.peers.entries()].filter(([k]) => !e.tried.has(k)).map(([k, p]) => {
            e.tried.add(k)
            return p
          })
          const result = yield* Effect.either(fetch(e.infoHash, peers))
          stats.active--
          e.active = false
          if (Either.isRight(result)) {
            entries.delete(e.key)
            remember(e.key)
            stats.fetched++
            taggedCounter(outcomesMetric, "outcome", "fetched").unsafeUpdate(1, [])
            return yield* Queue.offer(outcomes, { _tag: "Fetched", torrent: result.right })
          }
          const final = e.attempts >= config.maxAttempts
          if (final) {
            entries.delete(e.key)
            remember(e.key)
            stats.failed++
          } else {
            e.notBefore = now() + Duration.toMillis(config.retryBackoff) * 2 ** (e.attempts - 1)
          }
          taggedCounter(outcomesMetric, "outcome", final ? "failed" : "retry").unsafeUpdate(1, [])
          yield* Queue.offer(outcomes, {
            _tag: "Failed",
            final,
            failure: { infoHash: e.infoHash, at: now(), error: result.left.message }
          })
        })

      const remember = (key: string) => {
        finished.add(key)
        if (finished.size > 1_000_000) finished.delete(finished.values().next().value!)
      }

      // Workers: each takes the best ready infohash; the connection semaphore caps sockets across them. When the
      // requests end, workers finish their current attempt and stop; the last one ends the outcome stream once
      // its consumer has drained it.
      let inputDone = false
      // One worker per connection: an infohash with a single peer holds one connection, not `parallelPeers`.
      let live = config.maxConnections
      const worker = Effect.gen(function*() {
        for (;;) {
          const e = pick()
          if (e === undefined) {
            if (inputDone) break
            yield* Effect.race(Queue.take(wake), Effect.sleep("1 second"))
            continue
          }
          yield* attempt(e)
        }
        if (--live === 0) {
          while (Option.getOrElse(outcomes.unsafeSize(), () => 0) > 0) yield* Effect.sleep(10)
          yield* Queue.shutdown(outcomes)
        }
      })
      yield* Effect.forEach(Array.from({ length: live }), () => Effect.forkScoped(worker), { discard: true })

      queuedNow = () => entries.size
      yield* requests.pipe(
        Stream.runForEach((r) => Effect.sync(() => add(r))),
        Effect.ensuring(Effect.sync(() => {
          inputDone = true
          // Waiting infohashes are not started any more; their workers stop.
          for (const e of entries.values()) if (!e.active) entries.delete(e.key)
          wake.unsafeOffer(undefined)
        })),
        Effect.forkScoped
      )
      return Stream.fromQueue(outcomes)
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
      peerFailures: { ...peerFailures }
    }))
  })
})

/** The fetcher with `FetcherConfig`. */
export const MetadataFetcherLive = Layer.effect(MetadataFetcher, make)
