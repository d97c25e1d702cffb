// Issue 16 item 7: the SQLite database on a small tmpfs that fills up. The crawl stops cleanly with its summary
// and one clear message, and the database is intact. The tmpfs is mounted in a private mount namespace
// (`unshare -m`, as root), so nothing outside the test sees it.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { GUARD, MAIN } from "../support/cli.js"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))

/** Opens the database as the next crawl would, and reports its integrity and contents (run inside the namespace). */
const CHECK = `
const Database = require("better-sqlite3")
const db = new Database(process.argv[1])
const n = (t) => db.prepare("SELECT count(*) AS n FROM " + t).get().n
console.log("CHECK " + JSON.stringify({
  integrity: db.pragma("integrity_check", { simple: true }),
  infohashes: n("infohashes"),
  torrents: n("torrents"),
  sessions: db.prepare("SELECT id, state FROM sessions").all()
}))
`

describe("disk full", () => {
  it.live(
    "a crawl whose disk fills stops cleanly with its summary and one message; the database is intact",
    () =>
      Effect.gen(function*() {
        assert.strictEqual(process.getuid?.(), 0, "mounting a tmpfs needs root (the tests run as root)")
        assert.strictEqual(spawnSync("unshare", ["-m", "true"]).status, 0, "unshare -m (util-linux) works")
        const dir = mkdtempSync(join(tmpdir(), "bitscrape-full-"))
        const script = [
          `mount -t tmpfs -o size=1200k tmpfs "$1" || exit 99`,
          `"$2" --import "$3" "$4" demo --profile realistic --db "$1/crawl.db" --no-ui --duration 90`,
          `echo "EXIT=$?"`,
          `"$2" -e "$5" "$1/crawl.db"`
        ].join("\n")
        const run = yield* Effect.async<{ stdout: string; stderr: string }>((resume) => {
          const child = spawn(
            "unshare",
            ["-m", "--propagation", "private", "bash", "-c", script, "bash", dir, process.execPath, GUARD, MAIN, CHECK],
            { cwd: ROOT, env: { ...process.env, NO_COLOR: "1", BITSCRAPE_UI_PORT: "0" } }
          )
          let stdout = ""
          let stderr = ""
          child.stdout.setEncoding("utf8").on("data", (t: string) => (stdout += t))
          child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t))
          child.on("exit", () => resume(Effect.succeed({ stdout, stderr })))
          return Effect.sync(() => child.kill("SIGKILL"))
        })
        const exit = /EXIT=(\d+)/.exec(run.stdout)?.[1]
        assert.strictEqual(exit, "1", `the crawl failed (exit 1) — stdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
        // One message, on stderr, that says what happened and what to do; no stack trace.
        const messages = run.stderr.split("\n").filter((l) => l.startsWith("bitscrape:"))
        assert.strictEqual(messages.length, 1, run.stderr)
        assert.match(messages[0]!, /^bitscrape: crawl stopped: .*(database or disk is full|No space left)/)
        assert.match(messages[0]!, /free some space, or bound the database with --max-db-size/)
        assert.notMatch(run.stderr, /\n\s+at /, "no stack trace")
        // A clean stop: the summary was printed, well before --duration.
        const ended = /crawl ended after ([\d.]+) s/.exec(run.stdout)
        assert.isNotNull(ended, run.stdout)
        assert.isBelow(Number(ended![1]), 90)
        // The database is intact and holds what was written before the disk filled.
        const check = JSON.parse(/CHECK (.*)/.exec(run.stdout)![1]!) as {
          integrity: string
          infohashes: number
          sessions: Array<{ id: number; state: string | null }>
        }
        assert.strictEqual(check.integrity, "ok")
        assert.isAbove(check.infohashes, 0)
        assert.strictEqual(check.sessions.length, 1)
      }),
    240_000
  )
})
