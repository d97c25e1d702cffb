// bench/analysis: every database analysis (docs/analysis.md) on a generated SQLite database of
// BITSCRAPE_BENCH_TORRENTS torrents (default 1,000,000): 1–5 files each with extensions of every category, an
// infohash row per torrent plus as many without metadata, ~10 sightings per infohash over the four sources (10 M+
// in all), 2 peers per infohash, and one node row per torrent with client versions. Written with better-sqlite3
// into the Repository's schema (migrated first, so the category column is there) and cached in os.tmpdir() by
// data version and size; then each analysis runs 3 times through `Repository` and the median is reported.
import { Effect, Layer, ManagedRuntime } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { RepositorySqlite } from "../src/repository/layers.js"
import { categoryOf, extensionOf, Repository } from "../src/repository/Repository.js"

interface SqliteStatement {
  run(...params: ReadonlyArray<unknown>): unknown
}
interface SqliteDb {
  prepare(sql: string): SqliteStatement
  pragma(text: string): unknown
  transaction<A extends ReadonlyArray<unknown>>(f: (...args: A) => void): (...args: A) => void
  close(): void
}
const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => SqliteDb

const TORRENTS = Number(process.env.BITSCRAPE_BENCH_TORRENTS ?? 1_000_000)
const DATA_VERSION = "analysis-v2"
const DAY = 86_400_000
const T0 = Date.parse("2026-01-01")
const EXTENSIONS = [
  "mkv",
  "mp4",
  "flac",
  "mp3",
  "iso",
  "exe",
  "zip",
  "rar",
  "pdf",
  "epub",
  "jpg",
  "png",
  "nfo",
  "txt",
  "dat",
  ""
]
const log = (message: string) => process.stderr.write(`[analysis] ${message}\n`)

const hashOf = (i: number, salt: string) => createHash("sha1").update(`${salt}${i}`).digest()

const dataSet = async () => {
  const file = path.join(os.tmpdir(), `bitscrape-bench-${DATA_VERSION}-${TORRENTS}.sqlite`)
  if (fs.existsSync(file)) return { file, seconds: 0 }
  const t0 = performance.now()
  const partial = `${file}.partial-${process.pid}`
  await Effect.runPromise(Effect.scoped(Layer.build(RepositorySqlite(partial))))
  const db = new Database(partial)
  db.pragma("journal_mode = OFF")
  db.pragma("synchronous = OFF")
  db.pragma("cache_size = -524288")
  const torrent = db.prepare(
    `INSERT INTO torrents (id, hash, name, name_raw, total_length, piece_length, private, version, file_count, info,
       discovered_at, fetched_at, source_client, category) VALUES (?, ?, ?, ?, ?, 262144, ?, ?, ?, x'00', ?, ?, ?, ?)`
  )
  const file1 = db.prepare("INSERT INTO files (torrent_id, idx, path, length) VALUES (?, ?, ?, ?)")
  const infohash = db.prepare(
    `INSERT INTO infohashes (hash, first_seen, last_seen, seen_sample, seen_get_peers, seen_announce, seen_lookup,
       peers_seen, status) VALUES (?, ?, ?, ?, ?, ?, ?, 2, ?)`
  )
  const peer = db.prepare("INSERT INTO infohash_peers (hash, host, port, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)")
  const node = db.prepare(
    `INSERT INTO nodes (id, host, port, first_seen, last_seen, last_response, times_seen, bep42, version, bep51)
     VALUES (?, ?, 6881, ?, ?, ?, 1, ?, ?, ?)`
  )
  const extensions = new Map<string, { files: number; bytes: number }>()
  const versions = [Buffer.from("LT\x01\x02", "latin1"), Buffer.from("UT\x00\x05", "latin1"), null]
  const chunk = db.transaction((from: number, to: number) => {
    for (let i = from; i <= to; i++) {
      const at = T0 + (i % 365) * DAY + (i % 86_400) * 1000
      const files = Array.from({ length: 1 + (i % 5) }, (_, j) => {
        const ext = EXTENSIONS[(i * 7 + j) % EXTENSIONS.length]!
        return {
          path: `T${i}/file${j}${ext === "" ? "" : `.${ext}`}`,
          length: 1 + ((i * 2_654_435_761 + j) % 4_000_000_000)
        }
      })
      const total = files.reduce((n, f) => n + f.length, 0)
      const hash = hashOf(i, "t")
      infohash.run(hash, at, at + DAY, 4, 3, 2, 1, "fetched")
      infohash.run(hashOf(i, "u"), at, at, 1 + (i % 4), i % 3, 0, i % 2, "pending")
      torrent.run(
        i,
        hash,
        `Torrent ${i}`,
        Buffer.from(`Torrent ${i}`),
        total,
        i % 50 === 0 ? 1 : 0,
        i % 20 === 0 ? "hybrid" : i % 97 === 0 ? "v2" : "v1",
        files.length,
        at,
        at + 1000,
        ["-qB4630-", "-TR4050-", "-LT2090-"][i % 3],
        categoryOf(files)
      )
      files.forEach((f, j) => {
        file1.run(i, j, f.path, f.length)
        const e = extensions.get(extensionOf(f.path)) ?? { files: 0, bytes: 0 }
        e.files++
        e.bytes += f.length
        extensions.set(extensionOf(f.path), e)
      })
      for (let p = 0; p < 2; p++) {
        peer.run(hash, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 6881 + p, at, at + p * DAY)
      }
      node.run(
        hashOf(i, "n"),
        `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        at,
        at + 3600_000,
        i % 3 === 0 ? null : at + (i % 7) * 600_000,
        i % 2,
        versions[i % 3],
        i % 5 === 0 ? 1 : i % 5 === 1 ? 0 : null
      )
    }
  })
  for (let from = 1; from <= TORRENTS; from += 20_000) {
    chunk(from, Math.min(TORRENTS, from + 19_999))
    if ((from - 1) % 200_000 === 0) log(`data set ${from - 1}/${TORRENTS}`)
  }
  // What saveTorrents keeps as it stores torrents.
  const ext = db.prepare("INSERT INTO file_extensions (ext, files, bytes) VALUES (?, ?, ?)")
  for (const [name, e] of extensions) ext.run(name, e.files, e.bytes)
  db.close()
  fs.renameSync(partial, file)
  return { file, seconds: (performance.now() - t0) / 1000 }
}

export const runAnalysisBench = async (): Promise<string> => {
  const data = await dataSet()
  const runtime = ManagedRuntime.make(RepositorySqlite(data.file, { readOnly: true }))
  const rows: Array<string> = []
  try {
    const analyses = {
      content: (r: typeof Repository.Service) => r.analyzeContent({ top: 20 }),
      sources: (r: typeof Repository.Service) => r.analyzeSources({ days: 30 }),
      clients: (r: typeof Repository.Service) => r.analyzeNodes({ top: 1000 }),
      churn: (r: typeof Repository.Service) => r.analyzeChurn({ days: 30 }),
      "popularity (all time)": (r: typeof Repository.Service) => r.analyzePopularity({ top: 20 }),
      "popularity (last 30 days)": (r: typeof Repository.Service) =>
        r.analyzePopularity({ top: 20, since: T0 + 335 * DAY }),
      "search, sort popular": (r: typeof Repository.Service) => r.search({ sort: "popular", limit: 20 }),
      "search, category video": (r: typeof Repository.Service) => r.search({ category: "video", limit: 20 })
    }
    for (const [name, run] of Object.entries(analyses)) {
      const times: Array<number> = []
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now()
        await runtime.runPromise(Effect.flatMap(Repository, (r) => run(r) as Effect.Effect<unknown, unknown>))
        times.push((performance.now() - t0) / 1000)
      }
      times.sort((a, b) => a - b)
      rows.push(`| ${name} | ${times[1]!.toFixed(2)} s | ${times[0]!.toFixed(2)} s | ${times[2]!.toFixed(2)} s |`)
      log(rows[rows.length - 1]!)
    }
  } finally {
    await runtime.dispose()
  }
  return [
    `SQLite, ${TORRENTS.toLocaleString("en")} torrents${
      data.seconds > 0 ? ` (data set built in ${data.seconds.toFixed(0)} s)` : " (cached data set)"
    }`,
    "",
    "| analysis | median | fastest | slowest |",
    "|---|---|---|---|",
    ...rows
  ].join("\n")
}
