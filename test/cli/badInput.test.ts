// Every bad command line of issue 15, through the real CLI: one line on stderr that names what is wrong (and the
// flag), exit 2 for a usage error and 1 for a runtime failure, no stack trace. Add new cases to CASES.
import { Effect } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "vitest"
import { encode } from "../../src/wire/bencode.js"
import { runCli } from "../support/cli.js"
import { makeHostileSeeder } from "../support/seeders/hostileSeeder.js"

const dir = mkdtempSync(join(tmpdir(), "bitscrape-badinput-"))
const IH = "00".repeat(20)

/** Loopback only, whatever a case forgets: a bad case must never reach the public bootstrap. */
const ENV = { BITSCRAPE_BOOTSTRAP: "127.0.0.1:1", BITSCRAPE_ALLOW: "127.0.0.0/8", BITSCRAPE_UI: "false" }

interface Case {
  readonly args: ReadonlyArray<string>
  readonly code: 1 | 2
  /** What the one line must say. */
  readonly says: RegExp
  readonly env?: Record<string, string>
  /** Text stdout must not hold (work that must not have started). */
  readonly notOnStdout?: RegExp
}

export const CASES: ReadonlyArray<Case> = [
  // values the parser accepted and the commands never printed a word about
  { args: ["crawl", "--duration", "-1"], code: 2, says: /^--duration: must be a positive integer, got -1$/ },
  { args: ["crawl", "--max-pps", "0"], code: 2, says: /^--max-pps: must be a positive integer, got 0$/ },
  { args: ["crawl", "--max-pps", "-5"], code: 2, says: /^--max-pps: must be a positive integer, got -5$/ },
  { args: ["crawl", "--max-inflight", "0"], code: 2, says: /^--max-inflight: must be a positive integer/ },
  { args: ["crawl", "--max-known-nodes", "0"], code: 2, says: /^--max-known-nodes: must be a positive integer/ },
  { args: ["crawl", "--port", "70000"], code: 2, says: /^--port: must be 0–65535, got 70000$/ },
  { args: ["serve", "--ui-port", "70000"], code: 2, says: /^--ui-port: must be 0–65535, got 70000$/ },
  { args: ["export", "--format", "torrent"], code: 2, says: /^--format torrent needs --out DIRECTORY$/ },
  {
    args: ["demo", "--duration", "0"],
    code: 2,
    says: /^--duration: must be a positive integer, got 0$/,
    notOnStdout: /swarm/
  },
  // a bad value names its flag
  { args: ["crawl", "--max-pps", "abc"], code: 2, says: /^--max-pps: "abc" is not an integer$/ },
  { args: ["crawl", "--port", "1.5"], code: 2, says: /^--port: "1.5" is not an integer$/ },
  { args: ["search", "--limit", "x"], code: 2, says: /^--limit: "x" is not an integer$/ },
  { args: ["export", "--format", "xml"], code: 2, says: /^--format: "xml" is not one of jsonl, csv, torrent$/ },
  { args: ["search", "--sort", "best"], code: 2, says: /^--sort: "best" is not one of relevance, / },
  { args: ["crawl", "--max-pps"], code: 2, says: /^--max-pps: not a flag of this command, or its value is missing/ },
  { args: ["stats", "--bogus"], code: 2, says: /^--bogus: not a flag of this command/ },
  // runtime failures that printed stack traces
  {
    args: ["crawl", "--db", "/nonexistent/dir/x.db", "--duration", "1"],
    code: 1,
    says: /^cannot create \/nonexistent\/dir\/x\.db: the directory \/nonexistent\/dir does not exist$/
  },
  { args: ["show", IH, "--db", join(dir, "missing.db")], code: 1, says: /^no database at .*missing\.db/ },
  // wrong things said, or nothing said
  { args: ["fetch", "--db", "x", IH], code: 2, says: /^--db: not a flag of fetch/ },
  { args: ["crawl", "--bind", "999.0.0.1"], code: 2, says: /^--bind: "999\.0\.0\.1" is not an IP address$/ },
  { args: ["fetch", "--bind", "999.0.0.1", IH], code: 2, says: /^--bind: "999\.0\.0\.1" is not an IP address$/ },
  { args: ["serve", "--ui-host", "999.0.0.1"], code: 2, says: /^--ui-host: "999\.0\.0\.1" is not an IP address/ },
  {
    args: ["crawl", "--bootstrap", "127.0.0.1:99999"],
    code: 2,
    says: /^--bootstrap: "127\.0\.0\.1:99999": the port must be 1–65535$/
  },
  {
    args: ["crawl"],
    env: { BITSCRAPE_BIND: "999.0.0.1" },
    code: 2,
    says: /^invalid setting: BITSCRAPE_BIND: bind must be an IP address, or one IPv4 and one IPv6 address/
  },
  {
    args: ["crawl"],
    env: { BITSCRAPE_BOOTSTRAP: "127.0.0.1:99999" },
    code: 2,
    says: /^invalid setting: BITSCRAPE_BOOTSTRAP: "127.0.0.1:99999": the port must be 1–65535$/
  },
  { args: ["fetch", "--timeout", "0", IH], code: 2, says: /^--timeout: must be a positive integer, got 0$/ },
  { args: ["fetch", "--timeout", "-3", IH], code: 2, says: /^--timeout: must be a positive integer, got -3$/ },
  { args: ["search", "--page", "0"], code: 2, says: /^--page: must be 1–1000000, got 0$/ },
  { args: ["search", "--page", "-1"], code: 2, says: /^--page: must be 1–1000000, got -1$/ },
  { args: ["search", "--min-files", "-3"], code: 2, says: /^--min-files: must be at least 0, got -3$/ },
  { args: ["search", "--limit", "0"], code: 2, says: /^--limit: must be 1–500, got 0$/ },
  { args: ["show", "zz"], code: 2, says: /^"zz" is not an infohash \(40 hex digits\)$/ },
  { args: ["nope"], code: 2, says: /^Invalid subcommand for bitscrape/ },
  // the web UI's token
  { args: ["serve"], env: { BITSCRAPE_UI_TOKEN: "" }, code: 2, says: /^BITSCRAPE_UI_TOKEN is empty; .* at least 16/ },
  { args: ["serve"], env: { BITSCRAPE_UI_TOKEN: "short" }, code: 2, says: /^BITSCRAPE_UI_TOKEN is 5 characters/ }
]

/** Runs `items` through `f`, `limit` at a time. */
const pool = async <A, B>(items: ReadonlyArray<A>, limit: number, f: (a: A) => Promise<B>): Promise<Array<B>> => {
  const out: Array<B> = []
  let next = 0
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await f(items[i]!)
    }
  }))
  return out
}

describe("bad command lines (real CLI): one clear line, exit 2 or 1, no stack trace", () => {
  it("every case of issue 15", async () => {
    // `serve` with a token problem must fail before it opens the database: give it one that exists.
    const results = await pool(CASES, 4, (c) => runCli(c.args, { ...ENV, ...c.env }))
    const failures: Array<string> = []
    CASES.forEach((c, i) => {
      const r = results[i]!
      // Log lines (logfmt, on stderr too: docs/configuration.md) are not the error message.
      const lines = r.stderr.split("\n").filter((l) => l !== "" && !/^timestamp=\S+ level=/.test(l))
      const line = (lines[0] ?? "").replace(/^bitscrape: /, "")
      const what = `${c.args.join(" ")} → exit ${r.status}, stderr ${JSON.stringify(r.stderr)}`
      if (r.status !== c.code) failures.push(`exit ${c.code} expected: ${what}`)
      else if (lines.length !== 1 || !lines[0]!.startsWith("bitscrape: ")) failures.push(`one line expected: ${what}`)
      else if (!c.says.test(line)) failures.push(`${c.says} expected: ${what}`)
      else if (/\n\s+at /.test(r.stderr)) failures.push(`stack trace: ${what}`)
      else if (c.notOnStdout?.test(r.stdout)) failures.push(`work started: ${what}; stdout ${r.stdout}`)
    })
    assert.deepStrictEqual(failures, [])
  }, 240_000)

  it("--log-level debug adds the stack trace to the line", async () => {
    const r = await runCli(["--log-level", "debug", "stats", "--db", join(dir, "missing.db")])
    assert.strictEqual(r.status, 1)
    assert.match(r.stderr, /^bitscrape: no database at /)
    assert.match(r.stderr, /\n\s+at /)
  }, 60_000)
})

describe("magnets and hashes (real CLI)", () => {
  it(
    "a v2-only magnet (urn:btmh:) is accepted; a hybrid torrent fetched by its v2 hash reports its v1 infohash",
    () =>
      Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const info = encode({
          "file tree": { "h.bin": { "": { length: 10, "pieces root": randomBytes(32) } } },
          length: 10,
          "meta version": 2,
          name: "h.bin",
          "piece length": 16384,
          pieces: randomBytes(20)
        })
        const v1 = createHash("sha1").update(info).digest("hex")
        const v2 = createHash("sha256").update(info).digest("hex")
        const seeder = yield* makeHostileSeeder({ host: "127.36.0.1", infoDict: info, behaviour: "honest", byV2: true })
        const r = yield* Effect.promise(() =>
          runCli(["fetch", `magnet:?xt=urn:btmh:1220${v2}&x.pe=${seeder.host}:${seeder.port}`, "--json"], ENV)
        )
        assert.strictEqual(r.status, 0, r.stderr)
        const json = JSON.parse(r.stdout)
        assert.strictEqual(json.infohash, v1, "the v1 infohash, not the truncated v2 hash")
        assert.strictEqual(json.infohash_v2, v2)
      }))),
    120_000
  )
})
