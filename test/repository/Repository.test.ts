import { describe, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { RepositoryPostgres, RepositorySqlite } from "../../src/repository/layers.js"
import { RepositoryMemory } from "../../src/repository/memory.js"
import { layerPostgresServer, PostgresServer } from "../support/postgres.js"
import { repositoryContract } from "./suite.js"

/** A fresh SQLite file per test, removed afterwards. */
const freshSqlite = Layer.unwrapScoped(Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "bitscrape-repo-"))),
    (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
  )
  return RepositorySqlite(join(dir, "test.db"))
}))

/** A fresh database per test on the shared PostgreSQL server. */
let databases = 0
const freshPostgres = Layer.unwrapEffect(Effect.gen(function*() {
  const server = yield* PostgresServer
  const url = yield* server.createDatabase(`contract_${process.pid}_${++databases}`)
  return RepositoryPostgres(url)
}))

describe("Repository contract: memory", () => {
  layer(Layer.empty)((it) => repositoryContract(it, RepositoryMemory))
})

describe("Repository contract: SQLite", () => {
  layer(Layer.empty)((it) => repositoryContract(it, freshSqlite))
})

describe("Repository contract: PostgreSQL (a real server on loopback)", () => {
  layer(layerPostgresServer(), { timeout: 60_000 })((it) => repositoryContract(it, freshPostgres))
})
