import { describe, expect, it } from "vitest"
import { ACTIVE_SOURCES, makeEvidence } from "../../src/crawler/evidence.js"
import type { InfoHash, NodeId } from "../../src/domain/ids.js"
import type { NodeContact } from "../../src/krpc/compact.js"

const hash = (n: number) => new Uint8Array(20).fill(n) as InfoHash
const keyOf = (n: number) => Buffer.from(hash(n)).toString("hex")
const node = (first: number, port = 6881): NodeContact => ({
  id: new Uint8Array(20).fill(first) as NodeId,
  host: "127.0.0.1",
  port
})

describe("evidence store (compact entries)", () => {
  it("records sources, distinct reporters (at most 6), peers, times and samplers", () => {
    const store = makeEvidence(10)
    const t0 = 1_800_000_000_000
    let e = store.note(keyOf(1), hash(1), "sample", node(1), false, t0)
    expect(e.sources & ACTIVE_SOURCES).toBe(0)
    expect(e.samplers.map((s) => s.id[0])).toEqual([1])
    e = store.note(keyOf(1), hash(1), "get_peers", node(1), false, t0 + 5)
    expect(e.reporterCount).toBe(1) // the same node twice
    for (let i = 2; i <= 9; i++) store.note(keyOf(1), hash(1), "announce", node(i), i === 9, t0 + 10 * i)
    expect(e.reporterCount).toBe(6)
    expect(e.sources & ACTIVE_SOURCES).toBe(ACTIVE_SOURCES)
    expect(e.peersKnown).toBe(true)
    expect(e.sightings).toBe(10)
    expect(e.firstSeen).toBe(t0)
    expect(e.lastSeen).toBe(t0 + 90)
    expect(e.infoHash).toEqual(hash(1))
    // 3 sources × 2 + 6 reporters + min(10, 10) / 5 + 1 for the peer
    expect(e.weight).toBe(6 + 6 + 2 + 1)
    // A second entry does not share the first one's arrays.
    const other = store.note(keyOf(2), hash(2), "sample", node(7), false, t0 + 100)
    expect(other.samplers.map((s) => s.id[0])).toEqual([7])
    expect(other.reporterCount).toBe(1)
    expect(e.samplers.map((s) => s.id[0])).toEqual([1])
  })

  it("keeps the counters apart and saturates them at 255", () => {
    const e = makeEvidence(4).note(keyOf(3), hash(3), "lookup", undefined, false, 0)
    e.asked++
    e.lookups += 2
    e.failures = 300
    expect([e.asked, e.lookups, e.failures, e.peersKnown, e.sources]).toEqual([1, 2, 255, false, 8])
    e.peersKnown = true
    e.failures = 0
    expect([e.asked, e.lookups, e.failures, e.peersKnown, e.sources]).toEqual([1, 2, 0, true, 8])
  })

  it("forgets the least recently seen entry beyond its capacity", () => {
    const store = makeEvidence(3)
    const forgotten: Array<string> = []
    store.onForget = (e) => forgotten.push(e.key)
    for (const n of [1, 2, 3]) store.note(keyOf(n), hash(n), "sample", undefined, false, n)
    store.note(keyOf(1), hash(1), "sample", undefined, false, 4) // 1 is fresh again
    store.note(keyOf(4), hash(4), "sample", undefined, false, 5)
    expect(forgotten).toEqual([keyOf(2)])
    expect(store.size()).toBe(3)
    expect(store.get(keyOf(1))?.lastSeen).toBe(4)
  })
})
