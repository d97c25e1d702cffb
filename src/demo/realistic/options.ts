// The knobs of the realistic network model and their defaults. Each default is a measured fact about the real
// Mainline DHT or about libtorrent, the most common implementation on it (docs/model.md gives the sources).

export interface RealisticNetworkOptions {
  /** Simulated DHT nodes, each on its own 127.x address (default 10,000; tests use ~1,000). */
  readonly nodes?: number
  /** Seed of everything the model draws (ids, addresses, which nodes are silent, torrents). Default 1. */
  readonly seed?: number
  /** Share of nodes that never answer anything (default 0.4: 40–50 % of contacts never answer). */
  readonly silentShare?: number
  /** Median reply delay in ms (default 60: replies take tens to hundreds of ms). */
  readonly replyDelayMedianMs?: number
  /** Log-normal sigma of reply delays, split between a per-node base and per-packet jitter (default 0.8). */
  readonly replyDelaySigma?: number
  /** Longest reply delay in ms (default 2,000). */
  readonly replyDelayCapMs?: number
  /** Share of inbound and (separately) of outbound packets dropped (default 0.03). */
  readonly lossRate?: number
  /** Share of answering nodes that speak BEP 51 (default 0.35; measure at 0.05 too). The rest ignore it. */
  readonly bep51Share?: number
  /** BEP 51 `interval` in seconds: a node's sample stays the same this long (libtorrent default 21,600). */
  readonly bep51IntervalSeconds?: number
  /** Share of answering nodes running libtorrent's dos_blocker (default 0.3). */
  readonly dosBlockerShare?: number
  /** Share of nodes that leave per minute, replaced by as many fresh ones (default 0.01). */
  readonly churnPerMinute?: number
  /** Live torrents, served by real BEP 9 seeders (default 200). */
  readonly liveTorrents?: number
  /** Torrents per seeder (default 4; every third torrent is on a second seeder too). */
  readonly torrentsPerSeeder?: number
  /** Stale infohashes per live one: announced, but their peers are gone (default 20). */
  readonly staleRatio?: number
  /** Share of stale peers whose TCP connect is refused instead of timing out (default 0.2). */
  readonly refusedShare?: number
  /** Share of live torrents that also have stale and hostile announcers (default 0.3). */
  readonly hostileShare?: number
  /** Seconds between a seeder's announces of each torrent (default 120 in the model). */
  readonly announceIntervalSeconds?: number
  /** Seconds between re-announces of a stale infohash by its (gone) peers (default 1,800). */
  readonly staleAnnounceIntervalSeconds?: number
  /** get_peers lookups per second by simulated downloaders (default 3). */
  readonly lookupsPerSecond?: number
  /** How stale peers' TCP behaves: "drop" (iptables, connects time out), "stall" (accept, never send), or "auto":
   * drop when running as root in a private network namespace with iptables, else stall. */
  readonly staleMode?: "auto" | "drop" | "stall"
  /** Which 127.(100 + 8·block).0.0/13 the model takes (0–11, default 0), so two models can run side by side. */
  readonly addressBlock?: number
  /** Node sockets per worker process (default 4,000; the limit is 20,000 open files per process). */
  readonly nodesPerWorker?: number
  /** Answering nodes handed out as bootstrap (default 8); they never leave. */
  readonly bootstrapCount?: number
}

export type ResolvedOptions = {
  readonly [K in keyof RealisticNetworkOptions]-?: NonNullable<RealisticNetworkOptions[K]>
}

export const DEFAULTS: ResolvedOptions = {
  nodes: 10_000,
  seed: 1,
  silentShare: 0.4,
  replyDelayMedianMs: 60,
  replyDelaySigma: 0.8,
  replyDelayCapMs: 2_000,
  lossRate: 0.03,
  bep51Share: 0.35,
  bep51IntervalSeconds: 21_600,
  dosBlockerShare: 0.3,
  churnPerMinute: 0.01,
  liveTorrents: 200,
  torrentsPerSeeder: 4,
  staleRatio: 20,
  refusedShare: 0.2,
  hostileShare: 0.3,
  announceIntervalSeconds: 120,
  staleAnnounceIntervalSeconds: 1_800,
  lookupsPerSecond: 3,
  staleMode: "auto",
  addressBlock: 0,
  nodesPerWorker: 4_000,
  bootstrapCount: 8
}

const share = (name: string, v: number) => {
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} must be between 0 and 1, got ${v}`)
}

/** The options with defaults filled in; a RangeError names the first bad one. */
export const resolveOptions = (options: RealisticNetworkOptions): ResolvedOptions => {
  const o = { ...DEFAULTS } as { -readonly [K in keyof ResolvedOptions]: ResolvedOptions[K] }
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (o as Record<string, unknown>)[k] = v
  for (
    const k of ["silentShare", "lossRate", "bep51Share", "dosBlockerShare", "refusedShare", "hostileShare"] as const
  ) {
    share(k, o[k])
  }
  if (!Number.isInteger(o.nodes) || o.nodes < 16) throw new RangeError(`nodes must be an integer ≥ 16, got ${o.nodes}`)
  if (o.nodes > 200_000) throw new RangeError(`nodes must be at most 200,000, got ${o.nodes}`)
  if (!Number.isInteger(o.liveTorrents) || o.liveTorrents < 0) throw new RangeError("liveTorrents must be ≥ 0")
  if (!(o.churnPerMinute >= 0 && o.churnPerMinute < 1)) throw new RangeError("churnPerMinute must be in [0, 1)")
  if (!(o.staleRatio >= 0)) throw new RangeError("staleRatio must be ≥ 0")
  if (o.nodesPerWorker < 100 || o.nodesPerWorker > 15_000) throw new RangeError("nodesPerWorker must be 100–15,000")
  o.bootstrapCount = Math.max(1, Math.min(o.bootstrapCount, Math.floor(o.nodes * (1 - o.silentShare))))
  return o
}
