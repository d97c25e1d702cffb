import { Config, Context, Duration, Layer } from "effect"
import { positiveInt } from "./settings.js"

/** Settings of the metadata fetcher. */
export interface FetcherSettings {
  /** Peer connections open at once, across all infohashes. */
  readonly maxConnections: number
  /** Peers tried per infohash per attempt. */
  readonly peersPerInfohash: number
  /** Peers of one infohash tried at the same time. */
  readonly parallelPeers: number
  /** Deadline for the TCP connection to one peer (the longest, when adaptive). */
  readonly connectTimeout: Duration.Duration
  /**
   * Connect deadlines from measured connect times: three times the 98th percentile of recent connects, within
   * [minConnectTimeoutMillis, connectTimeout]. Peers that are gone time out rather than refuse, and most
   * announced peers are gone: every second a dead connect waits holds a connection slot.
   */
  readonly adaptiveConnectTimeout: boolean
  readonly minConnectTimeoutMillis: number
  /** Deadline for one peer, from connect to verified metadata. */
  readonly peerTimeout: Duration.Duration
  /** Deadline for one infohash attempt, all its peers included. */
  readonly infohashDeadline: Duration.Duration
  /** Largest metadata accepted (BEP 9 `metadata_size`). */
  readonly maxMetadataSize: number
  /** Attempts per infohash before it is given up (recorded as failed). */
  readonly maxAttempts: number
  /** Wait before the second attempt; doubled for each further one. */
  readonly retryBackoff: Duration.Duration
  /** How long a given-up infohash is not tried again by later crawls (fetched ones never are). */
  readonly giveUpTtl: Duration.Duration
  /** Infohashes waiting for metadata; the least promising is dropped (and counted) beyond this. */
  readonly maxQueued: number
  /** Peers remembered as dead (negative cache) and for how long. */
  readonly deadPeers: number
  /** How long a dead peer stays in the negative cache. */
  readonly deadPeerTtl: Duration.Duration
  /** Our client string in the extended handshake. */
  readonly client: string
}

/** Defaults: 64 connections, 3 of 8 peers at a time, 10 MiB metadata cap, 3 attempts a minute apart and doubling. */
export const fetcherDefaults: FetcherSettings = {
  maxConnections: 64,
  peersPerInfohash: 8,
  parallelPeers: 3,
  connectTimeout: Duration.seconds(5),
  adaptiveConnectTimeout: true,
  minConnectTimeoutMillis: 1500,
  peerTimeout: Duration.seconds(20),
  infohashDeadline: Duration.seconds(60),
  maxMetadataSize: 10 * 1024 * 1024,
  maxAttempts: 3,
  retryBackoff: Duration.minutes(1),
  giveUpTtl: Duration.hours(24),
  maxQueued: 10_000,
  deadPeers: 100_000,
  deadPeerTtl: Duration.minutes(30),
  client: "BitScrape 0.1"
}

/** The metadata fetcher's settings, as a service (tests and library users provide it with `fetcherConfig`). */
export class FetcherConfig extends Context.Tag("bitscrape/FetcherConfig")<FetcherConfig, FetcherSettings>() {}

/** BITSCRAPE_MAX_CONNECTIONS, BITSCRAPE_MAX_METADATA_SIZE, … */
export const fetcherConfigFromEnv: Config.Config<FetcherSettings> = Config.all({
  maxConnections: positiveInt("maxConnections", fetcherDefaults.maxConnections),
  peersPerInfohash: positiveInt("peersPerInfohash", fetcherDefaults.peersPerInfohash),
  parallelPeers: positiveInt("parallelPeers", fetcherDefaults.parallelPeers),
  connectTimeout: Config.duration("connectTimeout").pipe(Config.withDefault(fetcherDefaults.connectTimeout)),
  adaptiveConnectTimeout: Config.boolean("adaptiveConnectTimeout").pipe(
    Config.withDefault(fetcherDefaults.adaptiveConnectTimeout)
  ),
  minConnectTimeoutMillis: positiveInt("minConnectTimeoutMillis", fetcherDefaults.minConnectTimeoutMillis),
  peerTimeout: Config.duration("peerTimeout").pipe(Config.withDefault(fetcherDefaults.peerTimeout)),
  infohashDeadline: Config.duration("infohashDeadline").pipe(Config.withDefault(fetcherDefaults.infohashDeadline)),
  maxMetadataSize: positiveInt("maxMetadataSize", fetcherDefaults.maxMetadataSize),
  maxAttempts: positiveInt("maxAttempts", fetcherDefaults.maxAttempts),
  retryBackoff: Config.duration("retryBackoff").pipe(Config.withDefault(fetcherDefaults.retryBackoff)),
  giveUpTtl: Config.duration("giveUpTtl").pipe(Config.withDefault(fetcherDefaults.giveUpTtl)),
  maxQueued: positiveInt("maxQueuedInfohashes", fetcherDefaults.maxQueued),
  deadPeers: positiveInt("deadPeers", fetcherDefaults.deadPeers),
  deadPeerTtl: Config.duration("deadPeerTtl").pipe(Config.withDefault(fetcherDefaults.deadPeerTtl)),
  client: Config.succeed(fetcherDefaults.client)
})

/** Reads the settings from the environment (BITSCRAPE_*); fails with a `ConfigError` naming a malformed variable. */
export const FetcherConfigLive = Layer.effect(FetcherConfig, fetcherConfigFromEnv)
/** A config layer from explicit settings over the defaults (tests, library users). */
export const fetcherConfig = (settings: Partial<FetcherSettings> = {}) =>
  Layer.succeed(FetcherConfig, { ...fetcherDefaults, ...settings })
