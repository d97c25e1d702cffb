import { assert, describe, it } from "@effect/vitest"
import { BLOOM_BYTES, bloomOf, emptyBloom, estimateBloomSize, insertIp, unionBlooms } from "../../src/krpc/bep33.js"

/** BEP 33's test vector: 192.0.2.0–255 and 2001:db8::–2001:db8::3e7 (1,256 addresses). */
const vectorHosts = () => [
  ...Array.from({ length: 256 }, (_, i) => `192.0.2.${i}`),
  ...Array.from({ length: 1000 }, (_, i) => `2001:db8::${i.toString(16)}`)
]

describe("BEP 33 Bloom filters", () => {
  it("the published vector: 1,256 inserts estimate 1,224.93", () => {
    const bloom = bloomOf(vectorHosts())
    assert.strictEqual(bloom.length, BLOOM_BYTES)
    assert.closeTo(estimateBloomSize(bloom), 1224.93, 0.005)
  })

  it("empty is 0, one address about 1; a full filter saturates instead of dividing by zero", () => {
    assert.strictEqual(estimateBloomSize(emptyBloom()), 0)
    assert.closeTo(estimateBloomSize(bloomOf(["127.0.0.1"])), 1, 0.5)
    const full = new Uint8Array(BLOOM_BYTES).fill(255)
    assert.isTrue(Number.isFinite(estimateBloomSize(full)))
    assert.closeTo(estimateBloomSize(full), 7805.7, 0.1)
  })

  it("inserting twice changes nothing; union of two halves is the filter of the whole", () => {
    const hosts = vectorHosts()
    const a = bloomOf(hosts.slice(0, 600))
    const b = bloomOf(hosts.slice(500))
    assert.deepStrictEqual(unionBlooms([a, b]), bloomOf(hosts))
    const again = bloomOf(hosts)
    for (const h of hosts.slice(0, 10)) insertIp(again, h)
    assert.deepStrictEqual(again, bloomOf(hosts))
  })

  it("not an IP literal: refused, nothing inserted; a filter of the wrong length counts as nothing", () => {
    const bloom = emptyBloom()
    assert.isFalse(insertIp(bloom, "example.com"))
    assert.deepStrictEqual(bloom, emptyBloom())
    assert.strictEqual(estimateBloomSize(new Uint8Array(10)), 0)
    assert.deepStrictEqual(unionBlooms([new Uint8Array(10)]), emptyBloom())
  })
})
