import { Context, Effect, Layer, type Scope } from "effect"
import type { SocketAddress } from "../domain/address.js"
import { DhtSocket, DhtSocketError, makeEdges } from "./DhtSocket.js"

// A simulated network of many DHT sockets in one process, for unit tests: datagrams are delivered
// synchronously into the receiver's bounded inbound buffer, with optional seeded loss and silent addresses.

/** Where the network delivers a datagram for one attached address (the sender's host and port). */
export type Receiver = (bytes: Uint8Array, host: string, port: number) => void

/** How lossy the simulated network is, and which addresses never answer. */
export interface MemoryNetworkOptions {
  /** Probability (0–1) that a datagram is lost. */
  readonly loss?: number
  /** Seed of the loss generator, for reproducible runs. */
  readonly seed?: number
  /** Addresses that swallow everything sent to them. */
  readonly silent?: ReadonlyArray<SocketAddress>
}

/** The simulated network shared by every `DhtSocketMemory` built over it. */
export class MemoryNetwork extends Context.Tag("bitscrape/MemoryNetwork")<MemoryNetwork, {
  /** Attaches a receiver at `host:port` (0 = pick a port) until the scope closes. */
  readonly attach: (
    host: string,
    port: number,
    receiver: Receiver
  ) => Effect.Effect<SocketAddress, DhtSocketError, Scope.Scope>
  /** Delivers one datagram; false if nobody listens there, it is silenced, or it was lost. */
  readonly transmit: (from: SocketAddress, host: string, port: number, bytes: Uint8Array) => boolean
  /** Changes the loss probability (0–1) from now on. */
  readonly setLoss: (loss: number) => void
  /** Makes an address swallow all traffic from now on. */
  readonly silence: (address: SocketAddress) => void
  /** Datagrams delivered so far. */
  readonly delivered: () => number
}>() {}

const keyOf = (host: string, port: number) => `${host}|${port}`

/** A fresh simulated network (the `MemoryNetwork` service's value); `MemoryNetworkLive` wraps it in a layer. */
export const makeMemoryNetwork = (options: MemoryNetworkOptions = {}) => {
  const receivers = new Map<string, Receiver>()
  const silent = new Set((options.silent ?? []).map((a) => keyOf(a.host, a.port)))
  let seed = options.seed ?? 1
  const random = () => {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) / 0x100000000
  }
  let loss = options.loss ?? 0
  let nextPort = 20_000
  let delivered = 0
  return MemoryNetwork.of({
    attach: (host, port, receiver) =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          let p = port
          if (p === 0) { while (receivers.has(keyOf(host, p = nextPort++))); }
          const key = keyOf(host, p)
          if (receivers.has(key)) {
            return Effect.fail(new DhtSocketError({ reason: "Bind", address: `${host}:${p}`, cause: "EADDRINUSE" }))
          }
          receivers.set(key, receiver)
          return Effect.succeed({ host, port: p })
        }),
        (address) => Effect.sync(() => receivers.delete(keyOf(address.host, address.port)))
      ),
    transmit: (from, host, port, bytes) => {
      const key = keyOf(host, port)
      const receiver = receivers.get(key)
      if (receiver === undefined || silent.has(key)) return false
      if (loss > 0 && random() < loss) return false
      delivered++
      receiver(bytes, from.host, from.port)
      return true
    },
    setLoss: (p) => {
      loss = p
    },
    silence: (address) => {
      silent.add(keyOf(address.host, address.port))
    },
    delivered: () => delivered
  })
}

/** A fresh simulated network. */
export const MemoryNetworkLive = (options: MemoryNetworkOptions = {}) =>
  Layer.sync(MemoryNetwork, () => makeMemoryNetwork(options))

const makeMemorySocket = Effect.gen(function*() {
  const network = yield* MemoryNetwork
  // Simulated delivery is synchronous: a microtask batches whatever one fiber step sent.
  const edges = yield* makeEdges(queueMicrotask)
  const local = yield* network.attach(edges.config.host, edges.config.port, edges.receive)
  const transmit = (host: string, port: number, lazy: Uint8Array | (() => Uint8Array)) => () => {
    const bytes = typeof lazy === "function" ? lazy() : lazy
    // Copy: the receiver may keep views into the bytes, and the sender may reuse its buffer.
    network.transmit(local, host, port, Uint8Array.prototype.slice.call(bytes))
    edges.sent(bytes.length)
  }
  return DhtSocket.of({
    local,
    incoming: edges.incoming,
    handle: edges.handle,
    send: (host, port, bytes) => edges.withBudget(transmit(host, port, bytes)),
    trySend: (host, port, bytes) => edges.ifBudget(transmit(host, port, bytes)),
    transmit: (host, port, bytes) => transmit(host, port, bytes)(),
    stats: () => edges.stats,
    budget: edges.budget
  })
})

/** A DHT socket on the `MemoryNetwork`, at `DhtConfig.host:port`. */
export const DhtSocketMemory = Layer.scoped(DhtSocket, makeMemorySocket)
