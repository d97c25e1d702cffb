import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc, Schema } from "effect"
import { randomIdBytes } from "../../src/domain/ids.js"
import { neighbourOf, randomTarget } from "../../src/domain/keyspace.js"
import {
  checkNodeId,
  commonPrefixLength,
  compareDistance,
  crc32c,
  distance,
  InfoHash,
  infoHashFromHex,
  NodeId,
  nodeIdFromHex,
  secureNodeId,
  toHex
} from "../../src/krpc/index.js"

const id = fc.uint8Array({ minLength: 20, maxLength: 20 })

describe("ids and the XOR metric", () => {
  it("brands only 20-byte values", () => {
    assert.isTrue(Schema.is(NodeId)(new Uint8Array(20)))
    assert.isFalse(Schema.is(NodeId)(new Uint8Array(19)))
    assert.isFalse(Schema.is(InfoHash)(new Uint8Array(21)))
  })

  it("parses and prints hex", () => {
    const h = "0123456789abcdef0123456789abcdef01234567"
    assert.strictEqual(toHex(nodeIdFromHex(h)!), h)
    assert.strictEqual(toHex(infoHashFromHex(h.toUpperCase())!), h)
    assert.isUndefined(infoHashFromHex("xyz"))
    assert.isUndefined(infoHashFromHex(h + "0"))
  })

  it.prop("distance is symmetric and zero only to itself", [id, id], ([a, b]) => {
    assert.deepStrictEqual(distance(a, b), distance(b, a))
    assert.strictEqual(distance(a, a).every((x) => x === 0), true)
  })

  it.prop(
    "compareDistance orders by the XOR metric (triangle: d(a,c) <= d(a,b) xor d(b,c) as numbers)",
    [id, id, id],
    ([t, a, b]) => {
      const toBig = (x: Uint8Array) => BigInt("0x" + (toHex(x) || "0"))
      const da = toBig(distance(t, a))
      const db = toBig(distance(t, b))
      const c = compareDistance(t, a, b)
      assert.strictEqual(Math.sign(c), da < db ? -1 : da > db ? 1 : 0)
    }
  )

  it.prop("commonPrefixLength counts the shared leading bits", [id, id], ([a, b]) => {
    const n = commonPrefixLength(a, b)
    const bits = (x: Uint8Array) => Array.from(x, (byte) => byte.toString(2).padStart(8, "0")).join("")
    const [x, y] = [bits(a), bits(b)]
    let expected = 0
    while (expected < 160 && x[expected] === y[expected]) expected++
    assert.strictEqual(n, expected)
  })
})

describe("random ids from the pool", () => {
  it("gives 20 bytes of its own each time, distinct across pool refills", () => {
    const drawn = Array.from({ length: 1000 }, () => randomIdBytes()) // 20,000 bytes: several 4 KiB refills
    assert.isTrue(drawn.every((b) => b.length === 20))
    assert.strictEqual(new Set(drawn.map(toHex)).size, drawn.length)
    // Each is a copy: changing one changes no other, and later draws do not overwrite it.
    const first = toHex(drawn[0]!)
    drawn[1]!.fill(0)
    for (let i = 0; i < 300; i++) randomIdBytes()
    assert.strictEqual(toHex(drawn[0]!), first)
  })

  it("keeps targets inside the areas and neighbours next to their id", () => {
    const area = { prefix: Buffer.from("ab", "hex"), bits: 8, text: "ab/8" }
    for (let i = 0; i < 50; i++) assert.strictEqual(randomTarget([area])[0], 0xab)
    const id = randomIdBytes()
    assert.strictEqual(toHex(neighbourOf(id)).slice(0, 30), toHex(id).slice(0, 30))
  })
})

describe("BEP 42 secure node ids", () => {
  // The BEP's published table: IP, rand, example node id.
  const vectors: ReadonlyArray<[string, number, string]> = [
    ["124.31.75.21", 1, "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401"],
    ["21.75.31.124", 86, "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256"],
    ["65.23.51.170", 22, "a5d43220bc8f112a3d426c84764f8c2a1150e616"],
    ["84.124.73.14", 65, "1b0321dd1bb1fe518101ceef99462b947a01ff41"],
    ["43.213.53.83", 90, "e56f6cbf5b7c4be0237986d5243b87aa6d51305a"]
  ]

  it("CRC32-C matches its check value", () => {
    assert.strictEqual(crc32c(Buffer.from("123456789")), 0xe3069283)
  })

  for (const [ip, rand, example] of vectors) {
    it(`${ip} (r=${rand}): generated ids share the BEP's 21-bit prefix and validate`, () => {
      const generated = secureNodeId(ip, rand)!
      const expected = Buffer.from(example, "hex")
      assert.strictEqual(generated[0], expected[0])
      assert.strictEqual(generated[1], expected[1])
      assert.strictEqual(generated[2]! & 0xf8, expected[2]! & 0xf8)
      assert.strictEqual(generated[19], rand)
      assert.strictEqual(checkNodeId(generated, ip), "valid")
      assert.strictEqual(checkNodeId(expected, ip), "valid")
    })
  }

  it("rejects ids that do not match the address", () => {
    assert.strictEqual(
      checkNodeId(Buffer.from("5cbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401", "hex"), "124.31.75.21"),
      "invalid"
    )
    assert.strictEqual(checkNodeId(Buffer.from(vectors[0]![2], "hex"), "21.75.31.124"), "invalid")
  })

  it("exempts local addresses and validates IPv6", () => {
    assert.strictEqual(checkNodeId(new Uint8Array(20), "127.0.0.1"), "exempt")
    assert.strictEqual(checkNodeId(new Uint8Array(20), "192.168.1.1"), "exempt")
    assert.strictEqual(checkNodeId(new Uint8Array(20), "::1"), "exempt")
    const v6 = secureNodeId("2001:db8::1")!
    assert.strictEqual(checkNodeId(v6, "2001:db8::1"), "valid")
  })
})
