import { Options } from "@effect/cli"
import { Config, Effect, Layer, Option } from "effect"
import { RepositoryLive } from "../repository/layers.js"

/** The default database: an SQLite file in the working directory. */
export const DEFAULT_DB = "./bitscrape.db"

/** `--db PATH|URL`, over BITSCRAPE_DB, over the default. */
export const dbOption = Options.text("db").pipe(
  Options.withPseudoName("path|url"),
  Options.withDescription(`SQLite file or postgres:// URL (env BITSCRAPE_DB; default ${DEFAULT_DB})`),
  Options.optional
)

export const jsonOption = Options.boolean("json").pipe(Options.withDescription("machine-readable JSON output"))

/** The database setting as it may be shown (a URL's user, password and secret parameters removed). */
export { redactDb } from "../config/redact.js"

/** The database setting in force: flag, then BITSCRAPE_DB, then the default. */
export const resolveDb = (flag: Option.Option<string>) =>
  Option.match(flag, {
    onSome: Effect.succeed,
    onNone: () => Config.string("db").pipe(Config.withDefault(DEFAULT_DB))
  })

/**
 * The repository for a read-only command (stats, search, show, export, serve): opened read-only, never created,
 * migrated or switched to WAL; a missing, foreign or damaged file is refused with its own one-line message.
 */
export const existingRepository = (flag: Option.Option<string>) =>
  Layer.unwrapEffect(Effect.map(resolveDb(flag), (db) => RepositoryLive(db, { readOnly: true })))
