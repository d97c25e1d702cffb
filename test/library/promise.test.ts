// The promise conveniences for callers without Effect: same code as the Effect API, typed errors as rejections.
import { describe, expect, it } from "vitest"
import { DhtSocketError, openDhtNode } from "../../src/dht/index.js"
import { decodeMessageOrThrow, decodeMessagePromise, KrpcDecodeError } from "../../src/krpc/index.js"
import { fetchMetadataPromise, MetadataUnavailable } from "../../src/metadata/index.js"

const ping = Buffer.from("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe", "latin1")

describe("bitscrape/krpc without Effect", () => {
  it("decodes a datagram, and rejects or throws KrpcDecodeError for a malformed one", async () => {
    expect((await decodeMessagePromise(ping))._tag).toBe("PingQuery")
    expect(decodeMessageOrThrow(ping)._tag).toBe("PingQuery")
    const rejected = await decodeMessagePromise(Buffer.from("not bencode")).catch((e: unknown) => e)
    expect(rejected).toBeInstanceOf(KrpcDecodeError)
    expect(rejected).toBeInstanceOf(Error)
    expect(() => decodeMessageOrThrow(Buffer.from("d1:y1:qe"))).toThrow(KrpcDecodeError)
  })
})

describe("bitscrape/dht without Effect", () => {
  it("binds, bootstraps from another node, looks up, closes; rejects with typed errors", async () => {
    const a = await openDhtNode({ host: "127.0.0.1" })
    const b = await openDhtNode({ host: "127.0.0.2", settings: { maxPps: 1000 } })
    try {
      expect(a.address.host).toBe("127.0.0.1")
      expect(a.nodeId).toMatch(/^[0-9a-f]{40}$/)
      const joined = await b.bootstrap([`${a.address.host}:${a.address.port}`])
      expect(joined.map((c) => c.port)).toContain(a.address.port)
      const found = await b.getPeers("ab".repeat(20))
      expect(found.peers).toEqual([])
      expect(found.responded).toBeGreaterThanOrEqual(1)
      const busy = await openDhtNode({ host: "127.0.0.1", port: a.address.port }).catch((e: unknown) => e)
      expect(busy).toBeInstanceOf(DhtSocketError)
      await expect(b.bootstrap(["router.example:6881"])).rejects.toBeInstanceOf(TypeError)
      await expect(b.getPeers("not an infohash")).rejects.toBeInstanceOf(TypeError)
    } finally {
      await a.close()
      await b.close()
      await b.close()
    }
    await expect(a.getPeers("ab".repeat(20))).rejects.toBeDefined()
  })
})

describe("bitscrape/metadata without Effect", () => {
  it("rejects with MetadataUnavailable when there is no peer", async () => {
    const e = await fetchMetadataPromise("ab".repeat(20), []).catch((e: unknown) => e)
    expect(e).toBeInstanceOf(MetadataUnavailable)
    expect((e as MetadataUnavailable).reason).toBe("NoPeers")
    await expect(fetchMetadataPromise("ab", [])).rejects.toBeInstanceOf(TypeError)
  })
})
