import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as Migrator from "@effect/sql/Migrator"
import { Effect, Layer, Redacted, Schedule } from "effect"
import { pgMigrations, sqliteMigrations } from "./migrations.js"
import { Repository, RepositoryError } from "./Repository.js"
import { makeSqlRepository } from "./sqlRepository.js"

/**
 * Runs pending migrations. Several crawler processes may open one PostgreSQL database at once: the loser of
 * that race sees the migrations table locked or just created, so a failed attempt is retried a few times.
 */
const migrate = (migrations: Record<string, Effect.Effect<void, unknown, never>>) =>
  Migrator.make({})({ loader: Migrator.fromRecord(migrations as never), table: "bitscrape_migrations" }).pipe(
    Effect.retry(Schedule.intersect(Schedule.recurs(10), Schedule.exponential("100 millis"))),
    Effect.mapError((cause) => new RepositoryError({ operation: "migrate", cause }))
  )

/** SQLite (the default): one file, WAL mode, migrated on open. `filename` may be ":memory:". */
export const RepositorySqlite = (filename: string) =>
  Layer.effect(
    Repository,
    Effect.zipRight(migrate(sqliteMigrations as never), makeSqlRepository("sqlite"))
  ).pipe(
    Layer.provide(SqliteClient.layer({ filename })),
    Layer.mapError((cause) =>
      cause instanceof RepositoryError ? cause : new RepositoryError({ operation: "open", cause })
    )
  )

/** PostgreSQL, for several crawler processes sharing one database: `url` is `postgres://…`. */
export const RepositoryPostgres = (url: string, options: { readonly maxConnections?: number } = {}) =>
  Layer.effect(
    Repository,
    Effect.zipRight(migrate(pgMigrations as never), makeSqlRepository("pg"))
  ).pipe(
    Layer.provide(PgClient.layer({
      url: Redacted.make(url),
      maxConnections: options.maxConnections ?? 4,
      applicationName: "bitscrape"
    })),
    Layer.mapError((cause) =>
      cause instanceof RepositoryError ? cause : new RepositoryError({ operation: "open", cause })
    )
  )

/** True for a `postgres://` or `postgresql://` URL. */
export const isPostgresUrl = (db: string) => /^postgres(ql)?:\/\//i.test(db)

/** The repository named by a `--db` / `BITSCRAPE_DB` value: a PostgreSQL URL, or else an SQLite file path. */
export const RepositoryLive = (db: string) => isPostgresUrl(db) ? RepositoryPostgres(db) : RepositorySqlite(db)
