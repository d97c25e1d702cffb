// bench/soak: memory over a long crawl (issue 16 item 3). `bitscrape crawl` as shipped (the tsc build, its own
// process) crawls the realistic loopback network model (src/demo/realistic) for BITSCRAPE_BENCH_SOAK_MINUTES
// (default 30) while:
//   - the swarm churns: BITSCRAPE_BENCH_SOAK_CHURN of the nodes leave per minute and as many fresh ones join
//     on new addresses (default 0.05, five times the model's default);
//   - new torrents keep appearing: simulated downloaders on 64 addresses send get_peers (and announce_peer with
//     a token they never got) for fresh random infohashes straight to the crawler, BITSCRAPE_BENCH_SOAK_NEW_PER_S
//     per second (default 20), so the set of infohashes it has seen grows all the time;
//   - the model's hostile BEP 9 peers (stall, trickle, lie, wrong metadata) announce a share of the live torrents
//     throughout;
//   - during the middle third a KRPC flood hits the crawler's DHT port: BITSCRAPE_BENCH_SOAK_FLOOD_PPS datagrams
//     per second (default 1,500) from 1,024 addresses, a mix of garbage, truncated and deeply nested bencode,
//     valid queries with random ids and infohashes, and responses and errors to transactions never sent.
// Every ~10 s it samples the crawl process's RSS (/proc), V8 heap in use (the crawl's /metrics over loopback
// HTTP) and queue depths (its --json progress line) into test-artifacts/soak.csv (BITSCRAPE_BENCH_SOAK_CSV), draws
// docs/soak.svg (BITSCRAPE_BENCH_SOAK_SVG) from them, and reports the RSS slope over the second half
// (least squares, MiB/min; target < 1).
//
//   nohup bash scripts/netns.sh npx tsx bench/run.ts soak > soak.out 2>&1 &           (≈ 32 min)
//   BITSCRAPE_BENCH_SOAK_MINUTES=3 bash scripts/netns.sh npx tsx bench/run.ts soak    (smoke run)
//   BITSCRAPE_BENCH_SOAK_FLOOD=4-12 …                                                   (the flood in minutes 4–12)
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import dgram from "node:dgram"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { createInterface } from "node:readline"
import { makeRealisticNetwork } from "../src/demo/realistic/index.js"
import "../test/support/loopbackGuard.mjs"
import { assertLoopback, bitscrapeProgram, root } from "./contenders.js"
import { envNumber } from "./harness.js"

const log = (message: string) => process.stderr.write(`[bench/soak] ${message}\n`)
const minutes = envNumber("BITSCRAPE_BENCH_SOAK_MINUTES", 30)
const nodes = envNumber("BITSCRAPE_BENCH_SOAK_NODES", 3_000)
const churn = envNumber("BITSCRAPE_BENCH_SOAK_CHURN", 0.05)
const newPerSecond = envNumber("BITSCRAPE_BENCH_SOAK_NEW_PER_S", 20)
const floodPps = envNumber("BITSCRAPE_BENCH_SOAK_FLOOD_PPS", 1_500)
/** BITSCRAPE_BENCH_SOAK_FLOOD="FROM-TO": the flood's minutes (default the middle third). */
const floodWindow = (() => {
  const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(process.env["BITSCRAPE_BENCH_SOAK_FLOOD"] ?? "")
  return m === null ? { from: minutes / 3, to: (2 * minutes) / 3 } : { from: Number(m[1]), to: Number(m[2]) }
})()
const csvPath = process.env["BITSCRAPE_BENCH_SOAK_CSV"] ?? path.join(root, "test-artifacts/soak.csv")
const svgPath = process.env["BITSCRAPE_BENCH_SOAK_SVG"] ?? path.join(root, "docs/soak.svg")
const extraArgs = (process.env["BITSCRAPE_BENCH_SOAK_ARGS"] ?? "").split(" ").filter((s) => s !== "")
const HOST = "127.80.0.1"
const DHT_PORT = 16_881
const UI_PORT = 16_882
const SAMPLE_MS = 10_000

// === Bencode for the hostile traffic (hand-written: malformed input must be possible) ===

type B = number | string | Uint8Array | ReadonlyArray<B> | { readonly [k: string]: B }
const benc = (v: B): Buffer => {
  if (typeof v === "number") return Buffer.from(`i${Math.trunc(v)}e`)
  if (typeof v === "string") return Buffer.concat([Buffer.from(`${Buffer.byteLength(v)}:`), Buffer.from(v)])
  if (v instanceof Uint8Array) return Buffer.concat([Buffer.from(`${v.length}:`), v])
  if (Array.isArray(v)) return Buffer.concat([Buffer.from("l"), ...v.map(benc), Buffer.from("e")])
  const d = v as { readonly [k: string]: B }
  return Buffer.concat([
    Buffer.from("d"),
    ...Object.keys(d).sort().flatMap((k) => [benc(k), benc(d[k]!)]),
    Buffer.from("e")
  ])
}

const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const rand = mulberry32(16_2026)
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)))
const tid = () => bytes(1 + Math.floor(rand() * 4))

/** One datagram of the KRPC flood. */
const floodDatagram = (): Buffer => {
  const id = bytes(20)
  switch (Math.floor(rand() * 10)) {
    case 0:
      return bytes(1 + Math.floor(rand() * 1400)) // garbage
    case 1: {
      const whole = benc({ t: tid(), y: "q", q: "get_peers", a: { id, info_hash: bytes(20) } })
      return whole.subarray(0, Math.floor(rand() * whole.length)) // truncated
    }
    case 2:
      return Buffer.from(`${"l".repeat(200 + Math.floor(rand() * 2000))}e`) // deep nesting
    case 3:
      return benc({ t: tid(), y: "q", q: "ping", a: { id } })
    case 4:
      return benc({ t: tid(), y: "q", q: "find_node", a: { id, target: bytes(20) } })
    case 5:
      return benc({ t: tid(), y: "q", q: "get_peers", a: { id, info_hash: bytes(20) } })
    case 6:
      return benc({
        t: tid(),
        y: "q",
        q: "announce_peer",
        a: { id, info_hash: bytes(20), port: 1 + Math.floor(rand() * 65535), token: bytes(8) }
      })
    case 7: // a response to a transaction never sent, with nodes and values
      return benc({
        t: tid(),
        y: "r",
        r: { id, nodes: bytes(26 * Math.floor(rand() * 9)), values: [bytes(6), bytes(6)], token: bytes(8) }
      })
    case 8:
      return benc({ t: tid(), y: "e", e: [201 + Math.floor(rand() * 4), "x".repeat(Math.floor(rand() * 600))] })
    default:
      return benc({ t: tid(), y: "q", q: `unknown_${Math.floor(rand() * 1e6)}`, a: { id, x: bytes(64) } })
  }
}

// === Sockets that talk to the crawler ===

const bindAll = (hosts: ReadonlyArray<string>) =>
  Promise.all(hosts.map((host) =>
    new Promise<dgram.Socket>((resolve, reject) => {
      const s = dgram.createSocket("udp4")
      s.on("message", () => {}) // answers are read and dropped
      s.once("error", reject)
      s.bind(0, assertLoopback(host), () => resolve(s))
    })
  ))

/** Downloaders looking up fresh infohashes at the crawler: new torrents appearing all the time. */
const startNewTorrents = async () => {
  const sockets = await bindAll(Array.from({ length: 64 }, (_, i) => `127.81.0.${i + 1}`))
  let sent = 0
  const timer = setInterval(() => {
    for (let i = 0; i < newPerSecond / 4; i++) {
      const s = sockets[Math.floor(rand() * sockets.length)]!
      const info_hash = bytes(20)
      const id = bytes(20)
      s.send(benc({ t: tid(), y: "q", q: "get_peers", a: { id, info_hash } }), DHT_PORT, HOST)
      if (rand() < 0.3) {
        s.send(
          benc({ t: tid(), y: "q", q: "announce_peer", a: { id, info_hash, port: 6881, token: bytes(4) } }),
          DHT_PORT,
          HOST
        )
      }
      sent++
    }
  }, 250)
  return {
    sent: () => sent,
    stop: () => {
      clearInterval(timer)
      for (const s of sockets) s.close()
    }
  }
}

/** The KRPC flood, from 1,024 addresses, `floodPps` datagrams per second while on. */
const startFlood = async () => {
  const sockets = await bindAll(
    Array.from({ length: 1024 }, (_, i) => `127.82.${Math.floor(i / 250)}.${(i % 250) + 1}`)
  )
  let sent = 0
  let on = false
  const timer = setInterval(() => {
    if (!on) return
    for (let i = 0; i < floodPps / 20; i++) {
      sockets[Math.floor(rand() * sockets.length)]!.send(floodDatagram(), DHT_PORT, HOST)
      sent++
    }
  }, 50)
  return {
    sent: () => sent,
    set: (v: boolean) => (on = v),
    on: () => on,
    stop: () => {
      clearInterval(timer)
      for (const s of sockets) s.close()
    }
  }
}

// === Sampling ===

interface Sample {
  readonly minute: number
  readonly rssMiB: number
  readonly heapMiB: number | undefined
  readonly heapTotalMiB: number | undefined
  readonly externalMiB: number | undefined
  readonly flood: boolean
  readonly discoveries: number | undefined
  readonly nodeSightings: number | undefined
  readonly candidates: number | undefined
  readonly lookups: number | undefined
  readonly knownNodes: number | undefined
  readonly uniqueInfohashes: number | undefined
  readonly torrents: number | undefined
  /** Infohashes in the crawler's evidence store, and of those on probation (one node's get_peers alone). */
  readonly evidence?: number | undefined
  readonly onProbation?: number | undefined
  /** RSS split (/proc/<pid>/status): anonymous memory (heaps, malloc) and file-backed pages (code, mapped files). */
  readonly rssAnonMiB?: number | undefined
  readonly rssFileMiB?: number | undefined
  /** 1-minute load average of the machine. */
  readonly load1?: number | undefined
  /** V8's reserve for its young generation (both semi-spaces) and its old space (MiB). */
  readonly newSpaceMiB?: number | undefined
  readonly oldSpaceMiB?: number | undefined
}

/** The crawl process's RSS and its anonymous and file-backed parts (MiB; NaN once it is gone). */
const rssOf = (pid: number) => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "latin1")
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? NaN) / 1024
    return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") }
  } catch {
    return { rss: NaN, anon: NaN, file: NaN }
  }
}

/** The crawl's memory gauges from its /metrics (MiB): V8 heap used and reserved, external (Buffers). */
const memoryOf = async () => {
  try {
    const r = await fetch(`http://${HOST}:${UI_PORT}/metrics`, { signal: AbortSignal.timeout(5000) })
    const text = await r.text()
    const gauge = (name: string) => {
      const m = new RegExp(`^${name} (\\d+(?:\\.\\d+)?(?:e\\+\\d+)?)$`, "m").exec(text)
      return m === null ? undefined : Number(m[1]) / 2 ** 20
    }
    const space = (name: string) => gauge(`nodejs_heap_space_size_total_bytes\\{space="${name}"\\}`)
    return {
      heap: gauge("nodejs_heap_used_bytes"),
      heapTotal: gauge("nodejs_heap_total_bytes"),
      external: gauge("nodejs_external_memory_bytes"),
      newSpace: space("new_space"),
      oldSpace: space("old_space")
    }
  } catch {
    return { heap: undefined, heapTotal: undefined, external: undefined, newSpace: undefined, oldSpace: undefined }
  }
}

/** Least-squares slope of y over x. */
export const slope = (points: ReadonlyArray<readonly [number, number]>) => {
  const n = points.length
  if (n < 2) return NaN
  const mx = points.reduce((a, [x]) => a + x, 0) / n
  const my = points.reduce((a, [, y]) => a + y, 0) / n
  let num = 0
  let den = 0
  for (const [x, y] of points) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return den === 0 ? NaN : num / den
}

// === The chart ===

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;")

/** Three panels over time: memory (MiB), the peer-finding queue with the infohashes seen, and the crawler's
 * queues to the session; the flood's minutes shaded. */
export const soakSvg = (samples: ReadonlyArray<Sample>, title: string): string => {
  const W = 900
  const panelH = 220
  const left = 70
  const right = 170
  const top = 40
  const gap = 60
  const plotW = W - left - right
  const H = top + 3 * panelH + 2 * gap + 50
  const maxX = Math.max(1, ...samples.map((s) => s.minute))
  const x = (m: number) => left + (m / maxX) * plotW
  const out: Array<string> = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${left}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`
  ]
  const floodMinutes = samples.filter((s) => s.flood).map((s) => s.minute)
  const panel = (
    y0: number,
    label: string,
    series: ReadonlyArray<{ name: string; colour: string; value: (s: Sample) => number | undefined }>
  ) => {
    const values = series.flatMap((se) =>
      samples.map(se.value).filter((v): v is number => v !== undefined && isFinite(v))
    )
    const maxY = Math.max(1, ...values) * 1.1
    const y = (v: number) => y0 + panelH - (v / maxY) * panelH
    if (floodMinutes.length > 0) {
      const a = x(Math.min(...floodMinutes))
      const b = x(Math.max(...floodMinutes))
      out.push(`<rect x="${a.toFixed(1)}" y="${y0}" width="${(b - a).toFixed(1)}" height="${panelH}" fill="#fde8e8"/>`)
    }
    out.push(
      `<rect x="${left}" y="${y0}" width="${plotW}" height="${panelH}" fill="none" stroke="#888"/>`,
      `<text x="14" y="${y0 + panelH / 2}" transform="rotate(-90 14 ${y0 + panelH / 2})" text-anchor="middle">${
        esc(label)
      }</text>`
    )
    for (let i = 0; i <= 4; i++) {
      const v = (maxY * i) / 4
      out.push(
        `<line x1="${left}" x2="${left + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`,
        `<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${
          v >= 100 ? v.toFixed(0) : v.toFixed(1)
        }</text>`
      )
    }
    for (let m = 0; m <= maxX; m += maxX > 20 ? 5 : 1) {
      out.push(`<text x="${x(m).toFixed(1)}" y="${y0 + panelH + 16}" text-anchor="middle">${m}</text>`)
    }
    series.forEach((se, i) => {
      const pts = samples.flatMap((s) => {
        const v = se.value(s)
        return v === undefined || !isFinite(v) ? [] : [`${x(s.minute).toFixed(1)},${y(v).toFixed(1)}`]
      })
      out.push(
        `<polyline fill="none" stroke="${se.colour}" stroke-width="1.6" points="${pts.join(" ")}"/>`,
        `<line x1="${left + plotW + 12}" x2="${left + plotW + 32}" y1="${y0 + 14 + i * 18}" y2="${
          y0 + 14 + i * 18
        }" stroke="${se.colour}" stroke-width="2"/>`,
        `<text x="${left + plotW + 38}" y="${y0 + 18 + i * 18}">${esc(se.name)}</text>`
      )
    })
  }
  panel(top, "MiB", [
    { name: "RSS", colour: "#1f77b4", value: (s) => s.rssMiB },
    { name: "V8 heap used", colour: "#2ca02c", value: (s) => s.heapMiB },
    { name: "V8 heap reserved", colour: "#98df8a", value: (s) => s.heapTotalMiB },
    { name: "external (Buffers)", colour: "#7f7f7f", value: (s) => s.externalMiB },
    { name: "RSS − heap reserved", colour: "#bcbd22", value: (s) => s.rssMiB - (s.heapTotalMiB ?? NaN) }
  ])
  panel(top + panelH + gap, "infohashes", [
    { name: "distinct seen", colour: "#17becf", value: (s) => s.uniqueInfohashes },
    { name: "queued for peers", colour: "#8c564b", value: (s) => s.lookups },
    { name: "evidence entries", colour: "#e377c2", value: (s) => s.evidence },
    { name: "on probation", colour: "#c5b0d5", value: (s) => s.onProbation }
  ])
  panel(top + 2 * (panelH + gap), "queued records", [
    { name: "discoveries", colour: "#d62728", value: (s) => s.discoveries },
    { name: "node sightings", colour: "#9467bd", value: (s) => s.nodeSightings },
    { name: "candidates", colour: "#ff7f0e", value: (s) => s.candidates }
  ])
  out.push(
    `<text x="${left + plotW / 2}" y="${
      H - 12
    }" text-anchor="middle">minutes since the crawl started (shaded: KRPC flood)</text>`,
    "</svg>"
  )
  return `${out.join("\n")}\n`
}

// === Figures ===

const fmt = (v: number) => (isFinite(v) ? v.toFixed(2) : "—")

/** The table of docs/benchmarks.md: RSS and heap over the run, and the RSS slopes (least squares, MiB/min). */
export const figures = (samples: ReadonlyArray<Sample>, minutes: number): ReadonlyArray<string> => {
  const secondHalf = samples.filter((s) => s.minute >= minutes / 2)
  const rssSlope = slope(secondHalf.map((s) => [s.minute, s.rssMiB] as const))
  const heapSlope = slope(secondHalf.flatMap((s) => s.heapMiB === undefined ? [] : [[s.minute, s.heapMiB] as const]))
  const floodEnd = Math.max(0, ...samples.filter((s) => s.flood).map((s) => s.minute))
  const afterFlood = samples.filter((s) => s.minute > floodEnd)
  const afterSlope = slope(afterFlood.map((s) => [s.minute, s.rssMiB] as const))
  const peak = Math.max(...samples.map((s) => s.rssMiB))
  const last = samples.at(-1)
  const lastHeap = [...samples].reverse().find((s) => s.heapMiB !== undefined)?.heapMiB
  return [
    "| samples | RSS at 5 min | peak RSS | RSS at end | heap at end | RSS slope, second half | heap slope, second half | RSS slope after the flood | target |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    `| ${samples.length} | ${samples.find((s) => s.minute >= 5)?.rssMiB.toFixed(0) ?? "—"} MiB | ${
      peak.toFixed(0)
    } MiB | ${last?.rssMiB.toFixed(0) ?? "—"} MiB | ${lastHeap?.toFixed(0) ?? "—"} MiB | ${fmt(rssSlope)} MiB/min | ${
      fmt(heapSlope)
    } MiB/min | ${fmt(afterSlope)} MiB/min | < 1 MiB/min (second half) |`
  ]
}

/** Samples back from a CSV this bench wrote (columns by name, so older CSVs without some columns read too). */
export const readSoakCsv = (file: string): ReadonlyArray<Sample> => {
  const [head, ...rows] = readFileSync(file, "utf8").trim().split("\n")
  const cols = head!.split(",")
  return rows.map((line) => {
    const fields = line.split(",")
    const get = (name: string) => {
      const v = fields[cols.indexOf(name)]
      return v === undefined || v === "" ? undefined : Number(v)
    }
    return {
      minute: get("minute")!,
      rssMiB: get("rss_mib")!,
      heapMiB: get("heap_used_mib"),
      heapTotalMiB: get("heap_total_mib"),
      externalMiB: get("external_mib"),
      flood: get("flood") === 1,
      discoveries: get("queue_discoveries"),
      nodeSightings: get("queue_nodes"),
      candidates: get("queue_candidates"),
      lookups: get("queue_lookups"),
      knownNodes: get("known_nodes"),
      uniqueInfohashes: get("unique_infohashes"),
      torrents: get("torrents"),
      evidence: get("evidence"),
      onProbation: get("on_probation"),
      rssAnonMiB: get("rss_anon_mib"),
      rssFileMiB: get("rss_file_mib"),
      load1: get("load1"),
      newSpaceMiB: get("new_space_mib"),
      oldSpaceMiB: get("old_space_mib")
    }
  })
}

// === The run ===

/** The environment without a UI token: the dashboard stays on loopback, and /metrics is read without one. */
const withoutToken = (env: NodeJS.ProcessEnv) => {
  const { BITSCRAPE_UI_TOKEN: _, ...rest } = env
  return rest
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export const runSoakBench = async (): Promise<string> => {
  // BITSCRAPE_BENCH_SOAK_FROM_CSV=<csv>: no run; the chart (to BITSCRAPE_BENCH_SOAK_SVG, titled
  // BITSCRAPE_BENCH_SOAK_TITLE) and the figures again from a run's samples.
  const from = process.env["BITSCRAPE_BENCH_SOAK_FROM_CSV"]
  if (from !== undefined) {
    const samples = readSoakCsv(from)
    writeFileSync(svgPath, soakSvg(samples, process.env["BITSCRAPE_BENCH_SOAK_TITLE"] ?? `soak samples of ${from}`))
    log(`wrote ${svgPath}`)
    return [`From ${from} (${minutes} min run):`, "", ...figures(samples, minutes)].join("\n")
  }
  const seconds = Math.round(minutes * 60)
  const program = bitscrapeProgram("bench-soak", log)
  log(`BitScrape runs as ${program.label}`)
  const loadBefore = os.loadavg()[0]!.toFixed(2)
  return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    log(`model: ${nodes} nodes, churn ${churn}/min; starting`)
    const model = yield* makeRealisticNetwork({ nodes, churnPerMinute: churn, addressBlock: 1 })
    log(`model up in ${(model.info.startupMs / 1000).toFixed(0)} s`)
    const bootstrap = model.bootstrap.map((b) => `${b.host}:${b.port}`).join(",")
    return yield* Effect.promise(async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "bitscrape-bench-soak-"))
      const db = path.join(dir, "crawl.db")
      const args = [
        ...(process.env["BITSCRAPE_BENCH_NODE_FLAGS"] ?? "").split(" ").filter((f) => f !== ""),
        ...program.args,
        "crawl",
        ...["--bootstrap", bootstrap, "--bind", HOST, "--port", String(DHT_PORT), "--allow", "127.0.0.0/8"],
        ...["--ui-host", HOST, "--ui-port", String(UI_PORT), "--json", "--db", db, "--duration", String(seconds)],
        ...extraArgs
      ]
      const child: ChildProcess = spawn(program.command, args, {
        cwd: root,
        env: { ...withoutToken(process.env), BITSCRAPE_PROGRESS_INTERVAL: "5" },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stderr = ""
      child.stderr!.on("data", (c: Buffer) => (stderr = (stderr + c.toString("utf8")).slice(-4000)))
      let last: Record<string, unknown> = {}
      let summary: Record<string, unknown> | undefined
      createInterface({ input: child.stdout! }).on("line", (line) => {
        if (!line.startsWith("{")) return
        try {
          const m = JSON.parse(line) as Record<string, unknown>
          if (m["summary"] === true) summary = m
          else if (typeof m["elapsed"] === "number") last = m
        } catch {
          // not JSON
        }
      })
      let running = true
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      void exited.then(() => (running = false))
      const fresh = await startNewTorrents()
      const flood = await startFlood()
      const started = Date.now()
      const samples: Array<Sample> = []
      mkdirSync(path.dirname(csvPath), { recursive: true })
      const header =
        "minute,rss_mib,heap_used_mib,heap_total_mib,external_mib,flood,queue_discoveries,queue_nodes,queue_candidates,queue_lookups,known_nodes,unique_infohashes,torrents," +
        "evidence,on_probation,rss_anon_mib,rss_file_mib,load1,new_space_mib,old_space_mib"
      writeFileSync(csvPath, `${header}\n`)
      const loads: Array<number> = []
      while (running && Date.now() - started < (seconds + 15) * 1000) {
        await sleep(SAMPLE_MS)
        const minute = (Date.now() - started) / 60_000
        flood.set(minute >= floodWindow.from && minute < floodWindow.to)
        const q = (last["queueDepths"] ?? {}) as Record<string, number | undefined>
        const written = (last["written"] ?? {}) as Record<string, number | undefined>
        const memory = await memoryOf()
        const rss = rssOf(child.pid!)
        const finding = (last["peerFinding"] ?? {}) as Record<string, number | undefined>
        const s: Sample = {
          minute,
          rssMiB: rss.rss,
          heapMiB: memory.heap,
          heapTotalMiB: memory.heapTotal,
          externalMiB: memory.external,
          flood: flood.on(),
          discoveries: q["discoveries"],
          nodeSightings: q["nodes"],
          candidates: q["candidates"],
          lookups: q["lookups"],
          knownNodes: last["knownNodes"] as number | undefined,
          uniqueInfohashes: last["uniqueInfohashes"] as number | undefined,
          torrents: written["torrents"],
          evidence: finding["evidence"],
          onProbation: finding["onProbation"],
          rssAnonMiB: rss.anon,
          rssFileMiB: rss.file,
          load1: os.loadavg()[0]!,
          newSpaceMiB: memory.newSpace,
          oldSpaceMiB: memory.oldSpace
        }
        if (!isFinite(s.rssMiB)) break
        samples.push(s)
        loads.push(os.loadavg()[0]!)
        writeFileSync(
          csvPath,
          `${
            [
              s.minute.toFixed(2),
              s.rssMiB.toFixed(1),
              s.heapMiB?.toFixed(1) ?? "",
              s.heapTotalMiB?.toFixed(1) ?? "",
              s.externalMiB?.toFixed(1) ?? "",
              s.flood ? 1 : 0,
              s.discoveries ?? "",
              s.nodeSightings ?? "",
              s.candidates ?? "",
              s.lookups ?? "",
              s.knownNodes ?? "",
              s.uniqueInfohashes ?? "",
              s.torrents ?? "",
              s.evidence ?? "",
              s.onProbation ?? "",
              s.rssAnonMiB?.toFixed(1) ?? "",
              s.rssFileMiB?.toFixed(1) ?? "",
              s.load1?.toFixed(2) ?? "",
              s.newSpaceMiB?.toFixed(1) ?? "",
              s.oldSpaceMiB?.toFixed(1) ?? ""
            ].join(",")
          }\n`,
          { flag: "a" }
        )
        if (samples.length % 6 === 0) {
          log(
            `${minute.toFixed(1)} min: RSS ${s.rssMiB.toFixed(0)} MiB, heap ${
              s.heapMiB?.toFixed(0)
            } MiB, infohashes ${s.uniqueInfohashes}, torrents ${s.torrents}, queues ${JSON.stringify(q)}${
              s.flood ? ", flood on" : ""
            }`
          )
        }
      }
      flood.set(false)
      if (running) child.kill("SIGINT")
      const killer = setTimeout(() => child.kill("SIGKILL"), 60_000)
      const exitCode = await exited
      clearTimeout(killer)
      fresh.stop()
      flood.stop()
      if (exitCode !== 0) log(`crawl exited with ${exitCode}: ${stderr.slice(-1500)}`)
      rmSync(dir, { recursive: true, force: true })

      const title = `bitscrape crawl, ${minutes} min soak on ${nodes.toLocaleString("en")} churning loopback nodes (${
        new Date().toISOString().slice(0, 10)
      })`
      mkdirSync(path.dirname(svgPath), { recursive: true })
      writeFileSync(svgPath, soakSvg(samples, title))
      log(`wrote ${csvPath} and ${svgPath}`)
      const lastSample = samples.at(-1)
      const stats = (summary?.["stats"] ?? last) as Record<string, unknown>
      return [
        `${minutes} min, ${nodes.toLocaleString("en")} model nodes (churn ${
          churn * 100
        } %/min), ${newPerSecond} fresh infohashes/s looked up at the crawler, KRPC flood of ${
          floodPps.toLocaleString("en")
        } datagrams/s from 1,024 addresses in minutes ${floodWindow.from.toFixed(0)}–${
          floodWindow.to.toFixed(0)
        }; BitScrape as ${program.label}${
          extraArgs.length > 0 ? ` with ${extraArgs.join(" ")}` : ""
        }; exit code ${exitCode}. Load (1-minute average): ${loadBefore} before, ${Math.min(...loads).toFixed(1)}–${
          Math.max(...loads).toFixed(1)
        } during.`,
        "",
        ...figures(samples, minutes),
        "",
        `Sent at the crawler: ${fresh.sent().toLocaleString("en")} fresh-infohash lookups, ${
          flood.sent().toLocaleString("en")
        } flood datagrams. Crawl at the end: ${lastSample?.uniqueInfohashes ?? "?"} distinct infohashes, ${
          lastSample?.knownNodes ?? "?"
        } nodes known, ${lastSample?.torrents ?? "?"} torrents fetched. Samples: ${csvPath}; chart: ${svgPath}.`,
        "",
        `Final stats: ${JSON.stringify(stats).slice(0, 1200)}`
      ].join("\n")
    })
  })))
}
