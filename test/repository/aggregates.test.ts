// Migration 0011's aggregates (src/repository/analysisAggregates.ts) agree with the rows they summarise after every
// kind of write: discoveries (new infohashes, more sightings, a new source, peers, swarm estimates), fetched and
// failed metadata, blocklist deletions, eviction and retention deletes — on SQLite and on a real PostgreSQL. Each
// check reads the summary tables and the popular sort key beside the same aggregate computed from the raw rows.
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as Migrator from "@effect/sql/Migrator"
import { assert, describe, it as vitestIt, layer } from "@effect/vitest"
import type { Vitest } from "@effect/vitest"
import { Effect, Layer, Redacted, type Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { RepositoryPostgres, RepositorySqlite } from "../../src/repository/layers.js"
import { sqliteMigrations } from "../../src/repository/migrations.js"
import type { Discovery, InfoHash } from "../../src/repository/Repository.js"
import { Repository } from "../../src/repository/Repository.js"
import { layerPostgresServer, PostgresServer } from "../support/postgres.js"
import { makeTorrent, randomInfoHash } from "../support/torrents.js"

const DAY = 86_400_000
const D0 = 19_676 * DAY
const SOURCES = ["sample", "get_peers", "announce", "lookup"] as const
const hex = (h: Uint8Array) => Buffer.from(h).toString("hex")

/** Rows as plain arrays of numbers (PostgreSQL's BIGINT comes as a string). */
const numbers = (rows: ReadonlyArray<Record<string, unknown>>) =>
  rows.map((r) => Object.values(r).map((v) => v === null ? null : Number(v)))

const flag = (c: string) => `CASE WHEN ${c} THEN 1 ELSE 0 END`
const RAW_GROUPS = `SELECT ${flag("seen_sample > 0")} AS s0, ${flag("seen_get_peers > 0")} AS s1,
    ${flag("seen_announce > 0")} AS s2, ${flag("seen_lookup > 0")} AS s3, ${flag("peers_seen > 0")} AS wp,
    CASE status WHEN 'fetched' THEN 1 WHEN 'failed' THEN 2 ELSE 0 END AS st, count(*) AS n,
    sum(seen_sample) AS c0, sum(seen_get_peers) AS c1, sum(seen_announce) AS c2, sum(seen_lookup) AS c3
  FROM infohashes GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6`
const KEPT_GROUPS = `SELECT s0, s1, s2, s3, wp, st, n, c0, c1, c2, c3 FROM source_groups WHERE n <> 0
  ORDER BY 1, 2, 3, 4, 5, 6`
const RAW_DAYS = `SELECT first_seen / ${DAY} AS day, count(*) AS n, sum(${flag("peers_seen > 0")}) AS with_peers,
    sum(${flag("status = 'fetched'")}) AS fetched FROM infohashes GROUP BY 1 ORDER BY 1`
const KEPT_DAYS = `SELECT day, n, with_peers, fetched FROM source_days WHERE n <> 0 ORDER BY 1`
const KEPT_POPULARITY = `SELECT id, popularity FROM torrents ORDER BY id`

/** What the popular sort key must be: the larger of peers and swarm of the torrent's infohash row. */
const rawPopularity = (backend: "sqlite" | "postgres") =>
  backend === "sqlite"
    ? `SELECT t.id, (SELECT max(i.peers_seen, COALESCE(i.seeders + i.leechers, 0)) FROM infohashes i
         WHERE i.hash = t.hash) AS popularity FROM torrents t ORDER BY t.id`
    : `SELECT t.id, COALESCE(GREATEST(i.peers_seen, i.seeders + i.leechers), 0) AS popularity
       FROM torrents t LEFT JOIN infohashes i ON i.hash = t.hash ORDER BY t.id`

const agree = (sql: SqlClient.SqlClient, backend: "sqlite" | "postgres", step: string) =>
  Effect.gen(function*() {
    const q = (text: string) => Effect.map(sql.unsafe<Record<string, unknown>>(text), numbers)
    assert.deepStrictEqual(yield* q(KEPT_GROUPS), yield* q(RAW_GROUPS), `source_groups after ${step}`)
    assert.deepStrictEqual(yield* q(KEPT_DAYS), yield* q(RAW_DAYS), `source_days after ${step}`)
    assert.deepStrictEqual(yield* q(KEPT_POPULARITY), yield* q(rawPopularity(backend)), `popularity after ${step}`)
  })

const at = (day: number, hour = 0) => D0 + day * DAY + hour * 3_600_000

const aggregatesContract = <R>(
  it: Vitest.MethodsNonLive<R>,
  backend: "sqlite" | "postgres",
  fresh: Effect.Effect<
    {
      readonly repository: Layer.Layer<Repository, unknown>
      readonly sql: Layer.Layer<SqlClient.SqlClient, unknown>
    },
    unknown,
    R | Scope.Scope
  >
) => {
  it.effect(
    "the aggregates agree with the raw rows after writes, fetches, failures and deletions",
    () =>
      Effect.gen(function*() {
        const { repository, sql: sqlLayer } = yield* fresh
        yield* Effect.gen(function*() {
          const repo = yield* Repository
          const sql = yield* SqlClient.SqlClient
          const check = (step: string) => agree(sql, backend, step)
          yield* check("opening an empty database")

          const torrents = Array.from({ length: 8 }, (_, i) =>
            makeTorrent(`Aggregate ${i} cam${i % 2}`, [{ path: `Aggregate ${i}.mkv`, length: 1000 + i }], {
              fetchedAt: at(3, i)
            }))
          const loose = Array.from({ length: 30 }, () =>
            randomInfoHash())
          const all: ReadonlyArray<InfoHash> = [
            ...torrents.map((t) =>
              t.infoHash
            ),
            ...loose
          ]
          // New infohashes from every source over several days; some with peers, some with swarm estimates.
          const first: Array<Discovery> = all.flatMap((h, i) => [
            { infoHash: h, source: SOURCES[i % 4]!, at: at(i % 5, i % 24) },
            ...(i % 3 === 0
              ? [{
                infoHash: h,
                source: "get_peers" as const,
                at: at(i % 5, 1),
                peer: { host: `10.0.0.${i}`, port: 6881 }
              }]
              : []),
            ...(i % 4 === 0
              ? [{ infoHash: h, source: "lookup" as const, at: at(i % 5, 2), swarm: { seeders: i, leechers: 2 * i } }]
              : [])
          ])
          yield* repo.recordDiscoveries(first)
          yield* check("new infohashes")
          // More sightings of known ones (same groups), a new source for others (new groups), more peers.
          yield* repo.recordDiscoveries(all.flatMap((h, i) => [
            { infoHash: h, source: SOURCES[i % 4]!, at: at(6, 3) },
            ...(i % 5 === 0 ? [{ infoHash: h, source: "announce" as const, at: at(6, 4) }] : []),
            ...(i % 2 === 0
              ? [{ infoHash: h, source: "get_peers" as const, at: at(6, 5), peer: { host: `10.1.0.${i}`, port: 7000 } }]
              : [])
          ]))
          yield* check("more sightings, sources and peers")
          // An earlier sighting moves an infohash's first day.
          yield* repo.recordDiscoveries([{ infoHash: loose[1]!, source: "sample", at: D0 - 3 * DAY }])
          yield* check("an earlier first sighting")
          // Metadata: fetched (torrent rows with their sort key) and failed.
          yield* repo.saveTorrents(torrents)
          yield* repo.recordFailures(loose.slice(0, 6).map((h, i) => ({ infoHash: h, at: at(7, i), error: "timeout" })))
          yield* check("fetched and failed metadata")
          // Peers and swarm estimates for stored torrents move their sort key.
          yield* repo.recordDiscoveries(torrents.flatMap((t, i) => [
            {
              infoHash: t.infoHash,
              source: "get_peers" as const,
              at: at(8, i),
              peer: { host: `10.2.0.${i}`, port: 1 }
            },
            { infoHash: t.infoHash, source: "lookup" as const, at: at(8, i), swarm: { seeders: 40 + i, leechers: 3 } }
          ]))
          yield* check("peers and swarm estimates of stored torrents")
          // Blocklist: an infohash, and a name pattern that takes stored torrents and their infohashes.
          yield* repo.block([{ kind: "infohash", value: hex(loose[7]!), reason: "test" }])
          yield* repo.block([{ kind: "name", value: "*cam1*", reason: "test" }])
          yield* check("blocklist deletions")
          // Eviction of the oldest infohashes without metadata, retention of old torrents.
          yield* repo.evict("infohashes", 5)
          yield* check("eviction of infohashes")
          yield* repo.expire("torrents", at(3, 2))
          yield* check("retention of torrents")
          yield* repo.evict("torrents", 1)
          yield* repo.expire("infohashes", at(3))
          yield* check("eviction of a torrent and retention of infohashes")
          // The analyses read them: every infohash left is counted once.
          const sources = yield* repo.analyzeSources({ days: 30 })
          const [left] = yield* sql.unsafe<{ n: unknown }>("SELECT count(*) AS n FROM infohashes")
          assert.strictEqual(sources.funnel.seen, Number(left!.n))
          assert.strictEqual(sources.byDay.reduce((n, d) => n + d.seen, 0), Number(left!.n))
        }).pipe(Effect.provide(Layer.merge(repository, sqlLayer)))
      }).pipe(Effect.scoped),
    180_000
  )

  it.effect(
    "the top by sightings is the same from SQLite's index of the most sighted as from every row",
    () =>
      Effect.gen(function*() {
        const { repository } = yield* fresh
        yield* Effect.gen(function*() {
          const repo = yield* Repository
          // Sightings 1…14 (the index holds those with SIGHTINGS_INDEXED_FROM = 8 or more), ties at 10 by hash.
          const counts = [1, 3, 5, 7, 8, 9, 10, 10, 10, 11, 12, 14]
          const hashes = counts.map(() => randomInfoHash())
          yield* repo.recordDiscoveries(hashes.flatMap((h, i) =>
            Array.from({ length: counts[i]! }, (_, k) => ({
              infoHash: h,
              source: SOURCES[k % 4]!,
              at: at(i % 2 === 0 ? 1 : 9, k % 24)
            }))
          ))
          const expected = counts.map((n, i) => ({ n, hash: hex(hashes[i]!), late: i % 2 === 1 }))
            .sort((a, b) => b.n - a.n || a.hash.localeCompare(b.hash))
          const top = (o: { top: number; since?: number }) =>
            Effect.map(
              repo.analyzePopularity({ ...o, now: at(10) }),
              (a) => a.bySightings.map((x) => [hex(x.infoHash), x.sightings])
            )
          const all = expected.map((e) => [e.hash, e.n])
          // From the index (enough rows of 8 or more), and past it (every row ranked).
          assert.deepStrictEqual(yield* top({ top: 4 }), all.slice(0, 4))
          assert.deepStrictEqual(yield* top({ top: 8 }), all.slice(0, 8))
          assert.deepStrictEqual(yield* top({ top: 50 }), all)
          const late = expected.filter((e) => e.late).map((e) => [e.hash, e.n])
          assert.deepStrictEqual(yield* top({ top: 2, since: at(9) }), late.slice(0, 2))
          assert.deepStrictEqual(yield* top({ top: 50, since: at(9) }), late)
        }).pipe(Effect.provide(repository))
      }).pipe(Effect.scoped),
    120_000
  )
}

const tempFile = () => {
  const dir = mkdtempSync(join(tmpdir(), "bitscrape-aggregates-"))
  return { file: join(dir, "test.db"), done: () => rmSync(dir, { recursive: true, force: true }) }
}

describe("analysis aggregates: SQLite", () => {
  layer(Layer.empty)((it) =>
    aggregatesContract(
      it,
      "sqlite",
      Effect.acquireRelease(Effect.sync(tempFile), (t) => Effect.sync(t.done)).pipe(
        Effect.map((t) => ({
          repository: RepositorySqlite(t.file),
          sql: SqliteClient.layer({ filename: t.file })
        }))
      )
    )
  )
})

let databases = 0
describe("analysis aggregates: PostgreSQL (a real server on loopback)", () => {
  layer(layerPostgresServer(), { timeout: 60_000 })((it) =>
    aggregatesContract(
      it,
      "postgres",
      Effect.gen(function*() {
        const server = yield* PostgresServer
        const url = yield* server.createDatabase(`aggregates_${process.pid}_${++databases}`)
        const { PgClient } = yield* Effect.promise(() => import("@effect/sql-pg"))
        return {
          repository: RepositoryPostgres(url),
          sql: PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })
        }
      })
    )
  )
})

describe("migration 0011 on a database from before it", () => {
  vitestIt.effect("computes the aggregates of the rows already there", () =>
    Effect.gen(function*() {
      const t = tempFile()
      const before = Object.fromEntries(Object.entries(sqliteMigrations).filter(([key]) => key < "0011"))
      const hashes = Array.from({ length: 20 }, () => randomInfoHash())
      yield* Effect.gen(function*() {
        yield* Migrator.make({})({ loader: Migrator.fromRecord(before as never), table: "bitscrape_migrations" })
        const sql = yield* SqlClient.SqlClient
        for (const [i, h] of hashes.entries()) {
          yield* sql.unsafe(
            `INSERT INTO infohashes (hash, first_seen, last_seen, seen_sample, seen_get_peers, seen_announce,
               seen_lookup, peers_seen, status, seeders, leechers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            [
              Buffer.from(h),
              at(i % 4),
              at(5),
              i % 3,
              i % 2,
              i % 5 === 0 ? 2 : 0,
              1,
              i % 4,
              ["pending", "fetched", "failed"][i % 3]!,
              i % 2 === 0 ? i : null,
              i % 2 === 0 ? 1 : null
            ]
          )
          yield* sql.unsafe(`INSERT INTO infohash_hours (hour, hash, source, sightings) VALUES (?, ?, 'sample', ?)`, [
            at(5, i % 3),
            Buffer.from(h),
            1 + i
          ])
          if (i % 3 === 1) {
            yield* sql.unsafe(
              `INSERT INTO torrents (id, hash, name, name_raw, total_length, private, version, file_count, info,
                 discovered_at, fetched_at) VALUES (?, ?, ?, ?, 1, 0, 'v1', 1, x'00', 0, 0)`,
              [i + 1, Buffer.from(h), `T${i}`, Buffer.from(`T${i}`)]
            )
          }
        }
      }).pipe(Effect.provide(SqliteClient.layer({ filename: t.file })), Effect.scoped)
      yield* Effect.gen(function*() {
        const repo = yield* Repository
        const sql = yield* SqlClient.SqlClient
        yield* agree(sql, "sqlite", "migrating")
        // The hourly rows moved to the table clustered by infohash, all of them.
        const [hours] = yield* sql.unsafe<{ n: number; s: number }>(
          "SELECT count(*) AS n, sum(sightings) AS s FROM infohash_hours"
        )
        assert.deepStrictEqual([hours!.n, hours!.s], [20, 210])
        const popular = yield* repo.analyzePopularity({ top: 3, now: at(5, 3) })
        assert.deepStrictEqual(popular.windows[1]!.top.map((w) => w.sightings), [20, 19, 18])
      }).pipe(
        Effect.provide(Layer.merge(RepositorySqlite(t.file), SqliteClient.layer({ filename: t.file }))),
        Effect.ensuring(Effect.sync(t.done))
      )
    }), 120_000)
})
