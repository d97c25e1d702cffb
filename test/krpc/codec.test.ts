import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck as fc, Schema } from "effect"
import { decodeMessage, encodeMessage, KrpcMessage, toHex } from "../../src/krpc/index.js"
import { decodeGeneric } from "../support/genericKrpc.js"
import { krpcMessage, normalize } from "../support/krpcArbitraries.js"

const b = (s: string) => Buffer.from(s, "latin1")
const ok = (s: string) => {
  const r = decodeMessage(b(s))
  if (Either.isLeft(r)) assert.fail(`expected a message, got ${r.left.reason} (${r.left.key})`)
  return r.right
}
const reasonOf = (bytes: Uint8Array) => {
  const r = decodeMessage(bytes)
  return Either.isLeft(r) ? r.left.reason : "ok"
}

describe("KRPC codec: BEP 5 example messages", () => {
  const vectors: ReadonlyArray<[string, string]> = [
    ["ping query", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"],
    ["ping response", "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re"],
    ["find_node query", "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe"],
    [
      "find_node response",
      "d1:rd2:id20:0123456789abcdefghij5:nodes26:mnopqrstuvwxyz123456\x7f\x00\x00\x01\x1a\xe1e1:t2:aa1:y1:re"
    ],
    [
      "get_peers query",
      "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe"
    ],
    [
      "get_peers response with values",
      "d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re"
    ],
    [
      "announce_peer query",
      "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe"
    ],
    ["error", "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee"],
    // BEP 51
    [
      "sample_infohashes query",
      "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q17:sample_infohashes1:t2:aa1:y1:qe"
    ],
    [
      "sample_infohashes response",
      "d1:rd2:id20:abcdefghij01234567898:intervali21600e5:nodes0:3:numi2e7:samples40:0123456789abcdefghijklmnopqrstuvwxyz0123e1:t2:aa1:y1:re"
    ],
    // BEP 32, 42, 43 and `v`
    [
      "want n4/n6",
      "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:wantl2:n42:n6ee1:q9:find_node1:t2:aa1:y1:qe"
    ],
    [
      "ip and v in a response",
      "d2:ip6:\x7f\x00\x00\x01\x1a\xe11:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:v4:LT\x01\x001:y1:re"
    ],
    ["read-only query", "d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi1e1:t2:aa1:y1:qe"]
  ]

  for (const [name, wire] of vectors) {
    it(`${name}: decodes, validates against the Schema, and re-encodes byte-exact`, () => {
      const message = ok(wire)
      assert.isTrue(Schema.is(KrpcMessage)(message), "decoded message satisfies the Schema")
      assert.strictEqual(encodeMessage(message).toString("latin1"), wire)
    })
  }

  it("reads the fields of each example", () => {
    const announce = ok(vectors[6]![1])
    assert.strictEqual(announce._tag, "AnnouncePeerQuery")
    if (announce._tag !== "AnnouncePeerQuery") return
    assert.strictEqual(announce.port, 6881)
    assert.strictEqual(announce.implied_port, true)
    assert.strictEqual(Buffer.from(announce.token).toString(), "aoeusnth")

    const peers = ok(vectors[5]![1])
    assert.strictEqual(peers._tag, "Response")
    if (peers._tag !== "Response") return
    assert.deepStrictEqual(peers.values, [{ host: "97.120.106.101", port: 11893 }, {
      host: "105.100.104.116",
      port: 28269
    }])

    const nodes = ok(vectors[3]![1])
    if (nodes._tag !== "Response") return assert.fail("response expected")
    assert.deepStrictEqual(nodes.nodes?.map((n) => [n.host, n.port]), [["127.0.0.1", 6881]])

    const error = ok(vectors[7]![1])
    if (error._tag !== "ErrorMessage") return assert.fail("error expected")
    assert.strictEqual(error.code, 201)
    assert.strictEqual(error.message, "A Generic Error Ocurred")

    const sample = ok(vectors[9]![1])
    if (sample._tag !== "Response") return assert.fail("response expected")
    assert.strictEqual(sample.interval, 21600)
    assert.strictEqual(sample.num, 2)
    assert.deepStrictEqual(sample.samples?.map(toHex), [
      b("0123456789abcdefghij").toString("hex"),
      b("klmnopqrstuvwxyz0123").toString("hex")
    ])
    const ip = ok(vectors[11]![1])
    if (ip._tag !== "Response") return assert.fail("response expected")
    assert.deepStrictEqual(ip.ip, { host: "127.0.0.1", port: 6881 })
    assert.strictEqual(ok(vectors[12]![1])._tag === "PingQuery" && (ok(vectors[12]![1]) as { ro?: boolean }).ro, true)
  })

  it("answers unknown methods with an UnknownQuery that keeps t and the method name", () => {
    const m = ok("d1:ad2:id20:abcdefghij0123456789e1:q3:put1:t2:xy1:y1:qe")
    assert.strictEqual(m._tag, "UnknownQuery")
    if (m._tag !== "UnknownQuery") return
    assert.strictEqual(m.method, "put")
    assert.strictEqual(Buffer.from(m.t).toString(), "xy")
  })

  it("skips unknown keys at every level", () => {
    const m = ok("d1:ad2:id20:abcdefghij01234567895:extrali1ed1:xleeee1:q4:ping1:t2:aa5:zzzzzi3e1:y1:qe")
    assert.strictEqual(m._tag, "PingQuery")
  })
})

describe("KRPC codec: malformed input gives a typed reason", () => {
  const cases: ReadonlyArray<[string, string, string]> = [
    ["empty", "", "NotADictionary"],
    ["a list", "le", "NotADictionary"],
    ["truncated", "d1:ad2:id20:abcdefghij", "LengthPrefixTooLarge"],
    ["hostile length prefix", "d1:t99999999:", "LengthPrefixTooLarge"],
    ["overlong length prefix", "d1:t999999999999:x", "NotBencode"],
    ["missing t", "d1:rd2:id20:mnopqrstuvwxyz123456e1:y1:re", "MissingKey"],
    ["missing y", "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aae", "MissingKey"],
    ["unknown y", "d1:t2:aa1:y1:ze", "UnknownMessageType"],
    ["short id", "d1:rd2:id3:abce1:t2:aa1:y1:re", "WrongType"],
    ["nodes of bad length", "d1:rd2:id20:mnopqrstuvwxyz1234565:nodes3:abce1:t2:aa1:y1:re", "BadCompactLength"],
    ["samples of bad length", "d1:rd2:id20:mnopqrstuvwxyz1234567:samples3:abce1:t2:aa1:y1:re", "BadCompactLength"],
    ["leading zero", "d1:rd2:id20:mnopqrstuvwxyz1234563:numi01ee1:t2:aa1:y1:re", "NotBencode"],
    ["negative zero", "d1:rd2:id20:mnopqrstuvwxyz1234563:numi-0ee1:t2:aa1:y1:re", "NotBencode"],
    ["huge integer", "d1:rd2:id20:mnopqrstuvwxyz1234563:numi9999999999999999999ee1:t2:aa1:y1:re", "IntegerOutOfRange"],
    ["negative num", "d1:rd2:id20:mnopqrstuvwxyz1234563:numi-5ee1:t2:aa1:y1:re", "IntegerOutOfRange"],
    [
      "port out of range",
      "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti70000e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe",
      "IntegerOutOfRange"
    ],
    ["trailing bytes", "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:rexyz", "TrailingBytes"],
    ["unterminated dict", "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:r", "NotBencode"],
    ["integer where id belongs", "d1:ad2:idi5ee1:q4:ping1:t2:aa1:y1:qe", "WrongType"],
    ["get_peers without info_hash", "d1:ad2:id20:abcdefghij0123456789e1:q9:get_peers1:t2:aa1:y1:qe", "MissingKey"]
  ]
  for (const [name, wire, reason] of cases) {
    it(name, () => assert.strictEqual(reasonOf(b(wire)), reason))
  }

  it("rejects deep nesting without recursion blow-up", () => {
    const bomb = b("d1:x" + "l".repeat(200_000) + "e".repeat(200_000) + "1:t2:aa1:y1:re")
    assert.strictEqual(reasonOf(bomb), "TooDeep")
  })
})

describe("KRPC codec: properties", () => {
  it.prop("encode then decode gives the same message", [krpcMessage], ([message]) => {
    const decoded = decodeMessage(encodeMessage(message))
    assert.isTrue(Either.isRight(decoded))
    assert.deepStrictEqual(normalize(Either.getOrThrow(decoded)), normalize(message))
  }, { fastCheck: { numRuns: 2000 } })

  it.prop("agrees with bencode.decode + the same validation on valid messages", [krpcMessage], ([message]) => {
    const wire = encodeMessage(message)
    const fast = decodeMessage(wire)
    const generic = decodeGeneric(wire)
    assert.deepStrictEqual(normalize(Either.getOrThrow(fast)), normalize(Either.getOrThrow(generic)))
  }, { fastCheck: { numRuns: 1000 } })

  it.prop("encodes in canonical bencode (what npm bencode would write)", [krpcMessage], ([message]) => {
    const wire = encodeMessage(message)
    const generic = decodeGeneric(wire)
    assert.isTrue(Either.isRight(generic))
    const reencoded = encodeMessage(Either.getOrThrow(generic))
    assert.strictEqual(wire.toString("hex"), reencoded.toString("hex"))
  }, { fastCheck: { numRuns: 500 } })

  it.prop("decoded messages satisfy the Schema", [krpcMessage], ([message]) => {
    assert.isTrue(Schema.is(KrpcMessage)(Either.getOrThrow(decodeMessage(encodeMessage(message)))))
  }, { fastCheck: { numRuns: 500 } })

  it("never throws on arbitrary bytes (FastCheck)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = decodeMessage(bytes)
        return Either.isLeft(r) || Either.isRight(r)
      }),
      { numRuns: 5000 }
    )
  })
})
