// Not a benchmark: a PostgreSQL server with the search data set loaded, kept running while SQL files dropped in
// $LAB/in are run (each result in $LAB/out). For trying query plans by hand:
// BITSCRAPE_LAB=/tmp/lab [BITSCRAPE_BENCH_TORRENTS=10000000] npx tsx bench/pgLab.ts
import { Effect, Scope } from "effect"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { RepositoryPostgres } from "../src/repository/layers.js"
import { makePostgresServer } from "../test/support/postgres.js"
import { loadPostgres, makeVocabulary, migrate, pgSource } from "./repository.js"

const pg = createRequire(import.meta.url)("pg")
const lab = process.env.BITSCRAPE_LAB ?? "/tmp/bitscrape-lab"
// The data set of BITSCRAPE_BENCH_TORRENTS torrents (default 1 M), as bench/repository.ts loads it.
const count = Number(process.env.BITSCRAPE_BENCH_TORRENTS ?? 1_000_000)
fs.mkdirSync(path.join(lab, "in"), { recursive: true })
fs.mkdirSync(path.join(lab, "out"), { recursive: true })
const scope = Effect.runSync(Scope.make())
const server = await Effect.runPromise(Scope.extend(makePostgresServer(), scope))
const url = await Effect.runPromise(server.createDatabase("lab"))
await migrate(RepositoryPostgres(url))
const source = await pgSource(makeVocabulary(), count)
const t0 = performance.now()
await loadPostgres(url, source.tsv, source.copies)
console.log(`loaded in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
fs.writeFileSync(path.join(lab, "url"), url)
console.log("ready", url)
const client = new pg.Client({ connectionString: url })
await client.connect()
for (;;) {
  for (const f of fs.readdirSync(path.join(lab, "in")).sort()) {
    const sql = fs.readFileSync(path.join(lab, "in", f), "utf8")
    fs.rmSync(path.join(lab, "in", f))
    const out: Array<string> = []
    for (const stmt of sql.split(/;\s*\n/).map((s) => s.trim()).filter((s) => s !== "")) {
      try {
        const t = performance.now()
        const r = await client.query(stmt)
        const ms = performance.now() - t
        out.push(`-- ${ms.toFixed(1)} ms: ${stmt.slice(0, 200)}`)
        for (const row of (r.rows ?? []).slice(0, 60)) out.push(Object.values(row).join(" | "))
      } catch (e) {
        out.push(`-- ERROR ${String(e)}: ${stmt.slice(0, 200)}`)
      }
    }
    fs.writeFileSync(path.join(lab, "out", f), out.join("\n") + "\n")
  }
  await new Promise((r) => setTimeout(r, 500))
}
