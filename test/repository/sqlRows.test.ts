// Rows are decoded through Schemas (src/repository/sqlRows.ts): each driver's form of a column decodes to one type,
// and a row that does not fit is the operation's RepositoryError, never a crash or a NaN further on.
import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Either, Layer, Option } from "effect"
import { Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { InfoHash } from "../../src/domain/ids.js"
import { RepositorySqlite } from "../../src/repository/layers.js"
import { Repository, RepositoryError } from "../../src/repository/Repository.js"
import {
  BlockRow,
  decodeRows,
  HitRow,
  InfohashRow,
  SessionRow,
  SqlBytes,
  SqlFlag,
  SqlJson,
  SqlNumber,
  SqlNumberOrNull,
  SqlNumberOrZero,
  SummaryRow,
  TorrentRow
} from "../../src/repository/sqlRows.js"

const decode = <A, I>(schema: Schema.Schema<A, I, never>, u: unknown) => Schema.decodeUnknownEither(schema)(u)

describe("sqlRows: column schemas", () => {
  it("SqlNumber takes SQLite's number, PostgreSQL's BIGINT text and a bigint; refuses anything else", () => {
    assert.deepStrictEqual(decode(SqlNumber, 42), Either.right(42))
    assert.deepStrictEqual(decode(SqlNumber, "1700000000000"), Either.right(1_700_000_000_000))
    assert.deepStrictEqual(decode(SqlNumber, 7n), Either.right(7))
    assert.deepStrictEqual(decode(SqlNumber, -3.5), Either.right(-3.5))
    for (const bad of ["", " ", "12abc", null, undefined, {}, new Uint8Array(1)]) {
      assert.isTrue(Either.isLeft(decode(SqlNumber, bad)), `${String(bad)} refused`)
    }
  })

  it("NULL: undefined for a nullable column, 0 for an aggregate over no rows", () => {
    assert.deepStrictEqual(decode(SqlNumberOrNull, null), Either.right(undefined))
    assert.deepStrictEqual(decode(SqlNumberOrNull, "5"), Either.right(5))
    assert.deepStrictEqual(decode(SqlNumberOrZero, null), Either.right(0))
    assert.deepStrictEqual(decode(SqlNumberOrZero, "12"), Either.right(12))
    assert.isTrue(Either.isLeft(decode(SqlNumberOrZero, "x")))
  })

  it("SqlBytes copies a driver's Buffer into a plain Uint8Array", () => {
    const pool = Buffer.from("0102030405", "hex")
    const r = decode(SqlBytes, pool.subarray(1, 3))
    assert.isTrue(Either.isRight(r))
    const bytes = Either.getOrThrow(r)
    assert.strictEqual(Object.getPrototypeOf(bytes), Uint8Array.prototype)
    assert.deepStrictEqual([...bytes], [2, 3])
    pool[1] = 9
    assert.deepStrictEqual([...bytes], [2, 3])
    assert.isTrue(Either.isLeft(decode(SqlBytes, "0102")))
  })

  it("SqlFlag is 0 or 1; SqlJson parses TEXT and keeps NULL", () => {
    assert.deepStrictEqual(decode(SqlFlag, 1), Either.right(true))
    assert.deepStrictEqual(decode(SqlFlag, 0), Either.right(false))
    assert.isTrue(Either.isLeft(decode(SqlFlag, 2)))
    assert.deepStrictEqual(decode(SqlJson, "{\"a\":1}"), Either.right({ a: 1 }))
    assert.deepStrictEqual(decode(SqlJson, null), Either.right(null))
    assert.isTrue(Either.isLeft(decode(SqlJson, "{")))
  })

  it("decodeRows names the column that does not fit", () => {
    const row = {
      hash: Buffer.alloc(20),
      name: "x",
      total_length: "10",
      file_count: 1,
      discovered_at: 1,
      fetched_at: 2,
      category: null
    }
    const ok = decodeRows(SummaryRow, [row])
    assert.isTrue(Either.isRight(ok))
    assert.strictEqual(Either.getOrThrow(ok)[0]!.total_length, 10)
    assert.strictEqual(Either.getOrThrow(ok)[0]!.category, undefined)
    const bad = decodeRows(SummaryRow, [row, { ...row, category: "films" }])
    assert.isTrue(Either.isLeft(bad))
    assert.include(String(Either.getLeft(bad).pipe(Option.getOrThrow)), "category")
  })
})

describe("sqlRows: the plain decoding loop and the Schema agree", () => {
  const summary = {
    hash: Buffer.alloc(20, 1),
    name: "a",
    total_length: "10",
    file_count: 2,
    discovered_at: 3n,
    fetched_at: 4,
    category: "video"
  }
  const torrent = {
    ...summary,
    id: "7",
    hash_v2: null,
    name_raw: Buffer.from("a"),
    piece_length: null,
    private: 1,
    version: "hybrid",
    info: Buffer.alloc(3),
    source_host: "127.0.0.1",
    source_port: 6881,
    source_client: null
  }
  const infohash = {
    hash: Buffer.alloc(20, 2),
    first_seen: 1,
    last_seen: "2",
    seen_sample: 0,
    seen_get_peers: 1,
    seen_announce: 0,
    seen_lookup: 0,
    peers_seen: 0,
    status: "pending",
    attempts: 0,
    last_error: null
  }
  const cases = [
    ["SummaryRow", SummaryRow, [summary, { ...summary, category: null }, { ...summary, category: undefined }]],
    ["TorrentRow", TorrentRow, [torrent, { ...torrent, hash_v2: Buffer.alloc(32), piece_length: "16384" }]],
    ["HitRow", HitRow, [{ id: 1, rank: -2.5 }, { id: 2 }, { id: "3", rank: null }]],
    ["InfohashRow", InfohashRow, [infohash, { ...infohash, seeders: 3, leechers: "4", scraped_at: 5 }]],
    ["SessionRow", SessionRow, [{
      id: 1,
      started_at: 2,
      ended_at: null,
      state: null,
      settings: "{\"a\":[1]}",
      totals: null
    }]],
    ["BlockRow", BlockRow, [{ id: 1, kind: "name", value: "x*", added_at: 2, reason: null, via: null }]]
  ] as const
  it("on rows that fit: the same values, the same keys", () => {
    for (const [name, schema, rows] of cases) {
      const viaSchema = Schema.decodeUnknownEither(Schema.Array(schema as typeof HitRow))(rows)
      assert.isTrue(Either.isRight(viaSchema), name)
      assert.deepStrictEqual(decodeRows(schema as typeof HitRow, rows), viaSchema, name)
    }
  })
  it("on a row that does not fit: the Schema's ParseError", () => {
    const bad = [
      [SummaryRow, { ...summary, total_length: "ten" }],
      [TorrentRow, { ...torrent, version: "v3" }],
      [HitRow, { id: null }],
      [InfohashRow, { ...infohash, status: "lost" }],
      [SessionRow, { id: 1, started_at: 2, ended_at: null, state: null, settings: "{", totals: null }],
      [BlockRow, { id: 1, kind: "host", value: "x", added_at: 2, reason: null }]
    ] as const
    for (const [schema, row] of bad) {
      const r = decodeRows(schema as typeof HitRow, [row])
      assert.isTrue(Either.isLeft(r))
      assert.strictEqual(Either.getLeft(r).pipe(Option.getOrThrow)._tag, "ParseError")
    }
  })
})

describe("sqlRows: a row that does not fit is a RepositoryError", () => {
  it.effect("SQLite: text in a counter column fails getInfohash and pendingMetadata with RepositoryError", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "bitscrape-rows-"))
      const file = join(dir, "r.db")
      const hash = new Uint8Array(20).fill(7) as InfoHash
      const open = <A, E>(f: Effect.Effect<A, E, Repository>) =>
        Effect.scoped(Effect.flatMap(Layer.build(RepositorySqlite(file)), (ctx) => Effect.provide(f, ctx)))
      try {
        yield* open(
          Effect.flatMap(
            Repository,
            (repo) => repo.recordDiscoveries([{ infoHash: hash, source: "sample", at: 1_700_000_000_000 }])
          )
        )
        // SQLite keeps what it is given in an INTEGER column when it is not a number.
        const db = new Database(file)
        db.prepare("UPDATE infohashes SET seen_sample = 'many'").run()
        db.close()
        const failures = yield* open(Effect.gen(function*() {
          const repo = yield* Repository
          return [yield* Effect.flip(repo.getInfohash(hash)), yield* Effect.flip(repo.pendingMetadata(10))]
        }))
        for (const [error, operation] of [[failures[0], "getInfohash"], [failures[1], "pendingMetadata"]] as const) {
          assert.instanceOf(error, RepositoryError)
          assert.strictEqual(error.operation, operation)
          assert.include(error.message, "seen_sample")
        }
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }))
})
