import { assert, describe, it } from "@effect/vitest"
import { makeBudget, paceKey } from "../../src/socket/budget.js"
import { makeRttEstimator } from "../../src/util/rtt.js"

describe("outbound budget (pure)", () => {
  it("paces each IP: one query per interval, later ones wait their slot, beyond the longest wait refused", () => {
    const b = makeBudget({ maxPps: 100, burst: 10, perIpIntervalMillis: 1000 }, 0)
    assert.strictEqual(b.reserveIp("10.0.0.1", 0, 5000), 0)
    assert.strictEqual(b.reserveIp("10.0.0.1", 100, 5000), 900)
    assert.strictEqual(b.reserveIp("10.0.0.1", 100, 5000), 1900)
    assert.strictEqual(b.reserveIp("10.0.0.1", 100, 1000), -1, "a slot further than the longest wait is refused")
    assert.strictEqual(b.reserveIp("10.0.0.2", 100, 5000), 0, "another IP is free")
    assert.strictEqual(b.ipFreeAt("10.0.0.1"), 3000)
    assert.deepStrictEqual({ ...b.stats }, { ipWaits: 2, ipRefused: 1 })
  })

  it("a query that waits for the packet budget moves its IP's next slot to a pace interval after it leaves", () => {
    const b = makeBudget({ maxPps: 10, burst: 1, perIpIntervalMillis: 1000 }, 0)
    assert.strictEqual(b.reserveIp("192.0.2.1", 0, 5000), 0)
    b.holdIp("192.0.2.1", 300) // its packet leaves at 300 ms
    assert.strictEqual(b.ipFreeAt("192.0.2.1"), 1300)
    assert.strictEqual(b.reserveIp("192.0.2.1", 1000, 5000), 300, "the next query waits until 1,300 ms")
    b.holdIp("192.0.2.1", 100) // an earlier departure never pulls a slot forward
    assert.strictEqual(b.ipFreeAt("192.0.2.1"), 2300)
  })

  it("counts an IPv6 /64 as one host, IPv4 addresses each on their own", () => {
    assert.strictEqual(paceKey("2001:db8:1:2:aaaa::1"), paceKey("2001:db8:1:2:bbbb::2"))
    assert.notStrictEqual(paceKey("2001:db8:1:2::1"), paceKey("2001:db8:1:3::1"))
    assert.strictEqual(paceKey("2001:db8::1"), "2001:db8:0:0")
    assert.strictEqual(paceKey("192.0.2.1"), "192.0.2.1")
    const b = makeBudget({ maxPps: 100, burst: 10, perIpIntervalMillis: 1000 }, 0)
    b.reserveIp("2001:db8:1:2::1", 0, 5000)
    assert.strictEqual(b.reserveIp("2001:db8:1:2::99", 0, 5000), 1000)
  })

  it("a packet budget: a burst at once, then one packet per 1/rate", () => {
    const b = makeBudget({ maxPps: 100, burst: 3, perIpIntervalMillis: 0 }, 0)
    assert.deepStrictEqual([0, 0, 0].map(() => b.reservePacket(0)), [0, 0, 0])
    assert.strictEqual(b.reservePacket(0), 10)
    assert.isFalse(b.tryPacket(0))
    assert.isTrue(b.tryPacket(30))
    assert.strictEqual(b.reserveIp("10.0.0.1", 0, 0), 0, "pace 0 disables the per-IP pace")
    assert.strictEqual(b.reserveIp("10.0.0.1", 0, 0), 0)
  })

  it("forgets IPs whose slot has passed once it holds more than its capacity", () => {
    const b = makeBudget({ maxPps: 100, burst: 10, perIpIntervalMillis: 1000, capacity: 100 }, 0)
    for (let i = 0; i < 1000; i++) b.reserveIp(`10.0.${i >> 8}.${i & 255}`, i * 10, 5000)
    // Entries older than a second carry no constraint: at most the last second's IPs (100) stay, and the first
    // IP is free again.
    assert.strictEqual(b.ipFreeAt("10.0.0.0"), 0)
    assert.strictEqual(b.ipFreeAt(`10.0.3.231`), 9990 + 1000)
  })
})

describe("time-outs from measured round-trip times", () => {
  it("starts at the ceiling, then twice the 98th percentile within [min, max]", () => {
    const rtt = makeRttEstimator({ minMillis: 100, maxMillis: 5000 })
    assert.strictEqual(rtt.timeout(), 5000)
    for (let i = 0; i < 200; i++) rtt.record(50 + (i % 50)) // 50–99 ms
    assert.isAtLeast(rtt.timeout(), 190)
    assert.isAtMost(rtt.timeout(), 200)
    for (let i = 0; i < 600; i++) rtt.record(1)
    assert.strictEqual(rtt.timeout(), 100, "never below the floor")
    for (let i = 0; i < 600; i++) rtt.record(9000)
    assert.strictEqual(rtt.timeout(), 5000, "never above the ceiling")
  })
})
