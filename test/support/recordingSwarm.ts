// A swarm of lean DHT responders on their own 127.x addresses that record every query they receive (when, from
// which address and node id, which method), to check a crawler's etiquette from the receiving side: per-IP
// pace, packet budget, node ids. Each answers ping, find_node and get_peers (8 other responders; values for
// the infohashes it stores), BEP 51 sample_infohashes (its stored infohashes) and announce_peer.
import { Effect, Either } from "effect"
import type { Scope } from "effect"
import { randomBytes } from "node:crypto"
import dgram from "node:dgram"
import { type InfoHash, type NodeId, toHex } from "../../src/domain/ids.js"
import { decodeMessage, encodeMessage } from "../../src/krpc/codec.js"
import type { NodeContact } from "../../src/krpc/compact.js"
import { methodOf } from "../../src/krpc/messages.js"
import { isLoopbackHost } from "./interop/loopbackHosts.js"

export interface Received {
  readonly at: number
  /** The responder (receiving) host. */
  readonly to: string
  readonly fromHost: string
  readonly fromPort: number
  readonly fromId: string | undefined
  readonly method: string
}

export interface RecordingSwarm {
  readonly nodes: ReadonlyArray<NodeContact>
  readonly infohashes: ReadonlyArray<string>
  readonly received: ReadonlyArray<Received>
}

/** `size` responders on `${prefix}.1`, `${prefix}.2`, …; `infohashes` spread over them (3 copies each). */
export const makeRecordingSwarm = (
  options: { readonly size: number; readonly prefix: string; readonly infohashes: number }
): Effect.Effect<RecordingSwarm, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const received: Array<Received> = []
    const hashes = Array.from({ length: options.infohashes }, () => randomBytes(20) as Uint8Array as InfoHash)
    const sockets = yield* Effect.forEach(Array.from({ length: options.size }, (_, i) => i), (i) =>
      Effect.acquireRelease(
        Effect.async<{ socket: dgram.Socket; contact: NodeContact }, Error>((resume) => {
          const host = `${options.prefix}.${i + 1}`
          if (!isLoopbackHost(host)) return resume(Effect.fail(new Error(`${host} is not loopback`)))
          const socket = dgram.createSocket("udp4")
          socket.once("error", (e) => resume(Effect.fail(e)))
          socket.bind(0, host, () =>
            resume(Effect.succeed({
              socket,
              contact: { id: randomBytes(20) as Uint8Array as NodeId, host, port: socket.address().port }
            })))
        }),
        ({ socket }) => Effect.sync(() => socket.close())
      ))
    const contacts = sockets.map((s) => s.contact)
    const stored = (i: number) => hashes.filter((_, h) => h % options.size === i || (h + 1) % options.size === i)
    sockets.forEach(({ contact, socket }, i) => {
      const mine = stored(i)
      socket.on("message", (bytes, info) => {
        const decoded = decodeMessage(bytes)
        if (Either.isLeft(decoded)) return
        const m = decoded.right
        if (m._tag === "Response" || m._tag === "ErrorMessage") return
        received.push({
          at: Date.now(),
          to: contact.host,
          fromHost: info.address,
          fromPort: info.port,
          fromId: m.id === undefined ? undefined : toHex(m.id),
          method: methodOf(m)
        })
        const others = Array.from({ length: 8 }, () => contacts[Math.floor(Math.random() * contacts.length)]!)
        const base = { t: m.t, id: contact.id }
        const reply = m._tag === "FindNodeQuery"
          ? { _tag: "Response" as const, ...base, nodes: others }
          : m._tag === "GetPeersQuery"
          ? {
            _tag: "Response" as const,
            ...base,
            nodes: others,
            token: Uint8Array.of(1, 2, 3, 4),
            values: mine.some((h) => toHex(h) === toHex(m.info_hash)) ? [{ host: "127.0.0.1", port: 1 }] : undefined
          }
          : m._tag === "SampleInfohashesQuery"
          ? { _tag: "Response" as const, ...base, nodes: others, interval: 30, num: mine.length, samples: mine }
          : { _tag: "Response" as const, ...base }
        socket.send(encodeMessage(reply), info.port, info.address)
      })
    })
    return { nodes: contacts, infohashes: hashes.map(toHex), received }
  })

/** The shortest gap (ms) between two queries from `fromHost` to any one responder, and where it was. */
export const shortestGap = (received: ReadonlyArray<Received>, fromHost: string) => {
  const byResponder = new Map<string, Array<number>>()
  for (const r of received) {
    if (r.fromHost !== fromHost) continue
    const list = byResponder.get(r.to) ?? []
    list.push(r.at)
    byResponder.set(r.to, list)
  }
  let gap = Infinity
  let where = ""
  for (const [to, times] of byResponder) {
    times.sort((a, b) => a - b)
    for (let i = 1; i < times.length; i++) {
      if (times[i]! - times[i - 1]! < gap) {
        gap = times[i]! - times[i - 1]!
        where = to
      }
    }
  }
  return { gap, where, responders: byResponder.size }
}
