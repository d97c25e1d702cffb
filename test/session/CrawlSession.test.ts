// Issue 16 item 4: a graceful stop drains every queued discovery, node sighting and fetched torrent into the
// repository however slow it is at that moment, or says exactly what it could not write and why.
import { assert, describe, it } from "@effect/vitest"
import { type Context, Duration, Effect, Either, Layer, Option, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { Crawler } from "../../src/crawler/Crawler.js"
import { MemoryNetworkLive } from "../../src/dht/index.js"
import type { InfoHash } from "../../src/krpc/index.js"
import type { FetchOutcome } from "../../src/metadata/MetadataFetcher.js"
import type { MetadataFetcher } from "../../src/metadata/MetadataFetcher.js"
import { RepositoryMemory } from "../../src/repository/memory.js"
import { Repository, RepositoryError } from "../../src/repository/Repository.js"
import { type CrawlStopped, runCrawlSession, type SessionSummary } from "../../src/session/CrawlSession.js"
import { memoryCrawler } from "../support/crawlerNode.js"
import { memoryNode, type TestNode } from "../support/dhtNodes.js"

/** An in-memory swarm of `n` nodes with `torrents` infohashes announced into it. */
const swarm = (n: number, torrents: number) =>
  Effect.gen(function*() {
    const nodes: Array<TestNode> = []
    for (let i = 0; i < n; i++) nodes.push(yield* memoryNode({ host: `127.6.${i >> 8}.${(i & 255) + 1}` }))
    for (let i = 1; i < n; i++) yield* nodes[i]!.dht.bootstrap([nodes[Math.floor(Math.random() * i)]!.address])
    const infohashes = Array.from({ length: torrents }, () => randomBytes(20) as Uint8Array as InfoHash)
    yield* Effect.forEach(infohashes, (ih, i) => nodes[i % n]!.dht.announce(ih, 10_000 + i), { concurrency: 8 })
    return nodes
  })

interface Slowed {
  /** Records each write method received, and when each write call started and ended (ms). */
  readonly received: { discoveries: number; nodes: number; torrents: number }
  readonly calls: Array<{ readonly started: number; ended: number }>
  /** From now on every write fails (a database that went away). */
  failFrom: number
}

/** The memory repository with every write taking `delayMillis` (a slow disk), counting what it got. */
const slowRepository = (delayMillis: number) =>
  Effect.gen(function*() {
    const repo = yield* Effect.provide(Repository, RepositoryMemory)
    const slowed: Slowed = { received: { discoveries: 0, nodes: 0, torrents: 0 }, calls: [], failFrom: Infinity }
    const slow = <A>(
      key: keyof Slowed["received"],
      write: (batch: ReadonlyArray<A>) => Effect.Effect<void, RepositoryError>
    ) =>
    (batch: ReadonlyArray<A>) =>
      Effect.gen(function*() {
        const call = { started: Date.now(), ended: 0 }
        slowed.calls.push(call)
        yield* Effect.sleep(delayMillis)
        call.ended = Date.now()
        if (call.ended >= slowed.failFrom) {
          return yield* new RepositoryError({ operation: `write ${key}`, cause: new Error("the disk went away") })
        }
        yield* write(batch)
        slowed.received[key] += batch.length
      })
    const layer = Layer.succeed(
      Repository,
      Repository.of({
        ...repo,
        recordDiscoveries: slow("discoveries", repo.recordDiscoveries),
        upsertNodes: slow("nodes", repo.upsertNodes),
        saveTorrents: slow("torrents", repo.saveTorrents)
      })
    )
    return { slowed, layer, repo }
  })

const total = (counts: Readonly<Record<string, number>>) => Object.values(counts).reduce((a, b) => a + b, 0)

/** A fetcher that "fetches" every candidate at once (a made-up torrent), counting what it delivered. */
const instantFetcher = (delivered: { n: number }): Context.Tag.Service<MetadataFetcher> => ({
  fetch: () => Effect.die("not used"),
  run: (requests) =>
    requests.pipe(
      Stream.map((r): FetchOutcome => {
        delivered.n++
        const name = `t-${Buffer.from(r.infoHash).toString("hex")}`
        return {
          _tag: "Fetched",
          torrent: {
            infoHash: r.infoHash,
            infoHashV2: undefined,
            name,
            nameRaw: Buffer.from(name),
            totalLength: 1,
            pieceLength: 16384,
            private: false,
            version: "v1",
            files: [{ path: name, pathRaw: undefined, length: 1 }],
            info: Buffer.from(name),
            fetchedAt: Date.now()
          }
        }
      })
    ),
  stats: Effect.succeed({
    queued: 0,
    active: 0,
    fetched: delivered.n,
    failed: 0,
    droppedQueued: 0,
    peerFailures: {},
    connected: 0,
    givenUp: { noPeers: 0, unreachable: 0, refused: 0, invalid: 0, timeout: 0 } as never
  })
})

const crawlerFor = (nodes: ReadonlyArray<TestNode>, metadata: boolean) =>
  memoryCrawler({ host: "127.7.0.1" }, {
    bootstrap: [`${nodes[0]!.address.host}:${nodes[0]!.address.port}`],
    minSampleInterval: 1,
    metadata,
    // A small buffer fills at once against the slow repository: the crawler is held back (backpressure).
    discoveryBuffer: 64
  })

describe("graceful stop with a slow repository", () => {
  it.scopedLive(
    "writes every queued discovery, node sighting and fetched torrent, however long it takes",
    () =>
      Effect.gen(function*() {
        const nodes = yield* swarm(120, 80)
        const { layer, repo, slowed } = yield* slowRepository(2500)
        const delivered = { n: 0 }
        let stopAt = 0
        const summary = yield* Effect.gen(function*() {
          const { crawler } = yield* crawlerFor(nodes, true)
          stopAt = Date.now() + 5000
          return yield* runCrawlSession({
            duration: Option.some(Duration.seconds(5)),
            settings: {},
            onProgress: () => Effect.void,
            onSummary: () => Effect.void,
            fetcher: Option.some(instantFetcher(delivered))
          }).pipe(Effect.provideService(Crawler, crawler))
        }).pipe(Effect.provide(layer))
        // The stop had more to write than the old 2 s flush limit allowed: its last write ended later.
        const lastEnd = Math.max(...slowed.calls.map((c) => c.ended))
        yield* Effect.log(`${slowed.calls.length} writes; the last ended ${lastEnd - stopAt} ms after the stop began`)
        assert.isAbove(lastEnd - stopAt, 2000)
        assert.isAbove(total(summary.stats.discoveries), 0)
        assert.isAbove(delivered.n, 0, "the crawler found peers, so the fetcher had candidates")
        // Every discovery the crawler counted, every torrent the fetcher delivered, and every node sighting
        // that was pulled from the crawler's queue reached the repository, and nothing is still queued.
        assert.strictEqual(summary.written.discoveries, total(summary.stats.discoveries))
        assert.strictEqual(slowed.received.discoveries, summary.written.discoveries)
        assert.strictEqual(summary.written.torrents, delivered.n)
        assert.strictEqual(slowed.received.torrents, delivered.n)
        assert.strictEqual(slowed.received.nodes, summary.written.nodes)
        assert.deepStrictEqual(summary.stats.queueDepths.discoveries, 0)
        assert.deepStrictEqual(summary.stats.queueDepths.nodes, 0)
        assert.strictEqual((yield* repo.stats).torrents, delivered.n)
        // The response rate over time: every query the crawl sent, answered or timed out is in one minute.
        const rates = (yield* repo.analyzeChurn({})).responseRates.points
        const sum = (k: "queries" | "responses" | "timeouts") => rates.reduce((n, p) => n + p[k], 0)
        assert.isAbove(sum("queries"), 0)
        assert.deepStrictEqual(
          [sum("queries"), sum("responses"), sum("timeouts")],
          [summary.stats.rpc.queries, summary.stats.rpc.responses, summary.stats.rpc.timeouts]
        )
      }).pipe(Effect.provide(MemoryNetworkLive())),
    120_000
  )

  it.scopedLive(
    "a write that fails stops the crawl cleanly, with one message saying why and what was not written",
    () =>
      Effect.gen(function*() {
        const nodes = yield* swarm(80, 40)
        const { layer, slowed } = yield* slowRepository(1000)
        let summary: SessionSummary | undefined
        const result = yield* Effect.gen(function*() {
          const { crawler } = yield* crawlerFor(nodes, false)
          return yield* runCrawlSession({
            duration: Option.some(Duration.seconds(30)),
            settings: {},
            onProgress: (_s, _w, elapsed) =>
              Effect.sync(() => {
                // From 3 s on, every write fails (the disk went away).
                if (elapsed >= 3 && slowed.failFrom === Infinity) slowed.failFrom = Date.now()
              }),
            onSummary: (s) => Effect.sync(() => (summary = s)),
            fetcher: Option.none()
          }).pipe(Effect.provideService(Crawler, crawler), Effect.either)
        }).pipe(Effect.provide(layer))
        assert.isTrue(Either.isLeft(result), "the crawl ends with an error")
        const error = (result as Either.Left<CrawlStopped, unknown>).left
        assert.strictEqual(error._tag, "CrawlStopped")
        assert.match(error.message, /^crawl stopped: .*the disk went away; not written: \d+ discoveries/)
        assert.isDefined(summary, "the summary was given before the error")
        assert.isBelow(summary!.seconds, 30, "it stopped at the failure, not at --duration")
        // What was written plus what it says it could not write: every discovery the crawler counted.
        const n = Number(/not written: (\d+) discoveries/.exec(error.message)![1])
        assert.strictEqual(summary!.written.discoveries + n, total(summary!.stats.discoveries))
      }).pipe(Effect.provide(MemoryNetworkLive())),
    120_000
  )
})
