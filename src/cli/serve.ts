import { Command } from "@effect/cli"
import { Console, Effect, Layer } from "effect"
import { LiveStatsLive } from "../web/LiveStats.js"
import { dbOption, existingRepository, resolveDb } from "./repositoryOptions.js"
import { announceDashboard, resolveWebSettings, uiHostOption, uiPortOption, webServerLayer } from "./webOptions.js"

// `bitscrape serve`: the web UI and JSON API over an existing database, without crawling (another process
// may be crawling into the same database meanwhile). Runs until Ctrl-C.

const flags = {
  db: dbOption,
  uiHost: uiHostOption,
  uiPort: uiPortOption
}

export const serve = Command.make("serve", flags, (flags) =>
  Effect.gen(function*() {
    const web = yield* resolveWebSettings(flags)
    const db = yield* resolveDb(flags.db)
    const server = webServerLayer(web, db, LiveStatsLive).pipe(Layer.provide(existingRepository(flags.db)))
    return yield* Effect.zipRight(
      Effect.zipRight(announceDashboard(web), Console.log("serving until Ctrl-C")),
      Effect.never
    ).pipe(Effect.provide(server))
  })).pipe(
    Command.withDescription("Serve the web UI and JSON API over an existing database (no crawling), until Ctrl-C")
  )
