// The scheduler's waiting room on its own (no sockets, times passed in): priorities, backoff, the per-infohash
// peer cap, the dead-peer cache and dropping the least promising infohash when full.
import { assert, describe, it } from "@effect/vitest"
import type { InfoHash } from "../../src/krpc/index.js"
import { makeFetchQueue } from "../../src/metadata/fetchQueue.js"

const hash = (n: number) => Buffer.alloc(20, n) as Uint8Array as InfoHash
const peer = (n: number) => ({ host: `127.50.0.${n}`, port: 6881 })

const queueWith = (o: { maxQueued?: number; maxAttempts?: number; dead?: Map<string, number> } = {}) => {
  let dropped = 0
  const q = makeFetchQueue({
    maxQueued: o.maxQueued ?? 100,
    maxAttempts: o.maxAttempts ?? 3,
    retryBackoffMillis: 1000,
    peersPerInfohash: 2,
    deadUntil: (k) => o.dead?.get(k) ?? 0,
    onDrop: () => dropped++
  })
  return { q, dropped: () => dropped }
}

describe("fetchQueue", () => {
  it("takes more peers, then more announces, then the most recent first", () => {
    const { q } = queueWith()
    q.add(hash(1), [peer(1)], 10)
    q.add(hash(2), [peer(1), peer(2), peer(3)], 11) // most peers
    q.add(hash(3), [peer(1)], 12)
    q.add(hash(3), [peer(1)], 13) // a second announce
    q.add(hash(4), [peer(1)], 14) // same as hash 1, but more recent
    const order = []
    for (let e = q.next(20); e !== undefined; e = q.next(20)) order.push(e.entry.infoHash[0])
    assert.deepStrictEqual(order, [2, 3, 4, 1])
  })

  it("gives at most peersPerInfohash peers per attempt; a failed one retries after the backoff with the rest", () => {
    const { q } = queueWith()
    q.add(hash(1), [peer(1), peer(2), peer(3)], 0)
    const first = q.next(0)!
    assert.deepStrictEqual(first.peers, [peer(1), peer(2)])
    assert.isUndefined(q.next(0), "active: not handed out twice")
    assert.isFalse(q.settle(first.entry, false, 0))
    assert.isUndefined(q.next(999), "backing off")
    assert.strictEqual(q.nextDue(), 1000)
    const second = q.next(1000)!
    assert.deepStrictEqual(second.peers, [peer(3)])
    assert.isFalse(q.settle(second.entry, false, 1000))
    assert.isUndefined(q.next(5000), "no untried peer left: parked")
    q.add(hash(1), [peer(4)], 5000) // a new peer brings it back
    const third = q.next(5000)!
    assert.deepStrictEqual(third.peers, [peer(4)])
    assert.isTrue(q.settle(third.entry, false, 5000), "maxAttempts reached: given up")
    q.add(hash(1), [peer(5)], 6000)
    assert.isUndefined(q.next(6000), "a given-up infohash is not taken again")
    assert.strictEqual(q.size(), 0)
  })

  it("skips dead peers and waits for the first to expire", () => {
    const dead = new Map([[`${peer(1).host}:6881`, 500]])
    const { q } = queueWith({ dead })
    q.add(hash(1), [peer(1)], 0)
    assert.isUndefined(q.next(0))
    assert.strictEqual(q.nextDue(), 500)
    dead.clear()
    assert.deepStrictEqual(q.next(500)?.peers, [peer(1)])
  })

  it("when full, drops the least promising waiting infohash, never an active one", () => {
    const { dropped, q } = queueWith({ maxQueued: 2 })
    q.add(hash(1), [peer(1), peer(2)], 0)
    q.add(hash(2), [peer(1)], 0)
    const active = q.next(0)!
    assert.strictEqual(active.entry.infoHash[0], 1)
    q.add(hash(3), [peer(1), peer(2), peer(3)], 1) // full: hash 2 (waiting, fewer peers) goes, not the active 1
    assert.strictEqual(dropped(), 1)
    assert.strictEqual(q.next(1)?.entry.infoHash[0], 3)
    assert.isUndefined(q.next(1))
    q.settle(active.entry, true, 2)
    assert.strictEqual(q.size(), 1)
  })
})
