import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Fiber, Layer, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { crawlerConfig } from "../../src/config/CrawlerConfig.js"
import { fetcherConfig } from "../../src/config/FetcherConfig.js"
import { Crawler, CrawlerFromIdentities } from "../../src/crawler/Crawler.js"
import { Identities, IdentitiesLive } from "../../src/crawler/identities.js"
import { makeDemoSwarm } from "../../src/demo/swarm.js"
import { dhtConfig } from "../../src/dht/index.js"
import { formatHostPort } from "../../src/domain/address.js"
import { cidrs } from "../../src/domain/cidr.js"
import { toHex } from "../../src/krpc/index.js"
import { MetadataFetcher, MetadataFetcherLive } from "../../src/metadata/MetadataFetcher.js"
import { testSettings } from "../support/dhtNodes.js"

// Issue 18, items 1 and 4: one crawler on both address families (one id, an IPv4 and an IPv6 socket), joined
// through one IPv4 address of a mixed swarm (IPv4-only, IPv6-only and dual-stack nodes), finds and fetches
// every torrent whether its seeders are reachable over IPv4 only, IPv6 only or both.

describe("dual-stack crawler on a mixed IPv4/IPv6 swarm", () => {
  it.scopedLive(
    "learns IPv6 nodes from `nodes6`, and fetches every torrent over the family its seeders are on",
    () =>
      Effect.gen(function*() {
        const swarm = yield* makeDemoSwarm({ nodes: 24, torrents: 9, seeders: 6, ipv6: true, log: () => Effect.void })
        assert.isAbove(swarm.families.v6, 0)
        assert.isAbove(swarm.families.dual, 0)
        const reach = new Map<string, Set<string>>()
        for (const s of swarm.seeders) {
          for (const h of s.infoHashes) reach.set(h, (reach.get(h) ?? new Set()).add(s.host.includes(":") ? "6" : "4"))
        }
        const kind = (h: string) => [...(reach.get(h) ?? [])].sort().join("+")
        const kinds = new Set(swarm.torrents.map((t) => kind(toHex(t.infoHash))))
        assert.sameMembers([...kinds], ["4", "6", "4+6"], "torrents of every reach")

        const ctx = yield* Layer.build(
          CrawlerFromIdentities.pipe(
            Layer.provideMerge(IdentitiesLive(1, [], ["127.83.0.1", "::1"])),
            Layer.provide(dhtConfig(testSettings({
              queryTimeout: Duration.seconds(2),
              // The product's pace (one query per second per host; nodes on ::1 are told apart by port).
              perIpIntervalMillis: 1000,
              adaptiveTimeout: true
            }))),
            Layer.provide(crawlerConfig({
              allow: cidrs("127.0.0.0/8,::1"),
              // Joined through the dual-stack node's IPv4 address only: IPv6 nodes come from `nodes6`.
              bootstrap: [formatHostPort(swarm.bootstrap.host, swarm.bootstrap.port)],
              minSampleInterval: 1,
              metadata: true
            }))
          )
        )
        const crawler = Context.get(ctx, Crawler)
        const fetcher = yield* Effect.provide(MetadataFetcher, MetadataFetcherLive).pipe(
          Effect.provide(fetcherConfig({ retryBackoff: Duration.millis(500) }))
        )
        const fetched = new Map<string, Set<string>>()
        const fetching = yield* fetcher.run(crawler.candidates).pipe(
          Stream.runForEach((o) =>
            Effect.sync(() => {
              if (o._tag !== "Fetched") return
              fetched.set(toHex(o.torrent.infoHash), new Set())
            })
          ),
          Effect.fork
        )
        const sightings: Array<string> = []
        const nodes = yield* crawler.nodes.pipe(
          Stream.runForEach((n) => Effect.sync(() => void sightings.push(n.host))),
          Effect.fork
        )
        const drain = yield* crawler.discoveries.pipe(Stream.runDrain, Effect.fork)
        const wanted = swarm.torrents.map((t) => toHex(t.infoHash))
        for (let t = 0; t < 100 && !wanted.every((h) => fetched.has(h)); t++) yield* Effect.sleep("500 millis")
        const stats = yield* crawler.stats
        yield* crawler.stop(500)
        yield* Fiber.interrupt(fetching)
        yield* Fiber.join(nodes)
        yield* Fiber.join(drain)

        const missing = wanted.filter((h) => !fetched.has(h)).map((h) => `${h.slice(0, 8)} (${kind(h)})`)
        assert.deepStrictEqual(missing, [], `every torrent fetched (stats ${JSON.stringify(stats)})`)
        assert.strictEqual(stats.identities, 1, "one node id on both sockets")
        assert.isTrue(sightings.some((h) => h === "::1"), "IPv6 nodes answered")
        assert.isTrue(sightings.some((h) => h.startsWith("127.77.")), "IPv4 nodes answered")
      }),
    90_000
  )

  it.scopedLive(
    "--identities N on both families: 2N sockets, each id on one IPv4 and one IPv6 socket",
    () =>
      Effect.gen(function*() {
        const ctx = yield* Layer.build(
          IdentitiesLive(3, [], ["::1", "127.83.1.1"]).pipe(Layer.provide(dhtConfig(testSettings({ port: 0 }))))
        )
        const all = Context.get(ctx, Identities).all
        assert.deepStrictEqual(all.map((i) => i.family), [4, 4, 4, 6, 6, 6], "IPv4 identities first")
        const ids = (family: 4 | 6) => all.filter((i) => i.family === family).map((i) => toHex(i.node.self))
        assert.deepStrictEqual(ids(6), ids(4), "every id on both families")
        assert.strictEqual(new Set(ids(4)).size, 3)
        // Each id's IPv4 socket answers `want: n6` from the IPv6 table of the same id: ask one of them about a node
        // that only the IPv6 socket of that id has heard from.
        const [a4, b4] = all.filter((i) => i.family === 4)
        const a6 = all.find((i) => i.family === 6 && toHex(i.node.self) === toHex(a4!.node.self))!
        const b6 = all.find((i) => i.family === 6 && toHex(i.node.self) === toHex(b4!.node.self))!
        yield* b6.node.ping(a6.node.local)
        const reply = yield* b4!.node.findNode(a4!.node.local, randomBytes(20))
        assert.include((reply.nodes6 ?? []).map((n) => n.port), b6.node.local.port, "a4 answered from a6's table")
      }),
    30_000
  )
})
