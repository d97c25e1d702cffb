// The bans table holds only live bans (issue 16 item 2: no table grows without bound): recording new bans
// deletes those that have run out, on SQLite (counted in the file), PostgreSQL and memory.
import { assert, describe, it, layer } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { RepositoryPostgres, RepositorySqlite } from "../../src/repository/layers.js"
import { RepositoryMemory } from "../../src/repository/memory.js"
import { Repository } from "../../src/repository/Repository.js"
import { layerPostgresServer, PostgresServer } from "../support/postgres.js"

const T0 = 1_700_000_000_000

const record = Effect.gen(function*() {
  const repo = yield* Repository
  yield* repo.recordBans(["127.0.0.1", "127.0.0.2"], { at: T0, until: T0 + 1000, reason: "garbage" })
  yield* repo.recordBans(["127.0.0.3"], { at: T0 + 500, until: T0 + 5000, reason: "garbage" })
  assert.sameMembers([...yield* repo.activeBans(T0 + 600)], ["127.0.0.1", "127.0.0.2", "127.0.0.3"])
  // The first two have run out by the time the next ban is recorded: they go (asked about T0 + 600, when they
  // were still in force, they are no longer there — so they were deleted, not just filtered out).
  yield* repo.recordBans(["127.0.0.4"], { at: T0 + 2000, until: T0 + 9000, reason: "garbage" })
  assert.sameMembers([...yield* repo.activeBans(T0 + 600)], ["127.0.0.3", "127.0.0.4"])
})

describe("bans: expired ones are deleted", () => {
  it.effect("memory", () => Effect.provide(record, RepositoryMemory))

  it.effect("SQLite: the rows are gone from the file", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "bitscrape-bans-"))
      const file = join(dir, "b.db")
      try {
        yield* Effect.scoped(Effect.flatMap(Layer.build(RepositorySqlite(file)), (ctx) => Effect.provide(record, ctx)))
        const db = new Database(file, { readonly: true })
        const hosts = db.prepare("SELECT host FROM bans ORDER BY host").all() as Array<{ host: string }>
        db.close()
        assert.deepStrictEqual(hosts.map((h) => h.host), ["127.0.0.3", "127.0.0.4"])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }))
})

layer(layerPostgresServer(), { timeout: 60_000 })("bans on PostgreSQL", (it) => {
  it.effect("expired ones are deleted (asked about an earlier time, they are gone)", () =>
    Effect.gen(function*() {
      const server = yield* PostgresServer
      const url = yield* server.createDatabase(`bans_${process.pid}`)
      yield* Effect.scoped(Effect.flatMap(Layer.build(RepositoryPostgres(url)), (ctx) => Effect.provide(record, ctx)))
    }), 60_000)
})
