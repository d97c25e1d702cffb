import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { decodeMessage, encodeMessage, type KrpcMessage } from "../../src/krpc/index.js"
import { krpcMessage } from "../support/krpcArbitraries.js"

// Feeds well over 100k random and mutated datagrams to the decoder: only typed results may come back.
// A seeded generator keeps the run reproducible; the corpus of past troublesome inputs is replayed first.

const REASONS = new Set([
  "NotBencode",
  "NotADictionary",
  "MissingKey",
  "WrongType",
  "BadCompactLength",
  "LengthPrefixTooLarge",
  "IntegerOutOfRange",
  "TooDeep",
  "TrailingBytes",
  "UnknownMessageType"
])

const checkTyped = (bytes: Uint8Array): "ok" | "error" => {
  const r = decodeMessage(bytes) // a throw here fails the test
  if (Either.isRight(r)) {
    // Whatever decodes must encode again.
    encodeMessage(r.right)
    return "ok"
  }
  assert.isTrue(REASONS.has(r.left.reason), `unexpected reason ${r.left.reason}`)
  return "error"
}

/** xorshift32: a tiny seeded generator so the fuzz run is reproducible. */
const rng = (seed: number) => () => {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) / 0x100000000
}

const mutate = (base: Uint8Array, rand: () => number): Uint8Array => {
  const b = Buffer.from(base)
  const edits = 1 + Math.floor(rand() * 4)
  let out: Buffer = b
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rand() * out.length)
    switch (Math.floor(rand() * 6)) {
      case 0: // flip a byte
        out[at] = Math.floor(rand() * 256)
        break
      case 1: // truncate
        out = out.subarray(0, at)
        break
      case 2: // insert a structural byte
        out = Buffer.concat([
          out.subarray(0, at),
          Buffer.from([Buffer.from("dlie:0123456789-")[Math.floor(rand() * 16)]!]),
          out.subarray(at)
        ])
        break
      case 3: // delete a byte
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)])
        break
      case 4: // a hostile length prefix
        out = Buffer.concat([out.subarray(0, at), Buffer.from("99999999:"), out.subarray(at)])
        break
      case 5: // duplicate a slice
        out = Buffer.concat([out.subarray(0, at), out.subarray(at / 2, at), out.subarray(at)])
        break
    }
  }
  return out
}

describe("KRPC decoder fuzzing", () => {
  it("replays the committed corpus", () => {
    const dir = new URL("../fixtures/krpc-corpus/", import.meta.url)
    const files = readdirSync(dir)
    assert.isAbove(files.length, 0)
    for (const f of files) checkTyped(readFileSync(new URL(f, dir)))
  })

  it("returns only typed results for 120k random and mutated datagrams", () => {
    const rand = rng(0x5eed1234)
    const seeds: Array<Uint8Array> = fc.sample(krpcMessage, { numRuns: 400, seed: 42 }).map((m: KrpcMessage) =>
      encodeMessage(m)
    )
    let ok = 0
    let errors = 0
    for (let i = 0; i < 60_000; i++) {
      const r = checkTyped(mutate(seeds[i % seeds.length]!, rand))
      if (r === "ok") ok++
      else errors++
    }
    for (let i = 0; i < 60_000; i++) {
      const len = Math.floor(rand() * 200)
      const bytes = new Uint8Array(len)
      // Bias random bytes towards bencode's alphabet so the decoder gets past the first byte.
      for (let j = 0; j < len; j++) {
        bytes[j] = rand() < 0.5
          ? Buffer.from("d1:ie0l9:2")[Math.floor(rand() * 10)]!
          : Math.floor(rand() * 256)
      }
      if (rand() < 0.5) bytes[0] = 0x64
      if (checkTyped(bytes) === "ok") ok++
      else errors++
    }
    assert.strictEqual(ok + errors, 120_000)
    // Mutations keep some messages valid; most become errors. Both paths were exercised.
    assert.isAbove(ok, 100)
    assert.isAbove(errors, 50_000)
  })
})
