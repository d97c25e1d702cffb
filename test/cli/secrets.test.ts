// Database credentials (issue 15): a password in the URL's userinfo or in a `?password=` parameter, containing
// `/`, `@`, `%` and `:`, never appears in the CLI's output, the dashboard's pages or API, log lines, error messages
// or the stored session settings. Against a real PostgreSQL server (test/support/postgres.ts).
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { redactDb, redactText } from "../../src/config/redact.js"
import { RepositoryPostgres } from "../../src/repository/layers.js"
import { Repository } from "../../src/repository/Repository.js"
import { runCli, spawnCli } from "../support/cli.js"
import { layerPostgresServer, PostgresServer } from "../support/postgres.js"

/** The secret's distinctive tail survives percent-encoding: finding it anywhere means the password leaked. */
const MARK = "w0rdZq9"
const PASSWORD = `p/a@s%s:${MARK}`

const leaks = (text: string) => text.includes(MARK) || text.includes(encodeURIComponent(PASSWORD))

describe("redaction (pure)", () => {
  it("userinfo with raw or encoded /, @, %, : and secret URL parameters", () => {
    for (
      const url of [
        `postgres://bs:${PASSWORD}@127.0.0.1:5432/db`,
        `postgres://bs:${encodeURIComponent(PASSWORD)}@127.0.0.1:5432/db`,
        `postgresql://127.0.0.1/db?sslmode=disable&password=${encodeURIComponent(PASSWORD)}`,
        `postgres://127.0.0.1/db?PassWord=${PASSWORD}&application_name=x`
      ]
    ) {
      const shown = redactDb(url)
      assert.isFalse(leaks(shown), `${url} → ${shown}`)
      assert.include(shown, "127.0.0.1")
      assert.isFalse(leaks(redactText(`cannot open ${url}: refused`)))
    }
    assert.strictEqual(redactDb("./bitscrape.db"), "./bitscrape.db")
  })
})

const dashboardUrl = (child: ReturnType<typeof spawnCli>, seen: { out: string }) =>
  new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no dashboard line in: ${seen.out}`)), 90_000)
    child.stdout.setEncoding("utf8").on("data", (t: string) => {
      seen.out += t
      const m = /dashboard: (http:\/\/\S+)/.exec(seen.out)
      if (m !== null) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
  })

describe("no password leaks through the real CLI and dashboard (PostgreSQL)", () => {
  {
    it(
      "demo with the password in the userinfo, serve with it as ?password=, and an unreachable server",
      () =>
        Effect.runPromise(
          Effect.gen(function*() {
            const server = yield* PostgresServer
            const base = new URL(yield* server.createDatabase("secrets"))
            // Trust authentication: the server ignores the password, so both spellings connect.
            const withUserinfo = `postgres://postgres:${encodeURIComponent(PASSWORD)}@${base.host}${base.pathname}`
            const withParam = `postgres://postgres@${base.host}${base.pathname}?password=${
              encodeURIComponent(PASSWORD)
            }`

            const demo = yield* Effect.promise(() =>
              runCli([
                "demo",
                "--db",
                withUserinfo,
                "--nodes",
                "20",
                "--torrents",
                "3",
                "--seeders",
                "1",
                "--duration",
                "3"
              ])
            )
            assert.strictEqual(demo.status, 0, demo.stderr)
            assert.include(demo.stdout, "demo: crawling into postgres://…@")
            assert.isFalse(leaks(demo.stdout + demo.stderr), demo.stdout + demo.stderr)

            // The dashboard over the same database: the about page's database and the stored session settings.
            const child = spawnCli(["serve", "--db", withParam])
            const seen = { out: "" }
            let errText = ""
            child.stderr.setEncoding("utf8").on("data", (t: string) => (errText += t))
            try {
              const url = yield* Effect.promise(() => dashboardUrl(child, seen))
              const about = yield* Effect.promise(() => fetch(`${url}api/about`).then((r) => r.text()))
              const sessions = yield* Effect.promise(() => fetch(`${url}api/sessions`).then((r) => r.text()))
              assert.include(about, "127.0.0.1")
              assert.isFalse(leaks(about), about)
              assert.include(sessions, "postgres://")
              assert.isFalse(leaks(sessions), sessions)
            } finally {
              child.kill("SIGINT")
            }
            yield* Effect.promise(() => new Promise((resolve) => child.on("close", resolve)))
            assert.isFalse(leaks(seen.out + errText), seen.out + errText)

            const stored = yield* Effect.flatMap(Repository, (repo) => repo.sessions(10)).pipe(
              Effect.provide(RepositoryPostgres(withUserinfo, { readOnly: true }))
            )
            assert.isAbove(stored.length, 0)
            assert.isFalse(leaks(JSON.stringify(stored)))

            // An error message that names the URL (nothing listens on port 1).
            for (
              const db of [`postgres://bs:${PASSWORD}@127.0.0.1:1/x`, `postgres://127.0.0.1:1/x?password=${PASSWORD}`]
            ) {
              const r = yield* Effect.promise(() => runCli(["stats", "--db", db]))
              assert.strictEqual(r.status, 1, r.stderr)
              assert.match(r.stderr, /^bitscrape: /)
              assert.isFalse(leaks(r.stdout + r.stderr), r.stderr)
            }
          }).pipe(Effect.provide(layerPostgresServer()), Effect.scoped)
        ),
      300_000
    )
  }
})
