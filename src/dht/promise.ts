import { Cause, Effect, Exit, Layer, ManagedRuntime } from "effect"
import { dhtConfig, type DhtSettings } from "../config/DhtConfig.js"
import { parseHostPort, parseIP, type SocketAddress } from "../domain/address.js"
import { type InfoHash, infoHashOf, toHex } from "../domain/ids.js"
import type { NodeContact } from "../krpc/compact.js"
import { RoutingTableLive } from "../routing/RoutingTable.js"
import { Dht, DhtLive } from "../rpc/Dht.js"
import { KrpcNode, KrpcNodeLive } from "../rpc/KrpcNode.js"
import { DhtSocketLive } from "../socket/DhtSocket.js"

// A DHT node for callers who do not use Effect: the same layers as `DhtNodeLive`, held by a ManagedRuntime
// that `close()` disposes. Failures reject with the typed error itself (`DhtSocketError`, …), not a wrapper.

/** Where and how to bind a node for {@link openDhtNode} and {@link lookupPeers}. */
export interface DhtNodeOptions {
  /** IP literal to bind: a loopback address, "0.0.0.0" or "::" for every interface (default "0.0.0.0"). */
  readonly host?: string
  /** UDP port (default 0: any free port). */
  readonly port?: number
  /** Any other `DhtSettings` (rate budget, timeouts, node id, …); `host` and `port` above win. */
  readonly settings?: Partial<DhtSettings>
}

/** What a get_peers lookup found. */
export interface PeerLookup {
  /** Peers that have the torrent (BEP 5 `values`), deduplicated. */
  readonly peers: ReadonlyArray<SocketAddress>
  /** The closest nodes to the infohash that answered, nearest first. */
  readonly closest: ReadonlyArray<NodeContact>
  /** Nodes queried and nodes that answered during the lookup. */
  readonly queried: number
  readonly responded: number
}

/** A running DHT node; every method rejects once `close()` was called. */
export interface DhtNodeHandle {
  /** The bound UDP address. */
  readonly address: SocketAddress
  /** Our node id, 40 hexadecimal digits. */
  readonly nodeId: string
  /**
   * Joins the DHT through `addresses` ({host, port} or "host:port", IP literals only; no DNS lookups).
   * Resolves with the nodes nearest to our id that answered (empty: nobody answered). Rejects with a
   * `TypeError` for an address that is not an IP literal with a port.
   */
  readonly bootstrap: (addresses: ReadonlyArray<SocketAddress | string>) => Promise<ReadonlyArray<NodeContact>>
  /**
   * Iterative get_peers lookup for `infoHash` (20 bytes or 40 hex digits). Never rejects for an unresponsive
   * network (the result is then empty); rejects with a `TypeError` for a malformed infohash.
   */
  readonly getPeers: (infoHash: Uint8Array | string) => Promise<PeerLookup>
  /** Stops the node's fibers and closes its socket; safe to call more than once. */
  readonly close: () => Promise<void>
}

const run = async <A, E, R>(runtime: ManagedRuntime.ManagedRuntime<R, unknown>, effect: Effect.Effect<A, E, R>) => {
  const exit = await runtime.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}

const toAddress = (a: SocketAddress | string): SocketAddress => {
  const address = typeof a === "string" ? parseHostPort(a) : a
  if (address === undefined || parseIP(address.host) === undefined) {
    throw new TypeError(`not an IP literal with a port: ${typeof a === "string" ? a : `${a.host}:${a.port}`}`)
  }
  return address
}

const toInfoHash = (infoHash: Uint8Array | string): InfoHash => {
  const id = infoHashOf(infoHash)
  if (id === undefined) throw new TypeError("an infohash is 20 bytes or 40 hexadecimal digits")
  return id
}

/**
 * Binds a DHT node (BEP 5 client and server) on `options.host`/`options.port`. Resolves once the socket is
 * bound; rejects with `DhtSocketError` when it cannot bind. Call `close()` when done.
 */
export const openDhtNode = async (options: DhtNodeOptions = {}): Promise<DhtNodeHandle> => {
  const layer = DhtLive.pipe(
    Layer.provideMerge(KrpcNodeLive),
    Layer.provideMerge(RoutingTableLive),
    Layer.provideMerge(DhtSocketLive),
    Layer.provide(dhtConfig({ ...options.settings, host: options.host ?? "0.0.0.0", port: options.port ?? 0 }))
  )
  const runtime = ManagedRuntime.make(layer)
  try {
    const node = await run(runtime, KrpcNode)
    return {
      address: node.local,
      nodeId: toHex(node.self),
      bootstrap: async (addresses) => {
        const parsed = addresses.map(toAddress)
        const result = await run(runtime, Effect.flatMap(Dht, (dht) => dht.bootstrap(parsed)))
        return result.closest.map((r) => r.contact)
      },
      getPeers: async (infoHash) => {
        const target = toInfoHash(infoHash)
        const result = await run(runtime, Effect.flatMap(Dht, (dht) => dht.getPeers(target)))
        return {
          peers: result.peers,
          closest: result.closest.map((r) => r.contact),
          queried: result.queried,
          responded: result.responded
        }
      },
      close: () => runtime.dispose()
    }
  } catch (error) {
    await runtime.dispose()
    throw error
  }
}

/**
 * One-shot peer lookup: binds a node (see {@link openDhtNode}), joins through `bootstrap`, runs a get_peers
 * lookup for `infoHash`, and closes the node whatever happens. Rejects with `DhtSocketError` (cannot bind) or
 * `TypeError` (malformed infohash or bootstrap address); an unresponsive network gives an empty result.
 */
export const lookupPeers = async (
  infoHash: Uint8Array | string,
  options: DhtNodeOptions & { readonly bootstrap: ReadonlyArray<SocketAddress | string> }
): Promise<PeerLookup> => {
  const target = toInfoHash(infoHash)
  const addresses = options.bootstrap.map(toAddress)
  const node = await openDhtNode(options)
  try {
    await node.bootstrap(addresses)
    return await node.getPeers(target)
  } finally {
    await node.close()
  }
}
