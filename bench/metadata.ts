// bench/metadata: BitScrape's metadata fetcher against a reference built on npm bittorrent-protocol + ut_metadata
// (issue 6), on the same loopback libtorrent seeders in one run.
//
// For each size N (BITSCRAPE_BENCH_TORRENTS_LIST, default "100,1000,10000"): python3-libtorrent sessions seeding N
// tiny v1 torrents between them (test/support/seeders/LibtorrentSeeders.ts, `bulk`; one session per
// BITSCRAPE_BENCH_TORRENTS_PER_SEEDER torrents on 127.41.0.1, 127.41.0.2, …; default one session, since the
// seeder names bulk torrents by index only and two sessions would seed the same torrents). The list of
// { infoHashHex, host, port } goes to a temp file; then each contender fetches every infohash from a fresh
// process, one after the other, the order alternating between rounds and sizes:
//   - reference: bench/referenceFetcher.mjs (bittorrent-protocol Wire + ut_metadata, SHA-1 checked against the
//     requested infohash, at most 64 connections at once);
//   - BitScrape: bench/metadataRunner.ts through tsx, MetadataFetcher.run with maxConnections 64 and maxAttempts 1
//     (BITSCRAPE_BENCH_METADATA_MODES=run,fetch adds the one-call MetadataFetcher.fetch under Effect.forEach).
// Warm-up (BITSCRAPE_BENCH_METADATA_WARMUP, default 1000; 0 for none): the seeders also seed that many further
// torrents, and every child first fetches those, untimed, the same way and in the same process (the child gets
// the list in BITSCRAPE_BENCH_WARMUP_LIST), so that a run of 100 torrents (~0.1 s) does not mostly measure a cold
// JIT. Both contenders get the same warm-up.
// Each child reports its fetching wall time, CPU seconds (process.cpuUsage over the fetching), peak RSS (VmHWM,
// start-up included) and connections opened; rounds per size: BITSCRAPE_BENCH_METADATA_ROUNDS (default 3 up to
// 1,000 torrents, else 1); medians are reported.
//
// Network safety: seeders and clients use 127.0.0.0/8 only and every child runs under the loopback guard. Run it
// in a private network namespace:
//   bash scripts/netns.sh npx tsx bench/run.ts metadata
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import "../test/support/loopbackGuard.mjs"
import { type LibtorrentSeededTorrent, makeLibtorrentSeeders } from "../test/support/seeders/LibtorrentSeeders.js"
import { envNumber } from "./harness.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const guard = path.join(root, "test/support/loopbackGuard.mjs")
const referenceScript = path.join(root, "bench/referenceFetcher.mjs")

const sizes = (process.env["BITSCRAPE_BENCH_TORRENTS_LIST"] ?? "100,1000,10000").split(",")
  .map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0)
/** The seeder names bulk torrents by index only, so two sessions would seed the same torrents: one by default. */
const perSeeder = envNumber("BITSCRAPE_BENCH_TORRENTS_PER_SEEDER", 100_000)
const maxConnections = envNumber("BITSCRAPE_BENCH_MAX_CONNECTIONS", 64)
const roundsFor = (n: number) => envNumber("BITSCRAPE_BENCH_METADATA_ROUNDS", n <= 1000 ? 3 : 1)
/** Warm-up torrents (a separate set, seeded alongside) each contender fetches untimed before the timed set. */
const warmup = (() => {
  const v = Number(process.env["BITSCRAPE_BENCH_METADATA_WARMUP"] ?? 1000)
  return Number.isInteger(v) && v >= 0 ? v : 1000
})()
const modes = (process.env["BITSCRAPE_BENCH_METADATA_MODES"] ?? "run").split(",").map((s) => s.trim())
  .filter((m) => m === "run" || m === "fetch")

/** Extra Node flags for the BitScrape runner, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
const runnerNodeArgs = (process.env["BITSCRAPE_BENCH_RUNNER_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== "")
/** Another checkout's runner (a scratch copy with a src/ change to measure); default this one's. */
const runnerScript = process.env["BITSCRAPE_BENCH_RUNNER"] ?? path.join(root, "bench/metadataRunner.ts")

const log = (message: string) => process.stderr.write(`[bench/metadata] ${message}\n`)

export interface FetchSummary {
  readonly fetched: number
  readonly verified: number
  readonly failed: number
  readonly seconds: number
  readonly cpuSeconds: number
  readonly peakRssBytes: number
  readonly connections: number
  readonly errors: Readonly<Record<string, number>>
}

interface Contender {
  readonly name: string
  readonly args: (listPath: string) => ReadonlyArray<string>
}

const contenders: ReadonlyArray<Contender> = [
  {
    name: "reference (bittorrent-protocol + ut_metadata)",
    args: (list) => ["--import", guard, referenceScript, list, String(maxConnections)]
  },
  ...modes.map((mode) => ({
    name: mode === "run" ? "BitScrape MetadataFetcher.run" : "BitScrape MetadataFetcher.fetch ×forEach",
    args: (list: string) => [
      ...runnerNodeArgs,
      "--import",
      guard,
      "--import",
      "tsx",
      runnerScript,
      list,
      mode,
      String(maxConnections)
    ]
  }))
]

/** Runs one contender in a fresh Node process and parses its JSON summary. */
const runChild = (args: ReadonlyArray<string>, warmupPath: string | undefined): Promise<FetchSummary> =>
  new Promise((resolve, reject) => {
    const env = { ...process.env, BITSCRAPE_BENCH_WARMUP_LIST: warmupPath ?? "" }
    const child = spawn(process.execPath, [...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString()
      process.stderr.write(d)
    })
    child.on("error", reject)
    child.on("close", (code) => {
      const line = out.trim().split("\n").pop() ?? ""
      try {
        if (code !== 0) throw new Error(`exit ${code}`)
        resolve(JSON.parse(line) as FetchSummary)
      } catch (e) {
        reject(new Error(`${args.join(" ")}: ${String(e)}\n${err.slice(-2000)}\n${out.slice(-500)}`))
      }
    })
  })

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

interface SizeResult {
  readonly size: number
  readonly seeders: number
  readonly startupSeconds: number
  readonly runs: ReadonlyArray<ReadonlyArray<FetchSummary>> // per contender
}

/**
 * Seeds `size` + `warmup` torrents on ceil((size + warmup) / perSeeder) libtorrent sessions and runs every
 * contender `rounds` times: each fetches the warm-up set untimed, then the `size` others timed.
 */
const measureSize = (size: number, sizeIndex: number, dir: string) =>
  Effect.scoped(Effect.gen(function*() {
    const seeded = size + warmup
    const sessions = Math.ceil(seeded / perSeeder)
    const started = Date.now()
    const seeders = yield* Effect.forEach(
      Array.from({ length: sessions }, (_, i) => i),
      (i) =>
        makeLibtorrentSeeders({
          host: `127.41.0.${i + 1}`,
          // An empty list means every kind to the seeder: one small torrent, filtered out below.
          kinds: ["v1-single"],
          bulk: Math.floor(seeded / sessions) + (i < seeded % sessions ? 1 : 0),
          startTimeout: "300 seconds"
        }),
      { concurrency: "unbounded" }
    )
    const startupSeconds = (Date.now() - started) / 1000
    const torrents: Array<LibtorrentSeededTorrent> = []
    for (const s of seeders) torrents.push(...(yield* s.torrents()))
    const all = torrents.filter((t) => t.kind.startsWith("bulk-")).map((t) => ({
      infoHashHex: t.infoHashHex!,
      host: t.peer.host,
      port: t.peer.port
    }))
    if (new Set(all.map((t) => t.infoHashHex)).size !== seeded) {
      throw new Error(`seeded ${new Set(all.map((t) => t.infoHashHex)).size} distinct torrents, wanted ${seeded}`)
    }
    log(
      `${size} torrents (+ ${warmup} for warm-up) on ${sessions} libtorrent session(s), started in ${
        startupSeconds.toFixed(1)
      } s`
    )
    const list = all.slice(0, size)
    const listPath = path.join(dir, `list-${size}.json`)
    writeFileSync(listPath, JSON.stringify(list))
    const warmupPath = warmup > 0 ? path.join(dir, `warmup-${size}.json`) : undefined
    if (warmupPath !== undefined) writeFileSync(warmupPath, JSON.stringify(all.slice(size)))
    const runs: Array<Array<FetchSummary>> = contenders.map(() => [])
    const rounds = roundsFor(size)
    for (let r = 0; r < rounds; r++) {
      const order = contenders.map((_, i) => i)
      if ((r + sizeIndex) % 2 === 1) order.reverse()
      for (const i of order) {
        const summary = yield* Effect.promise(() => runChild(contenders[i]!.args(listPath), warmupPath))
        runs[i]!.push(summary)
        log(
          `${size} round ${r + 1}: ${contenders[i]!.name}: ${summary.verified}/${size} verified in ` +
            `${summary.seconds.toFixed(2)} s, ${summary.cpuSeconds.toFixed(2)} CPU s` +
            (summary.failed > 0 ? `, errors ${JSON.stringify(summary.errors)}` : "")
        )
      }
    }
    return { size, seeders: sessions, startupSeconds, runs } satisfies SizeResult
  }))

const fmt = (x: number, digits = 0) => x.toLocaleString("en-US", { maximumFractionDigits: digits })
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`

const table = (results: ReadonlyArray<SizeResult>) => {
  const rows = [
    "| torrents | fetcher | torrents/s | verified | connections/s | CPU s | CPU ms/torrent | peak RSS | ratio (torrents/s) |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
  ]
  for (const r of results) {
    const rate = (s: FetchSummary) => s.verified / s.seconds
    const refRate = median(r.runs[0]!.map(rate))
    contenders.forEach((c, i) => {
      const runs = r.runs[i]!
      const rates = runs.map(rate)
      const m = median(rates)
      const mid = runs[rates.indexOf(m)]!
      const spread = runs.length > 1 ? ` (${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))})` : ""
      rows.push(
        `| ${fmt(r.size)} | ${c.name} | ${fmt(m)}${spread} | ${
          (100 * Math.min(...runs.map((s) => s.verified)) / r.size).toFixed(1)
        } % | ${fmt(mid.connections / mid.seconds)} | ${mid.cpuSeconds.toFixed(2)} | ${
          (1000 * mid.cpuSeconds / r.size).toFixed(2)
        } | ${mib(Math.max(...runs.map((s) => s.peakRssBytes)))} | ${i === 0 ? "1×" : `${(m / refRate).toFixed(2)}×`} |`
      )
    })
  }
  return rows.join("\n")
}

/** Runs every size and returns a Markdown section body (the caller adds the heading). */
export const runMetadataBench = async (): Promise<string> => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bitscrape-bench-metadata-"))
  try {
    const results: Array<SizeResult> = []
    for (const [i, size] of sizes.entries()) {
      results.push(await Effect.runPromise(measureSize(size, i, dir)))
    }
    const notes = results.map((r) =>
      `${fmt(r.size)} torrents: ${r.seeders} libtorrent session(s), seeding after ${r.startupSeconds.toFixed(1)} s; ${
        r.runs[0]!.length
      } round(s)`
    )
    return `${table(results)}\n\n${notes.join("; ")}. Max connections ${maxConnections} on both sides; ` +
      (warmup > 0
        ? `each contender first fetched ${warmup} other torrents untimed in the same process (warm-up); `
        : "no warm-up (each contender starts cold); ") +
      `torrents/s counts verified torrents over the fetching wall time (median over rounds, range in brackets); ` +
      `CPU seconds cover the fetching only; peak RSS is the process's VmHWM, start-up included.`
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.stdout.write(`${await runMetadataBench()}\n`)
}
