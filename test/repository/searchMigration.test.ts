// Migration 0012 (issue 19, search at scale) on databases that already hold torrents: PostgreSQL moves each
// torrent's words from `torrents.search` to `torrent_words` (GIN-indexed) and adds the covering index
// `torrents_cover`; SQLite adds `torrents_cover`. Searches give the same answers before (a read-only open of the
// unmigrated database, the old layout) and after, new torrents are indexed in the new layout, and a blocked
// torrent's words go with it.
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as Migrator from "@effect/sql/Migrator"
import { assert, describe, it as vitestIt, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { RepositoryPostgres, RepositorySqlite } from "../../src/repository/layers.js"
import { pgMigrations, sqliteMigrations } from "../../src/repository/migrations.js"
import { Repository, type SearchQuery } from "../../src/repository/Repository.js"
import { searchWords } from "../../src/repository/sqlText.js"
import { layerPostgresServer, PostgresServer } from "../support/postgres.js"
import { makeTorrent } from "../support/torrents.js"

const GB = 1_000_000_000
/** Stored before the migration, by SQL in the layout of migrations 0001–0011. */
const OLD = [
  { name: "Ubuntu 24.04 desktop amd64", paths: "ubuntu-24.04-desktop-amd64.iso", size: 6 * GB },
  { name: "Ubuntu 22.04 server", paths: "ubuntu-22.04-server.iso", size: 2 * GB },
  { name: "Debian 12 netinst", paths: "debian-12-netinst.iso", size: GB / 2 },
  { name: "Big Buck Bunny 1080p", paths: "bbb/Big Buck Bunny 1080p.mp4\nbbb/subs/en.srt", size: 3 * GB }
]
const QUERIES: ReadonlyArray<SearchQuery> = [
  { text: "ubuntu" },
  { text: "ubu" },
  { text: "ubuntu", minSize: 3 * GB },
  { text: "ubuntu", sort: "largest" },
  { text: "bunny srt" },
  { text: "1080p", maxSize: 5 * GB, sort: "newest" },
  { text: "nothing-like-this" }
]

const before = <A extends Record<string, unknown>>(migrations: A) =>
  Object.fromEntries(Object.entries(migrations).filter(([key]) => key < "0012"))

const answers = Effect.gen(function*() {
  const repo = yield* Repository
  return yield* Effect.forEach(
    QUERIES,
    (q) => Effect.map(repo.search(q), (page) => ({ total: page.total, names: page.items.map((t) => t.name) }))
  )
})

const oldRow = (i: number) => {
  const t = OLD[i]!
  return [
    Buffer.alloc(20, i + 1),
    t.name,
    Buffer.from(t.name),
    t.size,
    t.paths.split("\n").length,
    1_700_000_000_000 + i * 1000,
    1_700_000_000_000 + i * 1000
  ]
}

let databases = 0
describe("migration 0012 on a PostgreSQL database with torrents", () => {
  layer(layerPostgresServer(), { timeout: 60_000 })((it) => {
    it.effect(
      "moves the words to torrent_words; searches answer as before; new and blocked torrents follow",
      () =>
        Effect.gen(function*() {
          const server = yield* PostgresServer
          const url = yield* server.createDatabase(`search_migration_${process.pid}_${++databases}`)
          const { PgClient } = yield* Effect.promise(() => import("@effect/sql-pg"))
          const sqlLayer = PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })
          yield* Effect.gen(function*() {
            yield* Migrator.make({})({
              loader: Migrator.fromRecord(before(pgMigrations) as never),
              table: "bitscrape_migrations"
            })
            const sql = yield* SqlClient.SqlClient
            for (const [i, t] of OLD.entries()) {
              yield* sql.unsafe(
                `INSERT INTO torrents (hash, name, name_raw, total_length, private, version, file_count, info,
                 discovered_at, fetched_at, search)
               VALUES ($1, $2, $3, $4, 0, 'v1', $5, '\\x00', $6, $7, to_tsvector('simple', $8))`,
                [...oldRow(i), searchWords(`${t.name}\n${t.paths}`).join(" ")]
              )
            }
          }).pipe(Effect.provide(sqlLayer), Effect.scoped)
          // The old layout, read through a read-only open (no migration).
          const old = yield* answers.pipe(Effect.provide(RepositoryPostgres(url, { readOnly: true })))
          assert.deepStrictEqual(old.map((a) => a.total), [2, 2, 1, 2, 1, 1, 0])
          yield* Effect.gen(function*() {
            assert.deepStrictEqual(yield* answers, old)
            const sql = yield* SqlClient.SqlClient
            const [words] = yield* sql.unsafe<{ n: string }>("SELECT count(*) AS n FROM torrent_words")
            assert.strictEqual(Number(words!.n), OLD.length)
            const column = yield* sql.unsafe(
              `SELECT 1 FROM information_schema.columns WHERE table_name = 'torrents' AND column_name = 'search'`
            )
            assert.strictEqual(column.length, 0)
            const cover = yield* sql.unsafe("SELECT 1 FROM pg_indexes WHERE indexname = 'torrents_cover'")
            assert.strictEqual(cover.length, 1)
            // A torrent stored after the migration is found; blocking one removes its words too.
            const repo = yield* Repository
            yield* repo.saveTorrents([
              makeTorrent("Ubuntu 24.10 desktop", [{ path: "Ubuntu 24.10 desktop", length: 5 * GB }])
            ])
            assert.strictEqual((yield* repo.search({ text: "ubuntu", minSize: 3 * GB })).total, 2)
            yield* repo.block([{ kind: "name", value: "Debian*" }])
            assert.strictEqual((yield* repo.search({ text: "debian" })).total, 0)
            const [after] = yield* sql.unsafe<{ n: string }>("SELECT count(*) AS n FROM torrent_words")
            assert.strictEqual(Number(after!.n), OLD.length)
          }).pipe(Effect.provide(Layer.merge(RepositoryPostgres(url), sqlLayer)))
        }),
      120_000
    )
  })
})

describe("migration 0012 on an SQLite database with torrents", () => {
  vitestIt.effect("adds the covering index; searches answer as before", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "bitscrape-search-migration-"))
      const file = join(dir, "test.db")
      yield* Effect.gen(function*() {
        yield* Migrator.make({})({
          loader: Migrator.fromRecord(before(sqliteMigrations) as never),
          table: "bitscrape_migrations"
        })
        const sql = yield* SqlClient.SqlClient
        for (const [i, t] of OLD.entries()) {
          yield* sql.unsafe(
            `INSERT INTO torrents (id, hash, name, name_raw, total_length, private, version, file_count, info,
               discovered_at, fetched_at) VALUES (${i + 1}, ?, ?, ?, ?, 0, 'v1', ?, x'00', ?, ?)`,
            oldRow(i)
          )
          yield* sql.unsafe("INSERT INTO torrents_fts (rowid, name, paths) VALUES (?, ?, ?)", [i + 1, t.name, t.paths])
        }
      }).pipe(Effect.provide(SqliteClient.layer({ filename: file })), Effect.scoped)
      const old = yield* answers.pipe(Effect.provide(RepositorySqlite(file, { readOnly: true })))
      assert.deepStrictEqual(old.map((a) => a.total), [2, 2, 1, 2, 1, 1, 0])
      yield* Effect.gen(function*() {
        assert.deepStrictEqual(yield* answers, old)
        const sql = yield* SqlClient.SqlClient
        const cover = yield* sql.unsafe("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'torrents_cover'")
        assert.strictEqual(cover.length, 1)
      }).pipe(
        Effect.provide(Layer.merge(RepositorySqlite(file), SqliteClient.layer({ filename: file }))),
        Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      )
    }), 120_000)
})
