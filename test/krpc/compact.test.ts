import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import {
  decodeNodes,
  decodePeer,
  encodeNodes,
  encodePeer,
  formatIPv6,
  isLoopback,
  NODE4_LENGTH,
  NODE6_LENGTH,
  parseIPv4,
  parseIPv6
} from "../../src/krpc/index.js"

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

describe("compact node and peer info", () => {
  it.prop("26-byte IPv4 node infos round-trip byte-exact", [
    fc.array(fc.uint8Array({ minLength: 26, maxLength: 26 }), { maxLength: 16 })
  ], ([items]) => {
    const wire = Buffer.concat(items)
    const nodes = decodeNodes(wire, 4)!
    assert.strictEqual(nodes.length, items.length)
    assert.strictEqual(hex(encodeNodes(nodes, 4)), hex(wire))
  })

  it.prop("38-byte IPv6 node infos round-trip byte-exact", [
    fc.array(fc.uint8Array({ minLength: 38, maxLength: 38 }), { maxLength: 16 })
  ], ([items]) => {
    const wire = Buffer.concat(items)
    const nodes = decodeNodes(wire, 6)!
    assert.strictEqual(hex(encodeNodes(nodes, 6)), hex(wire))
  })

  it.prop("6- and 18-byte peer infos round-trip byte-exact", [
    fc.oneof(fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.uint8Array({ minLength: 18, maxLength: 18 }))
  ], ([wire]) => {
    assert.strictEqual(hex(encodePeer(decodePeer(wire)!)!), hex(wire))
  })

  it("rejects lengths that are not a multiple of the entry size", () => {
    assert.isUndefined(decodeNodes(new Uint8Array(NODE4_LENGTH + 1), 4))
    assert.isUndefined(decodeNodes(new Uint8Array(NODE6_LENGTH - 1), 6))
    assert.isUndefined(decodePeer(new Uint8Array(7)))
  })

  it("decodes a known IPv4 node", () => {
    const wire = Buffer.concat([Buffer.alloc(20, 0xab), Buffer.from([127, 0, 3, 4, 0x1a, 0xe1])])
    assert.deepStrictEqual(decodeNodes(wire, 4)!.map((n) => [hex(n.id), n.host, n.port]), [[
      "ab".repeat(20),
      "127.0.3.4",
      6881
    ]])
  })

  it("formats IPv6 per RFC 5952 and parses it back", () => {
    const cases: ReadonlyArray<[string, string]> = [
      ["::1", "00000000000000000000000000000001"],
      ["::", "00000000000000000000000000000000"],
      ["2001:db8::1", "20010db8000000000000000000000001"],
      ["2001:db8:0:1:1:1:1:1", "20010db8000000010001000100010001"],
      ["fe80::1:0:0:1", "fe800000000000000001000000000001"]
    ]
    for (const [text, bytes] of cases) {
      assert.strictEqual(formatIPv6(Buffer.from(bytes, "hex"), 0), text)
      assert.strictEqual(hex(parseIPv6(text)!), bytes)
    }
    assert.strictEqual(hex(parseIPv6("::ffff:127.0.0.1")!), "00000000000000000000ffff7f000001")
    assert.isUndefined(parseIPv6("1:2:3"))
    assert.isUndefined(parseIPv6("1::2::3"))
    assert.isUndefined(parseIPv4("256.1.1.1"))
    assert.isUndefined(parseIPv4("localhost"))
  })

  it("knows loopback", () => {
    assert.isTrue(isLoopback("127.0.0.1"))
    assert.isTrue(isLoopback("127.45.6.7"))
    assert.isTrue(isLoopback("::1"))
    assert.isTrue(isLoopback("::ffff:127.0.0.2"))
    assert.isFalse(isLoopback("128.0.0.1"))
    assert.isFalse(isLoopback("::2"))
    assert.isFalse(isLoopback("localhost.example"))
  })
})
