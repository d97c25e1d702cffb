import {
  Cause,
  Chunk,
  type Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Option,
  Queue,
  Schedule,
  Scope,
  Stream
} from "effect"
import type { StorageSettings } from "../config/StorageConfig.js"
import { type Candidate, Crawler, type CrawlerStats } from "../crawler/Crawler.js"
import { makeSeenSet } from "../crawler/seen.js"
import { toHex } from "../domain/ids.js"
import type { FetchOutcome, MetadataFetcher } from "../metadata/MetadataFetcher.js"
import { HEARTBEAT_MILLIS } from "../repository/liveness.js"
import {
  isUnreachable,
  Repository,
  RepositoryError,
  type ResponseRate,
  writeBatched
} from "../repository/Repository.js"
import { type Funnel, makeFunnel } from "./funnel.js"
import * as FunnelMetrics from "./funnelMetrics.js"
import { type DatabaseState, housekeep, makeDatabaseState, torrentBytes } from "./housekeeping.js"
import { makeResponseRates } from "./responseRates.js"

// A crawl session: the pipeline crawler → repository (→ metadata fetcher, issue 6) and its shutdown order.
//
// Shutdown (Ctrl-C, SIGTERM, --duration): (1) the crawler stops issuing queries and lets in-flight ones settle
// (grace 1.5 s), (2) its queues drain into the writers and end — with no time limit, however slow the database
// (a notice every 5 s says what is still being written), (3) the writers commit their last partial batches
// (metadata attempts still running after 2 s are abandoned, the outcomes already delivered are written),
// (4) the session record is closed with its totals; then the layers' scopes close the socket and the database.
// Everything the crawler counted as discovered has then been committed, or a writer that failed has said how
// many records it could not write and why.

/** How long in-flight queries may settle on shutdown. */
export const STOP_GRACE_MILLIS = 1500
/** Retries of a write while the database is unreachable: 0.5 s, doubling, at most every 10 s, forever. */
const RETRY_UNREACHABLE = Schedule.exponential("500 millis").pipe(
  Schedule.union(Schedule.spaced("10 seconds"))
)

/** How long metadata attempts still running at stop may take before they are abandoned. */
const ATTEMPTS_GRACE_MILLIS = 2000
/** How often a slow final write says what it is still writing. */
const DRAIN_NOTICE_MILLIS = 5000
/** How long a host banned by a crawl stays banned for the next ones. */
export const BAN_TTL_MILLIS = 24 * 3600_000
/** Infohashes remembered as already settled (fetched or given up) or as checked and not settled. */
const SETTLED_CACHE = 200_000

/** The crawl stopped early because the database could not be written (after a clean stop and its summary). */
export class CrawlStopped extends Data.TaggedError("CrawlStopped")<{
  readonly message: string
  readonly cause: RepositoryError
}> {}

/** What has been committed so far (this is what progress reports, so nothing reported can be lost). */
export interface Written {
  discoveries: number
  nodes: number
  torrents: number
  failures: number
}

export interface SessionSummary {
  readonly sessionId: number
  readonly seconds: number
  readonly stats: CrawlerStats
  readonly written: Readonly<Written>
  readonly funnel: Funnel
  /** Size, budget, and rows deleted by retention and the budget (with `storage`). */
  readonly database: Readonly<DatabaseState>
}

export interface SessionOptions {
  /** Stop by itself after this long (otherwise: until interrupted). */
  readonly duration: Option.Option<Duration.Duration>
  /** Settings recorded with the session. */
  readonly settings: unknown
  /** Called about once a second with fresh stats. */
  readonly onProgress: (
    stats: CrawlerStats,
    written: Readonly<Written>,
    elapsedSeconds: number,
    funnel: Funnel,
    database: Readonly<DatabaseState>
  ) => Effect.Effect<void>
  /** Fetch metadata for the crawler's candidates (needs `MetadataFetcher`). */
  readonly fetcher: Option.Option<Context.Tag.Service<MetadataFetcher>>
  /** Called once with the summary, after everything is committed. */
  readonly onSummary: (summary: SessionSummary) => Effect.Effect<void>
  /**
   * Infohashes given up by an earlier session are not fetched again while their last attempt is younger than
   * `ttlMillis` (and at least `attempts` attempts failed); fetched ones never are.
   */
  readonly giveUp?: { readonly attempts: number; readonly ttlMillis: number }
  /** Retention and the disk budget, applied every `housekeepingMillis` while the crawl runs. */
  readonly storage?: StorageSettings
}

/** Most imported infohashes one crawl session looks for (the crawler's evidence store is bounded too). */
const IMPORTS_PER_SESSION = 10_000

export const runCrawlSession = (options: SessionOptions) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const crawler = yield* Crawler
    const started = Date.now()
    // Sessions left open by a crawl that was killed (-9, a crash, a power cut) are closed as interrupted.
    const interrupted = yield* repo.closeInterruptedSessions.pipe(
      Effect.catchAll((e) => Effect.as(Effect.logWarning("could not check for interrupted sessions", e), []))
    )
    if (interrupted.length > 0) {
      yield* Effect.logInfo(
        `marked ${interrupted.length} crawl session(s) left open by a crawl that was killed as interrupted ` +
          `(${interrupted.join(", ")})`
      )
    }
    const sessionId = yield* repo.startSession(options.settings)
    // Infohashes imported without metadata (`bitscrape import`): this crawl looks for their peers.
    // A lookup needs nodes to ask: they are sought once the crawler has joined (8 responsive nodes, or 30 s).
    const imported = yield* repo.importQueue(IMPORTS_PER_SESSION)
    if (imported.length > 0) {
      yield* Effect.fork(Effect.gen(function*() {
        for (let i = 0; i < 120 && (yield* crawler.stats).responsiveNodes < 8; i++) yield* Effect.sleep("250 millis")
        yield* crawler.seek(imported)
        yield* Effect.logInfo(`looking for peers of ${imported.length} imported infohash(es)`)
      }))
    }
    // The writers live in a scope of their own, closed only after they have flushed: an interrupted session
    // fiber must not take them down with it (forked children die with an interrupted parent).
    const writers = yield* Scope.make()
    const written: Written = { discoveries: 0, nodes: 0, torrents: 0, failures: 0 }
    const database = makeDatabaseState(options.storage?.maxDbSize)
    /** Signalled after each committed batch (wakes the budget check). */
    const wrote = yield* Queue.dropping<void>(1)
    /** Records each writer took from its stream (written, in a batch being written, or waiting for one). */
    const taken = { discoveries: 0, nodes: 0, outcomes: 0 }
    const counted = <A, E, R>(stream: Stream.Stream<A, E, R>, key: keyof typeof taken) =>
      Stream.mapChunks(stream, (chunk) => {
        taken[key] += chunk.length
        return chunk
      })
    const counting =
      <A>(write: (batch: ReadonlyArray<A>) => Effect.Effect<void, RepositoryError>, key: keyof Written) =>
      (batch: ReadonlyArray<A>) =>
        write(batch).pipe(
          // The database server is unreachable (restarting, network): the batch waits and is retried with
          // backoff, for as long as it takes; meanwhile the bounded queues fill and hold the crawler back.
          Effect.tapError((e) =>
            Effect.sync(() => {
              if (isUnreachable(e)) database.unreachable = e.message
            })
          ),
          Effect.retry({ schedule: RETRY_UNREACHABLE, while: isUnreachable }),
          Effect.tap(() =>
            Effect.sync(() => {
              database.unreachable = undefined
              written[key] += batch.length
              wrote.unsafeOffer(undefined)
            })
          )
        )
    /** Ends the fetcher's outcome stream early (its last outcomes are still written). */
    const abandonAttempts = yield* Deferred.make<void>()
    /** A write failed (the disk is full, the database went away): the crawl stops, cleanly, and says so. */
    const fatal = yield* Deferred.make<RepositoryError>()
    const failed = <A, E>(writer: Effect.Effect<A, E>) =>
      Effect.tapError(writer, (e) => e instanceof RepositoryError ? Deferred.succeed(fatal, e) : Effect.void)
    /** What the writers could not write, for the one message of a crawl stopped by a failed write. */
    const notWritten: Array<string> = []
    /** Waits for a writer to end (no time limit); if it failed, says what was not written and why. */
    const joinWriter = (f: Fiber.RuntimeFiber<number, unknown>, what: "discoveries" | "nodes" | "torrents") =>
      // Not interruptible: after Ctrl-C this runs in the interrupted session's finalizer, where an interruptible
      // join would be cut at once (and the writers then closed with their records unwritten).
      Fiber.join(f).pipe(
        Effect.catchAllCause((cause) =>
          Effect.gen(function*() {
            const q = (yield* crawler.stats).queueDepths
            const queued = what === "discoveries" ? q.discoveries : what === "nodes" ? q.nodes : 0
            const unwritten = what === "torrents"
              ? taken.outcomes - written.torrents - written.failures
              : taken[what] - written[what]
            const label = what === "nodes" ? "node sightings" : what === "torrents" ? "metadata outcomes" : what
            const why = Cause.isFailType(cause) && cause.error instanceof RepositoryError
              ? cause.error.message
              : Cause.pretty(cause)
            if (yield* Deferred.isDone(fatal)) {
              notWritten.push(`${unwritten + queued} ${label}`)
              return
            }
            yield* Effect.logError(
              `could not write ${unwritten + queued} ${label} (${unwritten} taken for writing, ${queued} still ` +
                `queued): ${why}`
            )
          })
        )
      )
    const discoveryWriter = yield* writeBatched(
      counted(crawler.discoveries, "discoveries"),
      counting(repo.recordDiscoveries, "discoveries")
    )
      .pipe(
        failed,
        Effect.forkIn(writers)
      )
    const nodeWriter = yield* writeBatched(counted(crawler.nodes, "nodes"), counting(repo.upsertNodes, "nodes")).pipe(
      failed,
      Effect.forkIn(writers)
    )
    // Torrents stored (or given up) by this or an earlier session are never fetched again.
    const giveUp = options.giveUp ?? { attempts: 3, ttlMillis: 24 * 3600_000 }
    const settled = makeSeenSet(SETTLED_CACHE)
    const unsettled = makeSeenSet(SETTLED_CACHE)
    const notSettled = (chunk: Chunk.Chunk<Candidate>) =>
      Effect.gen(function*() {
        const items = Chunk.toReadonlyArray(chunk)
        const keys = items.map((c) => toHex(c.infoHash))
        const unknown = new Map(
          items.flatMap((c, i) => settled.has(keys[i]!) || unsettled.has(keys[i]!) ? [] : [[keys[i]!, c.infoHash]])
        )
        if (unknown.size > 0) {
          const found = yield* repo.settledInfohashes([...unknown.values()], {
            minAttempts: giveUp.attempts,
            since: Date.now() - giveUp.ttlMillis
          }).pipe(Effect.orElseSucceed(() => new Set<string>()))
          for (const k of unknown.keys()) (found.has(k) ? settled : unsettled).add(k)
        }
        return Chunk.unsafeFromArray(items.filter((_, i) => !settled.has(keys[i]!)))
      })
    const metadataWriter = yield* Option.match(options.fetcher, {
      onNone: () => Effect.succeed(Option.none<Fiber.RuntimeFiber<number, RepositoryError>>()),
      onSome: (fetcher) =>
        writeBatched(
          fetcher.run(
            crawler.candidates.pipe(
              Stream.mapChunksEffect(notSettled),
              Stream.map((c) => ({ infoHash: c.infoHash, peers: c.peers, weight: c.weight }))
            ),
            // Attempts still running at stop are abandoned; every outcome delivered before is still pulled.
            { abandon: abandonAttempts }
          ).pipe((s) => counted(s, "outcomes")),
          (outcomes: ReadonlyArray<FetchOutcome>) =>
            Effect.gen(function*() {
              const torrents = outcomes.flatMap((o) => o._tag === "Fetched" ? [o.torrent] : [])
              const failures = outcomes.flatMap((o) => o._tag === "Failed" ? [o.failure] : [])
              // Known peers failed: the crawler looks for more (a dead or hostile announcer hides nothing).
              for (const f of failures) yield* crawler.fetchFailed(f.infoHash)
              // Large torrents arrive in bursts: with a disk budget, room is made before they are written.
              if (torrents.length > 0 && options.storage?.maxDbSize !== undefined) {
                yield* housekeep(repo, options.storage, database, Date.now(), false, torrentBytes(torrents)).pipe(
                  Effect.catchAll((e) => Effect.logWarning("making room for torrents failed", e))
                )
              }
              if (torrents.length > 0) yield* counting(repo.saveTorrents, "torrents")(torrents)
              if (failures.length > 0) yield* counting(repo.recordFailures, "failures")(failures)
            }),
          { size: 100, within: Duration.millis(500) }
        ).pipe(failed, Effect.forkIn(writers), Effect.map(Option.some))
    })
    const elapsed = () => (Date.now() - started) / 1000
    // Retention and the budget every `housekeepingMillis`; the budget alone also after writes (at most every
    // 250 ms), so a burst of writes overshoots it by little.
    const housekeeping = yield* Option.match(Option.fromNullable(options.storage), {
      onNone: () => Effect.void,
      onSome: (storage) =>
        Effect.gen(function*() {
          let full = 0
          for (;;) {
            const now = Date.now()
            const retention = now - full >= storage.housekeepingMillis
            if (retention) full = now
            yield* housekeep(repo, storage, database, now, retention).pipe(
              Effect.catchAll((e) => Effect.logWarning("housekeeping (retention, disk budget) failed", e))
            )
            yield* Effect.sleep(250)
            if (storage.maxDbSize === undefined) {
              yield* Effect.sleep(Math.max(0, full + storage.housekeepingMillis - Date.now()))
            } else {
              yield* Effect.raceFirst(
                Queue.take(wrote),
                Effect.sleep(Math.max(0, full + storage.housekeepingMillis - Date.now()))
              )
            }
          }
        })
    }).pipe(Effect.fork)
    const funnelOf = (stats: CrawlerStats) =>
      Option.match(options.fetcher, {
        onNone: () => Effect.succeed(makeFunnel(stats, undefined)),
        onSome: (f) => Effect.map(f.stats, (fs) => makeFunnel(stats, fs))
      })
    const rates = makeResponseRates()
    const recordRate = (rate: ResponseRate | undefined) =>
      rate === undefined
        ? Effect.void
        : repo.recordResponseRates([rate]).pipe(
          Effect.catchAll((e) => Effect.logDebug("recording the response rate failed", e))
        )
    const progress = yield* Effect.gen(function*() {
      let beat = Date.now()
      for (;;) {
        yield* Effect.sleep("1 second")
        // The heartbeat tells other crawlers on this database (and the next start) that this session is alive.
        if (Date.now() - beat >= HEARTBEAT_MILLIS) {
          beat = Date.now()
          yield* repo.heartbeat(sessionId).pipe(Effect.catchAll((e) => Effect.logDebug("heartbeat failed", e)))
        }
        const stats = yield* crawler.stats
        yield* recordRate(rates.observe(stats.rpc, Date.now()))
        const funnel = yield* funnelOf(stats)
        FunnelMetrics.update(funnel)
        yield* options.onProgress(stats, written, elapsed(), funnel, database)
      }
    }).pipe(Effect.fork)

    const finish = Effect.gen(function*() {
      yield* Fiber.interrupt(progress)
      yield* Fiber.interrupt(housekeeping)
      // The funnel as the crawl left it (stopping ends the fetcher's queue).
      const funnel = yield* funnelOf(yield* crawler.stats)
      yield* crawler.stop(STOP_GRACE_MILLIS)
      // Every queued discovery and node sighting is written, however long the database takes (said every few
      // seconds); a writer that fails says what it could not write, and why.
      const draining = yield* Effect.gen(function*() {
        for (;;) {
          yield* Effect.sleep(DRAIN_NOTICE_MILLIS)
          const q = (yield* crawler.stats).queueDepths
          yield* Effect.logInfo(
            `stopping: still writing ${q.discoveries} queued discoveries and ${q.nodes} node sightings ` +
              `(the database ${database.unreachable === undefined ? "is slow" : "is unreachable: retrying"})`
          )
        }
      }).pipe(Effect.interruptible, Effect.fork)
      yield* joinWriter(discoveryWriter, "discoveries")
      yield* joinWriter(nodeWriter, "nodes")
      // Metadata attempts still running after a short grace are abandoned (none of them was reported as
      // fetched); every outcome already delivered is in the writer's last batch, which is written in full.
      if (Option.isSome(metadataWriter)) {
        const done = yield* Fiber.join(metadataWriter.value).pipe(
          Effect.interruptible,
          Effect.timeout(ATTEMPTS_GRACE_MILLIS),
          Effect.as(true),
          Effect.catchAll(() => Effect.succeed(false))
        )
        if (!done) {
          yield* Deferred.succeed(abandonAttempts, undefined)
          yield* Effect.logInfo("metadata attempts still running at stop were abandoned")
          yield* joinWriter(metadataWriter.value, "torrents")
        }
      }
      yield* Fiber.interrupt(draining)
      yield* Scope.close(writers, Exit.void)
      const bans = yield* crawler.bans
      const at = Date.now()
      // After a failed write, these fail the same way: the one message below says why.
      const quiet = yield* Deferred.isDone(fatal)
      yield* repo.recordBans(bans, { at, until: at + BAN_TTL_MILLIS, reason: "malformed replies" }).pipe(
        Effect.catchAll((e) => quiet ? Effect.void : Effect.logWarning("could not record banned hosts", e))
      )
      const stats = yield* crawler.stats
      // The last minutes of the response rate (the queries that settled while stopping included).
      const lastMinute = rates.observe(stats.rpc, Date.now())
      yield* (quiet ? Effect.void : recordRate(lastMinute))
      yield* (quiet ? Effect.void : recordRate(rates.flush()))
      FunnelMetrics.update(funnel)
      const summary: SessionSummary = {
        sessionId,
        seconds: elapsed(),
        stats,
        written: { ...written },
        funnel,
        database: { ...database }
      }
      yield* repo.endSession(sessionId, {
        ...stats,
        written: summary.written,
        seconds: summary.seconds,
        funnel,
        database: summary.database
      }).pipe(
        Effect.catchAll((e) => quiet ? Effect.void : Effect.logWarning("could not close the session record", e))
      )
      yield* options.onSummary(summary)
      return summary
    }).pipe(Effect.uninterruptible)

    // Run until the duration elapses, a write fails, or the fiber is interrupted (Ctrl-C); in every case, finish
    // gracefully. A failed write then ends the session with one message: why, and what was not written.
    const wait = Option.match(options.duration, { onNone: () => Effect.never, onSome: (d) => Effect.sleep(d) })
    const summary = yield* Effect.raceFirst(wait, Effect.asVoid(Deferred.await(fatal))).pipe(
      Effect.onInterrupt(() => Effect.asVoid(finish)),
      Effect.zipRight(finish)
    )
    const error = yield* Deferred.poll(fatal)
    if (Option.isSome(error)) {
      const cause = yield* error.value
      return yield* new CrawlStopped({
        message: `crawl stopped: ${cause.message}` +
          (notWritten.length > 0 ? `; not written: ${notWritten.join(", ")}` : "") +
          (/disk is full|No space left|ENOSPC|SQLITE_FULL/i.test(cause.message)
            ? " (free some space, or bound the database with --max-db-size)"
            : ""),
        cause
      })
    }
    return summary
  })
