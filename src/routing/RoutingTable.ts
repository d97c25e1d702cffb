import { Context, Effect, Layer, Option } from "effect"
import { DhtConfig } from "../config/DhtConfig.js"
import { commonPrefixLength, type NodeId, randomNodeId } from "../domain/ids.js"
import type { Bep42Status } from "../krpc/bep42.js"
import type { NodeContact } from "../krpc/compact.js"
import * as Metrics from "../observability/metrics.js"
import * as Buckets from "./buckets.js"

export type { Entry, NodeState, Placement } from "./buckets.js"

/** What we know about a node we heard from. */
export interface Sighting {
  readonly kind: "response" | "query"
  readonly bep42: Bep42Status
  readonly version?: Uint8Array | undefined
}

/** Our view of the keyspace: k-buckets by XOR distance from our own id (BEP 5 "Routing Table"). */
export class RoutingTable extends Context.Tag("bitscrape/RoutingTable")<RoutingTable, {
  /** Our node id. */
  readonly self: NodeId
  /** Records that `contact` was heard from now; never fails. */
  readonly observe: (contact: NodeContact, sighting: Sighting) => Effect.Effect<Buckets.Placement>
  /** Records that `id` did not answer a query; bad nodes give way to replacements. */
  readonly failed: (id: Uint8Array) => Effect.Effect<void>
  /** Up to `count` non-bad contacts nearest to `target`, nearest first. */
  readonly closest: (target: Uint8Array, count: number) => Effect.Effect<ReadonlyArray<NodeContact>>
  /** Questionable nodes (not heard from within 15 minutes), least recently seen first. */
  readonly questionable: (limit: number) => Effect.Effect<ReadonlyArray<NodeContact>>
  /** Random lookup targets for buckets unchanged for `staleMillis`, which count as refreshed from now. */
  readonly refreshTargets: (staleMillis: number) => Effect.Effect<ReadonlyArray<NodeId>>
  /** How many leading bits our closest known node shares with us (0 when the table is empty). */
  readonly depth: Effect.Effect<number>
  /** Nodes in the table. */
  readonly size: Effect.Effect<number>
  /** Every entry with its state, for stats and snapshots. */
  readonly entries: Effect.Effect<ReadonlyArray<Buckets.Entry & { readonly state: Buckets.NodeState }>>
  /** Synchronous `observe`, for the per-packet path (same semantics; time from the layer's Clock). */
  readonly unsafeObserve: (contact: NodeContact, sighting: Sighting) => Buckets.Placement
  /** Synchronous `closest`, for the per-packet path. */
  readonly unsafeClosest: (target: Uint8Array, count: number) => ReadonlyArray<NodeContact>
  /** Synchronous `failed`, for the per-packet path. */
  readonly unsafeFailed: (id: Uint8Array) => void
}>() {}

const make = Effect.gen(function*() {
  const config = yield* DhtConfig
  const clock = yield* Effect.clock
  const now = () => clock.unsafeCurrentTimeMillis()
  const self = Option.getOrElse(config.nodeId, randomNodeId)
  const table = Buckets.empty(self, config.k, now())

  const unsafeObserve = (contact: NodeContact, sighting: Sighting) => {
    const placement = Buckets.observe(table, contact, sighting, now(), config.admitUnverifiedIds)
    if (placement === "inserted") Metrics.routingTableSize.unsafeUpdate(table.size, [])
    return placement
  }
  const toContact = (e: Buckets.Entry): NodeContact => ({ id: e.id, host: e.host, port: e.port })
  const unsafeClosest = (target: Uint8Array, count: number) =>
    Buckets.closest(table, target, count, now()).map(toContact)

  return RoutingTable.of({
    self: table.self,
    observe: (contact, sighting) => Effect.sync(() => unsafeObserve(contact, sighting)),
    failed: (id) => Effect.sync(() => Buckets.failed(table, id, now())),
    closest: (target, count) => Effect.sync(() => unsafeClosest(target, count)),
    questionable: (limit) => Effect.sync(() => Buckets.questionable(table, now(), limit).map(toContact)),
    refreshTargets: (staleMillis) => Effect.sync(() => Buckets.refreshTargets(table, now(), staleMillis)),
    depth: Effect.sync(() => {
      const nearest = Buckets.closest(table, table.self, 1, now())[0]
      return nearest === undefined ? 0 : commonPrefixLength(table.self, nearest.id)
    }),
    size: Effect.sync(() => table.size),
    entries: Effect.sync(() => Buckets.entries(table).map((e) => ({ ...e, state: Buckets.state(e, now()) }))),
    unsafeObserve,
    unsafeFailed: (id) => Buckets.failed(table, id, now()),
    unsafeClosest
  })
})

/** The routing table of the node whose id is `DhtConfig.nodeId` (random when unset). */
export const RoutingTableLive = Layer.effect(RoutingTable, make)
