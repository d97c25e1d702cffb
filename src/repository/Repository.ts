import type { Option } from "effect"
import { Context, Data, Duration, Effect, Schema, Stream } from "effect"
import { IdHex } from "../domain/ids.js"
import type {
  CrawlSessionInfo,
  DatabaseSize,
  Discovery,
  EvictionClass,
  ExportItem,
  ExportQuery,
  FetchFailure,
  InfoHash,
  InfohashRecord,
  NodeRecord,
  NodeSighting,
  RepositoryStats,
  SavedSearch,
  SavedSearchCursor,
  SearchPage,
  SearchQuery,
  Torrent,
  TorrentDetail,
  TorrentSummary
} from "../domain/model.js"
import type {
  AnalysisOptions,
  ChurnAnalysis,
  ContentAnalysis,
  NodesAnalysis,
  PopularityAnalysis,
  ResponseRate,
  SourcesAnalysis
} from "./analysisModel.js"
import type { BlockEntry, BlockRecord, Purged } from "./blocklist.js"

export * from "../domain/categories.js"
export * from "../domain/model.js"
export * from "./analysisModel.js"
export type { BlockEntry, BlockKind, BlockRecord, Purged } from "./blocklist.js"

/** A storage operation failed (the database is unreachable, full, locked for too long, or corrupt). */
export class RepositoryError extends Data.TaggedError("RepositoryError")<{
  readonly operation: string
  readonly cause: unknown
}> {
  /** The failed operation and its cause, for logs and the CLI. */
  override get message() {
    // The innermost cause says what went wrong (@effect/sql wraps SQLite's "database disk image is malformed"
    // in "Failed to execute statement"); opening errors are complete sentences already.
    let cause = this.cause as { message?: unknown; cause?: unknown } | undefined
    for (let i = 0; i < 8 && cause?.cause instanceof Error; i++) cause = cause.cause as typeof cause
    const text = typeof cause?.message === "string" ? cause.message : String(this.cause)
    return this.operation === "open" ? text : `repository ${this.operation} failed: ${text}`
  }
}

/**
 * True when the error says the database server cannot be reached right now (refused, reset, shutting down,
 * restarting): worth retrying, unlike a full disk or a constraint.
 */
export const isUnreachable = (error: RepositoryError): boolean => {
  let cause = error.cause as { message?: unknown; code?: unknown; cause?: unknown } | undefined
  for (let i = 0; i < 8 && cause !== undefined && cause !== null; i++) {
    const text = `${String(cause.code ?? "")} ${typeof cause.message === "string" ? cause.message : ""}`
    if (UNREACHABLE.test(text)) return true
    cause = cause.cause as typeof cause
  }
  return false
}

const UNREACHABLE =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|CONNECTION_(CLOSED|ENDED|DESTROYED)|Connection terminated|connection error|not queryable|terminating connection|server closed the connection|the database system is (starting up|shutting down|in recovery mode)|\b57P0[123]\b|\b0800[0-6]\b/i

/** No torrent with that infohash is stored. Crosses the API/CLI boundary, so it is a Schema class. */
export class TorrentNotFound extends Schema.TaggedError<TorrentNotFound>()("TorrentNotFound", {
  infoHash: IdHex
}) {}

/** A saved search of that name exists already. Crosses the API/CLI boundary, so it is a Schema class. */
export class SavedSearchExists extends Schema.TaggedError<SavedSearchExists>()("SavedSearchExists", {
  name: Schema.String
}) {}

/**
 * Everything BitScrape discovers, stored durably: nodes, infohashes (with per-source counters and the peers
 * seen), verified torrents with their files and raw info dictionary, fetch failures, and crawl sessions.
 * Writes take batches and commit each batch in one transaction; upserts deduplicate and counters accumulate.
 */
export class Repository extends Context.Tag("bitscrape/Repository")<Repository, {
  /** Which backend: "sqlite", "postgres" or "memory". */
  readonly backend: "sqlite" | "postgres" | "memory"
  /** Upserts node sightings (one transaction). */
  readonly upsertNodes: (nodes: ReadonlyArray<NodeSighting>) => Effect.Effect<void, RepositoryError>
  /** Records infohash discoveries: per-source counters, first/last seen, distinct peers (one transaction). */
  readonly recordDiscoveries: (discoveries: ReadonlyArray<Discovery>) => Effect.Effect<void, RepositoryError>
  /** Stores verified torrents (one transaction); a torrent already stored is left as it is. */
  readonly saveTorrents: (torrents: ReadonlyArray<Torrent>) => Effect.Effect<void, RepositoryError>
  /** Records failed metadata attempts (one transaction). */
  readonly recordFailures: (failures: ReadonlyArray<FetchFailure>) => Effect.Effect<void, RepositoryError>
  /** Full-text search over names and file paths with filters, sort and pagination. */
  readonly search: (query: SearchQuery) => Effect.Effect<SearchPage, RepositoryError>
  /** One torrent with its files, sources and peers. */
  readonly getTorrent: (infoHash: InfoHash) => Effect.Effect<TorrentDetail, RepositoryError | TorrentNotFound>
  /** What we know about an infohash, with or without metadata. */
  readonly getInfohash: (infoHash: InfoHash) => Effect.Effect<Option.Option<InfohashRecord>, RepositoryError>
  /** Infohashes still waiting for metadata, most promising first (most peers and sightings, fewest attempts). */
  readonly pendingMetadata: (limit: number) => Effect.Effect<ReadonlyArray<InfohashRecord>, RepositoryError>
  /**
   * Of `hashes`, those not to fetch again: metadata stored, or given up (at least `minAttempts` failed
   * attempts, the last one after `since`, ms). Hex strings.
   */
  readonly settledInfohashes: (
    hashes: ReadonlyArray<InfoHash>,
    giveUp: { readonly minAttempts: number; readonly since: number }
  ) => Effect.Effect<ReadonlySet<string>, RepositoryError>
  /** Records banned hosts (they misbehaved) until `until` (ms). */
  readonly recordBans: (
    hosts: ReadonlyArray<string>,
    ban: { readonly at: number; readonly until: number; readonly reason: string }
  ) => Effect.Effect<void, RepositoryError>
  /** Hosts still banned at `now` (ms). */
  readonly activeBans: (now: number) => Effect.Effect<ReadonlyArray<string>, RepositoryError>
  /** The most recently responsive nodes, for bootstrapping the next session. */
  readonly recentNodes: (
    limit: number
  ) => Effect.Effect<ReadonlyArray<{ readonly host: string; readonly port: number }>, RepositoryError>
  /** The most recently seen nodes with what is known of them, newest first. */
  readonly nodes: (limit: number) => Effect.Effect<ReadonlyArray<NodeRecord>, RepositoryError>
  /** Totals. */
  readonly stats: Effect.Effect<RepositoryStats, RepositoryError>
  /** Everything matching the filters, in discovery order, read in pages. */
  readonly export: (query: ExportQuery) => Stream.Stream<ExportItem, RepositoryError>
  /** Opens a crawl session record; returns its id. */
  readonly startSession: (settings: unknown) => Effect.Effect<number, RepositoryError>
  /** Closes a crawl session record with its totals. */
  readonly endSession: (id: number, totals: unknown) => Effect.Effect<void, RepositoryError>
  /** Refreshes a running session's heartbeat (so other crawlers on the database know it is alive). */
  readonly heartbeat: (id: number) => Effect.Effect<void, RepositoryError>
  /**
   * Marks sessions left open by a crawl that is gone (killed with -9, crashed) as "interrupted", ended at their
   * last heartbeat; sessions of crawls still running are left alone. Returns the ids marked.
   */
  readonly closeInterruptedSessions: Effect.Effect<ReadonlyArray<number>, RepositoryError>
  /**
   * Adds blocklist entries (one already there keeps its date and reason) and removes everything they block from
   * the database; a name pattern also blocks the infohashes of the stored torrents it matches.
   */
  readonly block: (
    entries: ReadonlyArray<BlockEntry>
  ) => Effect.Effect<{ readonly added: ReadonlyArray<BlockRecord>; readonly purged: Purged }, RepositoryError>
  /** Removes a blocklist entry by id or by what it blocks; returns how many entries went. */
  readonly unblock: (idOrEntry: string) => Effect.Effect<number, RepositoryError>
  /** The blocklist, oldest entry first. */
  readonly blocklist: Effect.Effect<ReadonlyArray<BlockRecord>, RepositoryError>
  /** The database's size on disk and in live pages. */
  readonly size: Effect.Effect<DatabaseSize, RepositoryError>
  /** Rows in each class eviction may delete (infohashes: never fetched ones). */
  readonly rowCounts: Effect.Effect<Readonly<Record<EvictionClass, number>>, RepositoryError>
  /** Deletes the rows of a class last seen (torrents: fetched) before `before` (ms), in short transactions. */
  readonly expire: (what: EvictionClass, before: number) => Effect.Effect<number, RepositoryError>
  /** Deletes up to `rows` of the oldest rows of a class (one transaction); returns how many went. */
  readonly evict: (what: EvictionClass, rows: number) => Effect.Effect<number, RepositoryError>
  /** Gives freed space back to the file system where the backend can (SQLite incremental vacuum, WAL truncation). */
  readonly reclaim: (budget: number | undefined) => Effect.Effect<void, RepositoryError>
  /** Crawl sessions, newest first. */
  readonly sessions: (limit: number) => Effect.Effect<ReadonlyArray<CrawlSessionInfo>, RepositoryError>
  /**
   * Torrents matching `query` (its text and filters; not its sort or paging) that come after `after` in the order
   * of delivery — fetched time, then infohash — and were fetched at or before `until`; at most `limit`, in that order.
   */
  readonly newMatches: (
    query: SearchQuery,
    after: SavedSearchCursor,
    until: number,
    limit: number
  ) => Effect.Effect<ReadonlyArray<TorrentSummary>, RepositoryError>
  /** Queues imported infohashes (`bitscrape import`) for the next crawl's peer finding; returns how many were new. */
  readonly queueImports: (infoHashes: ReadonlyArray<InfoHash>, at: number) => Effect.Effect<number, RepositoryError>
  /**
   * Queued imported infohashes whose torrent is not stored yet, oldest first (at most `limit`); those whose
   * torrent is stored by now leave the queue.
   */
  readonly importQueue: (limit: number) => Effect.Effect<ReadonlyArray<InfoHash>, RepositoryError>
  /** Saves a search (its cursor starts at `createdAt`: only torrents fetched later are new to it). */
  readonly addSavedSearch: (
    search: { readonly name: string; readonly query: string; readonly webhook: string; readonly createdAt: number }
  ) => Effect.Effect<SavedSearch, RepositoryError | SavedSearchExists>
  /** Every saved search, oldest first. */
  readonly savedSearches: Effect.Effect<ReadonlyArray<SavedSearch>, RepositoryError>
  /** Removes the saved search of that name; false if there was none. */
  readonly removeSavedSearch: (name: string) => Effect.Effect<boolean, RepositoryError>
  /** Records a delivery attempt: on success the new cursor and how many were delivered, on failure the error. */
  readonly recordDelivery: (
    id: number,
    outcome:
      | { readonly at: number; readonly cursor: SavedSearchCursor; readonly delivered: number }
      | { readonly at: number; readonly error: string }
  ) => Effect.Effect<void, RepositoryError>
  /** Stored torrents by content: categories, size and file-count histograms, top extensions, versions. */
  readonly analyzeContent: (options: AnalysisOptions) => Effect.Effect<ContentAnalysis, RepositoryError>
  /** Infohashes by discovery source, the sources' overlap, and the yield funnel (overall and by day). */
  readonly analyzeSources: (options: AnalysisOptions) => Effect.Effect<SourcesAnalysis, RepositoryError>
  /** Nodes by client version and protocol support; torrents by the client of their source peer. */
  readonly analyzeNodes: (options: AnalysisOptions) => Effect.Effect<NodesAnalysis, RepositoryError>
  /**
   * Adds a crawl's query counts per minute (`at`: the minute's start, ms) to the stored series (counts of several
   * crawls in one minute add up); minutes older than RESPONSE_RATE_RETENTION_MS before the newest are dropped.
   */
  readonly recordResponseRates: (rates: ReadonlyArray<ResponseRate>) => Effect.Effect<void, RepositoryError>
  /** Node session lengths and, by the day nodes were first seen, how many answered. */
  readonly analyzeChurn: (options: AnalysisOptions) => Effect.Effect<ChurnAnalysis, RepositoryError>
  /** The most popular infohashes by distinct peers (in a window) and by sightings. */
  readonly analyzePopularity: (options: AnalysisOptions) => Effect.Effect<PopularityAnalysis, RepositoryError>
}>() {}

/** How a stream of records is grouped into write batches. */
export interface BatchPolicy {
  /** Most records per batch (one transaction). */
  readonly size: number
  /** Longest a record waits for its batch to fill. */
  readonly within: Duration.DurationInput
}

/** 1,000 records or 1 s, whichever comes first. */
export const defaultBatch: BatchPolicy = { size: 1000, within: Duration.seconds(1) }

/**
 * Writes a stream in batches (by size or time, whichever first), one transaction each, and in order. The
 * stream is pulled only as fast as batches commit: a slow database slows the producer (backpressure), it
 * never grows memory. Returns the number of records written.
 *
 * It works on the stream's chunks, not record by record (`Stream.groupedWithin` costs ~150 µs of CPU per
 * record on a crawl, where records trickle in one at a time): a full batch is written as soon as it is there,
 * and a ticker writes what has waited `within`. Give it a source that batches (`fromQueueLingering`) and it
 * wakes once per chunk.
 */
export const writeBatched = <A, E, R>(
  stream: Stream.Stream<A, E, R>,
  write: (batch: ReadonlyArray<A>) => Effect.Effect<void, RepositoryError>,
  policy: BatchPolicy = defaultBatch
): Effect.Effect<number, E | RepositoryError, R> =>
  Effect.gen(function*() {
    const size = Math.max(1, policy.size)
    const within = Math.max(1, Duration.toMillis(Duration.decode(policy.within)))
    const lock = yield* Effect.makeSemaphore(1)
    const clock = yield* Effect.clock
    let buffer: Array<A> = []
    /** When the oldest buffered record arrived. */
    let since = 0
    let total = 0
    // One batch off the front, written; batches are written one at a time, in order, and never abandoned
    // halfway (records taken off the buffer are committed or the failure is the writer's).
    const writeOne = Effect.suspend(() => {
      const batch = buffer.length <= size ? buffer : buffer.slice(0, size)
      buffer = buffer.length <= size ? [] : buffer.slice(size)
      since = clock.unsafeCurrentTimeMillis()
      return Effect.tap(write(batch), () => void (total += batch.length))
    })
    const flush = (all: boolean) =>
      lock.withPermits(1)(Effect.whileLoop({
        while: () => buffer.length >= size || (all && buffer.length > 0),
        body: () => writeOne,
        step: () => {}
      })).pipe(Effect.uninterruptible)
    const consume = stream.pipe(
      Stream.runForEachChunk((chunk) => {
        if (buffer.length === 0) since = clock.unsafeCurrentTimeMillis()
        for (const a of chunk) buffer.push(a)
        return buffer.length >= size ? flush(false) : Effect.void
      }),
      Effect.zipRight(Effect.suspend(() => flush(true)))
    )
    // Records that waited `within` are written even while the stream is silent.
    const ticker = Effect.forever(
      Effect.zipRight(
        Effect.sleep(Math.max(10, Math.floor(within / 2))),
        Effect.suspend(() =>
          buffer.length > 0 && clock.unsafeCurrentTimeMillis() - since >= within ? flush(true) : Effect.void
        )
      )
    )
    yield* Effect.raceFirst(consume, ticker)
    return total
  })
