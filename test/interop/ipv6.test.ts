// Issue 18, item 4: a dual-stack crawler against Debian's python3-libtorrent sessions listening on [::1] only:
// it crawls them over IPv6 (BEP 32 `nodes6`) and fetches the torrents they seed over IPv6 (BEP 9 over TCP to
// [::1]:port). All sessions share the one IPv6 loopback address, so libtorrent — one routing-table entry per IP —
// files at most one of them (or us) per table, and counts every packet from ::1 — ours and the other sessions' —
// against one IP's rate limit. With the stock dht_block_ratelimit (5/s) the sessions' own lookups and
// announces alone push ::1 over it and block it for 5 minutes (measured: dropped packets, then a crawler cut off),
// so it is raised here for that reason alone; our pace under the stock limits is tested over IPv4, where every
// session has an address of its own (test/interop/crawler.test.ts).
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Fiber, Layer, Stream } from "effect"
import { crawlerConfig } from "../../src/config/CrawlerConfig.js"
import { fetcherConfig } from "../../src/config/FetcherConfig.js"
import { Crawler, CrawlerFromIdentities } from "../../src/crawler/Crawler.js"
import { Identities, IdentitiesLive } from "../../src/crawler/identities.js"
import { dhtConfig } from "../../src/dht/index.js"
import { formatHostPort } from "../../src/domain/address.js"
import { cidrs } from "../../src/domain/cidr.js"
import { toHex } from "../../src/krpc/index.js"
import { MetadataFetcher, MetadataFetcherLive } from "../../src/metadata/MetadataFetcher.js"
import { testSettings } from "../support/dhtNodes.js"
import { makeLibtorrentSwarm } from "../support/interop/LibtorrentSwarm.js"

const SESSIONS = 4
const PER_SESSION = 2

describe("interop: dual-stack crawler on python3-libtorrent sessions on [::1]", () => {
  it.scopedLive(
    "crawls the sessions over IPv6 and fetches every torrent they seed over IPv6",
    () =>
      Effect.gen(function*() {
        const lt = yield* makeLibtorrentSwarm({
          size: SESSIONS,
          hosts: Array.from({ length: SESSIONS }, () => "::1"),
          interconnect: 0,
          awaitConnected: false,
          dhtBlockRateLimit: 100
        })
        assert.isTrue(lt.contacts.every((c) => c.host === "::1"))
        const dropped = () =>
          Effect.forEach(lt.contacts, (_, i) =>
            Effect.map(lt.counters(i, ["dht.dht_messages_in_dropped"]), (c) =>
              c["dht.dht_messages_in_dropped"]!))
        const droppedBefore = yield* dropped()

        // The crawler joins through the sessions' IPv6 addresses only.
        const ctx = yield* Layer.build(
          CrawlerFromIdentities.pipe(
            Layer.provideMerge(IdentitiesLive(1, [], ["127.85.0.1", "::1"])),
            Layer.provide(dhtConfig(testSettings({
              queryTimeout: Duration.seconds(2),
              perIpIntervalMillis: 1000,
              adaptiveTimeout: true
            }))),
            Layer.provide(crawlerConfig({
              allow: cidrs("127.0.0.0/8,::1"),
              bootstrap: lt.contacts.map((c) =>
                formatHostPort(c.host, c.port)
              ),
              minSampleInterval: 1,
              metadata: true
            }))
          )
        )
        const crawler = Context.get(ctx, Crawler)
        const v6 = Context.get(ctx, Identities).all.find((i) => i.family === 6)!
        const fetcher = yield* Effect.provide(MetadataFetcher, MetadataFetcherLive).pipe(
          Effect.provide(fetcherConfig({ retryBackoff: Duration.millis(500) }))
        )
        const fetched = new Map<string, { host: string; port: number } | undefined>()
        const fetching = yield* fetcher.run(crawler.candidates).pipe(
          Stream.runForEach((o) =>
            Effect.sync(() => {
              if (o._tag === "Fetched") fetched.set(toHex(o.torrent.infoHash), o.torrent.sourcePeer)
            })
          ),
          Effect.fork
        )
        const answered = new Set<string>()
        const nodes = yield* crawler.nodes.pipe(
          Stream.runForEach((n) => Effect.sync(() => void answered.add(formatHostPort(n.host, n.port)))),
          Effect.fork
        )
        const drain = yield* crawler.discoveries.pipe(Stream.runDrain, Effect.fork)

        // Once a session has heard from us, its seeds' first announces (forced at once) can reach us.
        for (let t = 0; t < 40; t++) {
          const tables = yield* Effect.forEach(lt.contacts, (_, i) => lt.dhtNodes(i))
          if (tables.every((r) => r.numNodes > 0)) break
          yield* Effect.sleep("250 millis")
        }
        const seeded = (yield* Effect.forEach(lt.contacts, (_, i) => lt.seed(i, PER_SESSION, "v6"))).flat()
        const wanted = seeded.map((s) => s.infoHashHex)
        for (let t = 0; t < 90 && !wanted.every((h) => fetched.has(h)); t++) yield* Effect.sleep("500 millis")
        const stats = yield* crawler.stats
        yield* crawler.stop(500)
        yield* Fiber.interrupt(fetching)
        yield* Fiber.join(nodes)
        yield* Fiber.join(drain)

        assert.deepStrictEqual(
          wanted.filter((h) => !fetched.has(h)),
          [],
          `every seeded torrent fetched (stats ${JSON.stringify(stats)})`
        )
        for (const s of seeded) {
          assert.deepStrictEqual(fetched.get(s.infoHashHex), s.peer, "fetched from the session over IPv6")
        }
        assert.deepStrictEqual(
          lt.contacts.map((c) => formatHostPort(c.host, c.port)).filter((a) => !answered.has(a)),
          [],
          "every session answered over IPv6"
        )
        assert.deepStrictEqual(yield* dropped(), droppedBefore, "no session dropped an incoming packet")
        assert.strictEqual(v6.node.local.host, "::1")
        assert.isAtLeast(stats.families.responsive.ipv6, SESSIONS)
      }),
    90_000
  )
})
