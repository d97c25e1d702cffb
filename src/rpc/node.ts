// A whole DHT node as one layer: socket, routing table, KRPC client/server and lookups. Exported by
// `bitscrape/dht`; inside src/ the commands, the crawler and the demo build their nodes from here.
import { Layer } from "effect"
import { RoutingTableLive } from "../routing/RoutingTable.js"
import { DhtSocketLive } from "../socket/DhtSocket.js"
import { DhtSocketMemory } from "../socket/memoryNetwork.js"
import { DhtLive } from "./Dht.js"
import { KrpcNodeLive } from "./KrpcNode.js"

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
