// Text formats shared by the CLI commands (and later the web UI): sizes, dates, magnets, CSV.
import type { InfoHash } from "./ids.js"
import { toHex } from "./ids.js"
import type { SavedSearch, TorrentSummary } from "./model.js"

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]

/** 1536 → "1.5 KiB". */
export const humanSize = (bytes: number): string => {
  let n = bytes
  let u = 0
  while (n >= 1024 && u < UNITS.length - 1) {
    n /= 1024
    u++
  }
  return u === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${UNITS[u]}`
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40
}

/** "700MB", "1.5 GiB", "42" → bytes; `undefined` if not a size. */
export const parseSize = (text: string): number | undefined => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  if (m === null) return undefined
  const unit = SIZE_UNITS[m[2]!.toLowerCase()]
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit)
}

/** "2026-11-25" or an ISO date-time → ms; `undefined` if not a date. */
export const parseDate = (text: string): number | undefined => {
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) return undefined
  const ms = Date.parse(text.trim())
  return Number.isNaN(ms) ? undefined : ms
}

export const isoTime = (ms: number): string => new Date(ms).toISOString()

/** A magnet link: v1 `btih`, plus `btmh` (multihash SHA-256) for v2/hybrid torrents, and the name. */
export const magnet = (infoHash: InfoHash, name?: string, infoHashV2?: Uint8Array): string => {
  let uri = `magnet:?xt=urn:btih:${toHex(infoHash)}`
  if (infoHashV2 !== undefined && infoHashV2.length === 32) uri += `&xt=urn:btmh:1220${toHex(infoHashV2)}`
  if (name !== undefined && name !== "") uri += `&dn=${encodeURIComponent(name)}`
  return uri
}

/**
 * One CSV field (RFC 4180 quoting). Fields starting with = + - @ or a tab/CR are prefixed with a single quote
 * so a spreadsheet never runs a torrent name as a formula (names come from strangers on the network).
 */
export const csvField = (value: string | number | undefined): string => {
  if (value === undefined) return ""
  let s = String(value)
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`
  return /[",\r\n]/.test(s) ? `"${s.replaceAll("\"", "\"\"")}"` : s
}

/** Removes terminal control characters from network-supplied text before printing it. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g
export const printable = (text: string): string => text.replace(CONTROL, "\uFFFD")

/** The JSON form of a search result shared by `search --json` and the API. */
export const summaryJson = (t: TorrentSummary) => ({
  infohash: toHex(t.infoHash),
  name: t.name,
  length: t.totalLength,
  files: t.fileCount,
  discovered_at: isoTime(t.discoveredAt),
  fetched_at: isoTime(t.fetchedAt),
  ...(t.category === undefined ? {} : { category: t.category })
})

/** The JSON form of a torrent's metadata shared by `show`, `fetch` and the API. */
export const torrentJson = (t: {
  readonly infoHash: InfoHash
  readonly infoHashV2?: Uint8Array | undefined
  readonly name: string
  readonly totalLength: number
  readonly pieceLength: number | undefined
  readonly private: boolean
  readonly version: string
  readonly files: ReadonlyArray<{ readonly path: string; readonly length: number }>
  readonly sourcePeer?: { readonly host: string; readonly port: number } | undefined
  readonly sourceClient?: string | undefined
}) => ({
  infohash: toHex(t.infoHash),
  ...(t.infoHashV2 ? { infohash_v2: toHex(t.infoHashV2) } : {}),
  name: t.name,
  length: t.totalLength,
  piece_length: t.pieceLength,
  private: t.private,
  version: t.version,
  files: t.files.map((f) => ({ path: f.path, length: f.length })),
  source: t.sourcePeer ? { ...t.sourcePeer, client: t.sourceClient } : null,
  magnet: magnet(t.infoHash, t.name, t.infoHashV2)
})

/** A saved search as `saved … --json` prints it and `/api/saved-searches` returns it. */
export const savedSearchJson = (s: SavedSearch) => ({
  id: s.id,
  name: s.name,
  query: s.query,
  webhook: s.webhook,
  created_at: isoTime(s.createdAt),
  delivered: s.delivered,
  delivered_up_to: isoTime(s.cursor.fetchedAt),
  last_attempt_at: s.lastAttemptAt === undefined ? null : isoTime(s.lastAttemptAt),
  last_error: s.lastError ?? null
})
