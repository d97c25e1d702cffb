import { Config, ConfigError, Context, Either, Layer } from "effect"
import { type Cidr, parseCidrList } from "../domain/cidr.js"
import { type KeyspaceArea, parseAreaList } from "../domain/keyspace.js"
import { parseHostPortList, positiveInt } from "./settings.js"

/** Settings of the crawler on top of the DHT node's (`DhtConfig`). */
export interface CrawlerSettings {
  /** host:port addresses to join through. */
  readonly bootstrap: ReadonlyArray<string>
  /** Nodes saved by earlier sessions (host:port IP literals), probed once each beside the bootstrap list. */
  readonly savedNodes: ReadonlyArray<string>
  /** Time-out (ms) of the probe to each saved node (often dead after a restart). */
  readonly joinProbeMillis: number
  /** Hosts banned by earlier sessions (misbehaving), not queried. */
  readonly bannedHosts: ReadonlyArray<string>
  /**
   * Node ids in this process (`--identities`), spread over the keyspace (or the target areas), each on its own
   * UDP port, sharing one packet budget and per-IP pace.
   */
  readonly identities: number
  /** Only talk to these ranges (empty: everything not a bogon). */
  readonly allow: ReadonlyArray<Cidr>
  /** Never talk to these ranges. */
  readonly deny: ReadonlyArray<Cidr>
  /** Keyspace areas to walk and sample (empty: all). */
  readonly targets: ReadonlyArray<KeyspaceArea>
  /** Known-node store capacity (least recently seen evicted). */
  readonly maxKnownNodes: number
  /** Infohashes waiting for metadata, queued for the fetcher. */
  readonly maxQueuedInfohashes: number
  /**
   * Time-out (ms) of a sample_infohashes probe to a node not yet known to support BEP 51. Many nodes ignore the
   * query silently, and each such probe holds a sampling slot until it times out.
   */
  readonly sampleProbeTimeoutMillis: number
  /** Most get_peers lookups in flight at once (fewer at a small packet budget: one per 25 packets/s). */
  readonly lookupConcurrency: number
  /** Shortest re-sample interval we accept from a node (s), whatever its BEP 51 `interval` says. */
  readonly minSampleInterval: number
  /** Distinct infohashes remembered for deduplication. */
  readonly seenCapacity: number
  /** Discoveries buffered towards the repository before the crawler waits. */
  readonly discoveryBuffer: number
  /** Run get_peers lookups for new infohashes (peers for the metadata fetcher). */
  readonly lookups: boolean
  /**
   * The peer-finding strategies (issue 14), each on by default and each switchable for measurement
   * (docs/benchmarks.md "yield"): ask the node that returned a sample for its peers; look up more peers after a
   * failed fetch; order peer finding and fetching by evidence; shift the budget toward the best-yielding stage.
   */
  readonly strategies: {
    readonly askSampler: boolean
    readonly retryLookups: boolean
    readonly evidence: boolean
    readonly shiftBudget: boolean
  }
  /** Emit fetch candidates (infohashes with peers) for the metadata fetcher. */
  readonly metadata: boolean
}

/** The public routers, used only when the user sets no bootstrap at all. Never used by tests or the demo. */
export const PUBLIC_BOOTSTRAP: ReadonlyArray<string> = [
  "router.bittorrent.com:6881",
  "dht.transmissionbt.com:6881",
  "router.utorrent.com:6881",
  "dht.libtorrent.org:25401"
]

/** Defaults: public bootstrap routers, no address or keyspace limits, lookups and metadata candidates on. */
export const crawlerDefaults: CrawlerSettings = {
  bootstrap: PUBLIC_BOOTSTRAP,
  savedNodes: [],
  joinProbeMillis: 1500,
  bannedHosts: [],
  identities: 1,
  allow: [],
  deny: [],
  targets: [],
  maxKnownNodes: 200_000,
  maxQueuedInfohashes: 10_000,
  sampleProbeTimeoutMillis: 2000,
  lookupConcurrency: 16,
  minSampleInterval: 60,
  seenCapacity: 1_000_000,
  discoveryBuffer: 10_000,
  lookups: true,
  strategies: { askSampler: true, retryLookups: true, evidence: true, shiftBudget: true },
  metadata: true
}

/** The crawler's settings, as a service (tests and library users provide it with `crawlerConfig`). */
export class CrawlerConfig extends Context.Tag("bitscrape/CrawlerConfig")<CrawlerConfig, CrawlerSettings>() {}

const list = <A>(
  name: string,
  parse: (
    text: string
  ) => { readonly ok: true; readonly value: Array<A> } | { readonly ok: false; readonly bad: string },
  form: string
) =>
  Config.string(name).pipe(
    Config.mapOrFail((text): Either.Either<Array<A>, ConfigError.ConfigError> => {
      const r = parse(text)
      return r.ok ? Either.right(r.value) : Either.left(ConfigError.InvalidData([], `"${r.bad}" is not ${form}`))
    }),
    Config.withDefault([] as Array<A>)
  )

/** BITSCRAPE_* crawler settings: BITSCRAPE_BOOTSTRAP, BITSCRAPE_ALLOW, BITSCRAPE_DENY, BITSCRAPE_TARGET, … */
export const crawlerConfigFromEnv: Config.Config<CrawlerSettings> = Config.all({
  bootstrap: Config.string("bootstrap").pipe(
    Config.mapOrFail((text): Either.Either<Array<string>, ConfigError.ConfigError> => {
      const r = parseHostPortList(text)
      return r.ok ? Either.right(r.value) : Either.left(ConfigError.InvalidData([], r.problem))
    }),
    Config.withDefault(crawlerDefaults.bootstrap)
  ),
  savedNodes: Config.succeed([]),
  joinProbeMillis: positiveInt("joinProbeMillis", crawlerDefaults.joinProbeMillis),
  bannedHosts: Config.succeed([]),
  identities: Config.integer("identities").pipe(
    Config.validate({ message: "identities must be 1–256", validation: (n) => n >= 1 && n <= 256 }),
    Config.withDefault(crawlerDefaults.identities)
  ),
  allow: list("allow", parseCidrList, "a CIDR range such as 127.0.0.0/8"),
  deny: list("deny", parseCidrList, "a CIDR range such as 10.0.0.0/8"),
  targets: list("target", parseAreaList, "a keyspace prefix such as 0a or 7f00/12"),
  maxKnownNodes: positiveInt("maxKnownNodes", crawlerDefaults.maxKnownNodes),
  maxQueuedInfohashes: positiveInt("maxQueuedInfohashes", crawlerDefaults.maxQueuedInfohashes),
  sampleProbeTimeoutMillis: positiveInt("sampleProbeTimeoutMillis", crawlerDefaults.sampleProbeTimeoutMillis),
  lookupConcurrency: positiveInt("lookupConcurrency", crawlerDefaults.lookupConcurrency),
  minSampleInterval: positiveInt("minSampleInterval", crawlerDefaults.minSampleInterval),
  seenCapacity: positiveInt("seenCapacity", crawlerDefaults.seenCapacity),
  discoveryBuffer: positiveInt("discoveryBuffer", crawlerDefaults.discoveryBuffer),
  lookups: Config.boolean("lookups").pipe(Config.withDefault(crawlerDefaults.lookups)),
  strategies: Config.all({
    askSampler: Config.boolean("askSampler").pipe(Config.withDefault(true)),
    retryLookups: Config.boolean("retryLookups").pipe(Config.withDefault(true)),
    evidence: Config.boolean("evidencePriority").pipe(Config.withDefault(true)),
    shiftBudget: Config.boolean("shiftBudget").pipe(Config.withDefault(true))
  }),
  metadata: Config.boolean("metadata").pipe(Config.withDefault(crawlerDefaults.metadata))
})

/** Reads the settings from the environment (BITSCRAPE_*); fails with a `ConfigError` naming a malformed variable. */
export const CrawlerConfigLive = Layer.effect(CrawlerConfig, crawlerConfigFromEnv)

/** Explicit settings over the defaults (tests, library users). */
export const crawlerConfig = (settings: Partial<CrawlerSettings> = {}) =>
  Layer.succeed(CrawlerConfig, { ...crawlerDefaults, ...settings })
