import type { SqlError } from "@effect/sql/SqlError"
import { type Effect, Either, ParseResult, Schema } from "effect"
import { CATEGORIES } from "../domain/categories.js"

// What the SQL backends' rows hold, as Schemas: every query's rows are decoded through one of these before use
// (sqlRepository.ts, sqlBlocklist.ts, sqlStorage.ts, analysisSql.ts), so a value of the wrong kind is a typed
// ParseError (the repository's RepositoryError), never a NaN or a crash further on.
//
// The drivers differ: SQLite (better-sqlite3) gives INTEGER as a number and BLOB as a Buffer; PostgreSQL
// (postgres.js) gives BIGINT, count(*) and sum() as text, SMALLINT/INTEGER as a number and BYTEA as a Buffer. The
// column schemas below accept each driver's form and decode to one type. Times are Unix milliseconds (integers).

// Decoding is compiled twice from these definitions: the Schema (which names what does not fit) and, for the
// Structs of the columns below, a plain loop over the same read functions (`fast`), used while every value fits
// and giving way to the Schema at the first one that does not. The loop decodes a search page or 10,001 full-text
// hits 15–40× faster than the generic Schema parser (bench/rowDecode.ts, docs/benchmarks.md), which on SQLite's
// one-pass search cost as much as the query; test/repository/sqlRows.test.ts checks that both agree.

/** A value that does not fit (the fast readers' failure, without allocating). */
const NO: unique symbol = Symbol("sqlRows.NO")
type FastRead = (u: unknown) => unknown
/** The fast reader of each column schema. */
const fast = new WeakMap<object, FastRead>()
/** The fast reader of each optional column (absent or NULL: the key is left out). */
const fastOptional = new WeakMap<object, FastRead>()

const fail = (ast: Schema.Schema.Any["ast"], u: unknown, expected: string) =>
  ParseResult.fail(new ParseResult.Type(ast, u, `expected ${expected}, got ${String(u)}`))

/** An SQL scalar read by `read` (undefined: not of that kind), as a required column and a nullable one. */
const column = <A>(to: Schema.Schema<A>, expected: string, read: (u: unknown) => A | undefined) => {
  const required = Schema.transformOrFail(Schema.Unknown, to, {
    strict: true,
    decode: (u, _, ast) => {
      const v = read(u)
      return v === undefined ? fail(ast, u, expected) : ParseResult.succeed(v)
    },
    encode: ParseResult.succeed
  })
  const nullable = Schema.transformOrFail(Schema.Unknown, Schema.UndefinedOr(to), {
    strict: true,
    decode: (u, _, ast) => {
      if (u === null || u === undefined) return ParseResult.succeed(undefined)
      const v = read(u)
      return v === undefined ? fail(ast, u, `${expected} or NULL`) : ParseResult.succeed(v)
    },
    encode: (a) => ParseResult.succeed(a ?? null)
  })
  fast.set(required, (u) => read(u) ?? NO)
  fast.set(nullable, (u) => u === null || u === undefined ? undefined : read(u) ?? NO)
  return [required, nullable] as const
}

const readNumber = (u: unknown): number | undefined => {
  if (typeof u === "number") return u
  if (typeof u === "bigint") return Number(u)
  if (typeof u === "string" && u.trim() !== "") {
    const n = Number(u)
    return Number.isNaN(n) ? undefined : n
  }
  return undefined
}

/** An INTEGER / BIGINT / count / sum (also a REAL, e.g. FTS5's rank): number, bigint or numeric text. */
export const [SqlNumber, SqlNumberOrNull] = column(Schema.Number, "an SQL number", readNumber)

/** An aggregate that is NULL over no rows (sum, max): 0 then. */
export const SqlNumberOrZero = Schema.transformOrFail(Schema.Unknown, Schema.Number, {
  strict: true,
  decode: (u, _, ast) => {
    if (u === null || u === undefined) return ParseResult.succeed(0)
    const n = readNumber(u)
    return n === undefined ? fail(ast, u, "an SQL number or NULL") : ParseResult.succeed(n)
  },
  encode: ParseResult.succeed
})
fast.set(SqlNumberOrZero, (u) => u === null || u === undefined ? 0 : readNumber(u) ?? NO)

/** A BLOB / BYTEA, copied into a plain Uint8Array (the driver's Buffer may share a pool). */
export const [SqlBytes, SqlBytesOrNull] = column(
  Schema.Uint8ArrayFromSelf,
  "bytes",
  (u) => u instanceof Uint8Array ? new Uint8Array(u) : undefined
)

/** A flag stored as 0 / 1 (INTEGER, SMALLINT); a boolean is taken as it is. */
export const [SqlFlag, SqlFlagOrNull] = column(
  Schema.Boolean,
  "0 or 1",
  (u) => typeof u === "boolean" ? u : u === 1 || u === 0 ? u === 1 : u === "1" || u === "0" ? u === "1" : undefined
)

/** TEXT. */
export const [SqlText, SqlTextOrNull] = column(Schema.String, "text", (u) => typeof u === "string" ? u : undefined)

const readJson = (u: unknown) => {
  if (u === null || u === undefined) return null
  if (typeof u !== "string") return NO
  try {
    return JSON.parse(u) as unknown
  } catch {
    return NO
  }
}

/** TEXT holding JSON (sessions' settings and totals); NULL is null. */
export const SqlJson = Schema.transformOrFail(Schema.Unknown, Schema.Unknown, {
  strict: true,
  decode: (u, _, ast) => {
    const v = readJson(u)
    return v === NO ? fail(ast, u, "JSON text") : ParseResult.succeed(v)
  },
  encode: (a) => ParseResult.succeed(JSON.stringify(a))
})
fast.set(SqlJson, readJson)

/** TEXT holding one of `values`. */
const literal = <const L extends ReadonlyArray<string>>(...values: L) => {
  const s = Schema.Literal(...values)
  fast.set(s, (u) => values.includes(u as string) ? u : NO)
  return s
}

/**
 * A column a query may lack (added by a migration that a database opened read-only may not have had), or NULL:
 * the key is then absent.
 */
const absentOrNull = <A, I>(s: Schema.Schema<A, I, never>) => {
  const field = Schema.optionalWith(s, { nullable: true })
  const read = fast.get(s)
  if (read !== undefined) fastOptional.set(field, read)
  return field
}

export const SqlCategory = literal(...CATEGORIES)
export const SqlStatus = literal("pending", "fetched", "failed")
export const SqlTorrentVersion = literal("v1", "v2", "hybrid")

// === Rows of the repository's queries ===

/** `count(*) AS n`. */
export const CountRow = Schema.Struct({ n: SqlNumber })
/** Whether an advisory lock was taken / released (PostgreSQL). */
export const LockRow = Schema.Struct({ ok: Schema.Boolean })
/** `RETURNING id`, `SELECT id`. */
export const IdRow = Schema.Struct({ id: SqlNumber })
/** An infohash's first sighting. */
export const FirstSeenRow = Schema.Struct({ first_seen: SqlNumber })
/** `SELECT hash`, `RETURNING hash`. */
export const HashRow = Schema.Struct({ hash: SqlBytes })

/** A search hit or a saved search's match (a `torrents` row without its files and info). */
export const SummaryRow = Schema.Struct({
  hash: SqlBytes,
  name: SqlText,
  total_length: SqlNumber,
  file_count: SqlNumber,
  discovered_at: SqlNumber,
  fetched_at: SqlNumber,
  category: absentOrNull(SqlCategory)
})

/** A search hit with its torrent id. */
export const PageRow = Schema.Struct({ ...SummaryRow.fields, id: SqlNumber })

/** SQLite's full-text hits: a torrent id, with its bm25 rank when asked for. */
export const HitRow = Schema.Struct({ id: SqlNumber, rank: absentOrNull(SqlNumber) })
/** A page id of a one-pass filtered search, with how many matched (at most SEARCH_CAP + 1). */
export const PassRow = Schema.Struct({ id: SqlNumber, n: SqlNumber })

/** `SELECT * FROM torrents`. */
export const TorrentRow = Schema.Struct({
  id: SqlNumber,
  hash: SqlBytes,
  hash_v2: SqlBytesOrNull,
  name: SqlText,
  name_raw: SqlBytes,
  total_length: SqlNumber,
  piece_length: SqlNumberOrNull,
  private: SqlFlag,
  version: SqlTorrentVersion,
  file_count: SqlNumber,
  info: SqlBytes,
  discovered_at: SqlNumber,
  fetched_at: SqlNumber,
  source_host: SqlTextOrNull,
  source_port: SqlNumberOrNull,
  source_client: SqlTextOrNull,
  category: absentOrNull(SqlCategory)
})
export type TorrentRow = typeof TorrentRow.Type

/** An export of infohashes: the infohash, then its torrent's columns (NULL without metadata). */
export const InfohashExportRow = Schema.Struct({ ih: SqlBytes, first_seen: SqlNumber, id: SqlNumberOrNull })

/** `files`. */
export const FileRow = Schema.Struct({
  torrent_id: SqlNumber,
  path: SqlText,
  path_raw: SqlBytesOrNull,
  length: SqlNumber
})

/** `SELECT * FROM infohashes` (the swarm columns came with migration 0008). */
export const InfohashRow = Schema.Struct({
  hash: SqlBytes,
  first_seen: SqlNumber,
  last_seen: SqlNumber,
  seen_sample: SqlNumber,
  seen_get_peers: SqlNumber,
  seen_announce: SqlNumber,
  seen_lookup: SqlNumber,
  peers_seen: SqlNumber,
  status: SqlStatus,
  attempts: SqlNumber,
  last_error: SqlTextOrNull,
  seeders: absentOrNull(SqlNumber),
  leechers: absentOrNull(SqlNumber),
  scraped_at: absentOrNull(SqlNumber)
})

/** A peer of an infohash. */
export const PeerRow = Schema.Struct({ host: SqlText, port: SqlNumber, last_seen: SqlNumber })
/** A host and port (recent nodes). */
export const AddressRow = Schema.Struct({ host: SqlText, port: SqlNumber })
/** `SELECT host`. */
export const HostRow = Schema.Struct({ host: SqlText })

/** `nodes`. */
export const NodeRow = Schema.Struct({
  id: SqlBytes,
  host: SqlText,
  port: SqlNumber,
  first_seen: SqlNumber,
  last_seen: SqlNumber,
  last_response: SqlNumberOrNull,
  times_seen: SqlNumber,
  bep42: SqlFlagOrNull,
  version: SqlBytesOrNull
})

/** The statistics' aggregates (sums are NULL over an empty table). */
export const InfohashTotalsRow = Schema.Struct({
  n: SqlNumber,
  sample: SqlNumberOrZero,
  get_peers: SqlNumberOrZero,
  announce: SqlNumberOrZero,
  lookup: SqlNumberOrZero,
  with_peers: SqlNumberOrZero,
  failed: SqlNumberOrZero
})
export const FamilyRow = Schema.Struct({ n: SqlNumber, v6: SqlNumberOrZero })
export const TorrentTotalsRow = Schema.Struct({ n: SqlNumber, files: SqlNumberOrZero })

/** `sessions`. */
export const SessionRow = Schema.Struct({
  id: SqlNumber,
  started_at: SqlNumber,
  ended_at: SqlNumberOrNull,
  state: absentOrNull(SqlText),
  settings: SqlJson,
  totals: SqlJson
})
/** An open session's liveness. */
export const OpenSessionRow = Schema.Struct({
  id: SqlNumber,
  started_at: SqlNumber,
  host: SqlTextOrNull,
  pid: SqlNumberOrNull,
  alive_at: SqlNumberOrNull
})

/** `saved_searches`. */
export const SavedSearchRow = Schema.Struct({
  id: SqlNumber,
  name: SqlText,
  query: SqlText,
  webhook: SqlText,
  created_at: SqlNumber,
  cursor_at: SqlNumber,
  cursor_hash: SqlBytesOrNull,
  delivered: SqlNumber,
  last_attempt_at: SqlNumberOrNull,
  last_error: SqlTextOrNull
})

/** `blocklist`. */
export const BlockKind = literal("infohash", "name")
export const BlockRow = Schema.Struct({
  id: SqlNumber,
  kind: BlockKind,
  value: SqlText,
  added_at: SqlNumber,
  reason: SqlTextOrNull,
  via: absentOrNull(SqlText)
})
export const BlockEntryRow = Schema.Struct({ kind: SqlText, value: SqlText })
/** The blocklist's signature: how many entries and the newest id (NULL when empty). */
export const BlockSignatureRow = Schema.Struct({ n: SqlNumber, m: SqlNumberOrNull })
export const TorrentNameRow = Schema.Struct({ id: SqlNumber, name: SqlText })
export const TorrentHashRow = Schema.Struct({ id: SqlNumber, hash: SqlBytes })
export const PathRow = Schema.Struct({ path: SqlText })

// === Decoding ===

/**
 * The plain loop for a Struct whose fields are all columns of this module (undefined otherwise): a decoded row, or
 * NO at the first value that does not fit.
 */
const compile = (schema: unknown): ((row: unknown) => unknown) | undefined => {
  const fields = (schema as { readonly fields?: Readonly<Record<string, unknown>> }).fields
  if (fields === undefined || typeof fields !== "object") return undefined
  const keys: Array<string> = []
  const reads: Array<FastRead> = []
  const optional: Array<boolean> = []
  for (const [key, field] of Object.entries(fields)) {
    const required = fast.get(field as object)
    const absent = fastOptional.get(field as object)
    if (required === undefined && absent === undefined) return undefined
    keys.push(key)
    reads.push((required ?? absent)!)
    optional.push(required === undefined)
  }
  return (row) => {
    if (typeof row !== "object" || row === null) return NO
    const out: Record<string, unknown> = {}
    for (let i = 0; i < keys.length; i++) {
      const u = (row as Record<string, unknown>)[keys[i]!]
      if (optional[i] && (u === null || u === undefined)) {
        // As Schema.optionalWith({ nullable: true }): NULL leaves the key out, a present undefined is kept.
        if (u === undefined && keys[i]! in row) out[keys[i]!] = undefined
        continue
      }
      const v = reads[i]!(u)
      if (v === NO) return NO
      out[keys[i]!] = v
    }
    return out
  }
}

interface Decoder {
  readonly schema: (u: unknown) => Either.Either<unknown, ParseResult.ParseError>
  readonly fast: ((row: unknown) => unknown) | undefined
}
const decoders = new WeakMap<object, Decoder>()

/**
 * Decodes rows with `schema` (compiled once per schema): an Either (an Effect too) that fails with a ParseError
 * naming the row and column that did not fit. Synchronous, so a page of rows costs no fiber steps.
 */
export const decodeRows = <A, I>(
  schema: Schema.Schema<A, I, never>,
  rows: ReadonlyArray<unknown>
): Either.Either<ReadonlyArray<A>, ParseResult.ParseError> => {
  let decoder = decoders.get(schema)
  if (decoder === undefined) {
    decoder = {
      schema: Schema.decodeUnknownEither(Schema.Array(schema), { onExcessProperty: "ignore" }),
      fast: compile(schema)
    }
    decoders.set(schema, decoder)
  }
  if (decoder.fast !== undefined) {
    const out: Array<unknown> = new Array(rows.length)
    let i = 0
    for (; i < rows.length; i++) {
      const v = decoder.fast(rows[i])
      if (v === NO) break
      out[i] = v
    }
    if (i === rows.length) return Either.right(out as ReadonlyArray<A>)
  }
  return decoder.schema(rows) as Either.Either<ReadonlyArray<A>, ParseResult.ParseError>
}

/** What runs a statement (`run`: rows not read) or a query whose rows are decoded with a row Schema (`select`). */
export interface SqlRunner {
  readonly run: (text: string, params?: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<unknown>, SqlError>
  readonly select: <A, I>(
    schema: Schema.Schema<A, I, never>,
    text: string,
    params?: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<A>, SqlError | ParseResult.ParseError>
}
