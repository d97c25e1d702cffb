import { assert, describe, it } from "@effect/vitest"
import { parseTarget } from "../../src/cli/fetch.js"
import { csvField, humanSize, magnet, parseDate, parseSize, printable } from "../../src/domain/format.js"
import { toHex } from "../../src/krpc/index.js"

describe("CLI parsing and formatting", () => {
  it("reads infohashes and magnets (hex, base32, x.pe peers)", () => {
    const hex = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
    assert.strictEqual(toHex(parseTarget(hex)!.infoHash), hex)
    assert.strictEqual(toHex(parseTarget(hex.toUpperCase())!.infoHash), hex)
    const m = parseTarget(`magnet:?xt=urn:btih:${hex}&dn=x&x.pe=127.0.0.1:6881&x.pe=[::1]:7000&x.pe=bad`)!
    assert.deepStrictEqual(m.peers, [{ host: "127.0.0.1", port: 6881 }, { host: "::1", port: 7000 }])
    const b32 = parseTarget("magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK")!
    assert.strictEqual(toHex(b32.infoHash), hex)
    assert.isUndefined(parseTarget("magnet:?dn=nothing"))
    assert.isUndefined(parseTarget("xyz"))
  })

  it("parses sizes and dates, formats sizes, magnets and CSV safely", () => {
    assert.strictEqual(parseSize("700MB"), 700_000_000)
    assert.strictEqual(parseSize("1.5 GiB"), 1.5 * 2 ** 30)
    assert.strictEqual(parseSize("42"), 42)
    assert.isUndefined(parseSize("lots"))
    assert.isUndefined(parseSize("5 XB"))
    assert.strictEqual(parseDate("2026-01-31"), Date.UTC(2026, 0, 31))
    assert.isUndefined(parseDate("31/01/2026"))
    assert.strictEqual(humanSize(1536), "1.50 KiB")
    assert.include(magnet(Buffer.alloc(20) as never, "a b&c"), "&dn=a%20b%26c")
    assert.strictEqual(csvField("=SUM(A1)"), "'=SUM(A1)")
    assert.strictEqual(csvField("a,\"b\""), "\"a,\"\"b\"\"\"")
    assert.strictEqual(printable("ok\u001b[31mred\u202e"), "ok\uFFFD[31mred\uFFFD")
  })
})
