import { Command } from "@effect/cli"
import { Console, Effect, Layer } from "effect"
import { SavedSearchLoop, SavedSearchRunnerLive } from "../alerts/SavedSearchRunner.js"
import { WebhookConfigLive } from "../config/WebhookConfig.js"
import { RepositoryLive } from "../repository/layers.js"
import { RepositoryError } from "../repository/Repository.js"
import { LiveStatsLive } from "../web/LiveStats.js"
import { BlocklistStore, BlocklistStoreFromRepository } from "../web/services.js"
import { messageOf } from "./errors.js"
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
    // The web UI's blocklist changes go through a connection that may write, like the deliveries below; when
    // the database cannot be written, they fail with the reason and the rest is served.
    const blocklistStore = BlocklistStoreFromRepository.pipe(
      Layer.provide(RepositoryLive(db)),
      Layer.catchAll((e) => {
        const refuse = () => Effect.fail(new RepositoryError({ operation: "change the blocklist", cause: e }))
        return Layer.succeed(BlocklistStore, { block: refuse, unblock: refuse })
      })
    )
    const server = webServerLayer(web, db, LiveStatsLive).pipe(
      Layer.provide(Layer.merge(existingRepository(flags.db), blocklistStore))
    )
    // Saved searches' deliveries record their progress: they get a connection of their own that may write
    // (opened after the read-only one has checked that the database exists and is BitScrape's).
    // A database serve cannot write (read-only media, a read-only PostgreSQL role) is still served, without them.
    const deliveries = SavedSearchLoop.pipe(
      Layer.provide(SavedSearchRunnerLive),
      Layer.provide(Layer.merge(WebhookConfigLive, RepositoryLive(db))),
      Layer.catchAll((e) =>
        e._tag === "RepositoryError"
          ? Layer.effectDiscard(Effect.logWarning(`saved searches are not delivered by this serve: ${messageOf(e)}`))
          : Layer.fail(e)
      )
    )
    return yield* Effect.zipRight(
      Effect.zipRight(announceDashboard(web), Console.log("serving until Ctrl-C")),
      Effect.never
    ).pipe(Effect.provide(Layer.provideMerge(deliveries, server)))
  })).pipe(
    Command.withDescription("Serve the web UI and JSON API over an existing database (no crawling), until Ctrl-C")
  )
