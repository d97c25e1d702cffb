import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { Clock, Effect, Either, Layer, Option } from "effect"
import { webhookProblem } from "../alerts/webhook.js"
import { reports } from "../analysis/reports.js"
import { isoTime, magnet, savedSearchJson, summaryJson, torrentJson } from "../domain/format.js"
import { infoHashFromHex, toHex } from "../domain/ids.js"
import { canonicalSearch, searchQueryOf } from "../domain/search.js"
import { parseBlockEntry } from "../repository/blocklist.js"
import { type BlockRecord, Repository, type RepositoryError } from "../repository/Repository.js"
import { decodeText } from "../wire/torrentInfo.js"
import { BadRequest, BitscrapeApi, InvalidSavedSearch, NotFound, SavedSearchNameTaken, ServerError } from "./api.js"
import { LiveStats } from "./LiveStats.js"
import { BlocklistStore, BlocklistStoreFromRepository, WebInfo } from "./services.js"

// The JSON API's handlers: thin translations between the Repository / live feed and the API's Schemas.

export { BlocklistStore, BlocklistStoreFromRepository, WebInfo }

const blockJson = (b: BlockRecord) => ({
  id: b.id,
  kind: b.kind,
  value: b.value,
  added_at: isoTime(b.addedAt),
  reason: b.reason ?? null,
  via: b.via ?? null
})

const serverError = (e: RepositoryError) => new ServerError({ message: e.message })

/** Version bytes as text a person can read (client ids are 2 letters and 2 version bytes, BEP 20 style). */
const clientText = (v: Uint8Array | undefined): string | null => {
  if (v === undefined || v.length === 0) return null
  const letters = Buffer.from(v.subarray(0, 2)).toString("latin1")
  if (v.length === 4 && /^[A-Za-z]{2}$/.test(letters)) return `${letters} ${v[2]}.${v[3]}`
  return decodeText(v).text
}

const CrawlHandlers = HttpApiBuilder.group(BitscrapeApi, "crawl", (handlers) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const live = yield* LiveStats
    const info = yield* WebInfo
    // Database totals scan whole tables: computed at most every few seconds however many dashboards poll.
    const totals = yield* Effect.cachedWithTTL(repo.stats, "5 seconds")
    const store = Option.getOrElse(yield* Effect.serviceOption(BlocklistStore), () => repo)
    return handlers
      .handle("stats", () =>
        Effect.gen(function*() {
          const s = yield* Effect.mapError(totals, serverError)
          return {
            database: {
              backend: repo.backend,
              nodes: s.nodes,
              infohashes: s.infohashes,
              by_source: s.bySource,
              with_peers: s.withPeers,
              torrents: s.torrents,
              files: s.files,
              failed: s.failed,
              sessions: s.sessions,
              by_family: s.byFamily
            },
            live: Option.getOrNull(yield* live.latest)
          }
        }))
      .handle("nodes", ({ urlParams }) =>
        repo.nodes(urlParams.limit ?? 100).pipe(
          Effect.mapError(serverError),
          Effect.map((nodes) =>
            nodes.map((n) => ({
              id: toHex(n.id),
              host: n.host,
              port: n.port,
              first_seen: isoTime(n.firstSeen),
              last_seen: isoTime(n.lastSeen),
              last_response: n.lastResponse === undefined ? null : isoTime(n.lastResponse),
              times_seen: n.timesSeen,
              bep42: n.bep42 ?? null,
              client: clientText(n.version)
            }))
          )
        ))
      .handle("sessions", ({ urlParams }) =>
        repo.sessions(urlParams.limit ?? 50).pipe(
          Effect.mapError(serverError),
          Effect.map((list) =>
            list.map((s) => ({
              id: s.id,
              started_at: isoTime(s.startedAt),
              ended_at: s.endedAt === undefined ? null : isoTime(s.endedAt),
              state: s.state,
              settings: s.settings ?? null,
              totals: s.totals ?? null
            }))
          )
        ))
      .handle("blocklist", () =>
        repo.blocklist.pipe(
          Effect.mapError(serverError),
          Effect.map((list) => list.map(blockJson))
        ))
      .handle("blockAdd", ({ payload }) =>
        Effect.gen(function*() {
          const parsed = parseBlockEntry(payload.entry)
          if (!parsed.ok) return yield* new BadRequest({ message: parsed.error })
          const reason = payload.reason?.trim()
          const { added, purged } = yield* Effect.mapError(
            store.block([{ ...parsed.entry, reason: reason === "" ? undefined : reason }]),
            serverError
          )
          return { added: added.map(blockJson), already: 1 - added.length, purged }
        }))
      .handle("blockRemove", ({ path }) =>
        store.unblock(String(path.id)).pipe(
          Effect.mapError(serverError),
          Effect.filterOrFail(
            (removed) => removed > 0,
            () => new NotFound({ message: `no blocklist entry ${path.id}` })
          ),
          Effect.map((removed) => ({ removed }))
        ))
      .handle("about", () =>
        Effect.map(live.settings, (crawl) => ({
          version: info.version,
          crawl: Option.getOrNull(crawl),
          database: info.database,
          ui: { host: info.host, port: info.port, token: info.token }
        })))
  }))

const TorrentHandlers = HttpApiBuilder.group(BitscrapeApi, "torrents", (handlers) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    return handlers
      .handle("search", ({ urlParams: p }) =>
        Effect.gen(function*() {
          const query = searchQueryOf(p)
          const result = yield* Effect.mapError(repo.search(query), serverError)
          return {
            total: result.total,
            total_capped: result.capped,
            page: p.page ?? 1,
            limit: p.limit ?? 20,
            items: result.items.map(summaryJson)
          }
        }))
      .handle("torrent", ({ path }) =>
        repo.getTorrent(infoHashFromHex(path.infohash)!).pipe(
          Effect.catchTags({
            TorrentNotFound: () => Effect.fail(new NotFound({ message: `no torrent ${path.infohash.toLowerCase()}` })),
            RepositoryError: (e) => Effect.fail(serverError(e))
          }),
          Effect.map((t) => {
            const json = torrentJson(t)
            return {
              ...json,
              ...(t.category === undefined ? {} : { category: t.category }),
              piece_length: json.piece_length ?? null,
              source: t.sourcePeer ? { ...t.sourcePeer, client: t.sourceClient ?? null } : null,
              magnet: magnet(t.infoHash, t.name, t.infoHashV2),
              discovered_at: isoTime(t.discoveredAt),
              fetched_at: isoTime(t.fetchedAt),
              seen: t.seen,
              peers_seen: t.peersSeen,
              swarm: t.swarm === undefined
                ? null
                : { seeders: t.swarm.seeders, leechers: t.swarm.leechers, at: isoTime(t.swarm.at) },
              peers: t.peers.slice(0, 50).map((p) => ({ host: p.host, port: p.port, last_seen: isoTime(p.lastSeen) }))
            }
          })
        ))
  }))

const SavedHandlers = HttpApiBuilder.group(
  BitscrapeApi,
  "saved",
  (handlers) =>
    Effect.map(Repository, (repo) =>
      handlers
        .handle(
          "savedSearches",
          () => repo.savedSearches.pipe(Effect.mapError(serverError), Effect.map((list) => list.map(savedSearchJson)))
        )
        .handle("createSavedSearch", ({ payload }) =>
          Effect.gen(function*() {
            // The same checks as `bitscrape saved add`: a search that parses, a webhook URL with a host.
            const query = canonicalSearch(payload.search)
            if (Either.isLeft(query)) return yield* new InvalidSavedSearch({ message: `search: ${query.left}` })
            const problem = webhookProblem(payload.webhook)
            if (problem !== undefined) return yield* new InvalidSavedSearch({ message: `webhook: ${problem}` })
            const saved = yield* repo.addSavedSearch({
              name: payload.name,
              query: query.right,
              webhook: payload.webhook,
              createdAt: yield* Clock.currentTimeMillis
            }).pipe(
              Effect.catchTags({
                SavedSearchExists: (e) =>
                  Effect.fail(new SavedSearchNameTaken({ message: `a saved search named "${e.name}" exists already` })),
                RepositoryError: (e) => Effect.fail(serverError(e))
              })
            )
            return savedSearchJson(saved)
          }))
        .handle("deleteSavedSearch", ({ path }) =>
          repo.removeSavedSearch(path.name).pipe(
            Effect.mapError(serverError),
            Effect.flatMap((removed) =>
              removed ? Effect.void : Effect.fail(new NotFound({ message: `no saved search named "${path.name}"` }))
            )
          )))
)

const AnalysisHandlers = HttpApiBuilder.group(BitscrapeApi, "analysis", (handlers) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const serve = <A>(report: Effect.Effect<A, RepositoryError, Repository>) =>
      report.pipe(Effect.provideService(Repository, repo), Effect.mapError(serverError))
    return handlers
      .handle("content", ({ urlParams }) => serve(reports.content(urlParams)))
      .handle("sources", ({ urlParams }) => serve(reports.sources(urlParams)))
      .handle("clients", ({ urlParams }) => serve(reports.clients(urlParams)))
      .handle("churn", ({ urlParams }) => serve(reports.churn(urlParams)))
      .handle("popularity", ({ urlParams }) => serve(reports.popularity(urlParams)))
  }))

/** The API's handlers; need the Repository, the live feed and WebInfo. */
export const ApiHandlers = Layer.mergeAll(CrawlHandlers, TorrentHandlers, SavedHandlers, AnalysisHandlers)
