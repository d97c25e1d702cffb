import { Context, Effect, Either, Layer, Schedule } from "effect"
import { DhtConfig } from "../config/DhtConfig.js"
import type { SocketAddress } from "../domain/address.js"
import type { InfoHash, NodeId } from "../domain/ids.js"
import type { NodeContact } from "../krpc/compact.js"
import type { Response } from "../krpc/messages.js"
import { randomIdAtPrefix } from "../routing/buckets.js"
import { RoutingTable } from "../routing/RoutingTable.js"
import { KrpcNode, type Target } from "./KrpcNode.js"
import { lookup, type LookupReply, type LookupResult, traverse as traverseNow } from "./lookup.js"

/** BEP 5: buckets unchanged for 15 minutes are refreshed with a lookup of a random id in their range. */
const REFRESH_STALE_MS = 15 * 60_000
/** How often maintenance runs (bucket refresh, pinging questionable nodes). */
const MAINTENANCE_EVERY = "1 minute"
/** Questionable nodes pinged per maintenance round. */
const PINGS_PER_ROUND = 16

/** Result of an announce: the get_peers lookup and how many of the closest nodes accepted our announce. */
export interface AnnounceResult {
  readonly lookup: LookupResult
  readonly announced: number
}

/**
 * A whole DHT node: bootstrap, iterative lookups over the KRPC node, announcing, and routing-table upkeep
 * (bucket refresh every 15 minutes, pinging questionable nodes) running in the layer's scope.
 */
export class Dht extends Context.Tag("bitscrape/Dht")<Dht, {
  /**
   * Joins the DHT through `addresses` (IP literals): asks each for our own id, looks ourselves up, then
   * refreshes every bucket. Returns the lookup of our own id.
   */
  readonly bootstrap: (addresses: ReadonlyArray<SocketAddress>) => Effect.Effect<LookupResult>
  /** Iterative find_node towards `target`. */
  readonly findNode: (target: Uint8Array) => Effect.Effect<LookupResult>
  /** Iterative get_peers for `infoHash`: peers found and the closest nodes with their tokens. */
  readonly getPeers: (infoHash: InfoHash) => Effect.Effect<LookupResult>
  /**
   * `getPeers` without fibers (over `KrpcNode.request`): `done` is called once with the result; returns a
   * cancel function. For the crawler, which runs many lookups at once.
   */
  readonly getPeersNow: (
    infoHash: InfoHash,
    done: (result: LookupResult) => void,
    options?: { /** BEP 33: ask each node for its Bloom filters too (`result.swarm`). */ readonly scrape?: boolean }
  ) => () => void
  /** get_peers lookup, then announce_peer to the closest nodes that gave a token. */
  readonly announce: (infoHash: InfoHash, port: number, impliedPort?: boolean) => Effect.Effect<AnnounceResult>
}>() {}

/**
 * A reply as a lookup step: the nodes of our socket's family only (BEP 32: a dual-stack node's `nodes6` feed the
 * IPv6 node's lookups, `nodes` the IPv4 one's; the crawler routes both to the right socket itself).
 */
const toReply = (family: 4 | 6) => (r: Response): LookupReply => ({
  nodes: family === 4 ? r.nodes ?? [] : r.nodes6 ?? [],
  values: r.values,
  token: r.token,
  bloom: r.BFsd !== undefined && r.BFpe !== undefined ? { seeds: r.BFsd, peers: r.BFpe } : undefined
})

const make = Effect.gen(function*() {
  const config = yield* DhtConfig
  const node = yield* KrpcNode
  const table = yield* RoutingTable
  const self: NodeId = node.self
  const family = node.local.host.includes(":") ? 6 as const : 4 as const
  const reply = toReply(family)

  const traverse = (target: Uint8Array, ask: (c: Target) => Effect.Effect<Response, unknown>) =>
    Effect.flatMap(table.closest(target, config.k * 2), (seeds) =>
      lookup({
        target,
        seeds,
        query: (c: NodeContact) => Effect.map(ask(c), reply),
        alpha: config.alpha,
        k: config.k,
        self
      }))

  const findNode = (target: Uint8Array) => traverse(target, (c) => node.findNode(c, target))
  const getPeers = (infoHash: InfoHash) => traverse(infoHash, (c) => node.getPeers(c, infoHash))

  const getPeersNow = (
    infoHash: InfoHash,
    done: (result: LookupResult) => void,
    options?: { readonly scrape?: boolean }
  ) =>
    traverseNow(
      { target: infoHash, seeds: table.unsafeClosest(infoHash, config.k * 2), alpha: config.alpha, k: config.k, self },
      (c, answer) =>
        node.request(
          c,
          { method: "get_peers", infoHash, ...(options?.scrape ? { scrape: true } : {}) },
          (r) => answer(Either.isRight(r) ? reply(r.right) : undefined)
        ),
      done
    )

  const bootstrap = Effect.fn("Dht.bootstrap")(function*(all: ReadonlyArray<SocketAddress>) {
    // Only addresses our socket can reach (an IPv4 socket cannot send to an IPv6 address, nor the reverse).
    const addresses = all.filter((a) => a.host.includes(":") === (family === 6))
    yield* Effect.forEach(addresses, (a) => Effect.ignore(node.findNode(a, self)), { concurrency: config.alpha })
    const own = yield* findNode(self)
    // Kademlia join: once our neighbourhood is known, refresh every bucket farther than our closest
    // neighbour (a lookup of a random id sharing exactly i bits with us, for each i), so the far buckets fill.
    const depth = yield* table.depth
    for (let i = 0; i < depth; i++) yield* findNode(randomIdAtPrefix(self, i))
    return own
  })

  const announce = Effect.fn("Dht.announce")(function*(infoHash: InfoHash, port: number, impliedPort?: boolean) {
    const found = yield* getPeers(infoHash)
    const acks = yield* Effect.forEach(
      found.closest.filter((r) => r.token !== undefined),
      (r) => Effect.option(node.announcePeer(r.contact, infoHash, port, r.token!, impliedPort)),
      { concurrency: config.alpha }
    )
    return { lookup: found, announced: acks.filter((a) => a._tag === "Some").length }
  })

  const maintain = Effect.gen(function*() {
    const targets = yield* table.refreshTargets(REFRESH_STALE_MS)
    yield* Effect.forEach(targets, (t) => findNode(t), { concurrency: 1, discard: true })
    const stale = yield* table.questionable(PINGS_PER_ROUND)
    yield* Effect.forEach(stale, (c) => Effect.ignore(node.ping(c)), { concurrency: config.alpha, discard: true })
  }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("DHT maintenance round failed", cause)))

  yield* maintain.pipe(
    Effect.schedule(Schedule.spaced(MAINTENANCE_EVERY)),
    Effect.forkScoped
  )

  return Dht.of({ bootstrap, findNode, getPeers, getPeersNow, announce })
})

/** The DHT node's lookups and upkeep, over `KrpcNode` and `RoutingTable`. */
export const DhtLive = Layer.scoped(Dht, make)
