// bench/rowDecode: what decoding rows through their Schemas (src/repository/sqlRows.ts) costs, against the
// hand-written coercions it replaced (`Number(r.x)`, `new Uint8Array(r.hash)`, `String(r.name)`), on rows shaped
// as each driver gives them (SQLite: numbers; PostgreSQL: BIGINT and counts as text). The shapes are those of the
// hot reads: a search page (20 summaries), a page of an export (500 torrents), and SQLite's one-pass search
// listing up to 10,001 full-text hits. Wall time per batch, median of interleaved rounds.
import { Either, Schema } from "effect"
import { performance } from "node:perf_hooks"
import { decodeRows, HitRow, SummaryRow, TorrentRow } from "../src/repository/sqlRows.js"
import { consume } from "./harness.js"

const ROUNDS = 15

type Row = Record<string, unknown>
const num = (x: unknown) => Number(x)
const bytes = (x: unknown) => x instanceof Uint8Array ? new Uint8Array(x) : new Uint8Array(0)

const summaryRow = (i: number, pg: boolean): Row => ({
  hash: Buffer.alloc(20, i),
  name: `Some.Release.Name.${i}.1080p.WEB`,
  total_length: pg ? String(1_000_000_000 + i) : 1_000_000_000 + i,
  file_count: 3,
  discovered_at: pg ? String(1_700_000_000_000 + i) : 1_700_000_000_000 + i,
  fetched_at: pg ? String(1_700_000_100_000 + i) : 1_700_000_100_000 + i,
  category: "video"
})
const torrentRow = (i: number, pg: boolean): Row => ({
  ...summaryRow(i, pg),
  id: pg ? String(i + 1) : i + 1,
  hash_v2: null,
  name_raw: Buffer.from(`Some.Release.Name.${i}`),
  piece_length: 262_144,
  private: 0,
  version: "v1",
  info: Buffer.alloc(400, i),
  source_host: "127.0.0.1",
  source_port: 6881,
  source_client: null
})
const hitRow = (i: number): Row => ({ id: i + 1, rank: -1.5 - i / 1e5 })

// The coercions of the code before the row schemas (sqlRepository.ts summaryOf / torrentOf, the one-pass map).
const oldSummary = (r: Row) => ({
  infoHash: bytes(r.hash),
  name: String(r.name),
  totalLength: num(r.total_length),
  fileCount: num(r.file_count),
  discoveredAt: num(r.discovered_at),
  fetchedAt: num(r.fetched_at),
  category: r.category === null || r.category === undefined ? undefined : String(r.category)
})
const oldTorrent = (r: Row) => ({
  ...oldSummary(r),
  id: num(r.id),
  infoHashV2: r.hash_v2 === null ? undefined : bytes(r.hash_v2),
  nameRaw: bytes(r.name_raw),
  pieceLength: r.piece_length === null ? undefined : num(r.piece_length),
  private: num(r.private) === 1,
  version: String(r.version),
  info: bytes(r.info),
  sourcePeer: r.source_host === null ? undefined : { host: String(r.source_host), port: num(r.source_port) },
  sourceClient: r.source_client === null ? undefined : String(r.source_client)
})
const oldHit = (r: Row) => ({ id: num(r.id), rank: Number(r.rank) })

const cpuMicros = (f: () => void, reps: number) => {
  const t0 = performance.now()
  for (let i = 0; i < reps; i++) f()
  return (performance.now() - t0) * 1000 / reps
}
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export const runRowDecodeBench = () => {
  const cases = [
    {
      what: "search page: 20 summaries (SQLite)",
      rows: Array.from({ length: 20 }, (_, i) => summaryRow(i, false)),
      schema: SummaryRow,
      old: oldSummary,
      reps: 2000
    },
    {
      what: "search page: 20 summaries (PostgreSQL)",
      rows: Array.from({ length: 20 }, (_, i) => summaryRow(i, true)),
      schema: SummaryRow,
      old: oldSummary,
      reps: 2000
    },
    {
      what: "export page: 500 torrents (SQLite)",
      rows: Array.from({ length: 500 }, (_, i) => torrentRow(i, false)),
      schema: TorrentRow,
      old: oldTorrent,
      reps: 60
    },
    {
      what: "one-pass search: 10,001 hits (SQLite)",
      rows: Array.from({ length: 10_001 }, (_, i) => hitRow(i)),
      schema: HitRow,
      old: oldHit,
      reps: 6
    }
  ] as const
  const lines = [
    "Rows decoded by `decodeRows` (src/repository/sqlRows.ts: the loop compiled from the row Schema, the Schema itself at the first value that does not fit), by the generic Schema parser alone (`Schema.decodeUnknownEither`), and by the hand-written coercions they replaced, on rows shaped as the driver gives them; wall time per batch of rows, median of 15 interleaved rounds (no database: the decoding alone).",
    "",
    "| rows | coercions (before) | Schema parser alone | `decodeRows` | `decodeRows` / coercions |",
    "|---|---:|---:|---:|---:|"
  ]
  for (const c of cases) {
    const olds: Array<number> = []
    const parsers: Array<number> = []
    const news: Array<number> = []
    const parse = Schema.decodeUnknownEither(Schema.Array(c.schema as typeof HitRow))
    for (let round = 0; round < ROUNDS; round++) {
      olds.push(cpuMicros(() => consume(c.rows.map(c.old as (r: Row) => unknown)), c.reps))
      parsers.push(cpuMicros(() => consume(Either.getOrThrow(parse(c.rows))), Math.max(1, Math.floor(c.reps / 4))))
      news.push(cpuMicros(() => consume(Either.getOrThrow(decodeRows(c.schema as typeof HitRow, c.rows))), c.reps))
    }
    const o = median(olds)
    const n = median(news)
    const fmt = (us: number) => us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`
    lines.push(`| ${c.what} | ${fmt(o)} | ${fmt(median(parsers))} | ${fmt(n)} | ${(n / o).toFixed(1)}× |`)
  }
  return lines.join("\n")
}
