// bench/yield: real-world yield (issue 14, "Performance") — live torrents fetched per packet on the realistic network
// model (src/demo/realistic: ≥ 10,000 simulated DHT nodes on loopback, 40 % silent, lognormal delays, 3 % loss,
// dos_blocker, churn, live torrents on real BEP 9 seeders among ≥ 10× as many stale infohashes, hostile announcers).
//
// For each BEP 51 share (BITSCRAPE_BENCH_YIELD_SHARES, default "0.05,0.35"): one model instance with
// BITSCRAPE_BENCH_YIELD_NODES nodes (default 10,000), default knobs otherwise; all contenders crawl it at once for
// BITSCRAPE_BENCH_YIELD_SECONDS (default 600), each bound to its own address in 127.80.0.0/24 (outside the
// model's 127.100–195 range), bootstrapped from the model's bootstrap nodes, at the default packet budget (200/s):
//   - BitScrape: `bitscrape crawl --bootstrap <model bootstrap> --bind 127.80.0.1 --port 0 --allow 127.0.0.0/8
//     --no-ui --json --db <tmp> --duration S` plus BITSCRAPE_BENCH_YIELD_BITSCRAPE_ARGS (e.g. "--identities 32"),
//     compiled with tsc as shipped (BITSCRAPE_BENCH_BITSCRAPE_REV=<commit> builds a commit instead of the work
//     tree); what it fetched is the `torrents` table of its database (fetched_at).
//   - bench/referenceYieldCrawler.mjs (npm bittorrent-dht + bittorrent-protocol + ut_metadata) with 1 and 32 ids,
//     each with and without ask-the-sampler.
// BITSCRAPE_BENCH_YIELD_CONTENDERS picks a subset (bitscrape, ref1, ref32, ref32-ask, ref1-ask).
// Only the model's live torrents count. Packets: those the model received from each contender's address (its
// inbound counter per source IP) and those the kernel saw the contender send (iptables, inside scripts/netns.sh).
//
//   bash scripts/netns.sh npx tsx bench/run.ts yield                               (≈ 25 min, two shares)
//   BITSCRAPE_BENCH_YIELD_SECONDS=60 bash scripts/netns.sh npx tsx bench/run.ts yield   (smoke run)
import { Effect } from "effect"
import os from "node:os"
import { makeRealisticNetwork } from "../src/demo/realistic/index.js"
import "../test/support/loopbackGuard.mjs"
import {
  bitscrapeProgram,
  type ContenderResult,
  type ContenderSpec,
  fetchedBy,
  fmtMiB,
  loadAverage,
  makePacketCounter,
  type Program,
  runContender
} from "./contenders.js"
import { envNumber } from "./harness.js"

const log = (message: string) => process.stderr.write(`[bench/yield] ${message}\n`)
const seconds = envNumber("BITSCRAPE_BENCH_YIELD_SECONDS", 600)
const nodes = envNumber("BITSCRAPE_BENCH_YIELD_NODES", 10_000)
const shares = (process.env["BITSCRAPE_BENCH_YIELD_SHARES"] ?? "0.05,0.35").split(",").map(Number)
  .filter((s) => s >= 0 && s <= 1)
const extraArgs = (process.env["BITSCRAPE_BENCH_YIELD_BITSCRAPE_ARGS"] ?? "").split(" ").filter((s) => s !== "")
// BITSCRAPE_BENCH_YIELD_BASE_REV=<commit>: one more contender, "BitScrape at <commit>" (key bitscrape-base), built
// from that commit: a before/after pair in one run, on the same model and the same machine load.
const baseRev = process.env["BITSCRAPE_BENCH_YIELD_BASE_REV"]
const CHECKPOINTS = [...new Set([60, 120, 300, 600].filter((s) => s < seconds).concat(seconds))]

const ALL: ReadonlyArray<ContenderSpec & { readonly key: string }> = [
  { key: "bitscrape", name: "BitScrape", kind: "bitscrape", host: "127.80.0.1", extraArgs },
  { key: "ref1", name: "reference, 1 id", kind: "reference", host: "127.80.0.2", ids: 1 },
  { key: "ref32", name: "reference, 32 ids", kind: "reference", host: "127.80.0.3", ids: 32 },
  {
    key: "ref32-ask",
    name: "reference, 32 ids + ask-the-sampler",
    kind: "reference",
    host: "127.80.0.4",
    ids: 32,
    askSampler: true
  },
  {
    key: "ref1-ask",
    name: "reference, 1 id + ask-the-sampler",
    kind: "reference",
    host: "127.80.0.5",
    askSampler: true
  },
  // BitScrape variants, each with one strategy switched off (issue 14 item 4: each kept only where it helps).
  ...([
    ["no-ask", "BITSCRAPE_ASK_SAMPLER"],
    ["no-retry", "BITSCRAPE_RETRY_LOOKUPS"],
    ["no-evidence", "BITSCRAPE_EVIDENCE_PRIORITY"],
    ["no-shift", "BITSCRAPE_SHIFT_BUDGET"]
  ] as const).map(([key, variable], i) => ({
    key: `bitscrape-${key}`,
    name: `BitScrape without ${key.slice(3)}`,
    kind: "bitscrape" as const,
    host: `127.80.0.${6 + i}`,
    extraArgs,
    env: { [variable]: "false" }
  })),
  {
    key: "bitscrape-ids8",
    name: "BitScrape, 8 ids",
    kind: "bitscrape",
    host: "127.80.0.11",
    extraArgs: ["--identities", "8"]
  },
  {
    key: "bitscrape-ids32",
    name: "BitScrape, 32 ids",
    kind: "bitscrape",
    host: "127.80.0.10",
    extraArgs: ["--identities", "32"]
  },
  // BitScrape under V8 heap flags (issue 14, CPU and RSS), each beside the default in one run.
  ...([
    ["size", ["--optimize-for-size"]],
    ["stgc", ["--single-threaded-gc"]],
    ["old96", ["--max-old-space-size=96"]],
    ["grow50", ["--heap-growing-percent=50"]],
    ["grow20", ["--heap-growing-percent=20"]],
    ["semi8", ["--max-semi-space-size=8"]]
  ] as const).map(([key, flags], i) => ({
    key: `bitscrape-${key}`,
    name: `BitScrape, node ${flags.join(" ")}`,
    kind: "bitscrape" as const,
    host: `127.80.0.${12 + i}`,
    extraArgs,
    nodeFlags: flags
  })),
  ...(baseRev === undefined ? [] : [
    {
      key: "bitscrape-base",
      name: `BitScrape at ${baseRev}`,
      kind: "bitscrape" as const,
      host: "127.80.0.18",
      extraArgs
    }
  ])
]

interface ShareRun {
  readonly share: number
  readonly live: number
  readonly liveSet: ReadonlySet<string>
  readonly stale: number
  readonly modelStartSeconds: number
  /** Live torrents stored at some BEP 51 node during the run (sampling's ceiling). */
  readonly revealable: number
  readonly results: ReadonlyArray<{ readonly result: ContenderResult; readonly modelPackets: number | undefined }>
  readonly loads: ReadonlyArray<number>
  readonly modelStats: string
}

const oneShare = (
  share: number,
  specs: ReadonlyArray<ContenderSpec & { readonly key: string }>,
  programs: { readonly current: Program; readonly base: Program | undefined },
  block: number
) =>
  Effect.scoped(Effect.gen(function*() {
    log(`model: ${nodes} nodes, BEP 51 share ${share}; starting`)
    const model = yield* makeRealisticNetwork({ nodes, bep51Share: share, addressBlock: block })
    const live = new Set(model.liveTorrents.map((t) => t.infoHash))
    log(
      `model up in ${
        (model.info.startupMs / 1000).toFixed(0)
      } s: ${live.size} live torrents, ${model.staleInfohashes.length} stale infohashes, stale peers ${model.info.staleMode}`
    )
    const bootstrap = model.bootstrap.map((b) => `${b.host}:${b.port}`).join(",")
    const counter = makePacketCounter(log)
    yield* Effect.addFinalizer(() => Effect.sync(() => counter.close()))
    const loads: Array<number> = []
    // Every live torrent a BEP 51 node stored at some moment of the run: the most sampling alone could reveal.
    const revealable = new Set<string>(model.liveAtBep51Nodes())
    const sampler = setInterval(() => {
      loads.push(os.loadavg()[0]!)
      for (const h of model.liveAtBep51Nodes()) revealable.add(h)
    }, 30_000)
    const results = yield* Effect.promise(() =>
      Promise.all(specs.map((spec) => {
        const program = spec.key === "bitscrape-base" && programs.base !== undefined ? programs.base : programs.current
        return runContender({ spec, program, bootstrap, seconds, counter, log })
      }))
    ).pipe(Effect.ensuring(Effect.sync(() => clearInterval(sampler))))
    const inbound = new Map(model.inboundByIp().map((s) => [s.ip, s]))
    for (const r of results) {
      log(`${r.spec.name}: ${fetchedBy(r, live, seconds)} live fetched; ${r.details}`)
      const s = inbound.get(r.spec.host)
      if (s !== undefined) {
        log(`${r.spec.name}: the model received ${s.packets} packets, at most ${s.maxPerSecond} in 1 s`)
      }
    }
    log(`share ${share}: ${revealable.size} of ${live.size} live torrents were stored at a BEP 51 node during the run`)
    const run: ShareRun = {
      share,
      revealable: revealable.size,
      live: live.size,
      liveSet: live,
      stale: model.staleInfohashes.length,
      modelStartSeconds: model.info.startupMs / 1000,
      results: results.map((result) => ({ result, modelPackets: inbound.get(result.spec.host)?.packets })),
      loads,
      modelStats: JSON.stringify(model.stats()).slice(0, 1500)
    }
    return run
  }))

const perThousand = (fetched: number, packets: number | undefined) =>
  packets === undefined || packets === 0 ? "—" : (1000 * fetched / packets).toFixed(2)

const table = (runs: ReadonlyArray<ShareRun>) => {
  const lines = [
    `| BEP 51 share | crawler | live fetched by ${
      CHECKPOINTS.map((s) => s % 60 === 0 ? `${s / 60} min` : `${s} s`).join(" / ")
    } | packets received by the model (sent, kernel) | packets per fetched torrent | torrents per 1,000 packets | CPU-s (µs per packet sent) | peak RSS |`,
    "|---|---|---:|---:|---:|---:|---:|---:|"
  ]
  for (const run of runs) {
    for (const { modelPackets, result } of run.results) {
      const wanted = run.liveSet
      const fetched = fetchedBy(result, wanted, seconds)
      const packets = modelPackets ?? result.kernelPackets ?? result.selfReportedPackets
      const sent = result.kernelPackets ?? result.selfReportedPackets
      lines.push(
        `| ${(run.share * 100).toFixed(0)} % | ${result.spec.name}${
          result.spec.extraArgs?.length ? ` (${result.spec.extraArgs.join(" ")})` : ""
        } | ${CHECKPOINTS.map((s) => fetchedBy(result, wanted, s)).join(" / ")} of ${run.live} | ${
          packets?.toLocaleString("en") ?? "—"
        } (${sent?.toLocaleString("en") ?? "—"}) | ${
          fetched > 0 && packets !== undefined ? Math.round(packets / fetched).toLocaleString("en") : "—"
        } | ${perThousand(fetched, packets)} | ${result.cpuSeconds.toFixed(1)} (${
          sent ? (1e6 * result.cpuSeconds / sent).toFixed(0) : "—"
        }) | ${fmtMiB(result.peakRss)} |`
      )
    }
  }
  return lines
}

export const runYieldBench = async (): Promise<string> => {
  const picked = (process.env["BITSCRAPE_BENCH_YIELD_CONTENDERS"] ?? "bitscrape,ref1,ref32,ref32-ask,ref1-ask")
    .split(",")
  const specs = ALL.filter((c) => picked.includes(c.key))
  const program = bitscrapeProgram("bench-yield", log)
  log(`BitScrape runs as ${program.label}${extraArgs.length > 0 ? ` with ${extraArgs.join(" ")}` : ""}`)
  const base = baseRev === undefined ? undefined : bitscrapeProgram("bench-yield", log, baseRev)
  if (base !== undefined) log(`"BitScrape at ${baseRev}" runs as ${base.label}`)
  const loadBefore = loadAverage()
  const runs: Array<ShareRun> = []
  for (const [i, share] of shares.entries()) {
    const run = await Effect.runPromise(
      oneShare(share, specs, { current: program, base }, i).pipe(
        Effect.tap((r) => Effect.sync(() => log(`done share ${r.share}`)))
      )
    )
    runs.push(run)
  }
  return [
    `${
      nodes.toLocaleString("en")
    } model nodes, default knobs; all contenders at once on one model per share, ${seconds} s, packet budget 200/s each (both defaults); BitScrape as ${program.label}${
      extraArgs.length > 0 ? ` with ${extraArgs.join(" ")}` : ""
    }. Load (1-minute average): ${loadBefore} before; during each share ${
      runs.map((r) => `${r.share}: ${Math.min(...r.loads).toFixed(1)}–${Math.max(...r.loads).toFixed(1)}`).join(", ")
    }.`,
    "",
    ...table(runs),
    "",
    ...runs.map((r) =>
      `- share ${r.share}: ${r.live} live torrents (${r.revealable} of them stored at a BEP 51 node at some point of the run), ${r.stale} stale infohashes; model up in ${
        r.modelStartSeconds.toFixed(0)
      } s; model stats ${r.modelStats}`
    ),
    "",
    "Run details:",
    ...runs.flatMap((r) => r.results.map(({ result }) => `- ${r.share} / ${result.spec.name}: ${result.details}`))
  ].join("\n")
}
