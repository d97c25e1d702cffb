import { assert, describe, it } from "@effect/vitest"
import bencode from "bencode"
import { Either, FastCheck as fc } from "effect"
import { createHash, randomBytes } from "node:crypto"
import {
  decode,
  decodeAt,
  decodeExtendedHandshake,
  decodeHandshake,
  decodeMetadataMessage,
  encode,
  encodeExtended,
  encodeHandshake,
  isDict,
  makeFrameReader,
  parseInfo,
  WireError
} from "../../src/wire/index.js"

const sha1 = (b: Uint8Array) => createHash("sha1").update(b).digest()
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest()

describe("bencode (wire)", () => {
  it.prop("agrees with npm bencode on what it encodes", [fc.jsonValue()], ([json]) => {
    const toE = (v: unknown): never =>
      (typeof v === "number"
        ? Math.trunc(v) % 1e12 // our reader caps integers at 16 digits (safe integers)
        : typeof v === "boolean"
        ? (v ? 1 : 0)
        : v === null
        ? ""
        : Array.isArray(v)
        ? v.map(toE)
        : typeof v === "object"
        ? Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, toE(x)]))
        : v) as never
    const value = toE(json)
    assert.strictEqual(encode(value).toString("hex"), Buffer.from(bencode.encode(value)).toString("hex"))
    decode(encode(value))
  })

  it("rejects hostile input with an error, never a hang or huge allocation", () => {
    for (
      const bad of [
        "d",
        "l",
        "i-0e",
        "i01e",
        "4294967295:x",
        "d1:ai1e",
        "1:",
        "d1:a",
        "le" + "x",
        "d3:abci1e1:ai2ee1:x"
      ]
    ) {
      assert.throws(() => decode(Buffer.from(bad)))
    }
    assert.throws(() => decode(Buffer.from("l".repeat(10_000) + "e".repeat(10_000))))
  })

  it("reports where a value ends (ut_metadata data is followed by raw bytes)", () => {
    const buf = Buffer.concat([Buffer.from("d8:msg_typei1e5:piecei0ee"), Buffer.from("RAW")])
    assert.strictEqual(decodeAt(buf, 0).end, buf.length - 3)
  })
})

describe("peer wire messages", () => {
  it("handshake round-trips with the extension bit", () => {
    const ih = randomBytes(20)
    const id = randomBytes(20)
    const hs = decodeHandshake(encodeHandshake(ih, id))!
    assert.isTrue(hs.extensions)
    assert.strictEqual(Buffer.from(hs.infoHash).toString("hex"), ih.toString("hex"))
    assert.isUndefined(decodeHandshake(Buffer.alloc(68)))
  })

  it("frame reader splits frames across arbitrary chunking and refuses huge prefixes before buffering", () => {
    const frames = [
      encodeExtended(0, { m: { ut_metadata: 2 }, metadata_size: 31000 }),
      Buffer.alloc(4),
      encodeExtended(2, {
        msg_type: 1,
        piece: 0
      }, randomBytes(100))
    ]
    const all = Buffer.concat(frames)
    for (const step of [1, 3, 7, 64]) {
      const reader = makeFrameReader(1 << 20)
      const got: Array<number | undefined> = []
      for (let i = 0; i < all.length; i += step) {
        reader.push(all.subarray(i, i + step))
        for (let f = reader.next(); f !== undefined; f = reader.next()) got.push(f.id)
      }
      assert.deepStrictEqual(got, [20, undefined, 20])
    }
    const reader = makeFrameReader(1 << 20)
    reader.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 20]))
    assert.throws(() => reader.next(), /exceeds/)
    assert.throws(() => reader.next(), WireError)
  })

  it("parses extended handshakes and ut_metadata messages", () => {
    const ext = decodeExtendedHandshake(encode({ m: { ut_metadata: 3 }, metadata_size: 40000, v: "LT 2.0", reqq: 500 }))
    assert.deepStrictEqual(ext, { utMetadata: 3, metadataSize: 40000, client: "LT 2.0", reqq: 500 })
    const data = decodeMetadataMessage(
      Buffer.concat([encode({ msg_type: 1, piece: 2, total_size: 40000 }), Buffer.from("xyz")])
    )
    assert.deepStrictEqual({ ...data, data: undefined }, { type: "data", piece: 2, totalSize: 40000, data: undefined })
    assert.strictEqual(decodeMetadataMessage(encode({ msg_type: 2, piece: 1 })).type, "reject")
    const reasonOf = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        return e instanceof WireError ? e.reason : "not a WireError"
      }
      return "no error"
    }
    assert.strictEqual(reasonOf(() => decodeMetadataMessage(encode({ piece: 1 }))), "MissingField")
    assert.strictEqual(reasonOf(() => decodeMetadataMessage(encode([1, 2]))), "NotADictionary")
    assert.strictEqual(reasonOf(() => decodeExtendedHandshake(encode("m"))), "NotADictionary")
  })
})

describe("torrent info: verify and parse", () => {
  const v1 = encode({
    name: "Album",
    "piece length": 16384,
    pieces: randomBytes(40),
    files: [
      { length: 100, path: ["CD1", "01 Intro.flac"] },
      { length: 50, path: [".pad", "50"], attr: "p" },
      { length: 0, path: ["empty.txt"] }
    ]
  })

  it("v1: verifies SHA-1, parses files, excludes BEP 47 pad files, keeps the raw bytes", () => {
    const info = Either.getOrThrow(parseInfo(v1, sha1(v1)))
    assert.strictEqual(info.version, "v1")
    assert.deepStrictEqual(info.files.map((f) => [f.path, f.length]), [["CD1/01 Intro.flac", 100], ["empty.txt", 0]])
    assert.strictEqual(info.totalLength, 100)
    assert.strictEqual(Buffer.compare(Buffer.from(info.info), v1), 0)
  })

  it("refuses bytes that do not hash to the infohash", () => {
    const r = parseInfo(v1, randomBytes(20))
    assert.isTrue(Either.isLeft(r) && r.left.reason === "HashMismatch")
  })

  it("v2 and hybrid: file trees, SHA-256 truncated infohash", () => {
    const tree = {
      "file tree": {
        "docs": { "a.txt": { "": { length: 10, "pieces root": randomBytes(32) } } },
        "b.bin": { "": { length: 5 } }
      }
    }
    const v2 = encode({ name: "V2", "piece length": 16384, "meta version": 2, ...tree })
    const info = Either.getOrThrow(parseInfo(v2, sha256(v2).subarray(0, 20)))
    assert.strictEqual(info.version, "v2")
    assert.sameMembers(info.files.map((f) => f.path), ["docs/a.txt", "b.bin"])
    assert.strictEqual(Buffer.from(info.infoHashV2!).toString("hex"), sha256(v2).toString("hex"))
    const hybrid = encode({
      name: "H",
      "piece length": 16384,
      "meta version": 2,
      pieces: randomBytes(20),
      length: 15,
      ...tree
    })
    const h = Either.getOrThrow(parseInfo(hybrid, sha1(hybrid)))
    assert.strictEqual(h.version, "hybrid")
    assert.isDefined(h.infoHashV2)
  })

  it("decodes non-UTF-8 names sensibly and keeps the raw bytes; prefers name.utf-8", () => {
    const latin1 = Buffer.from("Caf\xe9 M\xfcsic", "latin1")
    const d = encode({ name: latin1, "piece length": 16384, pieces: randomBytes(20), length: 1 })
    const info = Either.getOrThrow(parseInfo(d, sha1(d)))
    assert.strictEqual(info.name, "Café Müsic")
    assert.strictEqual(Buffer.compare(Buffer.from(info.nameRaw), latin1), 0)
    const withUtf8 = encode({
      name: latin1,
      "name.utf-8": "Café Müsic ✓",
      "piece length": 16384,
      pieces: randomBytes(20),
      length: 1
    })
    assert.strictEqual(Either.getOrThrow(parseInfo(withUtf8, sha1(withUtf8))).name, "Café Müsic ✓")
  })

  it("never throws on garbage that happens to match its hash", () => {
    for (
      const bytes of [
        Buffer.from("not bencode"),
        encode({ name: 5 }),
        encode([1, 2]),
        encode({ name: "x", pieces: "y" })
      ]
    ) {
      const r = parseInfo(bytes, sha1(bytes))
      assert.isTrue(Either.isLeft(r))
    }
    assert.isTrue(isDict(decode(encode({ a: 1 }))))
  })
})
