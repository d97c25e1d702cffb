// Saved searches' deliveries: each round, every saved search's matches fetched since its cursor (oldest first,
// in POSTs of up to `batch`) are POSTed as JSON to its webhook; the cursor moves only past what a 2xx accepted.
// A receiver that is down keeps its matches waiting: the POST is retried with back-off, and when the round's
// retries run out the error is recorded and the next round starts again from the same cursor. Delivery is at
// least once: a POST whose answer was lost is sent again, with the same `delivery` id for the receiver to skip.
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { Clock, Context, Duration, Effect, Either, Layer, Schedule } from "effect"
import { WebhookConfig } from "../config/WebhookConfig.js"
import { isoTime, magnet, summaryJson } from "../domain/format.js"
import { toHex } from "../domain/ids.js"
import { parseSearchParams, searchQueryOf } from "../domain/search.js"
import { version } from "../domain/version.js"
import { Repository, type SavedSearch, type SavedSearchCursor } from "../repository/Repository.js"
import { postJson } from "./webhook.js"

/** What one round did for one saved search. */
export interface DeliveryReport {
  readonly name: string
  /** Matches accepted by the webhook this round. */
  readonly delivered: number
  /** POSTs accepted this round. */
  readonly posts: number
  /** Why delivery stopped, when it failed (the matches wait for the next round). */
  readonly error: string | undefined
}

/** The JSON body of one delivery. */
export interface WebhookPayload {
  /** Identifies this batch; a redelivery (its answer was lost) carries the same id. */
  readonly delivery: string
  readonly saved_search: { readonly id: number; readonly name: string; readonly query: string }
  readonly matches: ReadonlyArray<ReturnType<typeof summaryJson> & { readonly magnet: string }>
  readonly sent_at: string
}

/** Most POSTs per saved search per round (a backlog is worked off over several rounds). */
const MAX_POSTS_PER_ROUND = 50

const cursorText = (c: SavedSearchCursor) => `${c.fetchedAt}${c.infoHash === undefined ? "" : `-${toHex(c.infoHash)}`}`

/** Delivers saved searches' new matches to their webhooks. */
export class SavedSearchRunner extends Context.Tag("bitscrape/SavedSearchRunner")<SavedSearchRunner, {
  /** One round over every saved search; never fails (each search's error is recorded and reported). */
  readonly runOnce: Effect.Effect<ReadonlyArray<DeliveryReport>>
}>() {}

const make = Effect.gen(function*() {
  const repo = yield* Repository
  const client = yield* HttpClient.HttpClient
  const settings = yield* WebhookConfig
  const userAgent = `BitScrape/${version}`

  const deliver = (s: SavedSearch) =>
    Effect.gen(function*() {
      const report = (delivered: number, posts: number, error?: string): DeliveryReport => ({
        name: s.name,
        delivered,
        posts,
        error
      })
      const params = parseSearchParams(s.query)
      if (Either.isLeft(params)) {
        const error = `the saved search is not a valid search: ${params.left}`
        yield* repo.recordDelivery(s.id, { at: yield* Clock.currentTimeMillis, error })
        return report(0, 0, error)
      }
      const query = searchQueryOf(params.right)
      const until = (yield* Clock.currentTimeMillis) - Duration.toMillis(settings.settle)
      let cursor = s.cursor
      let delivered = 0
      let posts = 0
      while (posts < MAX_POSTS_PER_ROUND) {
        const matches = yield* repo.newMatches(query, cursor, until, settings.batch)
        if (matches.length === 0) break
        const payload: WebhookPayload = {
          delivery: `${s.id}:${cursorText(cursor)}`,
          saved_search: { id: s.id, name: s.name, query: s.query },
          matches: matches.map((m) => ({ ...summaryJson(m), magnet: magnet(m.infoHash, m.name) })),
          sent_at: isoTime(yield* Clock.currentTimeMillis)
        }
        const sent = yield* Effect.either(postJson(client, s.webhook, payload, settings, userAgent))
        const at = yield* Clock.currentTimeMillis
        if (Either.isLeft(sent)) {
          yield* repo.recordDelivery(s.id, { at, error: sent.left.message })
          yield* Effect.logWarning(
            `saved search "${s.name}": delivery failed, will retry next round: ${sent.left.message}`
          )
          return report(delivered, posts, sent.left.message)
        }
        const last = matches[matches.length - 1]!
        cursor = { fetchedAt: last.fetchedAt, infoHash: last.infoHash }
        delivered += matches.length
        posts++
        yield* repo.recordDelivery(s.id, { at, cursor, delivered: matches.length })
        if (matches.length < settings.batch) break
      }
      return report(delivered, posts)
    }).pipe(
      Effect.catchTag("RepositoryError", (e) =>
        Effect.succeed<DeliveryReport>({ name: s.name, delivered: 0, posts: 0, error: e.message }))
    )

  const runOnce = repo.savedSearches.pipe(
    Effect.flatMap((list) => Effect.forEach(list, deliver, { concurrency: 4 })),
    Effect.catchTag(
      "RepositoryError",
      (e) => Effect.as(Effect.logWarning(`saved searches: ${e.message}`), [] as ReadonlyArray<DeliveryReport>)
    )
  )
  return SavedSearchRunner.of({ runOnce })
})

/** The runner over the Repository and WebhookConfig in context, POSTing with Node's fetch. */
export const SavedSearchRunnerLive = Layer.effect(SavedSearchRunner, make).pipe(Layer.provide(FetchHttpClient.layer))

/** The runner with a given HTTP client (tests, library users). */
export const SavedSearchRunnerWith = Layer.effect(SavedSearchRunner, make)

/** Runs a round now and then every `interval`, for as long as the layer's scope lives (`serve`, `saved run`). */
export const SavedSearchLoop = Layer.scopedDiscard(Effect.gen(function*() {
  const runner = yield* SavedSearchRunner
  const { interval } = yield* WebhookConfig
  yield* Effect.forkScoped(Effect.repeat(runner.runOnce, Schedule.spaced(interval)))
}))
