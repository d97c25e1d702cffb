// Bad-input fuzzing of the CLI (issue 15): seeded random and mutated argument vectors for every subcommand. Each
// run must end with exit 0, 1 or 2; a non-zero exit with a `bitscrape:` line on stderr; never a stack trace, never
// a hang (a per-run time-out; a run still going is interrupted as by Ctrl-C and must then end cleanly), and a
// read-only command must leave the database's bytes unchanged.
// Most vectors run in-process through the real command definitions and handlers (cliProgram, as main.ts runs it);
// a sample runs as the real `bitscrape` process, built once into a private directory.
import { NodeContext } from "@effect/platform-node"
import { ConfigProvider, Effect, Exit, Fiber, Layer } from "effect"
import { execFileSync } from "node:child_process"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { cliProgram } from "../../src/cli/program.js"
import { toHex } from "../../src/krpc/index.js"
import { RepositorySqlite } from "../../src/repository/layers.js"
import { Repository } from "../../src/repository/Repository.js"
import { makeTorrent, randomInfoHash } from "../support/torrents.js"

const SEED = 15_2026
const IN_PROCESS = Number(process.env.FUZZ_IN ?? 2500)
const SUBPROCESS = Number(process.env.FUZZ_SUB ?? 50)
const ROOT = fileURLToPath(new URL("../..", import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "bitscrape-fuzz-"))
const db = join(dir, "read.db")
const pristine = join(dir, "pristine.db")
const junk = join(dir, "junk.db")
const torrent = makeTorrent("Fuzz Target", [{ path: "a/b.bin", length: 123_456 }])
const IH = toHex(torrent.infoHash)
const READ_ONLY = new Set(["stats", "search", "show", "export", "serve"])

/** Loopback only: the bootstrap, the bind address and the address filter, whatever a vector says. */
const ENV: Record<string, string> = {
  BITSCRAPE_BOOTSTRAP: "127.0.0.1:1",
  BITSCRAPE_ALLOW: "127.0.0.0/8",
  BITSCRAPE_BIND: "127.0.0.1",
  BITSCRAPE_PORT: "0",
  BITSCRAPE_UI_PORT: "0",
  BITSCRAPE_DB: db
}

// === Vectors ===

const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Odd values: numbers out of range, non-numbers, bad addresses, paths that cannot be written, long strings. */
const VALUES = [
  "",
  " ",
  "0",
  "-1",
  "-5",
  "1",
  "3",
  "1.5",
  "abc",
  "70000",
  "65536",
  "99999999999999999999",
  "NaN",
  "1e3",
  "0x10",
  "+7",
  "%E0%A4%A",
  "💥",
  "a".repeat(3000),
  "127.0.0.1:99999",
  "127.0.0.1:0",
  "999.0.0.1",
  "127.0.0.1",
  "::1",
  "[::1]:6881",
  "127.0.0.1:1",
  "10.0.0.0/8",
  "127.0.0.0/33",
  "zz",
  "0a,7f00/12",
  IH,
  "00".repeat(19),
  `magnet:?xt=urn:btih:${IH}`,
  "magnet:?xt=urn:btmh:1220" + "ab".repeat(32),
  "magnet:?xt=urn:btih:zz",
  "/proc/nope",
  "/nonexistent/dir/x.db",
  dir,
  junk,
  db,
  ":memory:",
  "-",
  "--",
  "yes",
  "no",
  "jsonl",
  "csv",
  "torrent",
  "xml",
  "largest",
  "700MB",
  "1.5GiB",
  "huge",
  "2026-01-31",
  "yesterday"
]

const FLAGS = [
  "--db",
  "--json",
  "--max-pps",
  "--max-inflight",
  "--max-known-nodes",
  "--max-queued-infohashes",
  "--port",
  "--bind",
  "--bootstrap",
  "--duration",
  "--allow",
  "--deny",
  "--target",
  "--max-connections",
  "--ui-port",
  "--ui-host",
  "--no-ui",
  "--no-metadata",
  "--neighbour-ids",
  "--format",
  "--out",
  "--force",
  "--query",
  "--has-metadata",
  "--limit",
  "--page",
  "--sort",
  "--min-size",
  "--max-size",
  "--min-files",
  "--max-files",
  "--since",
  "--until",
  "--timeout",
  "--peer",
  "--nodes",
  "--torrents",
  "--seeders",
  "--bogus"
]

/** A starting vector per subcommand: mostly well-formed, so that mutations probe one thing at a time. */
const BASES: ReadonlyArray<ReadonlyArray<string>> = [
  ["stats"],
  ["stats", "--json", "--db", db],
  ["search", "fuzz", "--limit", "5", "--page", "1", "--sort", "largest", "--db", db],
  ["search", "--min-size", "1MB", "--min-files", "0", "--since", "2020-01-01"],
  ["show", IH, "--db", db],
  ["show", `magnet:?xt=urn:btih:${IH}`, "--json"],
  ["export", "--format", "csv", "--db", db],
  ["export", "--format", "jsonl", "--out", join(dir, "out.jsonl")],
  ["export", "--format", "torrent", "--out", join(dir, "torrents")],
  ["crawl", "--duration", "1", "--no-ui", "--db", join(dir, "crawl.db"), "--max-pps", "50"],
  ["fetch", IH, "--peer", "127.0.0.1:1", "--timeout", "1"],
  ["serve", "--db", db, "--ui-port", "0"],
  ["demo", "--nodes", "20", "--torrents", "2", "--seeders", "1", "--duration", "1", "--no-ui"],
  ["nope"],
  []
]

const mutate = (rand: () => number, base: ReadonlyArray<string>): Array<string> => {
  const v = [...base]
  const pick = <A>(xs: ReadonlyArray<A>) => xs[Math.floor(rand() * xs.length)]!
  const steps = 1 + Math.floor(rand() * 3)
  for (let s = 0; s < steps; s++) {
    const at = Math.floor(rand() * (v.length + 1))
    switch (Math.floor(rand() * 7)) {
      case 0: // replace a value
        if (v.length > 1) v[1 + Math.floor(rand() * (v.length - 1))] = pick(VALUES)
        break
      case 1: // add a flag with an odd value
        v.splice(Math.max(1, at), 0, pick(FLAGS), pick(VALUES))
        break
      case 2: // a flag without its value
        v.splice(Math.max(1, at), 0, pick(FLAGS))
        break
      case 3: // drop a token
        if (v.length > 1) v.splice(1 + Math.floor(rand() * (v.length - 1)), 1)
        break
      case 4: // --flag=value form
        v.push(`${pick(FLAGS)}=${pick(VALUES)}`)
        break
      case 5: // repeat a token
        if (v.length > 0) v.splice(at, 0, v[Math.floor(rand() * v.length)]!)
        break
      default: // a random token anywhere
        v.splice(Math.max(1, at), 0, pick([...VALUES, ...FLAGS]))
    }
  }
  return v
}

const vectors = (count: number, seed: number) => {
  const rand = mulberry32(seed)
  return Array.from({ length: count }, () => mutate(rand, BASES[Math.floor(rand() * BASES.length)]!))
}

// === Checks ===

const digest = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")

interface Run {
  readonly code: number | null
  readonly stderr: string
  readonly timedOut: boolean
}

const problems: Array<string> = []
const check = (args: ReadonlyArray<string>, run: Run, dbBefore: string) => {
  const what = `${JSON.stringify(args)} → ${run.code}${run.timedOut ? " (interrupted)" : ""}: ${
    run.stderr.slice(0, 300)
  }`
  if (run.code === null || ![0, 1, 2].includes(run.code)) problems.push(`exit code: ${what}`)
  else if (run.code !== 0 && !/^bitscrape: \S/m.test(run.stderr)) problems.push(`no message: ${what}`)
  if (/\n\s+at \S|^\s*at \S.*:\d+:\d+/m.test(run.stderr)) problems.push(`stack trace: ${what}`)
  const command = args[0] ?? ""
  const after = digest(db)
  if (after !== dbBefore) {
    if (READ_ONLY.has(command)) problems.push(`read-only command changed the database: ${what}`)
    copyFileSync(pristine, db) // a crawl or demo vector may have written to it: restore for the next run
  }
}

// === In-process runs: the real command definitions and handlers, as main.ts runs them ===

const inProcess = (args: ReadonlyArray<string>, timeoutMs: number) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const capture = {
      log: () => Effect.void,
      error: (...xs: ReadonlyArray<unknown>) => Effect.sync(() => void lines.push(xs.map(String).join(" ")))
    }
    const fiber = yield* Effect.fork(
      Effect.consoleWith((console) =>
        cliProgram(["node", "bitscrape", ...args]).pipe(Effect.withConsole({ ...console, ...capture }))
      )
    )
    const done = yield* Fiber.join(fiber).pipe(Effect.timeout(timeoutMs), Effect.option)
    if (done._tag === "Some") return { code: done.value, stderr: lines.join("\n"), timedOut: false }
    // Still going (a crawl, serve, a DHT lookup): interrupted as by Ctrl-C, it must end, with exit 0.
    const exit = yield* Fiber.interrupt(fiber).pipe(Effect.timeout(15_000), Effect.option)
    const code = exit._tag === "Some" && Exit.isInterrupted(exit.value)
      ? 0
      : exit._tag === "Some" && Exit.isSuccess(exit.value)
      ? exit.value.value
      : null
    return {
      code,
      stderr: lines.join("\n") + (exit._tag === "None" ? "\n(did not stop after interruption)" : ""),
      timedOut: true
    }
  }).pipe(
    Effect.provide(Layer.mergeAll(
      NodeContext.layer,
      Layer.setConfigProvider(
        ConfigProvider.fromMap(
          new Map(
            Object.entries(ENV).map((
              [k, v]
            ) => [k.slice(10).toLowerCase().replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()), v])
          )
        )
      )
    ))
  )

/**
 * The real process: still running after 20 s (a crawl, serve), it gets SIGINT; killed 20 s later (a hang). Generous:
 * on a busy machine a process can take seconds to start, and a SIGINT before its handlers are set kills it.
 */
const runStopping = (preload: readonly [string, string], args: ReadonlyArray<string>) =>
  new Promise<Run>((resolve) => {
    const child = spawn(process.execPath, ["--import", preload[0], preload[1], ...args], {
      cwd: join(dir, "cwd"),
      env: { ...process.env, NO_COLOR: "1", ...ENV },
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    let timedOut = false
    child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t))
    const stop = setTimeout(() => {
      timedOut = true
      child.kill("SIGINT")
    }, 20_000)
    const kill = setTimeout(() => child.kill("SIGKILL"), 40_000)
    child.on("close", (code) => {
      clearTimeout(stop)
      clearTimeout(kill)
      resolve({ code, stderr, timedOut })
    })
  })

let built = ""
const cwd = process.cwd()

beforeAll(async () => {
  await Effect.runPromise(Effect.provide(
    Effect.flatMap(Repository, (repo) =>
      Effect.zipRight(
        repo.recordDiscoveries([
          { infoHash: torrent.infoHash, source: "announce", at: 1_700_000_000_000 },
          ...Array.from({ length: 50 }, () => ({ infoHash: randomInfoHash(), source: "sample" as const, at: 1 }))
        ]),
        repo.saveTorrents([torrent])
      )),
    RepositorySqlite(db)
  ))
  copyFileSync(db, pristine)
  writeFileSync(junk, "not a database\n".repeat(40))
  mkdirSync(join(dir, "cwd"))
  // Relative paths in vectors (an --out of "abc") land in the scratch directory, never in the repository.
  process.chdir(join(dir, "cwd"))
  // The real process: built once from the current sources into a private directory (tsx would take seconds a run).
  // (domain/version.js reads ../../package.json: a copy sits one level above the build.)
  built = join(ROOT, "node_modules", ".cache", "bitscrape-fuzz", String(process.pid))
  mkdirSync(built, { recursive: true })
  copyFileSync(join(ROOT, "package.json"), join(built, "..", "package.json"))
  execFileSync(process.execPath, [
    join(ROOT, "node_modules/typescript/bin/tsc"),
    "-p",
    join(ROOT, "tsconfig.build.json"),
    "--outDir",
    built,
    "--declaration",
    "false",
    "--declarationMap",
    "false",
    "--sourceMap",
    "false"
  ], { cwd: ROOT, stdio: "ignore" })
  cpSync(join(ROOT, "src/web/assets"), join(built, "web/assets"), { recursive: true })
}, 300_000)

afterAll(() => {
  process.chdir(cwd)
  if (built !== "") rmSync(built, { recursive: true, force: true })
})

describe("CLI bad-input fuzzing (seeded)", () => {
  it(`${IN_PROCESS} vectors in-process through the real commands`, async () => {
    const list = vectors(IN_PROCESS, SEED)
    for (const args of list) {
      const before = digest(db)
      const run = await Effect.runPromise(inProcess(args, 2000))
      check(args, run, before)
    }
    assert.deepStrictEqual(problems.slice(0, 20), [], `${problems.length} problem(s)`)
  }, 900_000)

  it(`${SUBPROCESS} vectors through the real bitscrape process`, async () => {
    const list = vectors(SUBPROCESS, SEED + 1)
    let next = 0
    await Promise.all(Array.from({ length: 3 }, async () => {
      while (next < list.length) {
        const args = list[next++]!
        const before = digest(db)
        const r = await runStopping([join(ROOT, "test/support/loopbackGuard.mjs"), join(built, "main.js")], args)
        // A run that ignored Ctrl-C (SIGINT) was killed: code null, reported as a hang by check().
        check(args, r, before)
      }
    }))
    assert.deepStrictEqual(problems.slice(0, 20), [], `${problems.length} problem(s)`)
  }, 900_000)
})
