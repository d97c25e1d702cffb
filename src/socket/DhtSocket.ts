import { Clock, Context, Data, Effect, Layer, Option, Queue, type Scope, Stream } from "effect"
import dgram from "node:dgram"
import { DhtConfig } from "../config/DhtConfig.js"
import type { SocketAddress } from "../domain/address.js"
import * as Metrics from "../observability/metrics.js"
import { type Budget, makeBudget } from "./budget.js"
import { OutboundBudget } from "./OutboundBudget.js"

/** One received UDP datagram and its sender. */
export interface Datagram {
  readonly bytes: Uint8Array
  readonly host: string
  readonly port: number
}

/** Counters of one socket (the process-wide Metrics aggregate all sockets). */
export interface SocketStats {
  packetsIn: number
  packetsOut: number
  bytesIn: number
  bytesOut: number
  droppedInbound: number
  droppedOversized: number
  droppedRateLimited: number
  sendErrors: number
}

/** All counters at zero. */
export const emptyStats = (): SocketStats => ({
  packetsIn: 0,
  packetsOut: 0,
  bytesIn: 0,
  bytesOut: 0,
  droppedInbound: 0,
  droppedOversized: 0,
  droppedRateLimited: 0,
  sendErrors: 0
})

/** The socket could not be opened. */
export class DhtSocketError extends Data.TaggedError("DhtSocketError")<{
  readonly reason: "Bind"
  readonly address: string
  readonly cause: unknown
}> {
  /** The address that could not be bound and why. */
  override get message() {
    return `cannot bind UDP ${this.address}: ${String(this.cause)}`
  }
}

/**
 * The DHT's UDP endpoint. Inbound datagrams wait in a bounded buffer (newest dropped and counted when full:
 * UDP cannot be backpressured); outbound datagrams pass a token bucket (`maxPps`, `burst`).
 */
export class DhtSocket extends Context.Tag("bitscrape/DhtSocket")<DhtSocket, {
  /** The address the socket is bound to. */
  readonly local: SocketAddress
  /** Received datagrams; one consumer. Ends when the socket's scope closes. */
  readonly incoming: Stream.Stream<Datagram>
  /**
   * Hands received datagrams to `handler` synchronously instead (once per batch: for UDP, once per event-loop
   * turn), while the caller's scope lasts — for a consumer that handles each datagram in one synchronous step
   * (the KRPC node), without a stream between. `incoming` then stays empty.
   */
  readonly handle: (handler: (bytes: Uint8Array, host: string, port: number) => void) => Effect.Effect<
    void,
    never,
    Scope.Scope
  >
  /** Sends one datagram, waiting for the outbound budget. Never fails: UDP errors are counted. */
  readonly send: (host: string, port: number, bytes: Uint8Array) => Effect.Effect<void>
  /**
   * Sends now if the budget allows, else drops and counts it; returns whether it was sent. `bytes` may be a
   * function, called only when the budget allows (a reply that would be dropped is never built).
   */
  readonly trySend: (host: string, port: number, bytes: Uint8Array | (() => Uint8Array)) => boolean
  /**
   * Sends now, without consulting the budget: for callers that reserved the packet themselves
   * (`budget.reservePacket`), on the per-query path that runs without a fiber.
   */
  readonly transmit: (host: string, port: number, bytes: Uint8Array) => void
  /** This socket's counters. */
  readonly stats: () => Readonly<SocketStats>
  /** The packet budget and per-IP pace its sends go through (shared when `OutboundBudget` was provided). */
  readonly budget: Budget
}>() {}

/**
 * Shared by the UDP and in-memory sockets: budget, counters and the inbound buffer. Received datagrams are
 * gathered in a plain array and handed to the consumer as one batch per `schedule` turn (for UDP: once per
 * event-loop iteration, after libuv has read every datagram waiting), so the Effect runtime wakes once per batch
 * rather than once per datagram. At most `inboundBuffer` datagrams are buffered; newer ones are dropped and
 * counted.
 */
export const makeEdges = (schedule: (flush: () => void) => void) =>
  Effect.gen(function*() {
    const config = yield* DhtConfig
    const clock = yield* Effect.clock
    const stats = emptyStats()
    const shared = yield* Effect.serviceOption(OutboundBudget)
    const budget = Option.getOrElse(shared, () =>
      makeBudget(
        { maxPps: config.maxPps, burst: config.burst, perIpIntervalMillis: config.perIpIntervalMillis },
        clock.unsafeCurrentTimeMillis()
      ))
    const inbound = yield* Queue.unbounded<Array<Datagram>>()
    yield* Effect.addFinalizer(() => Queue.shutdown(inbound))
    let pending: Array<Datagram> = []
    let scheduled = false
    /** Datagrams received and not yet taken by the consumer. */
    let buffered = 0
    let handler: ((bytes: Uint8Array, host: string, port: number) => void) | undefined
    const flush = () => {
      scheduled = false
      const batch = pending
      pending = []
      if (handler !== undefined) {
        buffered -= batch.length
        for (const d of batch) {
          try {
            handler(d.bytes, d.host, d.port)
          } catch {
            // A bug must not take the event loop down with it (this runs in a timer callback): counted.
            Metrics.countDrop("handler-failed")
          }
        }
      } else if (batch.length > 0 && !inbound.unsafeOffer(batch)) buffered -= batch.length // shut down
    }
    const handle = (h: (bytes: Uint8Array, host: string, port: number) => void) =>
      Effect.acquireRelease(Effect.sync(() => void (handler = h)), () => Effect.sync(() => void (handler = undefined)))

    /** Buffers a received datagram (synchronously, from a callback). */
    const receive = (bytes: Uint8Array, host: string, port: number): void => {
      stats.packetsIn++
      stats.bytesIn += bytes.length
      Metrics.unsafeIncrement(Metrics.packetsIn)
      Metrics.unsafeIncrement(Metrics.bytesIn, bytes.length)
      if (bytes.length > config.maxDatagram) {
        stats.droppedOversized++
        Metrics.countDrop("oversized")
        return
      }
      if (buffered >= config.inboundBuffer) {
        stats.droppedInbound++
        Metrics.countDrop("inbound-buffer-full")
        return
      }
      buffered++
      pending.push({ bytes, host, port })
      if (!scheduled) {
        scheduled = true
        schedule(flush)
      }
    }

    const sent = (bytes: number) => {
      stats.packetsOut++
      stats.bytesOut += bytes
      Metrics.unsafeIncrement(Metrics.packetsOut)
      Metrics.unsafeIncrement(Metrics.bytesOut, bytes)
    }

    const sendFailed = () => {
      stats.sendErrors++
      Metrics.countDrop("send-error")
    }

    /** Waits for the budget, then runs `transmit`. */
    const withBudget = (transmit: () => void): Effect.Effect<void> =>
      Effect.suspend(() => {
        const wait = budget.reservePacket(clock.unsafeCurrentTimeMillis())
        return wait === 0 ? Effect.sync(transmit) : Effect.zipRight(Clock.sleep(wait), Effect.sync(transmit))
      })

    /** Runs `transmit` only if the budget allows now. */
    const ifBudget = (transmit: () => void): boolean => {
      if (!budget.tryPacket(clock.unsafeCurrentTimeMillis())) {
        stats.droppedRateLimited++
        Metrics.countDrop("outbound-rate-limit")
        return false
      }
      transmit()
      return true
    }

    return {
      config,
      budget,
      stats,
      receive,
      sent,
      sendFailed,
      withBudget,
      ifBudget,
      handle,
      incoming: Stream.fromQueue(inbound, { maxChunkSize: 64 }).pipe(
        Stream.mapConcat((batch) => {
          buffered -= batch.length
          return batch
        })
      )
    }
  })

const bindUdp = (host: string, port: number) =>
  Effect.acquireRelease(
    Effect.async<dgram.Socket, DhtSocketError>((resume) => {
      const socket = dgram.createSocket({ type: host.includes(":") ? "udp6" : "udp4", ipv6Only: host.includes(":") })
      const onError = (cause: Error) => {
        socket.close()
        resume(Effect.fail(new DhtSocketError({ reason: "Bind", address: `${host}:${port}`, cause })))
      }
      socket.once("error", onError)
      socket.bind(port, host, () => {
        socket.off("error", onError)
        resume(Effect.succeed(socket))
      })
    }),
    (socket) =>
      Effect.async<void>((resume) => {
        try {
          socket.close(() => resume(Effect.void))
        } catch {
          resume(Effect.void)
        }
      })
  )

const makeUdp = Effect.gen(function*() {
  // setImmediate runs after libuv's poll phase: one batch per event-loop turn.
  const edges = yield* makeEdges((flush) => setImmediate(flush))
  const socket = yield* bindUdp(edges.config.host, edges.config.port)
  // After bind, errors are per-send (ICMP unreachable and the like): counted, never fatal.
  socket.on("error", () => edges.sendFailed())
  socket.on("message", (bytes, info) => edges.receive(bytes, info.address, info.port))
  const bound = socket.address()

  const transmit = (host: string, port: number, lazy: Uint8Array | (() => Uint8Array)) => () => {
    const bytes = typeof lazy === "function" ? lazy() : lazy
    try {
      socket.send(bytes, port, host, (error) => error ? edges.sendFailed() : edges.sent(bytes.length))
    } catch {
      edges.sendFailed()
    }
  }

  return DhtSocket.of({
    local: { host: bound.address, port: bound.port },
    incoming: edges.incoming,
    handle: edges.handle,
    send: (host, port, bytes) => edges.withBudget(transmit(host, port, bytes)),
    trySend: (host, port, bytes) => edges.ifBudget(transmit(host, port, bytes)),
    transmit: (host, port, bytes) => transmit(host, port, bytes)(),
    stats: () => edges.stats,
    budget: edges.budget
  })
})

/** A real UDP socket bound to `DhtConfig.host:port`; closed when the layer's scope closes. */
export const DhtSocketLive = Layer.scoped(DhtSocket, makeUdp)
