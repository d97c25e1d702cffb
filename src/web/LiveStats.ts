import { Context, Effect, Layer, Option, PubSub, Schema, Stream } from "effect"
import type { CrawlerStats } from "../crawler/Crawler.js"
import type { Written } from "../session/CrawlSession.js"
import type { Funnel } from "../session/funnel.js"
import type { DatabaseState } from "../session/housekeeping.js"
import { counterByTag } from "./prometheus.js"

// The crawl's live state for the web UI: the session publishes a snapshot about once a second, the server
// streams them to dashboards (server-sent events) and keeps a short history so a freshly opened dashboard
// draws its charts at once. `bitscrape serve` has no crawl: its snapshots are never published.

/** Counts by discovery source. */
export const Sources = Schema.Struct({
  sample: Schema.Number,
  get_peers: Schema.Number,
  announce: Schema.Number,
  lookup: Schema.Number
})

/** One second of a running crawl, as the dashboard sees it. */
/** A count split by address family. */
export const FamilyCounts = Schema.Struct({ ipv4: Schema.Number, ipv6: Schema.Number })

export const LiveSnapshot = Schema.Struct({
  /** Unix ms when taken. */
  at: Schema.Number,
  /** Seconds since the crawl started. */
  elapsed: Schema.Number,
  /** False once the crawl has stopped (the last snapshot says so). */
  running: Schema.Boolean,
  knownNodes: Schema.Number,
  responsiveNodes: Schema.Number,
  /** Known and responsive nodes by address family (absent from older snapshots). */
  families: Schema.optional(Schema.Struct({ known: FamilyCounts, responsive: FamilyCounts })),
  uniqueInfohashes: Schema.Number,
  discoveries: Sources,
  queries: Schema.Struct({
    find_node: Schema.Number,
    sample_infohashes: Schema.Number,
    get_peers: Schema.Number
  }),
  queueDepths: Schema.Struct({
    discoveries: Schema.Number,
    nodes: Schema.Number,
    candidates: Schema.Number,
    lookups: Schema.Number
  }),
  /** Addresses refused by the address filter, by reason. */
  filtered: Schema.Record({ key: Schema.String, value: Schema.Number }),
  /** Datagrams dropped, by reason (process-wide). */
  drops: Schema.Record({ key: Schema.String, value: Schema.Number }),
  backoffMillis: Schema.Number,
  /** DHT nodes estimated from the crawl's lookups, with the 95 % interval (absent before the first lookup). */
  networkSize: Schema.optional(Schema.Struct({
    nodes: Schema.Number,
    low: Schema.Number,
    high: Schema.Number,
    lookups: Schema.Number
  })),
  /** Why discovery slowed, when it did. */
  backoffReason: Schema.NullOr(Schema.String),
  /** The yield funnel: infohashes seen → with peers → connected → fetched, why the rest were lost, and where
   * the queries went (absent from older snapshots). */
  funnel: Schema.optional(Schema.Struct({
    seen: Schema.Number,
    withPeers: Schema.Number,
    connected: Schema.Number,
    fetched: Schema.Number,
    lost: Schema.Record({ key: Schema.String, value: Schema.Number }),
    pending: Schema.Number,
    packetsOut: Schema.Number,
    packetsPerTorrent: Schema.NullOr(Schema.Number),
    budget: Schema.Record({ key: Schema.String, value: Schema.Number })
  })),
  /** The database: size on disk and in live pages, the budget, and rows deleted by retention and the budget
   * (absent from older snapshots). */
  database: Schema.optional(Schema.Struct({
    bytes: Schema.Number,
    used: Schema.Number,
    budget: Schema.NullOr(Schema.Number),
    expired: Schema.Record({ key: Schema.String, value: Schema.Number }),
    evicted: Schema.Record({ key: Schema.String, value: Schema.Number }),
    overBudget: Schema.Boolean,
    /** Why writes are failing and being retried (the database server cannot be reached), if they are. */
    unreachable: Schema.optional(Schema.NullOr(Schema.String))
  })),
  /** What has been committed to the database. */
  written: Schema.Struct({
    discoveries: Schema.Number,
    nodes: Schema.Number,
    torrents: Schema.Number,
    failures: Schema.Number
  })
})
export type LiveSnapshot = typeof LiveSnapshot.Type

/** Builds a snapshot, taken at `at` (ms, from the session's Clock), from the session's progress report. */
export const snapshotOf = (
  at: number,
  stats: CrawlerStats,
  written: Readonly<Written>,
  elapsed: number,
  running = true,
  funnel?: Funnel,
  database?: Readonly<DatabaseState>
): LiveSnapshot => ({
  at,
  elapsed,
  running,
  knownNodes: stats.knownNodes,
  responsiveNodes: stats.responsiveNodes,
  families: { known: { ...stats.families.known }, responsive: { ...stats.families.responsive } },
  uniqueInfohashes: stats.uniqueInfohashes,
  discoveries: { ...stats.discoveries },
  queries: { ...stats.queries },
  queueDepths: { ...stats.queueDepths },
  filtered: Object.fromEntries(Object.entries(stats.filtered).filter(([, v]) => v !== undefined)) as Record<
    string,
    number
  >,
  drops: counterByTag("bitscrape_dht_drops_total", "reason"),
  backoffMillis: stats.backoffMillis,
  ...(stats.networkSize === undefined ? {} : {
    networkSize: {
      nodes: stats.networkSize.nodes,
      low: stats.networkSize.low,
      high: stats.networkSize.high,
      lookups: stats.networkSize.lookups
    }
  }),
  backoffReason: stats.backoffReason ?? null,
  ...(funnel === undefined ? {} : {
    funnel: {
      ...funnel,
      lost: { ...funnel.lost },
      budget: { ...funnel.budget },
      packetsPerTorrent: funnel.packetsPerTorrent ?? null
    }
  }),
  ...(database === undefined ? {} : {
    database: {
      bytes: database.bytes,
      used: database.used,
      budget: database.budget ?? null,
      expired: { ...database.expired },
      evicted: { ...database.evicted },
      overBudget: database.overBudget,
      unreachable: database.unreachable ?? null
    }
  }),
  written: { ...written }
})

/** How many snapshots a new dashboard receives as history (five minutes at one a second). */
export const HISTORY = 300

/** The live feed between a crawl session and the web server. */
export class LiveStats extends Context.Tag("bitscrape/LiveStats")<LiveStats, {
  /** Publishes a snapshot to every listener (never waits: slow listeners miss intermediate ones). */
  readonly publish: (snapshot: LiveSnapshot) => Effect.Effect<void>
  /** The latest snapshot, if a crawl runs (or ran) in this process. */
  readonly latest: Effect.Effect<Option.Option<LiveSnapshot>>
  /** Recent snapshots, oldest first. */
  readonly history: Effect.Effect<ReadonlyArray<LiveSnapshot>>
  /** Snapshots from now on; each subscriber gets its own bounded, sliding buffer. */
  readonly changes: Stream.Stream<LiveSnapshot>
  /** The settings of the crawl in force, for the "about" page (secrets removed by the publisher). */
  readonly settings: Effect.Effect<Option.Option<unknown>>
  readonly setSettings: (settings: unknown) => Effect.Effect<void>
}>() {}

/** A fresh in-process live feed. */
export const makeLiveStats = Effect.gen(function*() {
  const hub = yield* PubSub.sliding<LiveSnapshot>(8)
  const recent: Array<LiveSnapshot> = []
  let settings = Option.none<unknown>()
  return LiveStats.of({
    publish: (s) =>
      Effect.suspend(() => {
        recent.push(s)
        if (recent.length > HISTORY) recent.shift()
        return PubSub.publish(hub, s)
      }),
    latest: Effect.sync(() => Option.fromNullable(recent.at(-1))),
    history: Effect.sync(() => recent.slice()),
    changes: Stream.fromPubSub(hub),
    settings: Effect.sync(() => settings),
    setSettings: (s) =>
      Effect.sync(() => {
        settings = Option.some(s)
      })
  })
})

/** An in-process live feed. */
export const LiveStatsLive = Layer.effect(LiveStats, makeLiveStats)
