import { Args, Command, Options } from "@effect/cli"
import { Clock, Console, Duration, Effect, Layer, Option } from "effect"
import { readFileSync } from "node:fs"
import { crawlerConfigFromEnv } from "../config/CrawlerConfig.js"
import { DhtConfig, dhtConfigFromEnv } from "../config/DhtConfig.js"
import { FetcherConfig, fetcherConfigFromEnv } from "../config/FetcherConfig.js"
import { resolveBootstrap } from "../crawler/Crawler.js"
import type { SocketAddress } from "../domain/address.js"
import { printable } from "../domain/format.js"
import { type InfoHash, toHex } from "../domain/ids.js"
import { MetadataFetcher, MetadataFetcherLive } from "../metadata/MetadataFetcher.js"
import { RepositoryLive } from "../repository/layers.js"
import { Repository, type Torrent } from "../repository/Repository.js"
import { Dht } from "../rpc/Dht.js"
import { DhtNodeLive } from "../rpc/node.js"
import { CommandError, note } from "./errors.js"
import { bootstrapFlag, peerFlag, positiveFlag } from "./flags.js"
import { readInputs } from "./importInputs.js"
import { dbOption, jsonOption, resolveDb } from "./repositoryOptions.js"

// `bitscrape import`: torrents and infohashes from elsewhere. .torrent files are verified and stored as they are;
// infohashes (lists, magnet links) are queued for the next crawl, which looks for their peers and fetches their
// metadata — or, with --fetch, fetched now (from --peer, the magnet's x.pe peers, or peers found on the DHT).

const inputsArg = Args.text({ name: "input" }).pipe(
  Args.withDescription(
    "a .torrent file, a directory (its .torrent files, recursively), a file listing infohashes or magnet links (one a line), an infohash, a magnet link, or - for a list on standard input"
  ),
  Args.atLeast(1)
)

const peerOption = peerFlag("with --fetch: host:port of a peer to ask first (repeatable)")

/** Fetches each infohash's metadata now: peers given, else found on the DHT (one node for all lookups). */
const fetchNow = (
  hashes: ReadonlyArray<{ readonly infoHash: InfoHash; readonly peers: ReadonlyArray<SocketAddress> }>,
  flags: { readonly peers: ReadonlyArray<SocketAddress>; readonly bootstrap: Option.Option<ReadonlyArray<string>> },
  timeoutSeconds: number
) =>
  Effect.gen(function*() {
    const dhtEnv = yield* dhtConfigFromEnv
    const crawlerEnv = yield* crawlerConfigFromEnv
    const bootstrap = Option.getOrElse(flags.bootstrap, () => crawlerEnv.bootstrap)
    const needDht = hashes.some((h) => h.peers.length === 0 && flags.peers.length === 0)
    const fetcher = yield* MetadataFetcher
    let dht: Dht["Type"] | undefined
    if (needDht) {
      dht = yield* Layer.build(DhtNodeLive.pipe(Layer.provide(Layer.succeed(DhtConfig, { ...dhtEnv, port: 0 })))).pipe(
        Effect.map((ctx) => ctx.unsafeMap.get(Dht.key) as Dht["Type"])
      )
      const addresses = (yield* Effect.forEach(bootstrap, resolveBootstrap)).flat()
      yield* dht.bootstrap(addresses)
    }
    return yield* Effect.forEach(hashes, (h) =>
      Effect.gen(function*() {
        let peers: ReadonlyArray<SocketAddress> = [...flags.peers, ...h.peers]
        if (peers.length === 0 && dht !== undefined) peers = (yield* dht.getPeers(h.infoHash)).peers
        return yield* fetcher.fetch(h.infoHash, peers).pipe(
          Effect.map((t) => ({ ok: true as const, infoHash: h.infoHash, torrent: t })),
          Effect.catchAll((e) =>
            Effect.succeed({ ok: false as const, infoHash: h.infoHash, error: e.message || e._tag })
          ),
          Effect.timeout(Duration.seconds(timeoutSeconds)),
          Effect.catchTag("TimeoutException", () =>
            Effect.succeed({
              ok: false as const,
              infoHash: h.infoHash,
              error: `no metadata within ${timeoutSeconds} s`
            }))
        )
      }), { concurrency: 4 })
  }).pipe(
    Effect.scoped,
    Effect.provide(
      MetadataFetcherLive.pipe(Layer.provide(Layer.unwrapEffect(Effect.map(fetcherConfigFromEnv, (env) =>
        Layer.succeed(FetcherConfig, { ...env, infohashDeadline: Duration.seconds(timeoutSeconds) })))))
    )
  )

export const importCommand = Command.make("import", {
  inputs: inputsArg,
  fetch: Options.boolean("fetch").pipe(
    Options.withDescription("fetch bare infohashes' metadata now instead of queueing them for the next crawl")
  ),
  peers: peerOption,
  bootstrap: bootstrapFlag.pipe(
    Options.withDescription("with --fetch: host:port[,…] for DHT lookups"),
    Options.optional
  ),
  timeout: positiveFlag("timeout").pipe(
    Options.withDescription("with --fetch: give up on an infohash after this many seconds (default 60)"),
    Options.optional
  ),
  json: jsonOption,
  db: dbOption
}, (flags) =>
  Effect.gen(function*() {
    const inputs = readInputs(flags.inputs, () => readFileSync(0, "utf8"))
    const repo = yield* Repository
    const now = yield* Clock.currentTimeMillis
    // Several inputs may name one torrent: store each once.
    const torrents = new Map<string, Torrent>()
    for (const t of inputs.torrents) {
      torrents.set(toHex(t.info.infoHash), { ...t.info, infoHash: t.info.infoHash as InfoHash, fetchedAt: now })
    }
    const already = new Set(
      (yield* Effect.forEach([...torrents.values()], (t) =>
        Effect.map(repo.getInfohash(t.infoHash), (r) =>
          Option.exists(r, (x) =>
              x.status === "fetched")
            ? [toHex(t.infoHash)]
            : [])))
        .flat()
    )
    const fresh = [...torrents.values()].filter((t) =>
      !already.has(toHex(t.infoHash))
    )
    if (fresh.length > 0) {
      yield* repo.saveTorrents(fresh)
    }
    // Bare infohashes: those stored already are skipped; the rest are fetched now or queued.
    const byHex = new Map<string, { infoHash: InfoHash; peers: Array<SocketAddress> }>()
    for (const h of inputs.hashes) {
      const key = toHex(h.infoHash)
      if (torrents.has(key)) continue
      const prev = byHex.get(key)
      if (prev === undefined) byHex.set(key, { infoHash: h.infoHash, peers: [...h.peers] })
      else prev.peers.push(...h.peers)
    }
    const stored = new Set(
      (yield* Effect.forEach([...byHex.values()], (h) =>
        Effect.map(repo.getInfohash(h.infoHash), (r) =>
          Option.exists(r, (x) =>
              x.status === "fetched")
            ? [toHex(h.infoHash)]
            : [])))
        .flat()
    )
    const wanted = [...byHex.values()].filter((h) =>
      !stored.has(toHex(h.infoHash))
    )
    let fetched = 0
    const failed: Array<{ infohash: string; error: string }> = []
    let toQueue = wanted
    if (flags.fetch && wanted.length > 0) {
      const results = yield* fetchNow(wanted, flags, Option.getOrElse(flags.timeout, () => 60))
      const got = results.flatMap((r) => r.ok ? [{ ...r.torrent, infoHash: r.infoHash } as Torrent] : [])
      if (got.length > 0) yield* repo.saveTorrents(got)
      fetched = got.length
      for (const r of results) if (!r.ok) failed.push({ infohash: toHex(r.infoHash), error: r.error })
      // What could not be fetched now waits for the next crawl.
      const failedSet = new Set(failed.map((f) => f.infohash))
      toQueue = wanted.filter((h) => failedSet.has(toHex(h.infoHash)))
    }
    const queued = toQueue.length === 0 ? 0 : yield* repo.queueImports(toQueue.map((h) => h.infoHash), now)
    const summary = {
      torrents_stored: fresh.length,
      torrents_already_stored: torrents.size - fresh.length,
      infohashes_fetched: fetched,
      infohashes_queued: queued,
      infohashes_already_queued: toQueue.length - queued,
      infohashes_already_stored: stored.size,
      fetch_failures: failed,
      problems: inputs.problems.map((p) => ({ where: p.where, message: p.message }))
    }
    if (flags.json) {
      yield* Console.log(JSON.stringify(summary))
    } else {
      yield* Console.log(
        `stored ${summary.torrents_stored} torrent(s) (${summary.torrents_already_stored} already stored); ` +
          (flags.fetch ? `fetched ${fetched} infohash(es) now; ` : "") +
          `queued ${queued} infohash(es) for the next crawl (${summary.infohashes_already_queued} already queued, ${stored.size} already stored)`
      )
      for (const f of failed) {
        yield* note(`${f.infohash}: not fetched (${printable(f.error)}); queued for the next crawl`)
      }
      for (const p of inputs.problems) yield* note(`${printable(p.where)}: ${printable(p.message)}`)
    }
    if (inputs.problems.length > 0 || failed.length > 0) {
      return yield* Effect.fail(
        new CommandError({
          message: `${
            inputs.problems.length + failed.length
          } input(s) not imported as asked (listed above); the rest was`
        })
      )
    }
  }).pipe(Effect.provide(Layer.unwrapEffect(Effect.map(resolveDb(flags.db), (db) => RepositoryLive(db)))))).pipe(
    Command.withDescription(
      "Import .torrent files (verified, stored as they are) and infohashes or magnet links (queued for the next crawl, or fetched now with --fetch)"
    )
  )
