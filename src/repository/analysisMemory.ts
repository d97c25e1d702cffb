import { CATEGORIES, categoryOf, extensionOf } from "../domain/categories.js"
import type { DiscoverySource, InfohashRecord, Torrent } from "../domain/model.js"
import { DISCOVERY_SOURCES } from "../domain/model.js"
import type {
  ChurnAnalysis,
  ContentAnalysis,
  NodesAnalysis,
  PopularInfohash,
  PopularityAnalysis,
  ResponseRate,
  SourcesAnalysis,
  WindowedInfohash
} from "./analysisModel.js"
import {
  addByInterval,
  bucketOf,
  FILE_COUNT_EDGES,
  POPULARITY_WINDOWS,
  rateInterval,
  SESSION_EDGES,
  SIZE_EDGES,
  windowStart
} from "./analysisModel.js"

// The analyses over rows in memory (RepositoryMemory): the same answers as analysisSql.ts, computed in plain
// JavaScript. Lists are ordered as the SQL orders them (count descending, then key ascending).

const DAY = 86_400_000

const byCountThenKey = <K extends string | undefined>(
  counts: Map<K, number>,
  top: number,
  compareKeys: (a: K, b: K) => number
) => [...counts].sort(([a, x], [b, y]) => y - x || compareKeys(a, b)).slice(0, top)

const text = (a: string | undefined, b: string | undefined) =>
  a === b ? 0 : a === undefined ? -1 : b === undefined ? 1 : a < b ? -1 : 1

export const contentOf = (torrents: ReadonlyArray<Torrent>, top: number): ContentAnalysis => {
  const categories = new Map(CATEGORIES.map((c) => [c, { torrents: 0, bytes: 0 }]))
  const sizes = SIZE_EDGES.map(() => 0)
  const fileCounts = FILE_COUNT_EDGES.map(() => 0)
  const extensions = new Map<string, { files: number; bytes: number }>()
  let bytes = 0
  let files = 0
  let priv = 0
  const versions = { v1: 0, v2: 0, hybrid: 0 }
  for (const t of torrents) {
    const c = categories.get(categoryOf(t.files))!
    c.torrents++
    c.bytes += t.totalLength
    sizes[bucketOf(SIZE_EDGES, t.totalLength)]!++
    fileCounts[bucketOf(FILE_COUNT_EDGES, t.files.length)]!++
    bytes += t.totalLength
    files += t.files.length
    if (t.private) priv++
    versions[t.version]++
    for (const f of t.files) {
      const e = extensionOf(f.path)
      const x = extensions.get(e) ?? { files: 0, bytes: 0 }
      x.files++
      x.bytes += f.length
      extensions.set(e, x)
    }
  }
  const extCounts = new Map([...extensions].map(([e, x]) => [e, x.files]))
  return {
    torrents: torrents.length,
    bytes,
    categories: CATEGORIES.map((category) => ({ category, ...categories.get(category)! })),
    sizes: { edges: SIZE_EDGES, counts: sizes },
    fileCounts: { edges: FILE_COUNT_EDGES, counts: fileCounts },
    files,
    extensions: byCountThenKey(extCounts, top, text).map(([extension, n]) => ({
      extension,
      files: n,
      bytes: extensions.get(extension)!.bytes
    })),
    versions,
    private: priv
  }
}

export const sourcesOf = (records: ReadonlyArray<InfohashRecord>, days: number): SourcesAnalysis => {
  const has = (r: InfohashRecord, s: DiscoverySource) => r.seen[s] > 0
  const fetched = (r: InfohashRecord) => r.status === "fetched"
  const count = (f: (r: InfohashRecord) => boolean) => records.filter(f).length
  const byDay = new Map<number, { seen: number; withPeers: number; fetched: number }>()
  for (const r of records) {
    const d = Math.floor(r.firstSeen / DAY) * DAY
    const x = byDay.get(d) ?? { seen: 0, withPeers: 0, fetched: 0 }
    x.seen++
    if (r.peersSeen > 0) x.withPeers++
    if (fetched(r)) x.fetched++
    byDay.set(d, x)
  }
  return {
    infohashes: records.length,
    sources: DISCOVERY_SOURCES.map((source) => ({
      source,
      infohashes: count((r) => has(r, source)),
      only: count((r) => has(r, source) && DISCOVERY_SOURCES.every((x) => x === source || !has(r, x))),
      sightings: records.reduce((n, r) => n + r.seen[source], 0),
      withPeers: count((r) => has(r, source) && r.peersSeen > 0),
      fetched: count((r) => has(r, source) && fetched(r))
    })),
    overlap: DISCOVERY_SOURCES.flatMap((a, i) =>
      DISCOVERY_SOURCES.slice(i + 1).map((b) => ({ a, b, infohashes: count((r) => has(r, a) && has(r, b)) }))
    ),
    funnel: {
      seen: records.length,
      withPeers: count((r) => r.peersSeen > 0),
      fetched: count(fetched),
      failed: count((r) => r.status === "failed")
    },
    byDay: [...byDay].sort(([a], [b]) => a - b).slice(-days).map(([day, x]) => ({ day, ...x }))
  }
}

/** A node as RepositoryMemory keeps it. */
export interface MemoryNode {
  readonly host: string
  readonly lastResponse: number | undefined
  readonly bep42: boolean | undefined
  readonly version: Uint8Array | undefined
  readonly readOnly: boolean
  readonly bep51: boolean | undefined
}

export const nodesOf = (
  nodes: ReadonlyArray<MemoryNode>,
  torrents: ReadonlyArray<Torrent>,
  top: number
): NodesAnalysis => {
  const count = (f: (n: MemoryNode) => boolean) => nodes.filter(f).length
  const versions = new Map<string | undefined, number>()
  for (const n of nodes) {
    const key = n.version === undefined ? undefined : Buffer.from(n.version).toString("hex")
    versions.set(key, (versions.get(key) ?? 0) + 1)
  }
  const clients = new Map<string | undefined, number>()
  for (const t of torrents) clients.set(t.sourceClient, (clients.get(t.sourceClient) ?? 0) + 1)
  const valid = count((n) => n.bep42 === true)
  const invalid = count((n) => n.bep42 === false)
  const yes = count((n) => n.bep51 === true)
  const no = count((n) => n.bep51 === false)
  const v6 = count((n) => n.host.includes(":"))
  return {
    nodes: nodes.length,
    responded: count((n) => n.lastResponse !== undefined),
    // Hex order is byte order, as the databases compare BLOBs.
    versions: byCountThenKey(versions, top, text).map(([hex, n]) => ({
      version: hex === undefined ? undefined : new Uint8Array(Buffer.from(hex, "hex")),
      nodes: n
    })),
    bep42: { valid, invalid, unknown: nodes.length - valid - invalid },
    bep51: { yes, no, unknown: nodes.length - yes - no },
    readOnly: count((n) => n.readOnly),
    ipv4: nodes.length - v6,
    ipv6: v6,
    torrentClients: byCountThenKey(clients, top, text).map(([client, n]) => ({ client, torrents: n }))
  }
}

/** The stored per-minute rates of the last `days` days before the newest, summed per interval (as analysisSql). */
const responseRatesOf = (minutes: ReadonlyArray<ResponseRate>, days: number): ChurnAnalysis["responseRates"] => {
  if (minutes.length === 0) return { interval: rateInterval(0, 0), points: [] }
  const last = Math.max(...minutes.map((m) => m.at))
  const from = last - (days - 1) * DAY - (last % DAY)
  const first = Math.min(...minutes.filter((m) => m.at >= from).map((m) => m.at))
  const interval = rateInterval(first, last)
  const sums = addByInterval(new Map(), minutes.filter((m) => m.at >= first), interval)
  return { interval, points: [...sums.values()].sort((a, b) => a.at - b.at) }
}

export const churnOf = (
  nodes: ReadonlyArray<{ readonly firstSeen: number; readonly lastResponse: number | undefined }>,
  days: number,
  rates: ReadonlyArray<ResponseRate> = []
): ChurnAnalysis => {
  const sessions = SESSION_EDGES.map(() => 0)
  const byDay = new Map<number, { seen: number; responded: number }>()
  let responded = 0
  for (const n of nodes) {
    const d = Math.floor(n.firstSeen / DAY) * DAY
    const x = byDay.get(d) ?? { seen: 0, responded: 0 }
    x.seen++
    if (n.lastResponse !== undefined) {
      responded++
      x.responded++
      sessions[bucketOf(SESSION_EDGES, n.lastResponse - n.firstSeen)]!++
    }
    byDay.set(d, x)
  }
  return {
    nodes: nodes.length,
    responded,
    sessions: { edges: SESSION_EDGES, counts: sessions },
    byDay: [...byDay].sort(([a], [b]) => a - b).slice(-days).map(([day, x]) => ({ day, ...x })),
    responseRates: responseRatesOf(rates, days)
  }
}

/** An infohash as RepositoryMemory keeps it, for popularity. */
export interface MemoryInfohash {
  readonly record: InfohashRecord
  readonly peerTimes: ReadonlyArray<number>
  readonly name: string | undefined
}

export const popularityOf = (
  rows: ReadonlyArray<MemoryInfohash>,
  since: number | undefined,
  top: number,
  now: number,
  hours: ReadonlyMap<number, ReadonlyMap<string, Readonly<Record<DiscoverySource, number>>>>
): PopularityAnalysis => {
  const byKey = new Map(rows.map((r) => [Buffer.from(r.record.infoHash).toString("hex"), r]))
  const windows = POPULARITY_WINDOWS.map((h) => {
    const start = windowStart(now, h)
    const sums = new Map<string, Record<DiscoverySource, number>>()
    for (const [hour, counts] of hours) {
      if (hour < start || hour > now) continue
      for (const [key, c] of counts) {
        const x = sums.get(key) ?? { sample: 0, get_peers: 0, announce: 0, lookup: 0 }
        for (const s of DISCOVERY_SOURCES) x[s] += c[s]
        sums.set(key, x)
      }
    }
    const list: Array<WindowedInfohash> = []
    for (const [key, bySource] of sums) {
      const r = byKey.get(key)
      if (r === undefined) continue
      list.push({
        infoHash: r.record.infoHash,
        sightings: DISCOVERY_SOURCES.reduce((n, s) => n + bySource[s], 0),
        bySource,
        peers: r.peerTimes.filter((t) => t >= start).length,
        name: r.name,
        swarm: r.record.swarm
      })
    }
    const hex = (x: WindowedInfohash) => Buffer.from(x.infoHash).toString("hex")
    list.sort((a, b) => b.sightings - a.sightings || (hex(a) < hex(b) ? -1 : 1))
    return { hours: h, since: start, top: list.slice(0, top) }
  })
  const bySwarm = rows.filter((r) =>
    r.record.swarm !== undefined && (since === undefined || r.record.swarm.at >= since)
  ).map((r) => ({ infoHash: r.record.infoHash, ...r.record.swarm!, name: r.name }))
    .sort((a, b) =>
      b.seeders + b.leechers - a.seeders - a.leechers ||
      (Buffer.from(a.infoHash).toString("hex") < Buffer.from(b.infoHash).toString("hex") ? -1 : 1)
    ).slice(0, top)
  const item = (r: MemoryInfohash, peers: number): PopularInfohash => ({
    infoHash: r.record.infoHash,
    peers,
    sightings: DISCOVERY_SOURCES.reduce((n, s) => n + r.record.seen[s], 0),
    firstSeen: r.record.firstSeen,
    lastSeen: r.record.lastSeen,
    name: r.name
  })
  const hex = (x: PopularInfohash) => Buffer.from(x.infoHash).toString("hex")
  const order = (key: (x: PopularInfohash) => number) => (a: PopularInfohash, b: PopularInfohash) =>
    key(b) - key(a) || (hex(a) < hex(b) ? -1 : 1)
  const byPeers = rows
    .map((r) => item(r, since === undefined ? r.peerTimes.length : r.peerTimes.filter((t) => t >= since).length))
    .filter((x) => x.peers > 0).sort(order((x) => x.peers)).slice(0, top)
  const bySightings = rows.filter((r) => since === undefined || r.record.lastSeen >= since)
    .map((r) => item(r, r.peerTimes.length)).sort(order((x) => x.sightings)).slice(0, top)
  return { since, byPeers, bySightings, now, windows, bySwarm }
}
