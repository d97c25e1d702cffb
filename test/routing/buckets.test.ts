import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import type { NodeContact, NodeId } from "../../src/krpc/index.js"
import { commonPrefixLength, compareDistance, toHex } from "../../src/krpc/index.js"
import * as Buckets from "../../src/routing/buckets.js"

const id = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => b as NodeId)
const contact = (nodeId: NodeId, i: number): NodeContact => ({
  id: nodeId,
  host: `127.0.${i >> 8}.${i & 255}`,
  port: 6881
})
const responded = { kind: "response", bep42: "exempt", admitUnverified: true } as const

const invariant = (table: Buckets.Table) => {
  const last = table.buckets.length - 1
  table.buckets.forEach((b, i) => {
    assert.isAtMost(b.entries.length, table.k)
    for (const e of b.entries) {
      const cpl = commonPrefixLength(table.self, e.id)
      if (i < last) assert.strictEqual(cpl, i)
      else assert.isAtLeast(cpl, last)
    }
  })
  assert.strictEqual(table.size, Buckets.entries(table).length)
  assert.strictEqual(table.byKey.size, table.size)
}

describe("k-buckets", () => {
  it.prop("keep every node in the right bucket, at most k each, splitting only the bucket holding our id", [
    id,
    fc.array(id, { maxLength: 400 })
  ], ([self, ids]) => {
    const table = Buckets.empty(self, 8, 0)
    ids.forEach((x, i) => Buckets.observe(table, contact(x, i), responded, 0))
    invariant(table)
  })

  it.prop("closest() equals brute force over the table", [
    id,
    fc.array(id, { minLength: 1, maxLength: 300 }),
    id,
    fc.integer({ min: 1, max: 20 })
  ], ([self, ids, target, n]) => {
    const table = Buckets.empty(self, 8, 0)
    ids.forEach((x, i) => Buckets.observe(table, contact(x, i), responded, 0))
    const expected = Buckets.entries(table).sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, n)
    assert.deepStrictEqual(
      Buckets.closest(table, target, n, 0).map((e) => toHex(e.id)),
      expected.map((e) => toHex(e.id))
    )
  })

  it("fills the near buckets deeply when thousands of nodes are seen", () => {
    const self = new Uint8Array(20) as NodeId
    const table = Buckets.empty(self, 8, 0)
    for (let i = 0; i < 5000; i++) {
      const x = new Uint8Array(20).map(() => Math.floor(Math.random() * 256)) as NodeId
      Buckets.observe(table, contact(x, i), responded, 0)
    }
    invariant(table)
    assert.isAbove(table.buckets.length, 8)
    assert.isAbove(table.size, 8 * 8)
  })

  it("ages nodes good → questionable → bad and replaces bad nodes", () => {
    const self = new Uint8Array(20) as NodeId
    const table = Buckets.empty(self, 1, 0) // k = 1 makes the bucket full at once
    const a = new Uint8Array(20).fill(0x80) as NodeId
    const b = Uint8Array.from({ length: 20 }, (_, i) => i === 0 ? 0x81 : 0) as NodeId
    assert.strictEqual(Buckets.observe(table, contact(a, 1), responded, 0), "inserted")
    const entry = table.byKey.get(Buckets.keyOf(a))!
    assert.strictEqual(Buckets.state(entry, 0), "good")
    assert.strictEqual(Buckets.state(entry, Buckets.GOOD_WINDOW_MS + 1), "questionable")
    // Full bucket: b becomes a replacement candidate.
    assert.strictEqual(Buckets.observe(table, contact(b, 2), responded, 10), "bucket-full")
    Buckets.failed(table, a, 20)
    assert.notStrictEqual(Buckets.state(entry, 20), "bad") // one miss is not enough (BEP 5: several in a row)
    Buckets.failed(table, a, 30)
    // a is bad now and gave way to b.
    assert.isFalse(table.byKey.has(Buckets.keyOf(a)))
    assert.isTrue(table.byKey.has(Buckets.keyOf(b)))
  })

  it("rejects our own id, unverified ids when asked to, and id moves to another address", () => {
    const self = new Uint8Array(20).fill(7) as NodeId
    const table = Buckets.empty(self, 8, 0)
    assert.strictEqual(Buckets.observe(table, contact(self, 1), responded, 0), "rejected-self")
    const x = new Uint8Array(20).fill(9) as NodeId
    assert.strictEqual(
      Buckets.observe(table, contact(x, 1), { kind: "response", bep42: "invalid", admitUnverified: false }, 0),
      "rejected-unverified"
    )
    assert.strictEqual(Buckets.observe(table, contact(x, 1), responded, 0), "inserted")
    assert.strictEqual(Buckets.observe(table, contact(x, 2), responded, 0), "rejected-address-conflict")
    assert.strictEqual(table.byKey.get(Buckets.keyOf(x))!.bep42, "exempt")
  })

  it("gives refresh targets inside each stale bucket's range", () => {
    const self = new Uint8Array(20).fill(0x55) as NodeId
    const table = Buckets.empty(self, 8, 0)
    for (let i = 0; i < 500; i++) {
      Buckets.observe(
        table,
        contact(new Uint8Array(20).map(() => Math.floor(Math.random() * 256)) as NodeId, i),
        responded,
        0
      )
    }
    const targets = Buckets.refreshTargets(table, Buckets.GOOD_WINDOW_MS, Buckets.GOOD_WINDOW_MS)
    assert.strictEqual(targets.length, table.buckets.length)
    targets.forEach((t, i) => {
      const cpl = commonPrefixLength(self, t)
      if (i < table.buckets.length - 1) assert.strictEqual(cpl, i)
      else assert.isAtLeast(cpl, i)
    })
    assert.strictEqual(Buckets.refreshTargets(table, Buckets.GOOD_WINDOW_MS + 1, Buckets.GOOD_WINDOW_MS).length, 0)
  })
})
