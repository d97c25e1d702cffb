// Issue 14 items 5 and 6, checked from the receiving side: a crawl with several node ids (`--identities`) sends
// every kind of query (join, walk, sample, asks to samplers, lookups, routing-table upkeep) through one per-IP
// pace and one packet budget. Forty recording responders log every query they get; no responder may see two
// queries from the crawler's IP less than a pace interval apart, whichever of its ids sent them, and the total
// stays within the shared budget. Each id keeps its own UDP port and answers with its own id.
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Either, Layer } from "effect"
import { randomBytes } from "node:crypto"
import dgram from "node:dgram"
import { crawlerConfig } from "../../src/config/CrawlerConfig.js"
import { dhtConfig } from "../../src/config/DhtConfig.js"
import { Crawler, CrawlerFromIdentities } from "../../src/crawler/Crawler.js"
import { Identities, IdentitiesLive } from "../../src/crawler/identities.js"
import { cidrs } from "../../src/domain/cidr.js"
import { type NodeId, toHex } from "../../src/domain/ids.js"
import { decodeMessage, encodeMessage } from "../../src/krpc/codec.js"
import { makeRecordingSwarm, shortestGap } from "../support/recordingSwarm.js"

const HOST = "127.62.0.1"
const IDS = 4
const MAX_PPS = 60
const BURST = 10
const SECONDS = 15

/** Pings `host:port` from a fresh socket; the id it answers with. */
const pingId = (host: string, port: number) =>
  Effect.async<string, Error>((resume) => {
    const socket = dgram.createSocket("udp4")
    const timer = setTimeout(() => {
      socket.close()
      resume(Effect.fail(new Error(`no answer from ${host}:${port}`)))
    }, 3000)
    socket.on("message", (bytes) => {
      const m = decodeMessage(bytes)
      if (Either.isRight(m) && m.right._tag === "Response") {
        clearTimeout(timer)
        socket.close()
        resume(Effect.succeed(toHex(m.right.id)))
      }
    })
    socket.bind(0, "127.62.0.9", () =>
      socket.send(
        encodeMessage({ _tag: "PingQuery", t: Uint8Array.of(7, 7), id: randomBytes(20) as Uint8Array as NodeId }),
        port,
        host
      ))
  })

describe("crawler etiquette from the receiving side", () => {
  it.scopedLive(
    "one per-IP pace and one packet budget across every query kind and every node id",
    () =>
      Effect.gen(function*() {
        const swarm = yield* makeRecordingSwarm({ size: 40, prefix: "127.61.0", infohashes: 200 })
        const layer = CrawlerFromIdentities.pipe(
          Layer.provideMerge(IdentitiesLive(IDS)),
          Layer.provide(dhtConfig({
            host: HOST,
            port: 0,
            maxPps: MAX_PPS,
            burst: BURST,
            perIpIntervalMillis: 1000,
            queryTimeout: Duration.seconds(2)
          })),
          Layer.provide(crawlerConfig({
            bootstrap: swarm.nodes.slice(0, 3).map((n) => `${n.host}:${n.port}`),
            allow: cidrs("127.0.0.0/8"),
            minSampleInterval: 5
          }))
        )
        const ctx = yield* Layer.build(layer)
        const crawler = Context.get(ctx, Crawler)
        const identities = Context.get(ctx, Identities).all
        const started = Date.now()
        yield* Effect.sleep(Duration.seconds(SECONDS))
        const stats = yield* crawler.stats
        yield* crawler.stop(500)
        const elapsed = (Date.now() - started) / 1000

        const mine = swarm.received.filter((r) => r.fromHost === HOST)
        const methods = new Set(mine.map((r) => r.method))
        for (const m of ["find_node", "sample_infohashes", "get_peers"]) assert.isTrue(methods.has(m), `sent ${m}`)
        // The pace: at most one query per second to any one IP (timer jitter allowed for).
        const { gap, responders, where } = shortestGap(swarm.received, HOST)
        assert.isAtLeast(responders, 30, "the crawl reached most responders")
        assert.isAtLeast(gap, 850, `shortest gap between two queries to one IP: ${gap} ms (to ${where})`)
        // The budget: shared by all ids.
        assert.isAtMost(mine.length, MAX_PPS * elapsed + BURST, `${mine.length} queries in ${elapsed.toFixed(1)} s`)
        assert.isAtLeast(stats.packetsOut, mine.length * 0.5, "stats count the packets")

        // Every id was used, each from its own port, each port always with the same id.
        const idByPort = new Map<number, Set<string>>()
        for (const r of mine) idByPort.set(r.fromPort, (idByPort.get(r.fromPort) ?? new Set()).add(r.fromId ?? "?"))
        assert.strictEqual(idByPort.size, IDS, "one UDP port per id")
        for (const [port, ids] of idByPort) assert.strictEqual(ids.size, 1, `port ${port} always uses one id`)
        const ours = new Set(identities.map((i) => toHex(i.node.self)))
        assert.strictEqual(ours.size, IDS)
        for (const ids of idByPort.values()) assert.isTrue(ours.has([...ids][0]!))
        // Spread evenly: the ids' two leading bits take all four values.
        assert.strictEqual(new Set(identities.map((i) => i.node.self[0]! >> 6)).size, 4)
        // Each id answers queries with its own id.
        for (const id of identities) {
          assert.strictEqual(yield* pingId(id.node.local.host, id.node.local.port), toHex(id.node.self))
        }
      }),
    60_000
  )
})
