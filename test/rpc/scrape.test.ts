// BEP 33 end to end over the in-memory network: nodes answer get_peers with scrape=1 with Bloom filters of the
// seeds and peers announced to them (seed=1 or not), and scrapeNodes merges several nodes' filters into
// estimates of distinct seeds and peers.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { MemoryNetwork, MemoryNetworkLive } from "../../src/dht/index.js"
import type { InfoHash, KrpcMessage, NodeId, Response } from "../../src/krpc/index.js"
import { decodeMessage, encodeMessage } from "../../src/krpc/index.js"
import { scrapeNodes } from "../../src/rpc/scrape.js"
import { memoryNode } from "../support/dhtNodes.js"

const net = MemoryNetworkLive()
const id = () => randomBytes(20) as Uint8Array as NodeId

/** One query from a bare endpoint at `host`, and its decoded reply. */
const exchange = (host: string, to: { host: string; port: number }, message: (t: Uint8Array) => KrpcMessage) =>
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
const announce = (host: string, to: { host: string; port: number }, ih: InfoHash, seed: boolean) =>
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

describe("BEP 33 scrapes", () => {
  it.scoped("nodes answer scrape=1 with seed and peer filters; several nodes' filters merge into estimates", () =>
    Effect.gen(function*() {
      const a = yield* memoryNode({ host: "127.0.0.1" })
      const b = yield* memoryNode({ host: "127.0.0.2" })
      const c = yield* memoryNode({ host: "127.0.0.3" })
      const ih = randomBytes(20) as Uint8Array as InfoHash
      const seeds = Array.from({ length: 30 }, (_, i) => `127.0.1.${i + 1}`)
      const leechers = Array.from({ length: 60 }, (_, i) => `127.0.2.${i + 1}`)
      // b stores all seeds and 50 leechers; c stores half the seeds again and the other 10 leechers.
      for (const s of seeds) yield* announce(s, b.address, ih, true)
      for (const l of leechers.slice(0, 50)) yield* announce(l, b.address, ih, false)
      for (const s of seeds.slice(0, 15)) yield* announce(s, c.address, ih, true)
      for (const l of leechers.slice(50)) yield* announce(l, c.address, ih, false)

      const one = yield* scrapeNodes(a.node, ih, [b.address])
      assert.strictEqual(one.answered, 1)
      assert.closeTo(one.seeds, 30, 3)
      assert.closeTo(one.peers, 50, 4)
      const both = yield* scrapeNodes(a.node, ih, [b.address, c.address])
      assert.strictEqual(both.answered, 2)
      // Seeds stored twice count once: the union is 30 seeds and 60 peers.
      assert.closeTo(both.seeds, 30, 3)
      assert.closeTo(both.peers, 60, 5)
      // An infohash nobody announced: empty filters, estimates 0.
      const none = yield* scrapeNodes(a.node, randomBytes(20) as Uint8Array as InfoHash, [b.address])
      assert.deepStrictEqual([none.seeds, none.peers, none.answered], [0, 0, 1])
    }).pipe(Effect.provide(net)))

  it.scoped("noseed=1 leaves the seeds out of values; without scrape no filters are sent", () =>
    Effect.gen(function*() {
      const b = yield* memoryNode({ host: "127.0.0.2" })
      const ih = randomBytes(20) as Uint8Array as InfoHash
      for (let i = 1; i <= 5; i++) yield* announce(`127.0.1.${i}`, b.address, ih, true)
      for (let i = 1; i <= 4; i++) yield* announce(`127.0.2.${i}`, b.address, ih, false)
      const all = yield* exchange(
        "127.0.0.9",
        b.address,
        (t) => ({ _tag: "GetPeersQuery", t, id: id(), info_hash: ih })
      )
      assert.strictEqual(all.values?.length, 9)
      assert.isUndefined(all.BFsd)
      assert.isUndefined(all.BFpe)
      const noSeeds = yield* exchange(
        "127.0.0.9",
        b.address,
        (t) => ({ _tag: "GetPeersQuery", t, id: id(), info_hash: ih, noseed: true, scrape: true })
      )
      assert.sameMembers(noSeeds.values!.map((p) => p.host), ["127.0.2.1", "127.0.2.2", "127.0.2.3", "127.0.2.4"])
      assert.strictEqual(noSeeds.BFsd?.length, 256)
      assert.strictEqual(noSeeds.BFpe?.length, 256)
    }).pipe(Effect.provide(net)))
})
