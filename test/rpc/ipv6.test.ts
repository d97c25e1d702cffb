import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { MemoryNetwork, MemoryNetworkLive } from "../../src/dht/index.js"
import { decodeMessage, encodeMessage, type NodeId, toHex } from "../../src/krpc/index.js"
import { liveNode, memoryNode } from "../support/dhtNodes.js"

describe("IPv6 (BEP 32)", () => {
  it.scopedLive("two nodes on ::1 exchange find_node with `nodes6` over real UDP", () =>
    Effect.gen(function*() {
      const a = yield* liveNode({ host: "::1" })
      const b = yield* liveNode({ host: "::1" })
      const c = yield* liveNode({ host: "::1" })
      yield* a.node.ping(b.address)
      yield* c.node.ping(b.address)
      const reply = yield* a.node.findNode(b.address, randomBytes(20))
      assert.isUndefined(reply.nodes)
      assert.sameMembers(reply.nodes6!.map((n) => toHex(n.id)), [toHex(a.node.self), toHex(c.node.self)])
      assert.isTrue(reply.nodes6!.every((n) => n.host === "::1"))
      const result = yield* a.dht.findNode(randomBytes(20))
      assert.strictEqual(result.responded, 2)
    }))

  it.scoped("answers `want` per family: an IPv6 node has no n4 nodes to give", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork
      const v6 = yield* memoryNode({ host: "::1", port: 7000 })
      const other = yield* memoryNode({ host: "::1", port: 7001 })
      yield* other.node.ping(v6.address)
      const replies: Array<Uint8Array> = []
      const me = yield* network.attach("::1", 7002, (bytes) => void replies.push(bytes))
      const ask = (want: ReadonlyArray<"n4" | "n6">) =>
        Effect.gen(function*() {
          replies.length = 0
          network.transmit(
            me,
            "::1",
            7000,
            encodeMessage({
              _tag: "FindNodeQuery",
              t: Uint8Array.of(1),
              v: undefined,
              id: randomBytes(20) as Uint8Array as NodeId,
              ro: true,
              target: randomBytes(20) as Uint8Array as NodeId,
              want
            })
          )
          while (replies.length === 0) yield* Effect.yieldNow()
          const decoded = decodeMessage(replies[0]!)
          if (decoded._tag !== "Right" || decoded.right._tag !== "Response") return assert.fail("no response")
          return decoded.right
        })
      const n4 = yield* ask(["n4"])
      assert.isUndefined(n4.nodes)
      assert.isUndefined(n4.nodes6)
      const both = yield* ask(["n4", "n6"])
      assert.strictEqual(both.nodes6?.length, 1)
    }).pipe(Effect.provide(MemoryNetworkLive())))
})
