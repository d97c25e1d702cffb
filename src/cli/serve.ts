import { Command } from "@effect/cli"
import { Console, Effect, Layer } from "effect"
import { WebConfig } from "../config/WebConfig.js"
import { LiveStatsLive } from "../web/LiveStats.js"
import { WebServerLive } from "../web/WebServer.js"
import { dbOption, existingRepository, resolveDb } from "./repositoryOptions.js"
import { announceDashboard, resolveWebSettings, uiHostOption, uiPortOption, webInfo } from "./webOptions.js"

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
    const server = WebServerLive.pipe(
      Layer.provide(Layer.mergeAll(
        Layer.succeed(WebConfig, web),
        webInfo(web, db),
        LiveStatsLive,
        existingRepository(flags.db)
      ))
    )
    return yield* Effect.zipRight(
      Effect.zipRight(announceDashboard(web), Console.log("serving until Ctrl-C")),
      Effect.never
    ).pipe(Effect.provide(server))
  })).pipe(
    Command.withDescription("Serve the web UI and JSON API over an existing database (no crawling), until Ctrl-C")
  )
