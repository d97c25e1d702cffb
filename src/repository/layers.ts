import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { Cause, Effect, Layer, Redacted, Schedule, Schema } from "effect"
import { redactDb } from "../config/redact.js"
import { postgres, sqlite } from "./dialect.js"
import { pgMigrations, sqliteMigrations } from "./migrations.js"
import { Repository, RepositoryError } from "./Repository.js"
import { type Access, checkSqliteFile, diagnoseSqlite } from "./sqliteFile.js"
import { makeSqlRepository } from "./sqlRepository.js"
import { CountRow, decodeRows, SqlText, SqlTextOrNull } from "./sqlRows.js"

const MIGRATIONS_TABLE = "bitscrape_migrations"
const TableName = Schema.Struct({ name: SqlText })
const RegClass = Schema.Struct({ t: SqlTextOrNull })

/** How a repository is opened: `readOnly` never creates, migrates or changes the database (stats, search, …). */
export interface RepositoryOptions {
  readonly readOnly?: boolean
  /** PostgreSQL pool size. */
  readonly maxConnections?: number
}

/**
 * Runs pending migrations. Several crawler processes may open one PostgreSQL database at once: the loser of
 * that race sees the migrations table locked or just created, so a failed attempt is retried a few times.
 */
const migrate = (migrations: Record<string, Effect.Effect<void, unknown, never>>) =>
  Migrator.make({})({ loader: Migrator.fromRecord(migrations as never), table: MIGRATIONS_TABLE }).pipe(
    Effect.retry(Schedule.intersect(Schedule.recurs(10), Schedule.exponential("100 millis"))),
    Effect.mapError((cause) => new RepositoryError({ operation: "migrate", cause }))
  )

const refuse = (message: string) => Effect.fail(new RepositoryError({ operation: "open", cause: new Error(message) }))

/**
 * Refuses another application's SQLite database: BitScrape's has the migrations table. A writer may start on a
 * database with no tables at all (a new file); a reader needs BitScrape's.
 */
const checkSqliteSchema = (filename: string, access: Access) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* Effect.flatMap(
      sql.unsafe("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"),
      (rows) => decodeRows(TableName, rows)
    )
    const tables = rows.map((r) => r.name)
    if (tables.includes(MIGRATIONS_TABLE)) return
    if (tables.length === 0) {
      if (access === "write") return
      return yield* refuse(`${filename} holds no BitScrape data (run \`bitscrape crawl --db ${filename}\` first)`)
    }
    const list = tables.length > 5 ? `${tables.slice(0, 5).join(", ")}, …` : tables.join(", ")
    return yield* refuse(
      `${filename} is an SQLite database but not a BitScrape one (it holds ${list}): not touching it`
    )
  })

/**
 * SQLite (the default): one file, WAL mode, migrated on open. `filename` may be ":memory:". With `readOnly` the
 * file is opened read-only, must already be a BitScrape database, and is neither migrated nor switched to WAL.
 */
export const RepositorySqlite = (filename: string, options: RepositoryOptions = {}) => {
  const access: Access = options.readOnly === true && filename !== ":memory:" ? "read" : "write"
  const open = Effect.gen(function*() {
    yield* checkSqliteSchema(filename, access)
    if (access === "write") {
      const sql = yield* SqlClient.SqlClient
      // A new database gives pages freed by retention and the disk budget back to the file system
      // (`PRAGMA incremental_vacuum`); this must be chosen before the first table exists. An older database
      // reuses its free pages instead (its file stops growing, without shrinking).
      const [tables] = yield* Effect.flatMap(
        sql.unsafe("SELECT count(*) AS n FROM sqlite_master"),
        (rows) => decodeRows(CountRow, rows)
      )
      if (tables?.n === 0) yield* sql.unsafe("PRAGMA auto_vacuum = INCREMENTAL")
      // WAL only once the file is known to be ours (or new): never switch another application's database.
      yield* sql.unsafe("PRAGMA journal_mode = WAL")
      yield* migrate(sqliteMigrations as never)
    }
    return yield* makeSqlRepository(sqlite)
  })
  return Layer.effect(Repository, open).pipe(
    Layer.provide(SqliteClient.layer({ filename, readonly: access === "read", disableWAL: true })),
    Layer.provide(Layer.effectDiscard(checkSqliteFile(filename, access))),
    // better-sqlite3 throws while opening (a defect to @effect/sql): each cause becomes its one-line message.
    Layer.catchAllCause((cause) =>
      Layer.fail(diagnoseSqlite(filename, access, Cause.isFailType(cause) ? cause.error : Cause.squash(cause)))
    )
  )
}

/** PostgreSQL, for several crawler processes sharing one database: `url` is `postgres://…`. */
export const RepositoryPostgres = (url: string, options: RepositoryOptions = {}) =>
  Layer.effect(
    Repository,
    Effect.zipRight(
      options.readOnly === true
        ? Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Effect.flatMap(
            Effect.flatMap(
              sql.unsafe(`SELECT to_regclass('${MIGRATIONS_TABLE}')::text AS t`),
              (rows) => decodeRows(RegClass, rows)
            ),
            (rows) =>
              rows[0]?.t === undefined
                ? refuse(`${redactDb(url)} holds no BitScrape data (run \`bitscrape crawl --db URL\` first)`)
                : Effect.void
          ))
        : migrate(pgMigrations as never),
      makeSqlRepository(postgres)
    )
  ).pipe(
    // Loaded only when a PostgreSQL URL is given: every other command starts without the pg driver.
    Layer.provide(Layer.unwrapEffect(Effect.map(Effect.promise(() => import("@effect/sql-pg")), ({ PgClient }) =>
      PgClient.layer({
        url: Redacted.make(url),
        maxConnections: options.maxConnections ?? 4,
        applicationName: "bitscrape"
      })))),
    Layer.catchAllCause((cause) => {
      const error = Cause.isFailType(cause) ? cause.error : Cause.squash(cause)
      return Layer.fail(
        error instanceof RepositoryError ? error : new RepositoryError({ operation: "connect", cause: error })
      )
    })
  )

/** True for a `postgres://` or `postgresql://` URL. */
export const isPostgresUrl = (db: string) => /^postgres(ql)?:\/\//i.test(db)

/** The repository named by a `--db` / `BITSCRAPE_DB` value: a PostgreSQL URL, or else an SQLite file path. */
export const RepositoryLive = (db: string, options: RepositoryOptions = {}) =>
  isPostgresUrl(db) ? RepositoryPostgres(db, options) : RepositorySqlite(db, options)

/** Checks that `db` can be opened for writing, before a command starts expensive work (the demo's swarm). */
export const checkWritableDatabase = (db: string) => isPostgresUrl(db) ? Effect.void : checkSqliteFile(db, "write")
