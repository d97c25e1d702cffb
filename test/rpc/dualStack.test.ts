import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { randomBytes } from "node:crypto"
import {
  Dht,
  dhtConfig,
  DhtNodeMemory,
  KrpcNode,
  MemoryNetwork,
  MemoryNetworkLive,
  RoutingTable
} from "../../src/dht/index.js"
import { decodeMessage, encodeMessage, type NodeId, toHex, unsafeNodeId } from "../../src/krpc/index.js"
import type { Response } from "../../src/krpc/messages.js"
import { FamilyTables, makeFamilyTables } from "../../src/routing/FamilyTables.js"
import { memoryNode, testSettings } from "../support/dhtNodes.js"

// Issue 18, item 1: one node id on an IPv4 and an IPv6 socket, one routing table per family (BEP 32).

/** The two nodes of one dual-stack id on the memory network. */
const dualNode = (v4: { host: string; port: number }, v6: { host: string; port: number }) =>
  Effect.gen(function*() {
    const id = unsafeNodeId(randomBytes(20))
    const tables = makeFamilyTables()
    const build = (at: { host: string; port: number }) =>
      Layer.build(
        DhtNodeMemory.pipe(
          Layer.provide(dhtConfig(testSettings({ ...at, nodeId: Option.some(id) }))),
          Layer.provide(Layer.succeed(FamilyTables, tables))
        )
      ).pipe(Effect.map((ctx) => ({
        node: Context.get(ctx, KrpcNode),
        dht: Context.get(ctx, Dht),
        table: Context.get(ctx, RoutingTable)
      })))
    return { id, v4: yield* build(v4), v6: yield* build(v6) }
  })

describe("dual stack (BEP 32)", () => {
  it.scoped("answers `want` both ways from the table of each family, and asks for both", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork
      const dual = yield* dualNode({ host: "127.0.0.1", port: 7000 }, { host: "::1", port: 7000 })
      assert.strictEqual(toHex(dual.v4.node.self), toHex(dual.v6.node.self), "one node id on both sockets")
      const a4 = yield* memoryNode({ host: "127.0.0.2", port: 7001 })
      const b6 = yield* memoryNode({ host: "::1", port: 7002 })
      yield* a4.node.ping({ host: "127.0.0.1", port: 7000 })
      yield* b6.node.ping({ host: "::1", port: 7000 })
      // Each family's nodes went to the table of that family.
      assert.deepStrictEqual((yield* dual.v4.table.entries).map((e) => e.host), ["127.0.0.2"])
      assert.deepStrictEqual((yield* dual.v6.table.entries).map((e) => e.host), ["::1"])

      const replies: Array<Uint8Array> = []
      const ask = (host: string, want: ReadonlyArray<"n4" | "n6"> | undefined) =>
        Effect.gen(function*() {
          replies.length = 0
          const me = yield* network.attach(host, 7100 + Math.floor(Math.random() * 800), (b) => void replies.push(b))
          network.transmit(
            me,
            host.includes(":") ? "::1" : "127.0.0.1",
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
      const hosts = (r: Response) => ({
        nodes: r.nodes?.map((n) => n.host),
        nodes6: r.nodes6?.map((n) => `[${n.host}]:${n.port}`)
      })
      // Over IPv4: no want → nodes; n6 → nodes6 from the IPv6 table; both → both.
      assert.deepStrictEqual(hosts(yield* ask("127.0.0.9", undefined)), { nodes: ["127.0.0.2"], nodes6: undefined })
      assert.deepStrictEqual(hosts(yield* ask("127.0.0.9", ["n6"])), { nodes: undefined, nodes6: ["[::1]:7002"] })
      assert.deepStrictEqual(hosts(yield* ask("127.0.0.9", ["n4", "n6"])), {
        nodes: ["127.0.0.2"],
        nodes6: ["[::1]:7002"]
      })
      // Over IPv6 likewise.
      assert.deepStrictEqual(hosts(yield* ask("::1", undefined)), { nodes: undefined, nodes6: ["[::1]:7002"] })
      assert.deepStrictEqual(hosts(yield* ask("::1", ["n4"])), { nodes: ["127.0.0.2"], nodes6: undefined })
      // Our own queries ask for both families: a dual node's find_node reply carries both lists.
      const other = yield* dualNode({ host: "127.0.0.3", port: 7003 }, { host: "::1", port: 7003 })
      const reply = yield* other.v4.node.findNode({ host: "127.0.0.1", port: 7000 }, randomBytes(20))
      // (The querier itself is filed as it asks: it may be in the reply too.)
      assert.include(hosts(reply).nodes ?? [], "127.0.0.2")
      assert.include(hosts(reply).nodes6 ?? [], "[::1]:7002")
      // A lookup of one family follows only the nodes of its family.
      const v6Lookup = yield* other.v6.dht.findNode(randomBytes(20))
      assert.isTrue(v6Lookup.closest.every((r) => r.contact.host === "::1"))
    }).pipe(Effect.provide(MemoryNetworkLive())))

  it.scoped("a single-stack node sends no `want` and still answers only its own family", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork
      const seen: Array<Uint8Array> = []
      yield* network.attach("127.0.0.50", 7050, (b) => void seen.push(b))
      const solo = yield* memoryNode({ host: "127.0.0.51", port: 7051 })
      solo.node.request({ host: "127.0.0.50", port: 7050 }, { method: "find_node", target: randomBytes(20) }, () => {})
      while (seen.length === 0) yield* Effect.yieldNow()
      const q = decodeMessage(seen[0]!)
      if (q._tag !== "Right" || q.right._tag !== "FindNodeQuery") return assert.fail("a find_node query expected")
      assert.isUndefined(q.right.want)
    }).pipe(Effect.provide(MemoryNetworkLive())))
})
