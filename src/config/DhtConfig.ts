import { Config, ConfigError, Context, Duration, Either, Layer, Option } from "effect"
import type { NodeId } from "../domain/ids.js"
import { nodeIdFromHex } from "../domain/ids.js"
import { ipProblem, positiveInt } from "./settings.js"

/** Settings of one DHT node: socket, KRPC client and server, routing table. */
export interface DhtSettings {
  /** Address to bind (an IP literal; IPv6 enables BEP 32 `nodes6`). */
  readonly host: string
  /**
   * Dual stack (the crawler): every address to bind, at most one per family (e.g. ["0.0.0.0", "::"]); `host` is
   * the first. Unset: `host` alone, or for `crawl` an automatic choice (see docs/configuration.md).
   */
  readonly binds?: ReadonlyArray<string> | undefined
  /** UDP port; 0 picks a free one. */
  readonly port: number
  /** Our node id; a random one when absent. */
  readonly nodeId: Option.Option<NodeId>
  /** Outbound packet budget (token bucket rate, packets/s). */
  readonly maxPps: number
  /** Token bucket burst size (packets). */
  readonly burst: number
  /**
   * Minimum time between two queries to one remote IP (ms; an IPv6 /64 counts as one IP), for every kind of
   * query; 0 disables it. libtorrent's dos_blocker ignores an IP that sends more than 5 packets/s for 5 minutes.
   */
  readonly perIpIntervalMillis: number
  /** A query whose IP's next slot is further away than this (ms) is not sent (it fails with QueryPaced). */
  readonly maxPaceWaitMillis: number
  /** Inbound datagrams buffered between the socket and the KRPC node; newer ones are dropped beyond this. */
  readonly inboundBuffer: number
  /** Largest datagram accepted (bytes). */
  readonly maxDatagram: number
  /** Longest per-query time-out (the time-out until enough replies were measured, and its ceiling). */
  readonly queryTimeout: Duration.Duration
  /**
   * Time-outs from measured round-trip times: twice the 98th percentile of recent replies, within
   * [minQueryTimeoutMillis, queryTimeout]. Off: always `queryTimeout`.
   */
  readonly adaptiveTimeout: boolean
  /** Shortest adaptive time-out (ms). */
  readonly minQueryTimeoutMillis: number
  /** Cap on queries awaiting a reply; further queries wait for a slot. */
  readonly maxInflight: number
  /** Lookup parallelism (α). */
  readonly alpha: number
  /** Bucket size (k); BEP 5 says 8. */
  readonly k: number
  /** Admit nodes whose id fails BEP 42 for their address into the routing table. */
  readonly admitUnverifiedIds: boolean
  /** BEP 43 read-only: flag our queries `ro` and answer none. */
  readonly readOnly: boolean
  /**
   * Neighbour-id replies (off by default; a crawler trick): answer each query with an id next to its target
   * (or the querier), so the querier files us in many buckets. Counted in `bitscrape_dht_neighbour_replies_total`.
   */
  readonly neighbourIds: boolean
  /** How long announced peers are kept. */
  readonly peerTtl: Duration.Duration
  /** Cap on infohashes with stored peers. */
  readonly maxStoredInfohashes: number
  /** Cap on peers stored per infohash. */
  readonly maxPeersPerInfohash: number
  /** BEP 51 `interval` we tell samplers (seconds). */
  readonly sampleInterval: number
  /** Our client version, sent as `v` (2 letters + 2 version bytes). */
  readonly version: Uint8Array
}

/** The DHT node's settings, as a service (tests provide it directly; programs read it from env + flags). */
export class DhtConfig extends Context.Tag("bitscrape/DhtConfig")<DhtConfig, DhtSettings>() {}

/** Defaults: a modest, well-behaved node. */
export const dhtDefaults: DhtSettings = {
  host: "0.0.0.0",
  port: 6881,
  nodeId: Option.none(),
  maxPps: 200,
  burst: 50,
  perIpIntervalMillis: 1000,
  maxPaceWaitMillis: 5000,
  inboundBuffer: 4096,
  maxDatagram: 65_535,
  queryTimeout: Duration.seconds(5),
  adaptiveTimeout: true,
  minQueryTimeoutMillis: 750,
  maxInflight: 256,
  alpha: 3,
  k: 8,
  admitUnverifiedIds: true,
  readOnly: false,
  neighbourIds: false,
  peerTtl: Duration.minutes(30),
  maxStoredInfohashes: 10_000,
  maxPeersPerInfohash: 100,
  sampleInterval: 300,
  version: Uint8Array.of(0x42, 0x53, 0, 1) // "BS" 0.1
}

/**
 * Why `text` is not a bind list — one IP address, or two of different families separated by a comma
 * ("0.0.0.0,::") — or the addresses.
 */
export const parseBinds = (
  text: string
): { readonly ok: true; readonly value: ReadonlyArray<string> } | { readonly ok: false; readonly problem: string } => {
  const items = text.split(",").map((x) => x.trim())
  if (items.length > 2) return { ok: false, problem: `"${text}": at most one address per family (e.g. 0.0.0.0,::)` }
  for (const item of items) {
    const problem = ipProblem(item)
    if (problem !== undefined) return { ok: false, problem }
  }
  if (items.length === 2 && items[0]!.includes(":") === items[1]!.includes(":")) {
    return { ok: false, problem: `"${text}": two addresses of one family (give one IPv4 and one IPv6 address)` }
  }
  return { ok: true, value: items }
}

const BIND_MESSAGE = "bind must be an IP address, or one IPv4 and one IPv6 address (0.0.0.0,::)"

/** BITSCRAPE_* with defaults (e.g. BITSCRAPE_MAX_PPS, BITSCRAPE_BIND, BITSCRAPE_PORT). */
export const dhtConfigFromEnv: Config.Config<DhtSettings> = Config.all({
  binds: Config.string("bind").pipe(
    Config.mapOrFail((text): Either.Either<ReadonlyArray<string>, ConfigError.ConfigError> => {
      const r = parseBinds(text)
      return r.ok ? Either.right(r.value) : Either.left(ConfigError.InvalidData([], BIND_MESSAGE))
    }),
    Config.option,
    Config.map(Option.getOrUndefined)
  ),
  port: Config.integer("port").pipe(
    Config.validate({ message: "port must be 0–65535 (0: any free port)", validation: (n) => n >= 0 && n <= 65535 }),
    Config.withDefault(dhtDefaults.port)
  ),
  nodeId: Config.string("nodeId").pipe(
    Config.mapOrFail((hex): Either.Either<NodeId, ConfigError.ConfigError> => {
      const id = nodeIdFromHex(hex)
      return id === undefined
        ? Either.left(ConfigError.InvalidData([], "nodeId must be 40 hexadecimal digits"))
        : Either.right(id)
    }),
    Config.option
  ),
  maxPps: positiveInt("maxPps", dhtDefaults.maxPps),
  burst: positiveInt("burst", dhtDefaults.burst),
  perIpIntervalMillis: Config.integer("perIpIntervalMillis").pipe(
    Config.validate({ message: "perIpIntervalMillis must be 0 or more", validation: (n) => n >= 0 }),
    Config.withDefault(dhtDefaults.perIpIntervalMillis)
  ),
  maxPaceWaitMillis: positiveInt("maxPaceWaitMillis", dhtDefaults.maxPaceWaitMillis),
  inboundBuffer: positiveInt("inboundBuffer", dhtDefaults.inboundBuffer),
  maxDatagram: positiveInt("maxDatagram", dhtDefaults.maxDatagram),
  queryTimeout: Config.duration("queryTimeout").pipe(Config.withDefault(dhtDefaults.queryTimeout)),
  adaptiveTimeout: Config.boolean("adaptiveTimeout").pipe(Config.withDefault(dhtDefaults.adaptiveTimeout)),
  minQueryTimeoutMillis: positiveInt("minQueryTimeoutMillis", dhtDefaults.minQueryTimeoutMillis),
  maxInflight: positiveInt("maxInflight", dhtDefaults.maxInflight),
  alpha: positiveInt("alpha", dhtDefaults.alpha),
  k: positiveInt("k", dhtDefaults.k),
  admitUnverifiedIds: Config.boolean("admitUnverifiedIds").pipe(Config.withDefault(dhtDefaults.admitUnverifiedIds)),
  readOnly: Config.boolean("readOnly").pipe(Config.withDefault(dhtDefaults.readOnly)),
  neighbourIds: Config.boolean("neighbourIds").pipe(Config.withDefault(dhtDefaults.neighbourIds)),
  peerTtl: Config.duration("peerTtl").pipe(Config.withDefault(dhtDefaults.peerTtl)),
  maxStoredInfohashes: positiveInt("maxStoredInfohashes", dhtDefaults.maxStoredInfohashes),
  maxPeersPerInfohash: positiveInt("maxPeersPerInfohash", dhtDefaults.maxPeersPerInfohash),
  sampleInterval: positiveInt("sampleInterval", dhtDefaults.sampleInterval),
  version: Config.succeed(dhtDefaults.version)
}).pipe(Config.map((s): DhtSettings => ({ ...s, host: s.binds?.[0] ?? dhtDefaults.host })))

/** Reads the settings from the environment (BITSCRAPE_*). */
export const DhtConfigLive = Layer.effect(DhtConfig, dhtConfigFromEnv)

/** A config layer from explicit settings over the defaults (tests, library users). */
export const dhtConfig = (settings: Partial<DhtSettings> = {}) =>
  Layer.succeed(DhtConfig, { ...dhtDefaults, ...settings })
