import { type Duration, Effect, Exit, Fiber, Option, Scope } from "effect"
import { Crawler, type CrawlerStats } from "../crawler/Crawler.js"
import { Repository, writeBatched } from "../repository/Repository.js"
import { KrpcNode } from "../rpc/KrpcNode.js"

// A crawl session: the pipeline crawler → repository (→ metadata fetcher, issue 6) and its shutdown order.
//
// Shutdown (Ctrl-C, SIGTERM, --duration): (1) the crawler stops issuing queries and lets in-flight ones settle
// (grace 1.5 s), (2) its queues drain into the writers and end, (3) the writers commit their last partial
// batches, (4) the session record is closed with its totals; then the layers' scopes close the socket and the
// database. Everything the crawler counted as discovered has then been committed.

/** How long in-flight queries may settle on shutdown. */
export const STOP_GRACE_MILLIS = 1500
/** How long the writers may take to commit what is left. */
const FLUSH_MILLIS = 2000

export interface SessionSummary {
  readonly sessionId: number
  readonly seconds: number
  readonly stats: CrawlerStats
  readonly written: { readonly discoveries: number; readonly nodes: number }
}

export interface SessionOptions {
  /** Stop by itself after this long (otherwise: until interrupted). */
  readonly duration: Option.Option<Duration.Duration>
  /** Settings recorded with the session. */
  readonly settings: unknown
  /** Called about once a second with fresh stats. */
  readonly onProgress: (stats: CrawlerStats, elapsedSeconds: number) => Effect.Effect<void>
  /** Called once with the summary, after everything is committed. */
  readonly onSummary: (summary: SessionSummary) => Effect.Effect<void>
}

export const runCrawlSession = (options: SessionOptions) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const crawler = yield* Crawler
    yield* KrpcNode
    const started = Date.now()
    const sessionId = yield* repo.startSession(options.settings)
    // The writers live in a scope of their own, closed only after they have flushed: an interrupted session
    // fiber must not take them down with it (forked children die with an interrupted parent).
    const writers = yield* Scope.make()
    const discoveryWriter = yield* writeBatched(crawler.discoveries, repo.recordDiscoveries).pipe(
      Effect.forkIn(writers)
    )
    const nodeWriter = yield* writeBatched(crawler.nodes, repo.upsertNodes).pipe(Effect.forkIn(writers))
    const elapsed = () => (Date.now() - started) / 1000
    const progress = yield* Effect.gen(function*() {
      for (;;) {
        yield* Effect.sleep("1 second")
        yield* options.onProgress(yield* crawler.stats, elapsed())
      }
    }).pipe(Effect.fork)

    const finish = Effect.gen(function*() {
      yield* Fiber.interrupt(progress)
      yield* crawler.stop(STOP_GRACE_MILLIS)
      const joinWriter = (f: Fiber.RuntimeFiber<number, unknown>) =>
        Fiber.join(f).pipe(
          Effect.interruptible,
          Effect.timeout(FLUSH_MILLIS),
          Effect.tapErrorCause((cause) => Effect.logError("a writer did not finish", cause)),
          Effect.orElseSucceed(() => -1)
        )
      const discoveries = yield* joinWriter(discoveryWriter)
      const nodes = yield* joinWriter(nodeWriter)
      yield* Scope.close(writers, Exit.void)
      const stats = yield* crawler.stats
      const summary: SessionSummary = { sessionId, seconds: elapsed(), stats, written: { discoveries, nodes } }
      yield* repo.endSession(sessionId, { ...stats, written: summary.written, seconds: summary.seconds }).pipe(
        Effect.catchAll((e) => Effect.logWarning("could not close the session record", e))
      )
      yield* options.onSummary(summary)
      return summary
    }).pipe(Effect.uninterruptible)

    // Run until the duration elapses or the fiber is interrupted (Ctrl-C); either way, finish gracefully.
    const wait = Option.match(options.duration, { onNone: () => Effect.never, onSome: (d) => Effect.sleep(d) })
    return yield* wait.pipe(
      Effect.onInterrupt(() => Effect.asVoid(finish)),
      Effect.zipRight(finish)
    )
  })
