import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Exit, Redacted, Scope } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import { layerPostgresServer, makePostgresServer, PostgresServer } from "./postgres.js"

/** Runs `self` against the database at `url` through @effect/sql-pg. */
const withDb = <A, E>(url: string, self: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  self.pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url) })))

const accepts = (port: number) =>
  Effect.async<boolean>((resume) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  })

layer(layerPostgresServer())("PostgreSQL test server", (it) => {
  it.effect("accepts @effect/sql-pg connections on 127.0.0.1 and runs queries", () =>
    Effect.gen(function*() {
      const server = yield* PostgresServer
      expect(server.url).toBe(`postgres://postgres@127.0.0.1:${server.port}/postgres`)
      expect(server.host).toBe("127.0.0.1")
      const rows = yield* withDb(
        server.url,
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL)`
          yield* sql`INSERT INTO items ${sql.insert([{ id: 1, name: "ünïcode ✓" }, { id: 2, name: "b" }])}`
          const one = yield* sql<{ one: number }>`SELECT 1 AS one`
          expect(one).toEqual([{ one: 1 }])
          const encoding = yield* sql<{ server_encoding: string }>`SHOW server_encoding`
          expect(encoding[0].server_encoding).toBe("UTF8")
          return yield* sql<{ id: number; name: string }>`SELECT id, name FROM items ORDER BY id`
        })
      )
      expect(rows).toEqual([{ id: 1, name: "ünïcode ✓" }, { id: 2, name: "b" }])
    }))

  it.effect("createDatabase gives an isolated database", () =>
    Effect.gen(function*() {
      const server = yield* PostgresServer
      yield* withDb(
        server.url,
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE IF NOT EXISTS only_in_main (x int)`)
      )
      const url = yield* server.createDatabase("suite_a")
      expect(url).toBe(`postgres://postgres@127.0.0.1:${server.port}/suite_a`)
      const seen = yield* withDb(
        url,
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const db = yield* sql<{ db: string }>`SELECT current_database() AS db`
          const main = yield* sql<{ t: string | null }>`SELECT to_regclass('only_in_main')::text AS t`
          yield* sql`CREATE TABLE only_in_a (x int)`
          return { db: db[0].db, main: main[0].t }
        })
      )
      expect(seen).toEqual({ db: "suite_a", main: null })
      const back = yield* withDb(
        server.url,
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql<{ t: string | null }>`SELECT to_regclass('only_in_a')::text AS t`)
      )
      expect(back).toEqual([{ t: null }])

      const again = yield* server.createDatabase("suite_a").pipe(Effect.flip)
      expect(again.reason).toBe("CreateDatabaseFailed")
      const bad = yield* server.createDatabase("x; DROP DATABASE postgres").pipe(Effect.flip)
      expect(bad.reason).toBe("BadDatabaseName")
    }))
})

describe("makePostgresServer", () => {
  it.effect("stops the server and removes its dir when the scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* makePostgresServer().pipe(Scope.extend(scope))
      expect(server.startupMillis).toBeGreaterThan(0) // ~0.9 s idle here; not asserted against a budget (CI load)
      expect(yield* accepts(server.port)).toBe(true)
      expect(fs.existsSync(server.dir)).toBe(true)
      yield* Scope.close(scope, Exit.void)
      expect(yield* accepts(server.port)).toBe(false)
      expect(fs.existsSync(server.dir)).toBe(false)
    }))

  it.effect("a fixed port is used as given", () =>
    Effect.gen(function*() {
      const port = yield* Effect.async<number>((resume) => {
        const probe = net.createServer().listen(0, "127.0.0.1", () => {
          const address = probe.address() as net.AddressInfo
          probe.close(() => resume(Effect.succeed(address.port)))
        })
      })
      const server = yield* makePostgresServer({ port })
      expect(server.port).toBe(port)
      expect(server.url).toBe(`postgres://postgres@127.0.0.1:${port}/postgres`)
      const rows = yield* withDb(server.url, Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1 AS one`))
      expect(rows).toEqual([{ one: 1 }])
    }).pipe(Effect.scoped))

  it.effect("names postgresql-15 and the apt-get line when the binaries are missing", () =>
    Effect.gen(function*() {
      const error = yield* makePostgresServer({ binDir: "/nonexistent/postgresql/15/bin" }).pipe(
        Effect.scoped,
        Effect.flip
      )
      expect(error._tag).toBe("PostgresServerError")
      expect(error.reason).toBe("MissingBinaries")
      expect(error.message).toContain("postgresql-15")
      expect(error.message).toContain("apt-get install -y postgresql-15")
      expect(error.message).toContain("/nonexistent/postgresql/15/bin")
    }))
})
