// Database files and export targets of issue 15, through the real CLI: nothing is destroyed (export never writes
// onto the database or over a file without --force), read-only commands leave the file's bytes, tables and journal
// mode alone, and each kind of bad file gets its own one-line message. Add new cases here.
import Database from "better-sqlite3"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, beforeAll, describe, it } from "vitest"
import { toHex } from "../../src/krpc/index.js"
import { RepositorySqlite } from "../../src/repository/layers.js"
import { Repository } from "../../src/repository/Repository.js"
import { type CliResult, GUARD, MAIN, runCli } from "../support/cli.js"
import { makeTorrent, randomInfoHash } from "../support/torrents.js"

// Each CLI run starts Node and tsx (seconds on a busy machine): generous time-outs.
const SLOW = 180_000

const dir = mkdtempSync(join(tmpdir(), "bitscrape-dbfiles-"))
chmodSync(dir, 0o755)
const db = join(dir, "data.db")
const torrent = makeTorrent("Sintel", [{ path: "sintel.mkv", length: 1_000_000 }])

const digest = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex")
const oneLine = (r: CliResult, code: number, says: RegExp) => {
  assert.strictEqual(r.status, code, `exit ${r.status}: ${r.stderr}`)
  // Log lines (logfmt, on stderr too) are not the error message.
  const lines = r.stderr.split("\n").filter((l) => l !== "" && !/^timestamp=\S+ level=/.test(l))
  assert.strictEqual(lines.length, 1, r.stderr)
  assert.match(lines[0]!, /^bitscrape: /)
  assert.match(lines[0]!.slice("bitscrape: ".length), says)
}

/** Another application's SQLite file (one of its tables is even called `torrents`). */
const foreign = (name: string) => {
  const path = join(dir, name)
  const other = new Database(path)
  other.exec("CREATE TABLE people (name TEXT); CREATE TABLE torrents (x); INSERT INTO people VALUES ('ada')")
  other.close()
  return path
}

beforeAll(async () => {
  await Effect.runPromise(Effect.provide(
    Effect.gen(function*() {
      const repo = yield* Repository
      yield* repo.recordDiscoveries([
        { infoHash: torrent.infoHash, source: "announce", at: Date.parse("2026-01-10") },
        ...Array.from({ length: 200 }, () => ({ infoHash: randomInfoHash(), source: "sample" as const, at: 1 }))
      ])
      yield* repo.saveTorrents([torrent])
    }),
    RepositorySqlite(db)
  ))
}, 30_000)

describe("export never destroys a file", () => {
  it("refuses --out onto the database being exported (and its -wal), under any spelling", async () => {
    const before = digest(db)
    for (const out of [db, `${dir}/./data.db`, `${db}-wal`]) {
      oneLine(await runCli(["export", "--db", db, "--out", out]), 2, /is the database being exported/)
    }
    assert.strictEqual(digest(db), before)
  }, SLOW)

  it("refuses to overwrite an existing file without --force, and overwrites it with --force", async () => {
    const out = join(dir, "existing.txt")
    writeFileSync(out, "keep me\n")
    oneLine(await runCli(["export", "--db", db, "--out", out]), 2, /exists; pass --force to overwrite it$/)
    assert.strictEqual(readFileSync(out, "utf8"), "keep me\n")
    const forced = await runCli(["export", "--db", db, "--out", out, "--force"])
    assert.strictEqual(forced.status, 0, forced.stderr)
    assert.strictEqual(readFileSync(out, "utf8").trim().split("\n").length, 201)
  }, SLOW)

  it(
    "bad --out targets: a missing directory, a directory, an empty name, a file for --format torrent, /proc",
    async () => {
      const existing = join(dir, "existing-2.txt")
      writeFileSync(existing, "x")
      oneLine(
        await runCli(["export", "--db", db, "--out", join(dir, "nope", "x.jsonl")]),
        1,
        /^cannot write .*x\.jsonl: the directory does not exist$/
      )
      oneLine(await runCli(["export", "--db", db, "--out", dir]), 2, /is a directory; give a file name$/)
      oneLine(await runCli(["export", "--db", db, "--out", ""]), 2, /^--out: the file name is empty$/)
      oneLine(
        await runCli(["export", "--db", db, "--format", "torrent", "--out", existing]),
        2,
        /exists and is not a directory/
      )
      // Node's recursive mkdir spun forever on this path, ignoring SIGTERM; runCli kills after 60 s.
      oneLine(
        await runCli(["export", "--db", db, "--format", "torrent", "--out", "/proc/nope"]),
        1,
        /^cannot create the directory \/proc\/nope: /
      )
      // .torrent files already in the directory are not overwritten without --force either.
      const tdir = join(dir, "torrents")
      assert.strictEqual((await runCli(["export", "--db", db, "--format", "torrent", "--out", tdir])).status, 0)
      const file = join(tdir, `${toHex(torrent.infoHash)}.torrent`)
      assert.isTrue(existsSync(file))
      oneLine(
        await runCli(["export", "--db", db, "--format", "torrent", "--out", tdir]),
        2,
        /\.torrent exists; pass --force/
      )
      assert.strictEqual(
        (await runCli(["export", "--db", db, "--format", "torrent", "--out", tdir, "--force"])).status,
        0
      )
    },
    SLOW
  )
})

describe("read-only commands never change the database", () => {
  it("stats, search, show and export leave a BitScrape database's bytes alone", async () => {
    const copy = join(dir, "readonly-check.db")
    copyFileSync(db, copy)
    const before = digest(copy)
    for (
      const args of [
        ["stats"],
        ["search", "sintel"],
        ["show", toHex(torrent.infoHash)],
        ["export", "--format", "csv"]
      ]
    ) {
      const r = await runCli([...args, "--db", copy])
      assert.strictEqual(r.status, 0, `${args.join(" ")}: ${r.stderr}`)
    }
    assert.strictEqual(digest(copy), before)
  }, SLOW)

  it(
    "another application's SQLite file is refused by readers AND by crawl: no tables added, journal mode kept",
    async () => {
      const path = foreign("other.db")
      const before = digest(path)
      for (const args of [["stats"], ["search", "x"], ["export"], ["crawl", "--duration", "1", "--no-ui"]]) {
        const r = await runCli([...args, "--db", path], {
          BITSCRAPE_BOOTSTRAP: "127.0.0.1:1",
          BITSCRAPE_BIND: "127.0.0.1"
        })
        oneLine(r, 1, /other\.db is an SQLite database but not a BitScrape one \(it holds people, torrents\)/)
      }
      assert.strictEqual(digest(path), before)
      const check = new Database(path, { readonly: true })
      assert.strictEqual(check.pragma("journal_mode", { simple: true }), "delete")
      check.close()
    },
    SLOW
  )
})

describe("each kind of bad database file has its own message", () => {
  it("missing, a directory, empty, not SQLite, truncated, corrupt", async () => {
    const bytes = readFileSync(db)
    const empty = join(dir, "empty.db")
    writeFileSync(empty, "")
    const junk = join(dir, "junk.db")
    writeFileSync(junk, "this is a text file, not a database\n".repeat(50))
    const truncated = join(dir, "truncated.db")
    writeFileSync(truncated, bytes.subarray(0, 4096 * 2))
    const corrupt = join(dir, "corrupt.db")
    const damaged = Buffer.from(bytes)
    damaged.fill(0x55, 100, 4096) // page 1 after the header: the schema's b-tree
    writeFileSync(corrupt, damaged)
    const cases: Array<[string, RegExp]> = [
      [join(dir, "missing.db"), /^no database at .*missing\.db \(run `bitscrape crawl` first, or pass --db\)$/],
      [dir, / is a directory, not a database file$/],
      [empty, /empty\.db is empty, not a BitScrape database/],
      [junk, /junk\.db is not an SQLite database/],
      [truncated, /truncated\.db is truncated \(8192 of \d+ bytes\): restore it from a backup$/],
      [corrupt, /corrupt\.db is corrupt \(database disk image is malformed\)/]
    ]
    for (const [path, says] of cases) oneLine(await runCli(["stats", "--db", path]), 1, says)
    assert.isFalse(existsSync(join(dir, "missing.db")), "a reader never creates the file")
  }, SLOW)

  it("a database in a read-only directory (run as an unprivileged user)", async () => {
    const rodir = join(dir, "readonly")
    mkdirSync(rodir)
    const path = join(rodir, "data.db")
    copyFileSync(db, path)
    // A WAL database: a reader must create data.db-shm beside it, which a read-only directory forbids.
    const w = new Database(path)
    w.pragma("journal_mode = WAL")
    w.close()
    chmodSync(path, 0o644)
    chmodSync(rodir, 0o555)
    const r = await runAs(65534, ["stats", "--db", path])
    oneLine(r, 1, /directory is read-only/)
    const crawl = await runAs(65534, ["crawl", "--db", path, "--duration", "1", "--no-ui"], {
      BITSCRAPE_BOOTSTRAP: "127.0.0.1:1",
      BITSCRAPE_BIND: "127.0.0.1",
      BITSCRAPE_PORT: "0"
    })
    oneLine(crawl, 1, /read-only/)
  }, SLOW)
})

/** The real CLI as another user (root ignores file permissions, so a read-only directory needs one). */
const runAs = (uid: number, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<CliResult>((resolve, reject) => {
    if (process.getuid?.() !== 0) {
      reject(new Error("this test needs to run as root (it drops to uid 65534 to meet a read-only directory)"))
      return
    }
    const child = spawn(process.execPath, ["--import", GUARD, MAIN, ...args], {
      uid,
      gid: uid,
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      env: { ...process.env, NO_COLOR: "1", HOME: tmpdir(), BITSCRAPE_UI_PORT: "0", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (t: string) => (stdout += t))
    child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("error", reject)
    child.on("close", (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  })
