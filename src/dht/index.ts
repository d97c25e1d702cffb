/**
 * `bitscrape/dht`: a complete BEP 5 DHT node as Effect layers — the UDP socket (`DhtSocket`), the KRPC
 * client/server (`KrpcNode`), the routing table (`RoutingTable`), iterative lookups (`Dht`, `lookup`) —
 * with their errors and configuration (`DhtConfig`). Without Effect: `openDhtNode` and `lookupPeers` return
 * Promises.
 *
 * @module bitscrape/dht
 */
import { Layer } from "effect"
import { RoutingTableLive } from "../routing/RoutingTable.js"
import { DhtLive } from "../rpc/Dht.js"
import { KrpcNodeLive } from "../rpc/KrpcNode.js"
import { DhtSocketLive } from "../socket/DhtSocket.js"
import { DhtSocketMemory } from "../socket/memoryNetwork.js"

export * from "../config/DhtConfig.js"
export * from "../routing/FamilyTables.js"
export * from "../routing/RoutingTable.js"
export * from "../rpc/Dht.js"
export * from "../rpc/KrpcNode.js"
export * from "../rpc/lookup.js"
export * from "../rpc/networkSize.js"
export * from "../rpc/scrape.js"
export { type Datagram, DhtSocket, DhtSocketError, DhtSocketLive, type SocketStats } from "../socket/DhtSocket.js"
export * from "../socket/memoryNetwork.js"
export {
  type Budget,
  type BudgetOptions,
  type BudgetStats,
  makeBudget,
  OutboundBudget,
  OutboundBudgetLive
} from "../socket/OutboundBudget.js"
export * from "./promise.js"

/**
 * Socket, routing table, KRPC node and lookups over real UDP; needs `DhtConfig`. All four services are exposed.
 * Building it fails with `DhtSocketError` when the address cannot be bound; closing its scope closes the socket.
 */
export const DhtNodeLive = DhtLive.pipe(
  Layer.provideMerge(KrpcNodeLive),
  Layer.provideMerge(RoutingTableLive),
  Layer.provideMerge(DhtSocketLive)
)

/** The same node over the in-memory network; needs `DhtConfig` and `MemoryNetwork`. */
export const DhtNodeMemory = DhtLive.pipe(
  Layer.provideMerge(KrpcNodeLive),
  Layer.provideMerge(RoutingTableLive),
  Layer.provideMerge(DhtSocketMemory)
)
