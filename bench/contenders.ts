// bench/contenders: running crawlers that find *and fetch* torrents side by side for a fixed time (bench/yield.ts,
// bench/sparse.ts, issue 14): `bitscrape crawl` as shipped and bench/referenceYieldCrawler.mjs, each in its own
// process on its own 127.x address, all at once. Per contender: the torrents it fetched (with the time since spawn),
// CPU seconds and peak RSS from /proc, and UDP datagrams it sent — counted by the kernel (an iptables OUTPUT rule
// per source address, inside the private network namespace) when iptables works, else by the contender itself.
import Database from "better-sqlite3"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import {
  appendFileSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync
} from "node:fs"
import os from "node:os"
import path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

export const root = fileURLToPath(new URL("..", import.meta.url))
export const guard = path.join(root, "test/support/loopbackGuard.mjs")
const referenceScript = path.join(root, "bench/referenceYieldCrawler.mjs")

export const assertLoopback = (host: string) => {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) throw new Error(`bench: ${host} is not 127.0.0.0/8`)
  return host
}
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// === The BitScrape CLI as shipped ===

export interface Program {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly label: string
}

/**
 * `bitscrape` compiled with tsc into test-artifacts/<dir> (as `npm run build`); tsx on request or on failure. With
 * BITSCRAPE_BENCH_BITSCRAPE_REV=<commit> it builds that commit's src (from `git archive`) instead of the work tree:
 * a baseline while the work tree is being changed.
 */
export const bitscrapeProgram = (
  dir: string,
  log: (m: string) => void,
  rev: string | undefined = process.env["BITSCRAPE_BENCH_BITSCRAPE_REV"]
): Program => {
  const viaTsx = {
    command: process.execPath,
    args: ["--import", guard, "--import", "tsx", path.join(root, "src/main.ts")],
    label: "src/main.ts through tsx"
  }
  if (process.env["BITSCRAPE_BENCH_CRAWLER_TSX"] === "1") return viaTsx
  const buildDir = path.join(root, "test-artifacts", rev === undefined ? dir : `${dir}-${rev}`)
  try {
    mkdirSync(buildDir, { recursive: true })
    let source = root
    if (rev !== undefined) {
      // The commit's sources beside our node_modules.
      source = path.join(buildDir, "src-tree")
      rmSync(source, { recursive: true, force: true })
      mkdirSync(source, { recursive: true })
      const tar = execFileSync("git", [
        "-C",
        root,
        "archive",
        rev,
        "src",
        "tsconfig.json",
        "tsconfig.base.json",
        "tsconfig.build.json"
      ], { maxBuffer: 256 * 2 ** 20 }) // src is more than execFileSync's default 1 MiB
      execFileSync("tar", ["-x", "-C", source], { input: tar })
      symlinkSync(path.join(root, "node_modules"), path.join(source, "node_modules"))
    }
    copyFileSync(path.join(root, "package.json"), path.join(buildDir, "package.json"))
    execFileSync(process.execPath, [
      path.join(root, "node_modules/typescript/bin/tsc"),
      ...["-p", path.join(source, "tsconfig.build.json"), "--outDir", path.join(buildDir, "dist")],
      ...["--declaration", "false", "--declarationMap", "false", "--sourceMap", "false"]
    ], { stdio: ["ignore", "pipe", "pipe"] })
    cpSync(path.join(source, "src/web/assets"), path.join(buildDir, "dist/web/assets"), { recursive: true })
    return {
      command: process.execPath,
      args: ["--import", guard, path.join(buildDir, "dist/main.js")],
      label: `the tsc build of ${rev === undefined ? "src" : `src at ${rev}`} (as \`bitscrape\` ships)`
    }
  } catch (e) {
    const why = `${String(e).slice(0, 300)} ${String((e as { stdout?: unknown }).stdout ?? "").slice(0, 500)}`
    // tsx runs the work tree: never a stand-in for another commit.
    if (rev !== undefined) throw new Error(`cannot build BitScrape at ${rev}: ${why}`)
    log(`tsc build failed, falling back to tsx: ${why}`)
    return viaTsx
  }
}

// === Counting each contender's datagrams in the kernel ===

export interface PacketCounter {
  /** "iptables" when the kernel counts, else "self-reported". */
  readonly method: "iptables" | "self-reported"
  /** UDP datagrams sent by `host` to any other address since `watch(host)`. */
  readonly read: (host: string) => number | undefined
  readonly watch: (host: string) => void
  readonly close: () => void
}

/** One iptables OUTPUT rule per watched source address (no target: it only counts). */
export const makePacketCounter = (log: (m: string) => void): PacketCounter => {
  const watched = new Set<string>()
  const iptables = (args: ReadonlyArray<string>) => execFileSync("iptables", [...args], { encoding: "utf8" })
  const rule = (host: string) => ["OUTPUT", "-s", host, "!", "-d", host, "-p", "udp"]
  let ok = process.env["BITSCRAPE_IN_NETNS"] === "1"
  if (!ok) log("not inside scripts/netns.sh: packets are self-reported by the contenders")
  return {
    get method() {
      return ok ? "iptables" as const : "self-reported" as const
    },
    watch: (host) => {
      if (!ok) return
      try {
        iptables(["-A", ...rule(assertLoopback(host))])
        watched.add(host)
      } catch (e) {
        ok = false
        log(`iptables unavailable (${String(e).slice(0, 200)}): packets are self-reported by the contenders`)
      }
    },
    read: (host) => {
      if (!ok || !watched.has(host)) return undefined
      const out = iptables(["-L", "OUTPUT", "-v", "-x", "-n"])
      const line = out.split("\n").find((l) => {
        const f = l.trim().split(/\s+/)
        return f.includes(host) && f.includes(`!${host}`) && (f.includes("udp") || f.includes("17"))
      })
      return line === undefined ? undefined : Number(line.trim().split(/\s+/)[0])
    },
    close: () => {
      for (const host of watched) {
        try {
          iptables(["-D", ...rule(host)])
        } catch {
          // already gone
        }
      }
      watched.clear()
    }
  }
}

// === Running one contender ===

export interface ContenderSpec {
  readonly name: string
  readonly host: string
  readonly kind: "bitscrape" | "reference"
  /** Reference: node ids. */
  readonly ids?: number
  readonly askSampler?: boolean
  /** Extra command-line arguments (BitScrape variants). */
  readonly extraArgs?: ReadonlyArray<string>
  /** Extra environment (BitScrape variants: BITSCRAPE_ASK_SAMPLER=false, …). */
  readonly env?: Readonly<Record<string, string>>
  /** Extra Node flags (BitScrape variants: V8 heap settings, measured side by side). */
  readonly nodeFlags?: ReadonlyArray<string>
}

export interface ContenderResult {
  readonly spec: ContenderSpec
  /** Fetched infohash (hex) -> ms from spawn. */
  readonly fetched: ReadonlyMap<string, number>
  readonly cpuSeconds: number
  readonly peakRss: number
  /** Datagrams sent, self-reported (reference: every datagram; BitScrape: its queries), if known. */
  readonly selfReportedPackets: number | undefined
  /** Datagrams the kernel counted, if it did. */
  readonly kernelPackets: number | undefined
  /** [seconds since spawn, kernel or self-reported packets so far], every ~5 s. */
  readonly packetTrace: ReadonlyArray<readonly [number, number]>
  readonly exitCode: number | null
  readonly details: string
}

const CLOCK_TICKS = 100
const readProc = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
    const status = readFileSync(`/proc/${pid}/status`, "latin1")
    const peakRss = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024
    return { cpuSeconds, peakRss, threads: threadsOf(pid) }
  } catch {
    return undefined
  }
}

/** CPU-seconds per thread name (main thread, V8 workers, libuv pool, …), user+system, and the process's split. */
const threadsOf = (pid: number): string => {
  const by = new Map<string, number>()
  let user = 0
  let system = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "latin1")
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      user += Number(fields[11]) / CLOCK_TICKS
      system += Number(fields[12]) / CLOCK_TICKS
      const key = tid === String(pid) ? "main" : name
      by.set(key, (by.get(key) ?? 0) + (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS)
    } catch {
      // the thread ended
    }
  }
  const parts = [...by].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(1)}`)
  return `user ${user.toFixed(1)} s, system ${system.toFixed(1)} s; threads: ${parts.join(", ")}`
}

const commandFor = (spec: ContenderSpec, program: Program, bootstrap: string, seconds: number, db: string) =>
  spec.kind === "bitscrape"
    ? {
      command: program.command,
      args: [
        // BITSCRAPE_BENCH_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"): Node flags for BitScrape only.
        ...(process.env["BITSCRAPE_BENCH_NODE_FLAGS"] ?? "").split(" ").filter((f) => f !== ""),
        ...(spec.nodeFlags ?? []),
        ...program.args,
        "crawl",
        ...["--bootstrap", bootstrap, "--bind", assertLoopback(spec.host), "--port", "0", "--allow", "127.0.0.0/8"],
        ...["--no-ui", "--json", "--db", db, "--duration", String(seconds)],
        ...(spec.extraArgs ?? [])
      ]
    }
    : {
      command: process.execPath,
      args: [
        ...["--import", guard, referenceScript, "--bootstrap", bootstrap, "--bind", assertLoopback(spec.host)],
        ...["--ids", String(spec.ids ?? 1), "--duration", String(seconds)],
        ...(spec.askSampler === true ? ["--ask-sampler"] : []),
        ...(spec.extraArgs ?? [])
      ]
    }

/** Runs one contender for `seconds` (then SIGINT, SIGKILL 20 s later) and collects what it fetched. */
export const runContender = async (options: {
  readonly spec: ContenderSpec
  readonly program: Program
  readonly bootstrap: string
  readonly seconds: number
  readonly counter: PacketCounter
  readonly log: (m: string) => void
}): Promise<ContenderResult> => {
  const { counter, log, spec } = options
  const dir = mkdtempSync(path.join(os.tmpdir(), "bitscrape-bench-yield-"))
  const db = path.join(dir, "crawl.db")
  const { args, command } = commandFor(spec, options.program, options.bootstrap, options.seconds, db)
  counter.watch(spec.host)
  const spawnedAt = Date.now()
  const child: ChildProcess = spawn(command, args, {
    cwd: root,
    env: { ...process.env, BITSCRAPE_PROGRESS_INTERVAL: "5", ...spec.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stderr = ""
  child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString("utf8")).slice(-4000)))
  const fetched = new Map<string, number>()
  let last: Record<string, unknown> = {}
  let summary: Record<string, unknown> | undefined
  // BITSCRAPE_BENCH_STDOUT_LOG=<file>: every stdout line of every contender, for diagnostics (e.g. --trace-gc).
  const stdoutLog = process.env["BITSCRAPE_BENCH_STDOUT_LOG"]
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (stdoutLog !== undefined) appendFileSync(stdoutLog, `${spec.host} ${line}\n`)
    if (!line.startsWith("{")) return
    try {
      const m = JSON.parse(line) as Record<string, unknown>
      if (m["event"] === "torrent") fetched.set(String(m["infohash"]), Number(m["at"]) - spawnedAt)
      else if (m["event"] === "summary" || m["summary"] === true) summary = m
      else if (m["event"] === "progress" || typeof m["elapsed"] === "number") last = m
    } catch {
      // not JSON
    }
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  let running = true
  void exited.then(() => (running = false))
  let usage = { cpuSeconds: 0, peakRss: 0, threads: "" }
  const packetTrace: Array<readonly [number, number]> = []
  const deadline = spawnedAt + (options.seconds + 10) * 1000
  let lastTrace = 0
  while (running && Date.now() < deadline) {
    await sleep(1000)
    usage = readProc(child.pid!) ?? usage
    if (Date.now() - lastTrace >= 5000) {
      lastTrace = Date.now()
      const packets = counter.read(spec.host) ?? Number(last["sent"] ?? NaN)
      packetTrace.push([(Date.now() - spawnedAt) / 1000, packets])
    }
  }
  const kernelPackets = counter.read(spec.host)
  if (running) child.kill("SIGINT")
  const killer = setTimeout(() => child.kill("SIGKILL"), 20_000)
  const exitCode = await exited
  clearTimeout(killer)
  if (exitCode !== 0) log(`${spec.name} exited with ${exitCode}: ${stderr.slice(-800)}`)
  const final = summary ?? last
  let selfReported: number | undefined
  let details: string
  if (spec.kind === "bitscrape") {
    try {
      const reader = new Database(db, { readonly: true, fileMustExist: true })
      const rows = reader.prepare("SELECT hash, fetched_at FROM torrents").all() as Array<
        { hash: Buffer; fetched_at: number }
      >
      for (const r of rows) fetched.set(r.hash.toString("hex"), r.fetched_at - spawnedAt)
      reader.close()
    } catch (e) {
      log(`${spec.name}: cannot read ${db}: ${String(e)}`)
    }
    const stats = (final["stats"] ?? final) as { queries?: Record<string, number> }
    const q = stats.queries
    selfReported = q === undefined ? undefined : Object.values(q).reduce((a, b) => a + b, 0)
    details = `CPU ${usage.threads}; stats ${JSON.stringify(stats).slice(0, 1500)}`
  } else {
    selfReported = typeof final["sent"] === "number" ? final["sent"] : undefined
    usage = {
      cpuSeconds: Math.max(usage.cpuSeconds, Number(final["cpuSeconds"] ?? 0)),
      peakRss: Math.max(usage.peakRss, Number(final["peakRss"] ?? 0)),
      threads: usage.threads
    }
    const { fetchErrors, queries, ...rest } = final
    details = `CPU ${usage.threads}; ${JSON.stringify(rest)}; queries ${JSON.stringify(queries)}; fetch errors ${
      JSON.stringify(fetchErrors)
    }`
  }
  // BITSCRAPE_BENCH_KEEP_DB=1 keeps BitScrape's database for a look afterwards.
  if (process.env["BITSCRAPE_BENCH_KEEP_DB"] === "1") log(`${spec.name}: database kept at ${db}`)
  else rmSync(dir, { recursive: true, force: true })
  return {
    spec,
    fetched,
    cpuSeconds: usage.cpuSeconds,
    peakRss: usage.peakRss,
    selfReportedPackets: selfReported,
    kernelPackets,
    packetTrace,
    exitCode,
    details
  }
}

// === Figures ===

/** How many of `wanted` were fetched within `seconds` of spawn. */
export const fetchedBy = (r: ContenderResult, wanted: ReadonlySet<string>, seconds: number) =>
  [...r.fetched].filter(([hex, ms]) => wanted.has(hex) && ms <= seconds * 1000).length

export const packetsOf = (r: ContenderResult) => r.kernelPackets ?? r.selfReportedPackets ?? NaN

export const fmtMiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`

/** The 1-minute load average now. */
export const loadAverage = () => os.loadavg()[0]!.toFixed(2)
