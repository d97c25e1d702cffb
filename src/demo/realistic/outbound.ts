import { Effect, type Scope } from "effect"
import dgram from "node:dgram"
import type { SocketAddress } from "../../domain/address.js"
import { encodeMessage } from "../../krpc/codec.js"
import type { ErrorMessage, KrpcMessage, Response } from "../../krpc/messages.js"

// The model's own queries to external nodes (crawlers): get_peers from simulated downloaders, get_peers then
// announce_peer from seeders and stale peers. Real packets; replies are matched by transaction id and source.

/** Sends one datagram from some socket of the model (a simulated node's or a client's). */
export type Send = (to: SocketAddress, data: Uint8Array) => void

const TIMEOUT_MS = 5_000

export interface Outbound {
  /** Sends the query `build(t)` to `to`; `onReply` gets a response, `onTimeout` fires after 5 s without one. */
  readonly query: (
    send: Send,
    to: SocketAddress,
    build: (t: Uint8Array) => KrpcMessage,
    onReply: (r: Response) => void,
    onTimeout: () => void
  ) => void
  /** Offers a received response or error; true when it answered one of our queries. */
  readonly received: (message: Response | ErrorMessage, from: SocketAddress) => boolean
  readonly close: () => void
}

export const makeOutbound = (): Outbound => {
  const pending = new Map<string, { timer: NodeJS.Timeout; onReply: (r: Response) => void }>()
  let next = 0
  const keyOf = (t: Uint8Array, from: SocketAddress) => `${Buffer.from(t).toString("hex")}@${from.host}:${from.port}`
  return {
    query: (send, to, build, onReply, onTimeout) => {
      next = (next + 1) & 0xffff
      const t = Uint8Array.of(0x6d, next >> 8, next & 0xff) // "m" + counter: one in-flight id per 65,536 queries
      const key = keyOf(t, to)
      const timer = setTimeout(() => {
        pending.delete(key)
        onTimeout()
      }, TIMEOUT_MS)
      pending.set(key, { timer, onReply })
      send(to, encodeMessage(build(t)))
    },
    received: (message, from) => {
      const key = keyOf(message.t, from)
      const p = pending.get(key)
      if (p === undefined) return false
      pending.delete(key)
      clearTimeout(p.timer)
      if (message._tag === "Response") p.onReply(message)
      return true
    },
    close: () => {
      pending.forEach((p) => clearTimeout(p.timer))
      pending.clear()
    }
  }
}

/** A UDP socket of one of the model's BitTorrent clients (a seeder's or a stale peer's DHT side), for the scope. */
export const makeClientSocket = (
  host: string,
  onDatagram: (from: SocketAddress, data: Uint8Array) => void
): Effect.Effect<{ readonly host: string; readonly port: number; readonly send: Send }, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<dgram.Socket, Error>((resume) => {
      const socket = dgram.createSocket("udp4")
      socket.once("error", (e) => resume(Effect.fail(e)))
      socket.on("message", (msg, rinfo) => onDatagram({ host: rinfo.address, port: rinfo.port }, msg))
      socket.bind({ address: host, port: 0 }, () => {
        socket.removeAllListeners("error")
        socket.on("error", () => {})
        resume(Effect.succeed(socket))
      })
    }),
    (socket) => Effect.sync(() => socket.close())
  ).pipe(Effect.map((socket) => ({
    host,
    port: socket.address().port,
    send: (to: SocketAddress, data: Uint8Array) => socket.send(data, to.port, to.host)
  })))
