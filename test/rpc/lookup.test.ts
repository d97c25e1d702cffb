import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import type { NodeContact, NodeId } from "../../src/krpc/index.js"
import { compareDistance, toHex } from "../../src/krpc/index.js"
import * as Buckets from "../../src/routing/buckets.js"
import { lookup } from "../../src/rpc/lookup.js"

// A simulated Kademlia network without sockets: every node has a real k-bucket routing table built from
// all other nodes (as a long-running DHT converges to), and answers with the 8 it knows nearest to the target.
const makeNetwork = (n: number) => {
  const nodes: Array<NodeContact> = Array.from({ length: n }, (_, i) => ({
    id: randomBytes(20) as Uint8Array as NodeId,
    host: `127.1.${i >> 8}.${i & 255}`,
    port: 6881
  }))
  const tables = new Map<string, Buckets.Table>()
  for (const node of nodes) {
    const table = Buckets.empty(node.id, 8, 0)
    for (const other of nodes) {
      Buckets.observe(table, other, { kind: "response", bep42: "exempt", admitUnverified: true }, 0)
    }
    tables.set(toHex(node.id), table)
  }
  const closestKnown = (who: NodeContact, target: Uint8Array): Array<NodeContact> =>
    Buckets.closest(tables.get(toHex(who.id))!, target, 8, 0).map((e) => ({ id: e.id, host: e.host, port: e.port }))
  return { nodes, closestKnown }
}

describe("iterative lookup", () => {
  it.effect("converges on the true k closest nodes of a 600-node network", () =>
    Effect.gen(function*() {
      const net = makeNetwork(600)
      for (let round = 0; round < 5; round++) {
        const target = randomBytes(20)
        let concurrent = 0
        let maxConcurrent = 0
        const result = yield* lookup({
          target,
          seeds: net.nodes.slice(0, 3),
          alpha: 3,
          k: 8,
          query: (c) =>
            Effect.gen(function*() {
              concurrent++
              maxConcurrent = Math.max(maxConcurrent, concurrent)
              yield* Effect.yieldNow()
              concurrent--
              return { nodes: net.closestKnown(c, target) }
            })
        })
        const truth = [...net.nodes].sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, 8)
        assert.deepStrictEqual(result.closest.map((r) => toHex(r.contact.id)), truth.map((c) => toHex(c.id)))
        assert.isAtMost(maxConcurrent, 3)
        assert.isBelow(result.queried, 100)
      }
    }))

  it.effect("routes around failing nodes and collects peers and tokens", () =>
    Effect.gen(function*() {
      const net = makeNetwork(300)
      const target = randomBytes(20)
      const truth = [...net.nodes].sort((a, b) => compareDistance(target, a.id, b.id))
      const dead = new Set([toHex(truth[0]!.id), toHex(truth[3]!.id)])
      const result = yield* lookup({
        target,
        seeds: net.nodes.slice(0, 3),
        alpha: 4,
        k: 8,
        query: (c) =>
          dead.has(toHex(c.id))
            ? Effect.fail("timeout" as const)
            : Effect.succeed({
              nodes: net.closestKnown(c, target),
              values: [{ host: "127.9.9.9", port: 1000 + (c.id[0]! % 3) }],
              token: c.id.subarray(0, 4)
            })
      })
      // Every node still lists the two dead ones among its 8 nearest, so the alive six of the true top eight
      // must lead the result, and no dead node may appear in it.
      const alive = truth.slice(0, 8).filter((c) => !dead.has(toHex(c.id)))
      const found = result.closest.map((r) => toHex(r.contact.id))
      assert.deepStrictEqual(found.slice(0, 6), alive.map((c) => toHex(c.id)))
      assert.isTrue(found.every((h) => !dead.has(h)))
      assert.isTrue(result.closest.every((r) => r.token !== undefined))
      assert.isAtMost(result.peers.length, 3)
      assert.isAbove(result.peers.length, 0)
    }))

  it.effect("never queries our own id and stops at maxQueries", () =>
    Effect.gen(function*() {
      const self = randomBytes(20)
      const target = randomBytes(20)
      let queries = 0
      const result = yield* lookup({
        target,
        seeds: [{ id: self as Uint8Array as NodeId, host: "127.0.0.1", port: 1 }, {
          id: randomBytes(20) as Uint8Array as NodeId,
          host: "127.0.0.2",
          port: 1
        }],
        alpha: 3,
        k: 8,
        self,
        maxQueries: 20,
        // A hostile network: every answer is 8 brand-new nodes, each closer to the target than the last.
        query: () =>
          Effect.sync(() => {
            queries++
            const prefix = Math.min(19, queries)
            return {
              nodes: Array.from({ length: 8 }, (_, i) => ({
                id: Uint8Array.from(randomBytes(20), (x, j) => j < prefix ? target[j]! : x) as NodeId,
                host: `127.0.0.${i + 3}`,
                port: 1
              }))
            }
          })
      })
      assert.strictEqual(queries, 20)
      assert.strictEqual(result.queried, 20)
    }))
})
