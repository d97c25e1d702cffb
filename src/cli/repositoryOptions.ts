import { Options } from "@effect/cli"
import { Config, Effect, Layer, Option } from "effect"
import { existsSync } from "node:fs"
import { isPostgresUrl, RepositoryLive } from "../repository/layers.js"
import { RepositoryError } from "../repository/Repository.js"

/** The default database: an SQLite file in the working directory. */
export const DEFAULT_DB = "./bitscrape.db"

/** `--db PATH|URL`, over BITSCRAPE_DB, over the default. */
export const dbOption = Options.text("db").pipe(
  Options.withDescription(`SQLite file or postgres:// URL (env BITSCRAPE_DB; default ${DEFAULT_DB})`),
  Options.optional
)

export const jsonOption = Options.boolean("json").pipe(Options.withDescription("machine-readable JSON output"))

/** The database setting as it may be shown (a URL's user and password removed). */
export const redactDb = (db: string) => db.replace(/\/\/[^@/]*@/, "//…@")

/** The database setting in force: flag, then BITSCRAPE_DB, then the default. */
export const resolveDb = (flag: Option.Option<string>) =>
  Option.match(flag, {
    onSome: Effect.succeed,
    onNone: () => Config.string("db").pipe(Config.withDefault(DEFAULT_DB))
  })

/**
 * The repository for a read-only command: an SQLite file must already exist (reading must never create an
 * empty database by accident and report "nothing found").
 */
export const existingRepository = (flag: Option.Option<string>) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const db = yield* resolveDb(flag)
    if (!isPostgresUrl(db) && db !== ":memory:" && !existsSync(db)) {
      return yield* Effect.fail(
        new RepositoryError({
          operation: "open",
          cause: new Error(`no database at ${db} (run \`bitscrape crawl\` first, or pass --db)`)
        })
      )
    }
    return RepositoryLive(db)
  }))
