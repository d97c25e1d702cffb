// bench/sparse: the sparse third-party swarm of issue 14 (test/support/interop/SparseSwarm.ts: 200 npm
// bittorrent-dht nodes without BEP 51, 10 python3-libtorrent sessions with BEP 51 and a 60 s sample interval,
// 60 torrents seeded by the sessions and re-announced every 120 s, a background get_peers lookup every 2 s).
// Each contender crawls a fresh swarm (so no crawler inherits another's place in the routing tables) for
// BITSCRAPE_BENCH_SPARSE_SECONDS (default 150), bootstrapped from one bittorrent-dht node, and we count the
// swarm's torrents it *fetched* (metadata) by 60/90/120/150 s:
//   - BitScrape: `bitscrape crawl --bootstrap H:P --bind 127.70.0.1 --port 0 --allow 127.0.0.0/8 --no-ui --json
//     --db <tmp> --duration S` plus BITSCRAPE_BENCH_SPARSE_BITSCRAPE_ARGS (e.g. "--identities 32"); fetch times are
//     `fetched_at` in its database.
//   - bench/referenceYieldCrawler.mjs (bittorrent-dht + bittorrent-protocol + ut_metadata) with 1 and 32 ids.
// BITSCRAPE_BENCH_SPARSE_LOOKUPS=random makes the background lookups look for random targets instead of the torrents.
// BITSCRAPE_BENCH_SPARSE_CONTENDERS picks a subset by name (comma-separated: bitscrape, ref1, ref32, ref32-ask).
// Packets: counted by the kernel per source address (iptables, inside scripts/netns.sh), else self-reported.
//
//   bash scripts/netns.sh npx tsx bench/run.ts sparse        (≈ 3.5 min per contender)
import { Duration, Effect } from "effect"
import "../test/support/loopbackGuard.mjs"
import { makeSparseSwarm } from "../test/support/interop/SparseSwarm.js"
import {
  bitscrapeProgram,
  type ContenderResult,
  type ContenderSpec,
  fetchedBy,
  fmtMiB,
  loadAverage,
  makePacketCounter,
  packetsOf,
  runContender
} from "./contenders.js"

const log = (message: string) => process.stderr.write(`[bench/sparse] ${message}\n`)
const seconds = Number(process.env["BITSCRAPE_BENCH_SPARSE_SECONDS"] ?? "150")
const extraArgs = (process.env["BITSCRAPE_BENCH_SPARSE_BITSCRAPE_ARGS"] ?? "").split(" ").filter((s) => s !== "")
/** BITSCRAPE_BENCH_SPARSE_LOOKUPS: what the swarm's background lookups look for ("torrents" or "random"). */
const lookupTargets = process.env["BITSCRAPE_BENCH_SPARSE_LOOKUPS"] === "random"
  ? "random" as const
  : "torrents" as const
/** BITSCRAPE_BENCH_SPARSE_SETTLE_SECONDS: seconds from seeding to the crawler's start (default 20); the sessions
 * re-announce every 120 s, so it sets when in the crawl the next announce round falls. */
const settleSeconds = Number(process.env["BITSCRAPE_BENCH_SPARSE_SETTLE_SECONDS"] ?? "20")
/** BITSCRAPE_BENCH_SPARSE_LOOKUP_MS: one background lookup from a random swarm node every this many ms (2000). */
const lookupEveryMillis = Number(process.env["BITSCRAPE_BENCH_SPARSE_LOOKUP_MS"] ?? "2000")
const CHECKPOINTS = [60, 90, 120, 150].filter((s) => s <= seconds)

const ALL: ReadonlyArray<ContenderSpec & { readonly key: string }> = [
  { key: "bitscrape", name: "BitScrape", kind: "bitscrape", host: "127.70.0.1", extraArgs },
  { key: "ref1", name: "reference, 1 id", kind: "reference", host: "127.70.0.2", ids: 1 },
  { key: "ref32", name: "reference, 32 ids", kind: "reference", host: "127.70.0.3", ids: 32 },
  {
    key: "ref32-ask",
    name: "reference, 32 ids + ask-the-sampler",
    kind: "reference",
    host: "127.70.0.4",
    ids: 32,
    askSampler: true
  }
]

interface Row {
  readonly result: ContenderResult
  readonly wanted: ReadonlySet<string>
  readonly load: string
  readonly swarmStartSeconds: number
}

const oneRun = (spec: ContenderSpec, program: ReturnType<typeof bitscrapeProgram>) =>
  Effect.scoped(Effect.gen(function*() {
    const swarm = yield* makeSparseSwarm({
      lookupTargets,
      settle: Duration.seconds(settleSeconds),
      lookupEveryMillis: lookupEveryMillis
    })
    const wanted = new Set(swarm.torrents.map((t) => t.infoHashHex))
    if (process.env["BITSCRAPE_BENCH_KEEP_DB"] === "1") log(`torrents: ${[...wanted].join(",")}`)
    log(`swarm up in ${(swarm.startupMillis / 1000).toFixed(0)} s (${wanted.size} torrents); running ${spec.name}`)
    const counter = makePacketCounter(log)
    const result = yield* Effect.promise(() =>
      runContender({
        spec,
        program,
        bootstrap: `${swarm.bootstrap.host}:${swarm.bootstrap.port}`,
        seconds,
        counter,
        log
      })
    ).pipe(Effect.ensuring(Effect.sync(() => counter.close())))
    const row: Row = { result, wanted, load: loadAverage(), swarmStartSeconds: swarm.startupMillis / 1000 }
    log(`${spec.name}: ${fetchedBy(result, wanted, seconds)}/${wanted.size} fetched; ${result.details}`)
    return row
  }))

export const runSparseBench = async (): Promise<string> => {
  const picked = (process.env["BITSCRAPE_BENCH_SPARSE_CONTENDERS"] ?? "bitscrape,ref1,ref32").split(",")
  const specs = ALL.filter((c) => picked.includes(c.key))
  const program = bitscrapeProgram("bench-sparse", log)
  log(`BitScrape runs as ${program.label}${extraArgs.length > 0 ? ` with ${extraArgs.join(" ")}` : ""}`)
  const rows: Array<Row> = []
  for (const spec of specs) rows.push(await Effect.runPromise(oneRun(spec, program)))
  const head = `| crawler | ${
    CHECKPOINTS.map((s) => `fetched by ${s} s`).join(" | ")
  } | t50 | packets sent | CPU | peak RSS | load (1 min) at end |`
  const lines = [head, `|---|${CHECKPOINTS.map(() => "---:").join("|")}|---:|---:|---:|---:|---:|`]
  for (const { load, result, wanted } of rows) {
    const times = [...result.fetched].filter(([h]) => wanted.has(h)).map(([, ms]) => ms).sort((a, b) => a - b)
    const t50 = times.length >= wanted.size / 2
      ? `${(times[Math.ceil(wanted.size / 2) - 1]! / 1000).toFixed(0)} s`
      : "—"
    lines.push(
      `| ${result.spec.name}${result.spec.extraArgs?.length ? ` (${result.spec.extraArgs.join(" ")})` : ""} | ${
        CHECKPOINTS.map((s) => `${fetchedBy(result, wanted, s)}/${wanted.size}`).join(" | ")
      } | ${t50} | ${packetsOf(result).toLocaleString("en")} | ${result.cpuSeconds.toFixed(1)} s | ${
        fmtMiB(result.peakRss)
      } | ${load} |`
    )
  }
  return [
    `Each contender on a fresh sparse swarm (200 bittorrent-dht + 10 libtorrent nodes, 60 torrents, background lookups for ${
      lookupTargets === "random" ? "random targets" : "the torrents"
    }), ${seconds} s; ` +
    `packets counted ${
      rows[0]?.result.kernelPackets === undefined ? "by the contenders themselves" : "by the kernel (iptables)"
    }; BitScrape as ${program.label}.`,
    "",
    ...lines,
    "",
    "Run details:",
    ...rows.map((r) => `- ${r.result.spec.name} (swarm up in ${r.swarmStartSeconds.toFixed(0)} s): ${r.result.details}`)
  ].join("\n")
}
