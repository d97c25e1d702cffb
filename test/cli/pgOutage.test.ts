// Issue 16 item 6: the PostgreSQL server stops for 30 s mid-crawl and comes back. The crawl goes on, says the
// database is unreachable meanwhile, its writes wait (bounded queues: backpressure) and are retried with backoff,
// and once the server is back everything is written.
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { makeDemoSwarm } from "../../src/demo/swarm.js"
import { spawnCli } from "../support/cli.js"
import { makePostgresServer } from "../support/postgres.js"

interface Line {
  readonly elapsed?: number
  readonly summary?: boolean
  readonly queries?: Record<string, number>
  readonly discoveries?: Record<string, number>
  readonly stats?: { readonly discoveries: Record<string, number> }
  readonly written?: { readonly discoveries: number; readonly nodes: number }
  readonly database?: { readonly unreachable?: string | null }
}

const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0)

describe("PostgreSQL outage", () => {
  it.scopedLive(
    "the server stops for 30 s: the crawl goes on, says so, waits and retries, and writes everything once back",
    () =>
      Effect.gen(function*() {
        const server = yield* makePostgresServer()
        const url = yield* server.createDatabase(`outage_${process.pid}`)
        const swarm = yield* makeDemoSwarm({ nodes: 30, torrents: 10, seeders: 4, log: () => Effect.void })
        const lines: Array<Line> = []
        let onLine: (() => void) | undefined
        const child = spawnCli([
          "crawl",
          "--json",
          "--no-ui",
          ...["--allow", "127.0.0.0/8", "--bootstrap", `${swarm.bootstrap.host}:${swarm.bootstrap.port}`],
          ...["--bind", "127.68.0.1", "--port", "0", "--db", url, "--duration", "60"]
        ], { BITSCRAPE_PROGRESS_INTERVAL: "1" })
        let pending = ""
        let stderr = ""
        child.stdout.setEncoding("utf8").on("data", (t: string) => {
          pending += t
          const parts = pending.split("\n")
          pending = parts.pop()!
          for (const l of parts) if (l.startsWith("{")) lines.push(JSON.parse(l) as Line)
          onLine?.()
        })
        child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t))
        const exited = Effect.async<number | null>((resume) => {
          if (child.exitCode !== null) return resume(Effect.succeed(child.exitCode))
          child.on("exit", (code) => resume(Effect.succeed(code)))
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
        const until = (done: () => boolean) =>
          Effect.async<void>((resume) => {
            if (done()) return resume(Effect.void)
            onLine = () => {
              if (done()) {
                onLine = undefined
                resume(Effect.void)
              }
            }
          })

        // Crawling and writing: then the server goes away for 30 s.
        yield* until(() => (lines.at(-1)?.written?.discoveries ?? 0) > 0)
        yield* server.stop
        const stoppedAt = lines.length
        yield* Effect.sleep("30 seconds")
        const during = lines.slice(stoppedAt)
        yield* server.start
        const code = yield* exited
        assert.strictEqual(code, 0, stderr)

        // Meanwhile the crawl went on and said the database was unreachable.
        assert.isTrue(during.some((l) => typeof l.database?.unreachable === "string"), "unreachable was shown")
        const first = during[0]!
        const last = during.at(-1)!
        assert.isAbove(total(last.queries!), total(first.queries!), "queries went on during the outage")
        // Back: the flag is gone and every discovery the crawler counted was written, once.
        const summary = lines.find((l) => l.summary === true)!
        const end = lines.filter((l) => l.elapsed !== undefined).at(-1)!
        assert.isNotTrue(typeof end.database?.unreachable === "string", "reachable again at the end")
        assert.strictEqual(summary.written!.discoveries, total(summary.stats!.discoveries))
        const stored = yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const [row] = yield* sql.unsafe<{ n: string }>(
            "SELECT sum(seen_sample + seen_get_peers + seen_announce + seen_lookup) AS n FROM infohashes"
          )
          return Number(row!.n)
        }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })), Effect.scoped)
        assert.strictEqual(stored, summary.written!.discoveries, "in the database")
      }),
    240_000
  )
})
