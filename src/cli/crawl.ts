import { Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Config, Duration, Effect, Either, Layer, Option } from "effect"
import os from "node:os"
import { CrawlerConfig, crawlerConfigFromEnv, type CrawlerSettings } from "../config/CrawlerConfig.js"
import { DhtConfig, dhtConfigFromEnv, type DhtSettings } from "../config/DhtConfig.js"
import { FetcherConfig, fetcherConfigFromEnv, type FetcherSettings } from "../config/FetcherConfig.js"
import { formatAge, parseAge, storageConfigFromEnv, type StorageSettings } from "../config/StorageConfig.js"
import { CrawlerFromIdentities } from "../crawler/Crawler.js"
import { IdentitiesLive } from "../crawler/identities.js"
import { formatHostPort, parseIP } from "../domain/address.js"
import { BOGONS, cidrContains, parseCidrList, unmapIPv4 } from "../domain/cidr.js"
import { parseSize } from "../domain/format.js"
import { parseAreaList } from "../domain/keyspace.js"
import { MetadataFetcher, MetadataFetcherLive } from "../metadata/MetadataFetcher.js"
import { isPostgresUrl, RepositoryLive } from "../repository/layers.js"
import { Repository } from "../repository/Repository.js"
import { runCrawlSession, type SessionSummary } from "../session/CrawlSession.js"
import { LiveStats, makeLiveStats, snapshotOf } from "../web/LiveStats.js"
import { addToBlocklist, readBlocklistFile } from "./block.js"
import { bindsFlag, bootstrapFlag, integerFlag, portFlag, positiveFlag } from "./flags.js"
import { makeProgress } from "./progress.js"
import { dbOption, jsonOption, redactDb, resolveDb } from "./repositoryOptions.js"
import { announceDashboard, resolveWebSettings, uiHostOption, uiPortOption, webServerLayer } from "./webOptions.js"

const listOption = <A>(
  name: string,
  description: string,
  parse: (
    text: string
  ) => { readonly ok: true; readonly value: Array<A> } | { readonly ok: false; readonly bad: string },
  form: string
) =>
  Options.text(name).pipe(
    Options.withPseudoName(name === "target" ? "area[,…]" : "cidr[,…]"),
    Options.withDescription(description),
    Options.mapEffect((text) => {
      const r = parse(text)
      return r.ok
        ? Effect.succeed(r.value)
        : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--${name}: "${r.bad}" is not ${form}`)))
    }),
    Options.optional
  )

const ageFlag = (name: string, description: string, fallback: string) =>
  Options.text(name).pipe(
    Options.withDescription(
      `${description} (e.g. 7d, 12h, forever; env BITSCRAPE_${
        name.replace(/-/g, "_").toUpperCase()
      }; default ${fallback})`
    ),
    Options.mapEffect((text) =>
      Either.match(parseAge(text), {
        onLeft: (error) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--${name}: ${error}`))),
        onRight: Effect.succeed
      })
    ),
    Options.optional
  )

export const crawlFlags = {
  bootstrap: bootstrapFlag.pipe(
    Options.withDescription("host:port[,…] to join through (env BITSCRAPE_BOOTSTRAP; default: the public routers)"),
    Options.optional
  ),
  bind: bindsFlag("bind").pipe(
    Options.withDescription(
      "UDP address(es) to bind: one IP address, or one per family for both (e.g. 0.0.0.0,:: or 127.0.0.1,::1) " +
        "(env BITSCRAPE_BIND; default 0.0.0.0, plus :: when this host has a global IPv6 address)"
    ),
    Options.optional
  ),
  port: portFlag("port").pipe(
    Options.withDescription("UDP port (env BITSCRAPE_PORT; default 6881)"),
    Options.optional
  ),
  db: dbOption,
  allow: listOption("allow", "only talk to these CIDR ranges (env BITSCRAPE_ALLOW)", parseCidrList, "a CIDR range"),
  deny: listOption("deny", "never talk to these CIDR ranges (env BITSCRAPE_DENY)", parseCidrList, "a CIDR range"),
  target: listOption(
    "target",
    "keyspace prefixes to crawl, e.g. 0a,7f00/12 (env BITSCRAPE_TARGET)",
    parseAreaList,
    "a hex prefix such as 0a or 7f00/12"
  ),
  maxPps: positiveFlag("max-pps").pipe(
    Options.withDescription("outbound packets per second (env BITSCRAPE_MAX_PPS; default 200)"),
    Options.optional
  ),
  maxInflight: positiveFlag("max-inflight").pipe(
    Options.withDescription("queries awaiting a reply at once (env BITSCRAPE_MAX_INFLIGHT; default 256)"),
    Options.optional
  ),
  maxKnownNodes: positiveFlag("max-known-nodes").pipe(
    Options.withDescription("known-node store size (env BITSCRAPE_MAX_KNOWN_NODES; default 200000)"),
    Options.optional
  ),
  maxQueuedInfohashes: positiveFlag("max-queued-infohashes").pipe(
    Options.withDescription(
      "infohashes queued for lookups and metadata (env BITSCRAPE_MAX_QUEUED_INFOHASHES; default 10000)"
    ),
    Options.optional
  ),
  identities: integerFlag("identities", { min: 1, max: 256 }).pipe(
    Options.withDescription(
      "node ids in this process, spread over the keyspace, each on its own UDP port (port, port+1, …), sharing " +
        "one packet budget and per-IP pace (env BITSCRAPE_IDENTITIES; default 1)"
    ),
    Options.optional
  ),
  neighbourIds: Options.boolean("neighbour-ids").pipe(
    Options.withDescription("answer queries with ids next to their targets (a crawler trick; off by default, counted)")
  ),
  maxConnections: positiveFlag("max-connections").pipe(
    Options.withDescription("peer connections for metadata fetching (env BITSCRAPE_MAX_CONNECTIONS)"),
    Options.optional
  ),
  noMetadata: Options.boolean("no-metadata").pipe(Options.withDescription("discover only; fetch no metadata")),
  noUi: Options.boolean("no-ui").pipe(Options.withDescription("no web dashboard (env BITSCRAPE_UI=false)")),
  uiHost: uiHostOption,
  uiPort: uiPortOption,
  duration: positiveFlag("duration").pipe(
    Options.withPseudoName("seconds"),
    Options.withDescription("stop after this many seconds (env BITSCRAPE_DURATION; default: until Ctrl-C)"),
    Options.optional
  ),
  json: jsonOption,
  maxDbSize: Options.text("max-db-size").pipe(
    Options.withDescription(
      "database size to stay within, e.g. 20GB: the oldest peer sightings, unfetched infohashes and nodes are " +
        "evicted first (env BITSCRAPE_MAX_DB_SIZE; default: no budget)"
    ),
    Options.mapEffect((text) => {
      const n = parseSize(text)
      return n === undefined || n <= 0
        ? Effect.fail(
          ValidationError.invalidValue(HelpDoc.p(`--max-db-size: "${text}" is not a size such as 500MB or 20GB`))
        )
        : Effect.succeed(n)
    }),
    Options.optional
  ),
  keepPeers: ageFlag("keep-peers", "peer sightings not seen for this long are deleted", "7d"),
  keepInfohashes: ageFlag("keep-infohashes", "infohashes never fetched and not seen for this long are deleted", "30d"),
  keepNodes: ageFlag("keep-nodes", "nodes not seen for this long are deleted", "14d"),
  keepTorrents: ageFlag(
    "keep-torrents",
    "fetched torrents older than this are deleted, and may be evicted for the budget",
    "forever"
  ),
  blocklist: Options.text("blocklist").pipe(
    Options.withDescription(
      "a file of entries to block (one per line: an infohash, a magnet link or name:GLOB, then optionally # why), " +
        "added to the database's blocklist at start (env BITSCRAPE_BLOCKLIST; see bitscrape block)"
    ),
    Options.optional
  )
}

type CrawlFlags = Command.Command.ParseConfig<typeof crawlFlags>

/** This host's global IPv6 addresses (not loopback, link-local, unique-local or any other bogon). */
export const globalIPv6Addresses = (
  interfaces: ReturnType<typeof os.networkInterfaces> = os.networkInterfaces()
): Array<string> => {
  const out: Array<string> = []
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      if (a.family !== "IPv6" || a.internal) continue
      const ip = parseIP(a.address)
      if (ip !== undefined && !BOGONS.some((c) => cidrContains(c, unmapIPv4(ip)))) out.push(a.address)
    }
  }
  return out
}

/**
 * The addresses the crawl binds: as given (flag or env), else 0.0.0.0 and — when this host has a global IPv6
 * address — :: too (dual stack); a log line says which and why.
 */
const resolveBinds = (given: ReadonlyArray<string> | undefined) =>
  Effect.gen(function*() {
    if (given !== undefined) return given
    const global = globalIPv6Addresses()
    if (global.length > 0) {
      yield* Effect.logInfo(`IPv6 on: this host has a global IPv6 address (${global[0]}); binding 0.0.0.0 and ::`)
      return ["0.0.0.0", "::"]
    }
    yield* Effect.logInfo(
      "IPv6 off: this host has no global IPv6 address; crawling over IPv4 only (--bind 0.0.0.0,:: to force both)"
    )
    return ["0.0.0.0"]
  })

/** Flag over env over default, for every setting the crawl uses. */
export const resolveSettings = (flags: CrawlFlags) =>
  Effect.gen(function*() {
    const dhtEnv = yield* dhtConfigFromEnv
    const crawlerEnv = yield* crawlerConfigFromEnv
    const binds = yield* resolveBinds(Option.getOrUndefined(flags.bind) ?? dhtEnv.binds)
    const dht: DhtSettings = {
      ...dhtEnv,
      host: binds[0]!,
      binds,
      port: Option.getOrElse(flags.port, () => dhtEnv.port),
      maxPps: Option.getOrElse(flags.maxPps, () => dhtEnv.maxPps),
      maxInflight: Option.getOrElse(flags.maxInflight, () => dhtEnv.maxInflight),
      neighbourIds: flags.neighbourIds || dhtEnv.neighbourIds
    }
    const crawler: CrawlerSettings = {
      ...crawlerEnv,
      bootstrap: Option.getOrElse(flags.bootstrap, () => crawlerEnv.bootstrap),
      allow: Option.getOrElse(flags.allow, () => crawlerEnv.allow),
      deny: Option.getOrElse(flags.deny, () => crawlerEnv.deny),
      targets: Option.getOrElse(flags.target, () => crawlerEnv.targets),
      maxKnownNodes: Option.getOrElse(flags.maxKnownNodes, () => crawlerEnv.maxKnownNodes),
      maxQueuedInfohashes: Option.getOrElse(flags.maxQueuedInfohashes, () => crawlerEnv.maxQueuedInfohashes),
      identities: Option.getOrElse(flags.identities, () => crawlerEnv.identities),
      metadata: !flags.noMetadata
    }
    if (dht.port !== 0 && dht.port + crawler.identities - 1 > 65535) {
      return yield* Effect.fail(ValidationError.invalidValue(HelpDoc.p(
        `--identities ${crawler.identities} needs UDP ports ${dht.port}–${dht.port + crawler.identities - 1}; ` +
          `choose a lower --port (or 0 for any free ports)`
      )))
    }
    const fetcherEnv = yield* fetcherConfigFromEnv
    const fetcher: FetcherSettings = {
      ...fetcherEnv,
      maxConnections: Option.getOrElse(flags.maxConnections, () => fetcherEnv.maxConnections)
    }
    const web = yield* resolveWebSettings(flags)
    const db = yield* resolveDb(flags.db)
    const progressInterval = yield* Config.integer("progressInterval").pipe(Config.withDefault(10))
    const durationEnv = yield* Config.option(
      Config.integer("duration").pipe(
        Config.validate({ message: "duration must be a positive number of seconds", validation: (n) => n > 0 })
      )
    )
    const duration = Option.orElse(flags.duration, () => durationEnv)
    const blocklistFile = Option.isSome(flags.blocklist)
      ? flags.blocklist
      : yield* Config.option(Config.string("blocklist"))
    const blocklist = Option.isSome(blocklistFile)
      ? { path: blocklistFile.value, entries: yield* readBlocklistFile(blocklistFile.value) }
      : undefined
    const storageEnv = yield* storageConfigFromEnv(parseSize)
    const storage: StorageSettings = {
      ...storageEnv,
      maxDbSize: Option.getOrElse(flags.maxDbSize, () => storageEnv.maxDbSize),
      keepPeers: Option.getOrElse(flags.keepPeers, () => storageEnv.keepPeers),
      keepInfohashes: Option.getOrElse(flags.keepInfohashes, () => storageEnv.keepInfohashes),
      keepNodes: Option.getOrElse(flags.keepNodes, () => storageEnv.keepNodes),
      keepTorrents: Option.getOrElse(flags.keepTorrents, () => storageEnv.keepTorrents)
    }
    if (storage.maxDbSize !== undefined && isPostgresUrl(db)) {
      return yield* Effect.fail(ValidationError.invalidValue(HelpDoc.p(
        "--max-db-size works with SQLite only for now (PostgreSQL frees space only with VACUUM FULL); " +
          "use the --keep-… retention settings to bound a PostgreSQL database"
      )))
    }
    return { dht, crawler, fetcher, web, db, progressInterval, duration, blocklist, storage }
  })

const describeSettings = (s: Effect.Effect.Success<ReturnType<typeof resolveSettings>>) => ({
  bind: (s.dht.binds ?? [s.dht.host]).join(","),
  port: s.dht.port,
  maxPps: s.dht.maxPps,
  maxInflight: s.dht.maxInflight,
  maxKnownNodes: s.crawler.maxKnownNodes,
  maxQueuedInfohashes: s.crawler.maxQueuedInfohashes,
  neighbourIds: s.dht.neighbourIds,
  identities: s.crawler.identities,
  metadata: s.crawler.metadata,
  maxConnections: s.fetcher.maxConnections,
  bootstrap: s.crawler.bootstrap,
  allow: s.crawler.allow.map((c) => c.text),
  deny: s.crawler.deny.map((c) => c.text),
  target: s.crawler.targets.map((t) => t.text),
  db: redactDb(s.db),
  maxDbSize: s.storage.maxDbSize ?? null,
  keep: {
    peers: formatAge(s.storage.keepPeers),
    infohashes: formatAge(s.storage.keepInfohashes),
    nodes: formatAge(s.storage.keepNodes),
    torrents: formatAge(s.storage.keepTorrents)
  },
  ui: s.web.enabled ? { host: s.web.host, port: s.web.port, token: Option.isSome(s.web.token) } : false
})

export type CrawlSettings = Effect.Effect.Success<ReturnType<typeof resolveSettings>>

/** Runs a crawl session with resolved settings (shared by `crawl` and `demo`). */
export const runCrawl = (
  settings: CrawlSettings,
  options: {
    readonly json: boolean
    readonly duration: Option.Option<number>
    readonly onSummary?: (summary: SessionSummary) => Effect.Effect<void>
  }
) =>
  Effect.gen(function*() {
    const progress = makeProgress({
      json: options.json,
      intervalSeconds: settings.progressInterval,
      db: settings.db,
      budget: settings.storage.maxDbSize
    })
    const repository = RepositoryLive(settings.db)
    // Nodes saved by earlier sessions are probed beside the bootstrap list (subject to the same address
    // filter), and hosts banned by earlier sessions stay banned until their ban expires.
    const crawlerConfig = Layer.effect(
      CrawlerConfig,
      Effect.gen(function*() {
        const repo = yield* Repository
        const saved = yield* repo.recentNodes(200)
        const banned = yield* repo.activeBans(Date.now())
        return {
          ...settings.crawler,
          savedNodes: saved.map((n) => formatHostPort(n.host, n.port)),
          bannedHosts: banned
        }
      })
    )
    const live = yield* makeLiveStats
    yield* live.setSettings(describeSettings(settings))
    // The dashboard shares the crawl's repository (one layer value: built once) and its live feed.
    const web = settings.web.enabled
      ? webServerLayer(settings.web, settings.db, Layer.succeed(LiveStats, live))
      : Layer.empty
    const layers = Layer.mergeAll(
      CrawlerFromIdentities.pipe(
        Layer.provide(IdentitiesLive(settings.crawler.identities, settings.crawler.targets, settings.dht.binds)),
        Layer.provide(Layer.succeed(DhtConfig, settings.dht)),
        Layer.provide(crawlerConfig)
      ),
      web
    ).pipe(Layer.provideMerge(repository))
    const fetcher = settings.crawler.metadata
      ? Option.some(
        yield* Effect.provide(
          MetadataFetcher,
          MetadataFetcherLive.pipe(Layer.provide(Layer.succeed(FetcherConfig, settings.fetcher)))
        )
      )
      : Option.none()
    return yield* Effect.gen(function*() {
      if (settings.blocklist !== undefined) {
        const r = yield* addToBlocklist(settings.blocklist.entries)
        yield* Effect.logInfo(
          `blocklist ${settings.blocklist.path}: ${r.added.length} entries added, ${r.already} already there; ` +
            `removed ${r.purged.torrents} torrents and ${r.purged.infohashes} infohashes it blocks`
        )
      }
      yield* announceDashboard(settings.web, options.json)
      return yield* runCrawlSession({
        duration: Option.map(options.duration, Duration.seconds),
        fetcher,
        giveUp: {
          attempts: settings.fetcher.maxAttempts,
          ttlMillis: Duration.toMillis(settings.fetcher.giveUpTtl)
        },
        settings: describeSettings(settings),
        storage: settings.storage,
        onProgress: (stats, written, elapsed, funnel, database) =>
          Effect.zipRight(
            progress.onProgress(stats, written, elapsed, funnel, database),
            live.publish(snapshotOf(stats, written, elapsed, true, funnel, database))
          ),
        onSummary: (summary) =>
          Effect.all([
            live.publish(
              snapshotOf(summary.stats, summary.written, summary.seconds, false, summary.funnel, summary.database)
            ),
            progress.onSummary(summary),
            options.onSummary?.(summary) ?? Effect.void
          ], { discard: true })
      })
    }).pipe(Effect.provide(layers))
  })

export const crawl = Command.make(
  "crawl",
  crawlFlags,
  (flags) =>
    Effect.flatMap(
      resolveSettings(flags),
      (settings) => runCrawl(settings, { json: flags.json, duration: settings.duration })
    )
).pipe(
  Command.withDescription("Crawl the DHT: discover nodes and infohashes and store them, until Ctrl-C or --duration")
)
