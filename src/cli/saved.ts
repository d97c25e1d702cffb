import { Args, Command, HelpDoc, Options } from "@effect/cli"
import { Clock, Console, Effect, Either, Layer } from "effect"
import {
  type DeliveryReport,
  SavedSearchLoop,
  SavedSearchRunner,
  SavedSearchRunnerLive
} from "../alerts/SavedSearchRunner.js"
import { webhookProblem } from "../alerts/webhook.js"
import { WebhookConfigLive } from "../config/WebhookConfig.js"
import { savedSearchJson } from "../domain/format.js"
import { canonicalSearch } from "../domain/search.js"
import { RepositoryLive } from "../repository/layers.js"
import { Repository } from "../repository/Repository.js"
import { CommandError, usage } from "./errors.js"
import { dbOption, jsonOption, resolveDb } from "./repositoryOptions.js"

// `bitscrape saved`: searches whose new matches are POSTed as JSON to a webhook. `add`, `list` and `remove`
// manage them; `run` delivers (a round now, then every BITSCRAPE_WEBHOOK_INTERVAL until Ctrl-C, or one round
// with --once); `bitscrape serve` delivers too.

/** The repository for commands that write: created and migrated when needed. */
const writableRepository = (flag: Parameters<typeof resolveDb>[0]) =>
  Layer.unwrapEffect(Effect.map(resolveDb(flag), (db) => RepositoryLive(db)))

const nameArg = Args.text({ name: "name" }).pipe(Args.withDescription("the saved search's name (unique)"))

/** Checks and normalises a saved search's name, search and webhook; the problem as a usage error. */
export const checkSavedSearch = (name: string, search: string, webhook: string) =>
  Effect.gen(function*() {
    if (!/^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,63}$/u.test(name)) {
      return yield* usage(
        `saved search name "${
          name.slice(0, 80)
        }": 1–64 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit`
      )
    }
    const query = canonicalSearch(search)
    if (Either.isLeft(query)) return yield* usage(`--search: ${query.left}`)
    const problem = webhookProblem(webhook)
    if (problem !== undefined) return yield* usage(`--webhook: ${problem}`)
    return { name, query: query.right, webhook }
  })

const add = Command.make(
  "add",
  {
    name: nameArg,
    search: Options.text("search").pipe(
      Options.withPseudoName("search"),
      Options.withDescription(
        "what to match: words (\"ubuntu 24.04\"), a search's URL parameters (\"q=ubuntu&min_size=1GB\") or a search page's whole address"
      )
    ),
    webhook: Options.text("webhook").pipe(
      Options.withPseudoName("url"),
      Options.withDescription("where new matches are POSTed as JSON (http:// or https://)")
    ),
    json: jsonOption,
    db: dbOption
  },
  (flags) =>
    Effect.gen(function*() {
      const checked = yield* checkSavedSearch(flags.name, flags.search, flags.webhook)
      const repo = yield* Repository
      const saved = yield* repo.addSavedSearch({ ...checked, createdAt: yield* Clock.currentTimeMillis }).pipe(
        Effect.catchTag("SavedSearchExists", (e) =>
          Effect.fail(new CommandError({ message: `a saved search named "${e.name}" exists already` })))
      )
      if (flags.json) {
        return yield* Console.log(JSON.stringify(savedSearchJson(saved)))
      }
      yield* Console.log(
        `saved "${saved.name}" (${
          saved.query || "everything"
        }): torrents fetched from now on are POSTed to ${saved.webhook}`
      )
    }).pipe(Effect.provide(writableRepository(flags.db)))
).pipe(Command.withDescription("Save a search whose new matches are POSTed as JSON to a webhook"))

const list = Command.make("list", { json: jsonOption, db: dbOption }, (flags) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const all = yield* repo.savedSearches
    if (flags.json) {
      for (const s of all) yield* Console.log(JSON.stringify(savedSearchJson(s)))
      return
    }
    if (all.length === 0) return yield* Console.log("no saved searches (add one with bitscrape saved add)")
    for (const s of all) {
      const state = s.lastError === undefined ? "ok" : `failing: ${s.lastError}`
      yield* Console.log(`${s.name}  ${s.query || "(everything)"}  → ${s.webhook}  delivered ${s.delivered}, ${state}`)
    }
  }).pipe(Effect.provide(writableRepository(flags.db)))).pipe(
    Command.withDescription("List saved searches with their webhooks and delivery state")
  )

const remove = Command.make("remove", { name: nameArg, db: dbOption }, (flags) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    if (!(yield* repo.removeSavedSearch(flags.name))) {
      return yield* Effect.fail(new CommandError({ message: `no saved search named "${flags.name}"` }))
    }
    yield* Console.log(`removed "${flags.name}"`)
  }).pipe(Effect.provide(writableRepository(flags.db)))).pipe(Command.withDescription("Remove a saved search"))

const reportLine = (r: DeliveryReport) =>
  r.error === undefined
    ? `${r.name}: delivered ${r.delivered} new match(es) in ${r.posts} POST(s)`
    : `${r.name}: delivered ${r.delivered}, then failed (retried next round): ${r.error}`

const run = Command.make(
  "run",
  {
    once: Options.boolean("once").pipe(Options.withDescription("deliver one round and exit (for cron)")),
    json: jsonOption,
    db: dbOption
  },
  (flags) =>
    Effect.gen(function*() {
      if (flags.once) {
        const reports = yield* Effect.flatMap(SavedSearchRunner, (r) => r.runOnce)
        for (const r of reports) yield* Console.log(flags.json ? JSON.stringify(r) : reportLine(r))
        if (reports.some((r) => r.error !== undefined)) {
          return yield* Effect.fail(
            new CommandError({ message: "some deliveries failed; they are retried on the next run" })
          )
        }
        return
      }
      yield* Console.log("delivering saved searches' new matches until Ctrl-C")
      return yield* Effect.provide(Effect.never, SavedSearchLoop)
    }).pipe(
      Effect.provide(
        SavedSearchRunnerLive.pipe(Layer.provideMerge(Layer.merge(WebhookConfigLive, writableRepository(flags.db))))
      )
    )
).pipe(
  Command.withDescription(
    "Deliver saved searches' new matches to their webhooks: a round now, then every BITSCRAPE_WEBHOOK_INTERVAL (60 s) until Ctrl-C"
  )
)

export const saved = Command.make("saved").pipe(
  Command.withDescription(
    HelpDoc.p("Saved searches whose new matches are POSTed as JSON to a webhook (delivered by `saved run` and `serve`)")
  ),
  Command.withSubcommands([add, list, remove, run])
)
