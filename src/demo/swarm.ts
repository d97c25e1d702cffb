import { Context, Duration, Effect, Layer, Schedule, type Scope } from "effect"
import { dhtConfig } from "../config/DhtConfig.js"
import { Dht, DhtNodeLive, KrpcNode } from "../dht/index.js"
import type { SocketAddress } from "../krpc/address.js"
import { type InfoHash, toHex } from "../krpc/ids.js"
import { demoCatalog, type DemoTorrent } from "./catalog.js"
import { makeMetadataSeeder } from "./seeder.js"

// The offline demo's world: a loopback DHT of BitScrape nodes (each on its own 127.77.x.y address), seeders on
// some of those addresses holding generated torrents and announcing them into the DHT, and ongoing get_peers
// activity. Everything lives in the caller's scope; nothing leaves 127.0.0.0/8.

export interface DemoSwarm {
  readonly bootstrap: SocketAddress
  readonly nodes: number
  readonly torrents: ReadonlyArray<DemoTorrent>
  /** The metadata seeders, each with the torrents (infohash hex) it serves. */
  readonly seeders: ReadonlyArray<DemoSeeder>
}

/** One seeder of the demo swarm: a BEP 9 peer at `host:port` serving the torrents in `infoHashes` (hex). */
export interface DemoSeeder {
  readonly host: string
  readonly port: number
  readonly infoHashes: ReadonlyArray<string>
}

export interface DemoSwarmOptions {
  readonly nodes: number
  readonly torrents: number
  readonly seeders: number
  readonly log: (line: string) => Effect.Effect<void>
}

/** Node i on 127.77.x.y (i + 1 spread over the last two bytes: up to 65,535 nodes). */
const hostOf = (i: number) => `127.77.${((i + 1) >> 8) & 255}.${(i + 1) & 255}`

export const makeDemoSwarm = (options: DemoSwarmOptions): Effect.Effect<DemoSwarm, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const started = Date.now()
    const nodes = yield* Effect.forEach(
      Array.from({ length: options.nodes }, (_, i) => i),
      (i) =>
        Layer.build(DhtNodeLive.pipe(Layer.provide(dhtConfig({
          host: hostOf(i),
          port: 0,
          maxPps: 500,
          burst: 200,
          queryTimeout: Duration.seconds(2),
          // These nodes stand for other DHT clients, which pace nothing (libtorrent, bittorrent-dht): the crawl
          // under demonstration keeps its own per-IP pace.
          perIpIntervalMillis: 0,
          sampleInterval: 60
        })))).pipe(Effect.map((ctx) => ({ dht: Context.get(ctx, Dht), node: Context.get(ctx, KrpcNode) }))),
      { concurrency: 16 }
    )
    // Each node joins through a random earlier one: one query to it, then a lookup of its own id.
    yield* Effect.forEach(nodes.slice(1), (n, i) =>
      Effect.ignore(Effect.zipRight(
        n.node.findNode(nodes[Math.floor(Math.random() * (i + 1))]!.node.local, n.node.self),
        n.dht.findNode(n.node.self)
      )), { concurrency: 16, discard: true })
    yield* options.log(
      `demo: ${nodes.length} DHT nodes up on 127.77.x.y in ${((Date.now() - started) / 1000).toFixed(1)} s`
    )

    const torrents = demoCatalog(options.torrents)
    const seederCount = Math.min(options.seeders, nodes.length)
    // Seeder s holds torrents s, s + seederCount, …, and a neighbour seeder holds every third one as well.
    const seeders = yield* Effect.forEach(
      Array.from({ length: seederCount }, (_, s) => s),
      (s) =>
        Effect.gen(function*() {
          const mine = torrents.filter((_, t) => t % seederCount === s || (t % 3 === 0 && (t + 1) % seederCount === s))
          const seeder = yield* makeMetadataSeeder(hostOf(s), new Map(mine.map((t) => [toHex(t.infoHash), t.info])))
          yield* Effect.forEach(
            mine,
            (t) => Effect.ignore(nodes[s]!.dht.announce(t.infoHash as InfoHash, seeder.port)),
            {
              concurrency: 4,
              discard: true
            }
          )
          return {
            host: seeder.host,
            port: seeder.port,
            infoHashes: mine.map((t) => toHex(t.infoHash))
          }
        }),
      { concurrency: 8 }
    )
    yield* options.log(
      `demo: ${seederCount} seeders announced ${torrents.length} torrents in ${
        ((Date.now() - started) / 1000).toFixed(1)
      } s`
    )

    // Ongoing activity: every 2 s a few nodes look up a random torrent, as downloaders would.
    yield* Effect.gen(function*() {
      for (let k = 0; k < 3; k++) {
        const n = nodes[Math.floor(Math.random() * nodes.length)]!
        const t = torrents[Math.floor(Math.random() * torrents.length)]!
        yield* Effect.ignore(n.dht.getPeers(t.infoHash as InfoHash))
      }
    }).pipe(Effect.repeat(Schedule.spaced("2 seconds")), Effect.forkScoped)

    return { bootstrap: nodes[0]!.node.local, nodes: nodes.length, torrents, seeders }
  })
