import { Context, Effect, Layer, Option } from "effect"
import { randomBytes } from "node:crypto"
import { DhtConfig } from "../config/DhtConfig.js"
import { ID_LENGTH, idPrefix32, type NodeId, unsafeNodeId } from "../domain/ids.js"
import type { KeyspaceArea } from "../domain/keyspace.js"
import { FamilyTables, makeFamilyTables } from "../routing/FamilyTables.js"
import { Dht } from "../rpc/Dht.js"
import { KrpcNode } from "../rpc/KrpcNode.js"
import { DhtNodeLive } from "../rpc/node.js"
import type { Budget } from "../socket/budget.js"
import { DhtSocket } from "../socket/DhtSocket.js"
import { OutboundBudget, OutboundBudgetLive } from "../socket/OutboundBudget.js"

// Several node ids in one process (`--identities N`): each a complete, well-behaved DHT node on its own UDP
// port with its own routing table, answering queries with its own id. Other nodes file each id in the buckets
// of its own neighbourhood, so lookups and announces for infohashes near any of our ids reach us: passive reach
// grows with the number of ids spread over the keyspace. All ids share one packet budget and one per-remote-IP
// pace (OutboundBudget): N ids never make one remote IP see more than one query per interval from us.

/** One of our node ids: its KRPC endpoint and its lookups. */
export interface Identity {
  readonly node: Context.Tag.Service<KrpcNode>
  readonly dht: Context.Tag.Service<Dht>
  readonly socket: Context.Tag.Service<DhtSocket>
  /** The id's first 32 bits, for picking the identity nearest to a target. */
  readonly prefix: number
  /** The address family of its socket (a dual-stack id is two identities, one per family, see IdentitiesLive). */
  readonly family: 4 | 6
}

/** The crawl's node ids and the budget they share. */
export class Identities extends Context.Tag("bitscrape/Identities")<Identities, {
  readonly all: ReadonlyArray<Identity>
  readonly budget: Budget
}>() {}

const identityOf = (
  node: Context.Tag.Service<KrpcNode>,
  dht: Context.Tag.Service<Dht>,
  socket: Context.Tag.Service<DhtSocket>
): Identity => ({
  node,
  dht,
  socket,
  prefix: idPrefix32(node.self),
  family: socket.local.host.includes(":") ? 6 : 4
})

/** The identity whose id is nearest (XOR, first 32 bits) to `target`. */
export const nearestIdentity = (all: ReadonlyArray<Identity>, target: Uint8Array): Identity => {
  if (all.length === 1) return all[0]!
  const t = idPrefix32(target)
  let best = all[0]!
  let bestDistance = (best.prefix ^ t) >>> 0
  for (let i = 1; i < all.length; i++) {
    const d = (all[i]!.prefix ^ t) >>> 0
    if (d < bestDistance) {
      best = all[i]!
      bestDistance = d
    }
  }
  return best
}

/**
 * `count` ids spread evenly over the keyspace, or over `areas` (round-robin over the areas, evenly inside each):
 * id i starts in the i-th of `count` equal slices, at a random place inside it.
 */
export const spreadIds = (count: number, areas: ReadonlyArray<KeyspaceArea> = []): Array<NodeId> => {
  const zones = areas.length === 0 ? [{ prefix: new Uint8Array(ID_LENGTH), bits: 0 }] : areas
  const perZone = zones.map((_, z) => Math.floor(count / zones.length) + (z < count % zones.length ? 1 : 0))
  const out: Array<NodeId> = []
  zones.forEach((zone, z) => {
    const n = perZone[z]!
    for (let i = 0; i < n; i++) {
      // Position i/n of the zone, written into the 32 bits after the zone's prefix; the rest random.
      const id = randomBytes(ID_LENGTH)
      const slice = 2 ** 32 / n
      const offset = Math.floor(i * slice + Math.random() * slice)
      for (let bit = 0; bit < 32 && zone.bits + bit < 160; bit++) {
        const at = zone.bits + bit
        const byte = at >> 3
        const mask = 0x80 >> (at & 7)
        const value = (offset >>> (31 - bit)) & 1
        id[byte] = value === 1 ? id[byte]! | mask : id[byte]! & ~mask
      }
      for (let bit = 0; bit < zone.bits; bit++) {
        const byte = bit >> 3
        const mask = 0x80 >> (bit & 7)
        id[byte] = (id[byte]! & ~mask) | (zone.prefix[byte]! & mask)
      }
      out.push(unsafeNodeId(id))
    }
  })
  return out
}

/** One identity: the `KrpcNode` and `Dht` already in the context (what `CrawlerLive` uses). */
export const IdentitiesFromNode: Layer.Layer<Identities, never, KrpcNode | Dht | DhtSocket> = Layer.effect(
  Identities,
  Effect.gen(function*() {
    const node = yield* KrpcNode
    const dht = yield* Dht
    const socket = yield* DhtSocket
    return { all: [identityOf(node, dht, socket)], budget: socket.budget }
  })
)

/**
 * `count` complete DHT nodes over real UDP on `hosts` (default `DhtConfig.binds`, else `DhtConfig.host`), ids
 * spread over the keyspace (or `areas`), sharing one `OutboundBudget`. Ports: `DhtConfig.port + i` (all 0, any
 * free port, when `port` is 0). When the config sets a node id, the first identity uses it.
 *
 * Dual stack (BEP 32): with an IPv4 and an IPv6 host, every id gets a socket of each family (the same port
 * number on both), each with the routing table of its family; the two nodes of an id share a `FamilyTables`,
 * so each answers `want: n4, n6` from both tables and asks for both. `all` lists the IPv4 identities first.
 */
export const IdentitiesLive = (
  count: number,
  areas: ReadonlyArray<KeyspaceArea> = [],
  hosts?: ReadonlyArray<string>
) =>
  Layer.scoped(
    Identities,
    Effect.gen(function*() {
      const config = yield* DhtConfig
      const budget = yield* OutboundBudget
      const ids = spreadIds(count, areas)
      if (Option.isSome(config.nodeId)) ids[0] = config.nodeId.value
      const binds = [...(hosts ?? config.binds ?? [config.host])].sort((a, b) =>
        Number(a.includes(":")) - Number(b.includes(":"))
      )
      const tables = ids.map(() => makeFamilyTables())
      const all = yield* Effect.forEach(
        binds.flatMap((host) => ids.map((id, i) => ({ host, id, i }))),
        ({ host, i, id }) =>
          Layer.build(DhtNodeLive).pipe(
            Effect.provideService(DhtConfig, {
              ...config,
              host,
              nodeId: Option.some(id),
              port: config.port === 0 ? 0 : config.port + i
            }),
            Effect.provideService(OutboundBudget, budget),
            Effect.provideService(FamilyTables, tables[i]!),
            Effect.map((ctx) =>
              identityOf(Context.get(ctx, KrpcNode), Context.get(ctx, Dht), Context.get(ctx, DhtSocket))
            )
          )
      )
      return { all, budget }
    })
  ).pipe(Layer.provideMerge(OutboundBudgetLive))
