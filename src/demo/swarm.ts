import { Context, Duration, Effect, Layer, Option, Schedule, type Scope } from "effect"
import { dhtConfig } from "../config/DhtConfig.js"
import type { SocketAddress } from "../domain/address.js"
import { type InfoHash, randomNodeId, toHex } from "../domain/ids.js"
import { FamilyTables, makeFamilyTables } from "../routing/FamilyTables.js"
import { Dht } from "../rpc/Dht.js"
import { KrpcNode } from "../rpc/KrpcNode.js"
import { DhtNodeLive } from "../rpc/node.js"
import { demoCatalog, type DemoTorrent } from "./catalog.js"
import { makeMetadataSeeder } from "./seeder.js"

// The offline demo's world: a loopback DHT of BitScrape nodes (each on its own 127.77.x.y address), seeders on
// some of those addresses holding generated torrents and announcing them into the DHT, and ongoing get_peers
// activity. With `ipv6`, some nodes and seeders are on [::1] instead or as well (BEP 32 dual stack). Everything
// lives in the caller's scope; nothing leaves 127.0.0.0/8 and ::1.

export interface DemoSwarm {
  /** Where to join: the first node's IPv4 address (with `ipv6`, that node is dual-stack and hands out `nodes6`). */
  readonly bootstrap: SocketAddress
  /** The first node's IPv6 address (with `ipv6`). */
  readonly bootstrap6?: SocketAddress | undefined
  readonly nodes: number
  /** Nodes by the address families they listen on. */
  readonly families: { readonly v4: number; readonly v6: number; readonly dual: number }
  readonly torrents: ReadonlyArray<DemoTorrent>
  /** The metadata seeders, each with the torrents (infohash hex) it serves. */
  readonly seeders: ReadonlyArray<DemoSeeder>
}

/** One seeder of the demo swarm: a BEP 9 peer at `host:port` serving the torrents in `infoHashes` (hex). */
export interface DemoSeeder {
  readonly host: string
  readonly port: number
  readonly infoHashes: ReadonlyArray<string>
  /**
   * Over which families its torrents are reachable: "v4" (announced and served over IPv4 only), "v6" (IPv6
   * only), or "both" (the same torrents served and announced on 127.x and on [::1]).
   */
  readonly reach: "v4" | "v6" | "both"
}

export interface DemoSwarmOptions {
  readonly nodes: number
  readonly torrents: number
  readonly seeders: number
  /**
   * IPv6 beside IPv4 (BEP 32; off by default): a quarter of the nodes listen on [::1] only, a quarter on both
   * 127.77.x.y and [::1] with one id (node 0 among them), the rest on IPv4 only; seeders are dual,
   * IPv4-only and IPv6-only in turn.
   */
  readonly ipv6?: boolean
  readonly log: (line: string) => Effect.Effect<void>
}

/** Node i on 127.77.x.y (i + 1 spread over the last two bytes: up to 65,535 nodes). */
const hostOf = (i: number) => `127.77.${((i + 1) >> 8) & 255}.${(i + 1) & 255}`

const nodeSettings = {
  port: 0,
  maxPps: 500,
  burst: 200,
  queryTimeout: Duration.seconds(2),
  // These nodes stand for other DHT clients, which pace nothing (libtorrent, bittorrent-dht): the crawl
  // under demonstration keeps its own per-IP pace.
  perIpIntervalMillis: 0,
  sampleInterval: 60
}

interface SwarmNode {
  readonly dht: Context.Tag.Service<Dht>
  readonly node: Context.Tag.Service<KrpcNode>
}

/** One demo node: an IPv4 socket, an IPv6 one on ::1, or both with one id (their tables shared for `want`). */
const makeNode = (i: number, kind: "v4" | "v6" | "dual") =>
  Effect.gen(function*() {
    const id = Option.some(randomNodeId())
    const tables = makeFamilyTables()
    const build = (host: string) =>
      Layer.build(
        DhtNodeLive.pipe(
          Layer.provide(dhtConfig({ ...nodeSettings, host, nodeId: id })),
          Layer.provide(Layer.succeed(FamilyTables, tables))
        )
      ).pipe(Effect.map((ctx): SwarmNode => ({ dht: Context.get(ctx, Dht), node: Context.get(ctx, KrpcNode) })))
    return {
      v4: kind === "v6" ? undefined : yield* build(hostOf(i)),
      v6: kind === "v4" ? undefined : yield* build("::1")
    }
  })

export const makeDemoSwarm = (options: DemoSwarmOptions): Effect.Effect<DemoSwarm, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const started = Date.now()
    const ipv6 = options.ipv6 === true
    const kindOf = (i: number) =>
      !ipv6 ? "v4" as const : i % 4 === 0 ? "dual" as const : i % 4 === 1 ? "v6" as const : "v4" as const
    const nodes = yield* Effect.forEach(
      Array.from({ length: options.nodes }, (_, i) => i),
      (i) => makeNode(i, kindOf(i)),
      { concurrency: 16 }
    )
    const v4 = nodes.flatMap((n) => n.v4 === undefined ? [] : [n.v4])
    const v6 = nodes.flatMap((n) => n.v6 === undefined ? [] : [n.v6])
    // Each node joins through a random earlier one of its family: one query to it, then a lookup of its own id.
    const joinFamily = (list: ReadonlyArray<SwarmNode>) =>
      Effect.forEach(list.slice(1), (n, i) =>
        Effect.ignore(Effect.zipRight(
          n.node.findNode(list[Math.floor(Math.random() * (i + 1))]!.node.local, n.node.self),
          n.dht.findNode(n.node.self)
        )), { concurrency: 16, discard: true })
    yield* Effect.all([joinFamily(v4), joinFamily(v6)], { concurrency: 2, discard: true })
    const families = {
      v4: nodes.filter((n) => n.v6 === undefined).length,
      v6: nodes.filter((n) => n.v4 === undefined).length,
      dual: nodes.filter((n) => n.v4 !== undefined && n.v6 !== undefined).length
    }
    yield* options.log(
      `demo: ${nodes.length} DHT nodes up on 127.77.x.y${ipv6 ? " and [::1]" : ""} in ${
        ((Date.now() - started) / 1000).toFixed(1)
      } s${ipv6 ? ` (${families.v4} IPv4 only, ${families.v6} IPv6 only, ${families.dual} on both)` : ""}`
    )

    const torrents = demoCatalog(options.torrents)
    const seederCount = Math.min(options.seeders, nodes.length)
    // Seeder s holds torrents s, s + seederCount, …, and a neighbour seeder holds every third one as well.
    // With IPv6, seeder s is reachable over IPv4 only, IPv6 only or both, in turn (a torrent held by two seeders
    // is reachable over the union of their families).
    const seeders = yield* Effect.forEach(
      Array.from({ length: seederCount }, (_, s) => s),
      (s) =>
        Effect.gen(function*() {
          const mine = torrents.filter((_, t) => t % seederCount === s || (t % 3 === 0 && (t + 1) % seederCount === s))
          const infos = new Map(mine.map((t) => [toHex(t.infoHash), t.info]))
          const reach = !ipv6 ? "v4" as const : (["both", "v4", "v6"] as const)[s % 3]!
          // A seeder listens where its announcing node does (announce_peer records the sender's address).
          const on = (announcer: SwarmNode) =>
            Effect.gen(function*() {
              const seeder = yield* makeMetadataSeeder(announcer.node.local.host, infos)
              yield* Effect.forEach(
                mine,
                (t) => Effect.ignore(announcer.dht.announce(t.infoHash as InfoHash, seeder.port)),
                { concurrency: 4, discard: true }
              )
              return { host: seeder.host, port: seeder.port, infoHashes: mine.map((t) => toHex(t.infoHash)), reach }
            })
          return [
            ...(reach === "v6" ? [] : [yield* on(v4[s % v4.length]!)]),
            ...(reach === "v4" ? [] : [yield* on(v6[s % v6.length]!)])
          ]
        }),
      { concurrency: 8 }
    ).pipe(Effect.map((lists) => lists.flat()))
    yield* options.log(
      `demo: ${seederCount} seeders announced ${torrents.length} torrents in ${
        ((Date.now() - started) / 1000).toFixed(1)
      } s`
    )

    // Ongoing activity: every 2 s a few nodes look up a random torrent, as downloaders would.
    const all = [...v4, ...v6]
    yield* Effect.gen(function*() {
      for (let k = 0; k < 3; k++) {
        const n = all[Math.floor(Math.random() * all.length)]!
        const t = torrents[Math.floor(Math.random() * torrents.length)]!
        yield* Effect.ignore(n.dht.getPeers(t.infoHash as InfoHash))
      }
    }).pipe(Effect.repeat(Schedule.spaced("2 seconds")), Effect.forkScoped)

    return {
      bootstrap: (nodes[0]!.v4 ?? nodes[0]!.v6!).node.local,
      bootstrap6: nodes[0]!.v6?.node.local,
      nodes: nodes.length,
      families,
      torrents,
      seeders
    }
  })
