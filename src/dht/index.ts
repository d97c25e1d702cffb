/**
 * `bitscrape/dht`: a complete BEP 5 DHT node as Effect layers — the UDP socket (`DhtSocket`), the KRPC
 * client/server (`KrpcNode`), the routing table (`RoutingTable`), iterative lookups (`Dht`, `lookup`) —
 * with their errors and configuration (`DhtConfig`). Without Effect: `openDhtNode` and `lookupPeers` return
 * Promises.
 *
 * @module bitscrape/dht
 */
export * from "../config/DhtConfig.js"
export * from "../routing/FamilyTables.js"
export * from "../routing/RoutingTable.js"
export * from "../rpc/Dht.js"
export * from "../rpc/KrpcNode.js"
export * from "../rpc/lookup.js"
export * from "../rpc/networkSize.js"
export * from "../rpc/node.js"
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
