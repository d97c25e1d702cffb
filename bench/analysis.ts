// bench/analysis: every database analysis (docs/analysis.md) on a generated SQLite database of
// BITSCRAPE_BENCH_TORRENTS torrents (default 1,000,000): 1–5 files each with extensions of every category, an
// infohash row per torrent plus as many without metadata, ~10 sightings per infohash over the four sources (10 M+
// in all), 2 peers per infohash, and one node row per torrent with client versions. Written with better-sqlite3
// into the Repository's schema (migrated first, so the category column is there) and cached in os.tmpdir() by
// data version and size; then each analysis runs 3 times through `Repository` and the median is reported.
import { Effect, Exit, Layer, ManagedRuntime, Scope } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { RepositoryPostgres, RepositorySqlite } from "../src/repository/layers.js"
import { categoryOf, extensionOf, Repository } from "../src/repository/Repository.js"
import { makePostgresServer } from "../test/support/postgres.js"

interface SqliteStatement {
  run(...params: ReadonlyArray<unknown>): unknown
  get(...params: ReadonlyArray<unknown>): unknown
  iterate(...params: ReadonlyArray<unknown>): IterableIterator<unknown>
  raw(on: boolean): SqliteStatement
}
interface SqliteDb {
  prepare(sql: string): SqliteStatement
  pragma(text: string): unknown
  transaction<A extends ReadonlyArray<unknown>>(f: (...args: A) => void): (...args: A) => void
  close(): void
}
interface PgClient {
  connect(): Promise<void>
  query(text: string): Promise<{ readonly rows: ReadonlyArray<Record<string, unknown>> }>
  end(): Promise<void>
}
const requireCjs = createRequire(import.meta.url)
const Database = requireCjs("better-sqlite3") as new(filename: string) => SqliteDb
const pg = requireCjs("pg") as { readonly Client: new(config: { readonly connectionString: string }) => PgClient }
/** Which backends run: BITSCRAPE_BENCH_BACKENDS=sqlite,postgres (default both). */
const BACKENDS = new Set(
  (process.env.BITSCRAPE_BENCH_BACKENDS ?? "sqlite,postgres").split(",").map((x) => x.trim())
)

const TORRENTS = Number(process.env.BITSCRAPE_BENCH_TORRENTS ?? 1_000_000)
// v3: migration 0011 (its triggers keep the aggregates as the generator writes; docs/analysis.md).
const DATA_VERSION = "analysis-v3"
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

/** The hour the popularity windows end in (the generated sightings lie in the 8 days before it). */
const H_END = T0 + 366 * DAY
const NOW = H_END + 30 * 60_000
const HOUR = 3_600_000

/**
 * Migration 0008's data, added to the cached data set once (it is migrated first): sightings per hour, source
 * and infohash over the last 8 days (≈ 2.7 M rows, ≈ 5 M sightings), a BEP 33 estimate for a quarter of the
 * infohashes, and 30 days of per-minute query counts.
 */
const augment = async (file: string) => {
  await Effect.runPromise(Effect.scoped(Layer.build(RepositorySqlite(file))))
  const db = new Database(file)
  try {
    if (((db.prepare("SELECT count(*) AS n FROM infohash_hours").get() as { n: number }).n) > 0) return 0
    const t0 = performance.now()
    db.pragma("cache_size = -524288")
    const hour = db.prepare("INSERT INTO infohash_hours (hour, hash, source, sightings) VALUES (?, ?, ?, ?)")
    const swarm = db.prepare("UPDATE infohashes SET seeders = ?, leechers = ?, scraped_at = ? WHERE hash = ?")
    const rate = db.prepare("INSERT INTO response_rates (minute, queries, responses, timeouts) VALUES (?, ?, ?, ?)")
    const chunk = db.transaction((from: number, to: number) => {
      for (let i = from; i <= to; i++) {
        for (const salt of ["t", "u"]) {
          const hash = hashOf(i, salt)
          const h = H_END - (i % 192) * HOUR
          hour.run(h, hash, "sample", 1 + (i % 4))
          if (i % 3 === 0) hour.run(h - HOUR, hash, "announce", 1 + (i % 2))
          if (salt === "t" && i % 4 === 0) swarm.run(i % 50, i % 200, NOW - (i % 1000) * 60_000, hash)
        }
      }
    })
    for (let from = 1; from <= TORRENTS; from += 20_000) chunk(from, Math.min(TORRENTS, from + 19_999))
    db.transaction(() => {
      for (let m = 0; m < 30 * 1440; m++) rate.run(H_END - m * 60_000, 600, 300 + (m % 200), 250)
    })()
    return (performance.now() - t0) / 1000
  } finally {
    db.close()
  }
}

const escapeCopy = (x: string) =>
  x.replace(/[\\\t\n\r]/g, (c) => c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r")
const copyField = (x: unknown) =>
  x === null || x === undefined
    ? "\\N"
    : x instanceof Uint8Array
    ? `\\\\x${Buffer.from(x).toString("hex")}`
    : escapeCopy(String(x))

/** Columns migration 0011's triggers compute on PostgreSQL (not copied). */
const DERIVED = new Set(["torrents.popularity"])

/**
 * The hourly rows in the order a crawl writes them (SQLite keeps them clustered by infohash; PostgreSQL's heap is in
 * insertion order, so the copy should not hand it a table already sorted by infohash).
 */
const ORDER: Partial<Record<string, string>> = { infohash_hours: " ORDER BY hour, hash, source" }

/** Every table the analyses read, copied from the SQLite file into a migrated PostgreSQL database (COPY). */
export const loadPostgres = async (file: string, url: string, dir: string) => {
  const db = new Database(file)
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query("SET maintenance_work_mem = '1GB'")
    for (
      const table of [
        "nodes",
        "infohashes",
        "infohash_peers",
        "torrents",
        "files",
        "file_extensions",
        "infohash_hours",
        "response_rates"
      ]
    ) {
      const t0 = performance.now()
      const pgColumns = new Set(
        (await client.query(
          `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '${table}'`
        )).rows.map((r) => String(r.column_name))
      )
      const columns = db.prepare(`SELECT name FROM pragma_table_info('${table}')`).raw(true)
        .iterate() as IterableIterator<
          [string]
        >
      // torrents.popularity is kept by PostgreSQL's own trigger as the rows arrive.
      const names = [...columns].map(([n]) => n).filter((n) => pgColumns.has(n) && !DERIVED.has(`${table}.${n}`))
      // PostgreSQL's torrents carried a tsvector before migration 0012 (SQLite's full-text index is a table of its
      // own): empty here. Since 0012 the words are in torrent_words, not copied (no analysis reads them).
      const extra = table === "torrents" && pgColumns.has("search") ? ["search"] : []
      const tsv = path.join(dir, `${table}.tsv`)
      const fd = fs.openSync(tsv, "w", 0o644)
      let lines: Array<string> = []
      for (
        const row of db.prepare(`SELECT ${names.join(", ")} FROM ${table}${ORDER[table] ?? ""}`).raw(true)
          .iterate() as IterableIterator<
            Array<unknown>
          >
      ) {
        lines.push([...row.map(copyField), ...extra.map(() => "")].join("\t"))
        if (lines.length >= 10_000) {
          fs.writeSync(fd, lines.join("\n") + "\n")
          lines = []
        }
      }
      if (lines.length > 0) fs.writeSync(fd, lines.join("\n") + "\n")
      fs.closeSync(fd)
      await client.query(`COPY ${table} (${[...names, ...extra].join(", ")}) FROM '${tsv.replace(/'/g, "''")}'`)
      fs.rmSync(tsv, { force: true })
      log(`postgres: ${table} copied in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
    }
    await client.query("VACUUM ANALYZE")
    // The pages a crawl wrote more than a moment ago are all-visible once autovacuum has passed (an index-only scan
    // then skips the heap); a lab run once found none marked after the VACUUM above, so it is logged and repeated.
    const visible = async () =>
      (await client.query(`SELECT relallvisible, relpages FROM pg_class WHERE relname = 'infohash_hours'`)).rows[0]
    log(`postgres: infohash_hours pages all-visible ${JSON.stringify(await visible())}`)
    await client.query("VACUUM infohash_hours")
    log(`postgres: after a second VACUUM ${JSON.stringify(await visible())}`)
  } finally {
    await client.end()
    db.close()
  }
}

const analyses = {
  content: (r: typeof Repository.Service) => r.analyzeContent({ top: 20 }),
  sources: (r: typeof Repository.Service) => r.analyzeSources({ days: 30 }),
  clients: (r: typeof Repository.Service) => r.analyzeNodes({ top: 1000 }),
  "churn (with response rates)": (r: typeof Repository.Service) => r.analyzeChurn({ days: 30 }),
  "popularity (all time; windows; swarm)": (r: typeof Repository.Service) => r.analyzePopularity({ top: 20, now: NOW }),
  "popularity (last 30 days)": (r: typeof Repository.Service) =>
    r.analyzePopularity({ top: 20, since: T0 + 335 * DAY, now: NOW }),
  "search, sort popular": (r: typeof Repository.Service) => r.search({ sort: "popular", limit: 20 }),
  "search, category video": (r: typeof Repository.Service) => r.search({ category: "video", limit: 20 })
}

const timeAll = async (layer: Layer.Layer<Repository, unknown>) => {
  const runtime = ManagedRuntime.make(layer)
  const rows: Array<string> = []
  try {
    for (const [name, run] of Object.entries(analyses)) {
      const times: Array<number> = []
      const cpu: Array<number> = []
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now()
        const c0 = process.cpuUsage()
        await runtime.runPromise(Effect.flatMap(Repository, (r) => run(r) as Effect.Effect<unknown, unknown>))
        times.push((performance.now() - t0) / 1000)
        const c = process.cpuUsage(c0)
        cpu.push((c.user + c.system) / 1e6)
      }
      times.sort((a, b) => a - b)
      cpu.sort((a, b) => a - b)
      // CPU seconds of this process: SQLite's work (in process), steadier than wall time on a loaded machine; on
      // PostgreSQL only the client's share.
      rows.push(
        `| ${name} | ${times[1]!.toFixed(2)} s | ${times[0]!.toFixed(2)} s | ${times[2]!.toFixed(2)} s | ${
          cpu[1]!.toFixed(2)
        } s |`
      )
      log(rows[rows.length - 1]!)
    }
  } finally {
    await runtime.dispose()
  }
  return rows
}

export const runAnalysisBench = async (): Promise<string> => {
  const data = await dataSet()
  const augmented = await augment(data.file)
  const sections: Array<string> = []
  const table = (title: string, rows: ReadonlyArray<string>) =>
    [
      title,
      "",
      "| analysis | median | fastest | slowest | CPU (median, this process) |",
      "|---|---|---|---|---|",
      ...rows
    ].join("\n")
  const built = `${data.seconds > 0 ? `data set built in ${data.seconds.toFixed(0)} s` : "cached data set"}${
    augmented > 0 ? `, migration 0008's rows added in ${augmented.toFixed(0)} s` : ""
  }`
  if (BACKENDS.has("sqlite")) {
    const rows = await timeAll(RepositorySqlite(data.file, { readOnly: true }))
    sections.push(table(`SQLite, ${TORRENTS.toLocaleString("en")} torrents (${built})`, rows))
  }
  if (BACKENDS.has("postgres")) {
    const scope = Effect.runSync(Scope.make())
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bitscrape-bench-analysis-copy-"))
    fs.chmodSync(dir, 0o755)
    try {
      const t0 = performance.now()
      const server = await Effect.runPromise(Scope.extend(makePostgresServer(), scope))
      const url = await Effect.runPromise(server.createDatabase("bench_analysis"))
      await Effect.runPromise(Effect.scoped(Layer.build(RepositoryPostgres(url))))
      await loadPostgres(data.file, url, dir)
      const load = (performance.now() - t0) / 1000
      log(`postgres: loaded in ${load.toFixed(0)} s`)
      const rows = await timeAll(RepositoryPostgres(url))
      sections.push(
        table(
          `PostgreSQL (test server on 127.0.0.1: fsync off, default shared_buffers and work_mem), the same data ` +
            `copied in ${load.toFixed(0)} s, then VACUUM ANALYZE`,
          rows
        )
      )
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
  return sections.join("\n\n")
}
