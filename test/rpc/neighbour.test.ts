import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { randomBytes } from "node:crypto"
import { MemoryNetworkLive } from "../../src/dht/index.js"
import { toHex } from "../../src/krpc/index.js"
import * as Metrics from "../../src/observability/metrics.js"
import { memoryNode } from "../support/dhtNodes.js"

describe("neighbour-id replies (off by default)", () => {
  it.scoped("answer with an id next to the query's target when on, and are counted", () =>
    Effect.gen(function*() {
      const plain = yield* memoryNode({ host: "127.0.0.2" })
      const trick = yield* memoryNode({ host: "127.0.0.3", neighbourIds: true })
      const asker = yield* memoryNode({ host: "127.0.0.1" })
      const target = randomBytes(20)
      const before = (yield* Metric.value(Metrics.neighbourReplies)).count
      const honest = yield* asker.node.findNode(plain.address, target)
      assert.strictEqual(toHex(honest.id), toHex(plain.node.self))
      const reply = yield* asker.node.findNode(trick.address, target)
      assert.strictEqual(toHex(reply.id).slice(0, 30), target.toString("hex").slice(0, 30))
      assert.strictEqual(toHex(reply.id).slice(30), toHex(trick.node.self).slice(30))
      assert.strictEqual((yield* Metric.value(Metrics.neighbourReplies)).count, before + 1)
    }).pipe(Effect.provide(MemoryNetworkLive())))
})
