import { assert, describe, it } from "@effect/vitest"
import {
  globToLike,
  globToRegExp,
  nameMatcher,
  parseBlockEntry,
  parseBlocklistFile
} from "../../src/repository/blocklist.js"

const HEX = "0123456789abcdef0123456789abcdef01234567"

describe("blocklist entries", () => {
  it("reads infohashes (hex, magnet, infohash:) and name patterns (name: or any other text)", () => {
    assert.deepStrictEqual(parseBlockEntry(HEX.toUpperCase()), { ok: true, entry: { kind: "infohash", value: HEX } })
    assert.deepStrictEqual(parseBlockEntry(`magnet:?xt=urn:btih:${HEX}&dn=x`), {
      ok: true,
      entry: { kind: "infohash", value: HEX }
    })
    assert.deepStrictEqual(parseBlockEntry(`infohash:${HEX}`), { ok: true, entry: { kind: "infohash", value: HEX } })
    assert.deepStrictEqual(parseBlockEntry("name: *cam*"), { ok: true, entry: { kind: "name", value: "*cam*" } })
    assert.deepStrictEqual(parseBlockEntry("Some Name"), { ok: true, entry: { kind: "name", value: "Some Name" } })
  })

  it("refuses what is neither, or would block everything, with a reason", () => {
    for (const bad of ["", "infohash:abc", "magnet:?xt=urn:btih:zz", "name:", "*", "name:***", "x".repeat(201)]) {
      const r = parseBlockEntry(bad)
      assert.isFalse(r.ok, bad)
      if (!r.ok) assert.isAbove(r.error.length, 5)
    }
  })

  it("reads a file: comments, blank lines, reasons after #, errors by line", () => {
    const r = parseBlocklistFile(`# my list\n\n${HEX} # asked by the owner\nname:*sample*\ninfohash:12\n`)
    assert.deepStrictEqual(r.entries, [
      { kind: "infohash", value: HEX, reason: "asked by the owner" },
      { kind: "name", value: "*sample*", reason: undefined }
    ])
    assert.deepStrictEqual(r.errors, ["line 5: \"12\" is not an infohash (40 hex digits)"])
  })
})

describe("name patterns", () => {
  it("match whole names, case-insensitively, * and ? as wildcards, everything else literal", () => {
    const re = globToRegExp("*cam?rip*")
    assert.isTrue(re.test("Movie CAM-RIP 2024"))
    assert.isFalse(re.test("Movie camrip"))
    assert.isTrue(globToRegExp("a.b").test("A.B"))
    assert.isFalse(globToRegExp("a.b").test("axb"))
    assert.isTrue(globToRegExp("(x)[y]+").test("(x)[y]+"))
    assert.strictEqual(nameMatcher(["*foo*", "bar"])("a FOO b"), "*foo*")
    assert.isUndefined(nameMatcher([])("anything"))
  })

  it("become LIKE patterns with % and _ escaped", () => {
    assert.strictEqual(globToLike("*50%_off?"), "%50\\%\\_off_")
    assert.strictEqual(globToLike("a\\b"), "a\\\\b")
  })
})
