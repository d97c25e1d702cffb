// Bare endpoints on the MemoryNetwork that query a node once (BEP 33 tests: many distinct announcing IPs).
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { MemoryNetwork } from "../../src/dht/index.js"
import type { InfoHash, KrpcMessage, NodeId, Response } from "../../src/krpc/index.js"
import { decodeMessage, encodeMessage } from "../../src/krpc/index.js"

const id = () => randomBytes(20) as Uint8Array as NodeId

/** One query from a bare endpoint at `host`, and its decoded reply. */
export const exchange = (host: string, to: { host: string; port: number }, message: (t: Uint8Array) => KrpcMessage) =>
  Effect.gen(function*() {
    const network = yield* MemoryNetwork
    const replies: Array<Uint8Array> = []
    const me = yield* network.attach(host, 0, (bytes) => void replies.push(bytes))
    network.transmit(me, to.host, to.port, encodeMessage(message(Uint8Array.of(1, 2))))
    for (let i = 0; i < 20 && replies.length === 0; i++) yield* Effect.yieldNow()
    const reply = replies[0] === undefined ? undefined : decodeMessage(replies[0])
    if (reply === undefined || reply._tag !== "Right" || reply.right._tag !== "Response") {
      return yield* Effect.die(new Error(`no response from ${to.host}`))
    }
    return reply.right
  }).pipe(Effect.scoped)

/** `host` announces itself for `ih` to `to` (get_peers for a token, then announce_peer with `seed`). */
export const announceFrom = (host: string, to: { host: string; port: number }, ih: InfoHash, seed: boolean) =>
  Effect.gen(function*() {
    const me = id()
    const { token } = yield* exchange(host, to, (t) => ({ _tag: "GetPeersQuery", t, id: me, info_hash: ih }))
    const reply: Response = yield* exchange(host, to, (t) => ({
      _tag: "AnnouncePeerQuery",
      t,
      id: me,
      info_hash: ih,
      port: 6881,
      token: token!,
      seed
    }))
    return reply
  })
