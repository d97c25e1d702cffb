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

  it("keeps a node's lone get_peers on probation, in a tier of its own bound", () => {
    const store = makeEvidence(4, true, 2)
    const forgotten: Array<string> = []
    store.onForget = (e) => forgotten.push(e.key)
    // Vouched for: a sample, an announce, a get_peers with a peer, an import (no reporter).
    store.note(keyOf(1), hash(1), "sample", node(1), false, 1)
    store.note(keyOf(2), hash(2), "announce", node(2), false, 2)
    store.note(keyOf(3), hash(3), "get_peers", node(3), true, 3)
    store.note(keyOf(4), hash(4), "get_peers", undefined, false, 4)
    // A flood of get_peers for random infohashes, each from a node of its own: only the probation tier churns.
    for (let n = 100; n < 200; n++) store.note(keyOf(n), hash(n), "get_peers", node(n), false, n)
    expect(store.probationSize()).toBe(2)
    expect(store.size()).toBe(6)
    for (const n of [1, 2, 3, 4, 198, 199]) expect(store.get(keyOf(n))?.key).toBe(keyOf(n))
    expect(forgotten.length).toBe(98)
    expect(forgotten.every((k) => Number.parseInt(k.slice(0, 2), 16) >= 100)).toBe(true)
    // The same node again and a lookup of ours that found nothing keep it there; a second node promotes it.
    store.note(keyOf(199), hash(199), "get_peers", node(199), false, 300)
    store.note(keyOf(199), hash(199), "lookup", undefined, false, 301)
    expect(store.probationSize()).toBe(2)
    const e = store.note(keyOf(199), hash(199), "get_peers", node(7), false, 302)
    expect([e.reporterCount, e.sightings, store.probationSize(), store.size()]).toEqual([2, 4, 1, 5])
    // Promoted, it took the main tier's least recently seen place (the sample's); it stays there from now on.
    expect(forgotten.at(-1)).toBe(keyOf(1))
    store.note(keyOf(199), hash(199), "get_peers", node(7), false, 303)
    expect(store.probationSize()).toBe(1)
    // An announce promotes too.
    store.note(keyOf(198), hash(198), "announce", node(198), false, 304)
    expect(store.probationSize()).toBe(0)
    expect(store.get(keyOf(198))?.sources).toBe(2 | 4)
    // An imported infohash sought (a get_peers without a reporter) is confirmed, even if a node asked first.
    store.note(keyOf(50), hash(50), "get_peers", node(50), false, 305)
    expect(store.probationSize()).toBe(1)
    store.note(keyOf(50), hash(50), "get_peers", undefined, false, 306)
    expect(store.probationSize()).toBe(0)
    expect(store.get(keyOf(50))?.sightings).toBe(2)
  })
})
