// The compact seen set (issue 16 item 3): 64-bit fingerprints in open-addressing tables, two generations.
import { assert, describe, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { makeSeenSet } from "../../src/crawler/seen.js"

const hex = () => randomBytes(20).toString("hex")

describe("seen set", () => {
  it("remembers every one of the last `capacity` keys, forgets the oldest generation, stays ≤ 2 × capacity", () => {
    const capacity = 50_000
    const seen = makeSeenSet(capacity)
    const keys = Array.from({ length: 4 * capacity }, hex)
    // Every new key is new (no fingerprint collision among 200,000 random keys), and growing tables keep them.
    for (const k of keys) assert.isTrue(seen.add(k))
    assert.isAtMost(seen.size(), 2 * capacity)
    assert.isAtLeast(seen.size(), capacity)
    for (const k of keys.slice(-capacity)) {
      assert.isTrue(seen.has(k))
      assert.isFalse(seen.add(k))
    }
    // The first keys went with their generation.
    assert.isFalse(keys.slice(0, 1000).some((k) => seen.has(k)))
    // Keys that were never added are not seen.
    let falsePositives = 0
    for (let i = 0; i < 100_000; i++) if (seen.has(hex())) falsePositives++
    assert.strictEqual(falsePositives, 0)
  })

  it("any string is a key: empty, short, long, non-ASCII; equal strings are one key", () => {
    const seen = makeSeenSet(10)
    for (const k of ["", "a", "b", "ab", "ba", "é", "💥", "x".repeat(5000)]) assert.isTrue(seen.add(k), k)
    assert.isFalse(seen.add("ab"))
    assert.isFalse(seen.add(["a", "b"].join("")))
    assert.strictEqual(seen.size(), 8)
  })
})
