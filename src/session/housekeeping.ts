import { Effect, Option } from "effect"
import type { StorageSettings } from "../config/StorageConfig.js"
import type { DatabaseSize } from "../domain/model.js"
import type { Repository, Torrent } from "../repository/Repository.js"
import { EVICTION_ORDER, type EvictionClass } from "../repository/Repository.js"

// Housekeeping of a long-running crawl (docs/scaling.md "Disk budget and retention"), one pass every
// `housekeepingMillis`: (1) retention deletes the rows older than each table's `keep…` age; (2) when the database's
// live pages exceed 95 % of `maxDbSize`, the oldest rows are evicted, class by class in EVICTION_ORDER (peer
// sightings, then never-fetched infohashes, then nodes; fetched torrents only when `keepTorrents` is set), until
// they are under 85 %; (3) freed pages go back to the file system (SQLite incremental vacuum, WAL truncation) or
// become reusable (PostgreSQL VACUUM). On a database several crawlers share, one at a time runs (1)–(3).

/** Start evicting above this share of the budget… */
export const HIGH_WATER = 0.95
/** …down to this share. */
export const LOW_WATER = 0.85
/** Fewest and most rows evicted per step (one transaction; each step's changed pages pass through the WAL,
 * which is truncated after it). */
const MIN_STEP = 20
const MAX_STEP = 2000
/** Dead rows (PostgreSQL) are vacuumed once they hold this share of the budget. */
const DEAD_SHARE = 0.01

type Repo = Repository["Type"]

/** The database as the dashboard and `stats` show it. */
export interface DatabaseState {
  /** Bytes on disk (SQLite: file + WAL) and in live pages, at the last pass. */
  bytes: number
  used: number
  readonly budget: number | undefined
  /** Rows deleted by retention and by the budget since the crawl started. */
  readonly expired: Record<EvictionClass, number>
  readonly evicted: Record<EvictionClass, number>
  /** Set when the budget cannot be met with what may be evicted (fetched torrents fill it). */
  overBudget: boolean
  /** Set while writes fail because the database server cannot be reached (they are retried). */
  unreachable: string | undefined
  /**
   * The most bytes on disk seen beyond the live pages (SQLite: the WAL and free pages): a write batch's
   * transaction passes through the WAL before a checkpoint, so the live pages are kept that much under the budget.
   * PostgreSQL: the largest batch of fetched torrents seen, kept free for the next.
   */
  overheadPeak: number
  /** Each eviction class's tables' bytes at the last pass, where classes are measured apart (PostgreSQL). */
  readonly classBytes: Partial<Record<EvictionClass, number>>
}

export const makeDatabaseState = (budget: number | undefined): DatabaseState => ({
  bytes: 0,
  used: 0,
  budget,
  expired: { peers: 0, infohashes: 0, nodes: 0, torrents: 0 },
  evicted: { peers: 0, infohashes: 0, nodes: 0, torrents: 0 },
  overBudget: false,
  unreachable: undefined,
  overheadPeak: 0,
  classBytes: {}
})

const KEEP: Record<EvictionClass, keyof StorageSettings> = {
  peers: "keepPeers",
  infohashes: "keepInfohashes",
  nodes: "keepNodes",
  torrents: "keepTorrents"
}

/**
 * One housekeeping pass; updates `state`. With `retention` false only the budget is checked (the quick pass run
 * after writes: measuring is a few PRAGMAs).
 */
export const housekeep = (
  repo: Repo,
  settings: StorageSettings,
  state: DatabaseState,
  now: number,
  retention = true,
  /** Bytes about to be written: room is made for them first. */
  incoming = 0
) =>
  Effect.gen(function*() {
    // Several crawlers may share a (PostgreSQL) database: one at a time deletes; the others only measure.
    const done = yield* repo.exclusively(pass(repo, settings, state, now, retention, incoming))
    const size = Option.isSome(done) ? done.value : yield* repo.size
    state.bytes = size.bytes
    state.used = size.used
  })

const pass = (
  repo: Repo,
  settings: StorageSettings,
  state: DatabaseState,
  now: number,
  retention: boolean,
  incoming: number
) =>
  Effect.gen(function*() {
    if (retention) {
      for (const what of EVICTION_ORDER) {
        const keep = settings[KEEP[what]] as number | undefined
        if (keep !== undefined) state.expired[what] += yield* repo.expire(what, now - keep)
      }
    }
    let size = yield* repo.size
    let evicted = false
    const budget = settings.maxDbSize
    // The most bytes on disk seen beyond the live pages (SQLite: WAL and free pages), PostgreSQL: see roomInEachClass.
    if (size.free === undefined) state.overheadPeak = Math.max(state.overheadPeak, size.bytes - size.used)
    // PostgreSQL's dead rows become reusable only after a VACUUM: as soon as they hold 1 % of the budget.
    if (budget !== undefined && size.free !== undefined && size.bytes - size.used - size.free > DEAD_SHARE * budget) {
      yield* repo.reclaim(budget)
      size = yield* repo.size
    }
    if (budget !== undefined && size.classes !== undefined) {
      const made = yield* roomInEachClass(repo, settings, state, budget, size, incoming)
      size = made.size
      evicted = made.evicted
    }
    // Room for the WAL a write batch needs (at most a third of the budget).
    const room = budget === undefined ? 0 : Math.min(budget / 3, state.overheadPeak)
    if (budget !== undefined && size.classes === undefined && size.used + incoming + room > HIGH_WATER * budget) {
      const target = Math.max(0, LOW_WATER * budget - incoming - room)
      const classes = EVICTION_ORDER.filter((w) => w !== "torrents" || settings.keepTorrents !== undefined)
      for (const what of classes) {
        while (size.used > target) {
          const rows = (yield* repo.rowCounts)[what]
          if (rows === 0) break
          // As if this class held all the excess: at least that share of its rows, then measure again.
          const n = Math.min(MAX_STEP, Math.max(MIN_STEP, Math.ceil(rows * (size.used - target) / size.used)))
          state.evicted[what] += yield* repo.evict(what, n)
          evicted = true
          yield* repo.reclaim(budget)
          size = yield* repo.size
        }
      }
      const over = size.used + incoming > budget
      if (over && !state.overBudget) {
        yield* Effect.logWarning(
          `the database budget (${budget} bytes) is filled by what may not be evicted (fetched torrents): raise ` +
            `--max-db-size, or let old torrents go with --keep-torrents`
        )
      }
      state.overBudget = over
    }
    if (retention || evicted) {
      yield* repo.reclaim(budget)
      size = yield* repo.size
    }
    return size
  })

/**
 * On PostgreSQL the tables may pass the budget by this share before the crawl says it is over it: freed space is
 * reused only by its own table and files never shrink, so a class that grows late (fetched torrents, in bursts)
 * overshoots a little (measured: +1 to +9 % of a 5 MB budget, docs/scaling.md).
 */
export const PG_BUDGET_TOLERANCE = 0.1

/** On PostgreSQL each class keeps at least this share of its tables free (or dead: reusable after a VACUUM)… */
const FREE_LOW = 0.1
/** …evicting down to this share. */
const FREE_HIGH = 0.2

/**
 * The budget where freed space is reused only by the table it is in (PostgreSQL, `size.classes`): files never
 * shrink, so evicting peers makes no room for torrents. Once the database nears the budget, each class (in
 * EVICTION_ORDER; fetched torrents only when `keepTorrents` is set) whose tables have under FREE_LOW of their bytes
 * free (plus the incoming torrents, for the torrents) loses its oldest rows until FREE_HIGH is free: its own new
 * rows then fill that space and the files stop growing.
 */
const roomInEachClass = (
  repo: Repo,
  settings: StorageSettings,
  state: DatabaseState,
  budget: number,
  start: DatabaseSize,
  incoming: number
) =>
  Effect.gen(function*() {
    let size = start
    let evicted = false
    // Room for the largest batch of torrents seen (at most a third of the budget): they arrive in bursts of MBs,
    // and the other classes' files, once grown, never give their space to the torrents.
    state.overheadPeak = Math.max(state.overheadPeak, incoming)
    const room = Math.min(budget / 3, state.overheadPeak)
    if (size.bytes + Math.max(incoming, room) <= HIGH_WATER * budget) {
      for (const what of EVICTION_ORDER) delete state.classBytes[what]
      return { size, evicted }
    }
    const classes = EVICTION_ORDER.filter((w) => w !== "torrents" || settings.keepTorrents !== undefined)
    for (const what of classes) {
      // Its files grew since the last pass though the database is at the budget: its free space (an estimate) was
      // not where its new rows go (index pages), so that much more is made free.
      const grew = Math.max(0, (size.classes?.[what]?.total ?? 0) - (state.classBytes[what] ?? Infinity))
      const need = (what === "torrents" ? incoming : 0) + grew
      for (;;) {
        const c = size.classes?.[what]
        if (c === undefined || c.total === 0 || (grew === 0 && c.free >= FREE_LOW * c.total + need)) break
        const rows = (yield* repo.rowCounts)[what]
        if (rows === 0) break
        const perRow = Math.max(1, (c.total - c.free) / rows)
        const want = Math.max(FREE_HIGH * c.total, c.free) + need - c.free
        const n = Math.min(MAX_STEP, Math.max(MIN_STEP, Math.ceil(want / perRow)))
        state.evicted[what] += yield* repo.evict(what, n)
        evicted = true
        yield* repo.reclaim(budget)
        size = yield* repo.size
        // Made free what was wanted (once, for growth), or nothing freed that the measure sees: stop rather than
        // evict the whole class.
        const free = size.classes?.[what]?.free ?? 0
        if (free <= c.free || (grew > 0 && free - c.free >= want)) break
      }
    }
    for (const what of EVICTION_ORDER) {
      const total = size.classes?.[what]?.total
      if (total !== undefined) state.classBytes[what] = total
    }
    // Files never shrink here, so the budget is held within a tolerance (PG_BUDGET_TOLERANCE): over it, the budget
    // cannot be held by eviction and the user is told.
    const over = size.bytes + incoming - (size.classes?.torrents?.free ?? 0) > budget * (1 + PG_BUDGET_TOLERANCE)
    if (over && !state.overBudget) {
      yield* Effect.logWarning(
        `the database (${size.bytes} bytes) is over its budget (${budget} bytes): on PostgreSQL each table reuses ` +
          `only its own free space, and fetched torrents are evicted only with --keep-torrents; raise --max-db-size`
      )
    }
    state.overBudget = over
    return { size, evicted }
  })

/** About how many bytes storing these torrents takes (info dictionary, file rows, full-text index). */
export const torrentBytes = (torrents: ReadonlyArray<Torrent>): number =>
  torrents.reduce((n, t) => n + 300 + t.info.length + t.files.reduce((m, f) => m + 40 + 3 * f.path.length, 0), 0)
