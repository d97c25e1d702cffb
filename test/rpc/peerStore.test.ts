import { assert, describe, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import type { InfoHash } from "../../src/krpc/index.js"
import { makePeerStore } from "../../src/rpc/peerStore.js"
import { makeTokenIssuer, TOKEN_EPOCH_MS } from "../../src/rpc/tokens.js"

const ih = () => randomBytes(20) as Uint8Array as InfoHash

describe("announced peer store", () => {
  it("expires peers after their TTL", () => {
    const store = makePeerStore({ ttlMillis: 1000, maxInfohashes: 10, maxPeers: 10 })
    const h = ih()
    store.announce(h, { host: "127.0.0.1", port: 1 }, 0)
    assert.strictEqual(store.peers(h, 999, 50).length, 1)
    assert.strictEqual(store.peers(h, 1000, 50).length, 0)
    assert.deepStrictEqual(store.size(), { infohashes: 0, peers: 0 })
  })

  it("bounds infohashes (least recently announced evicted) and peers per infohash (oldest evicted)", () => {
    const store = makePeerStore({ ttlMillis: 60_000, maxInfohashes: 3, maxPeers: 2 })
    const hashes = [ih(), ih(), ih(), ih()]
    hashes.forEach((h, i) => store.announce(h, { host: "127.0.0.1", port: i + 1 }, 0))
    assert.strictEqual(store.size().infohashes, 3)
    assert.strictEqual(store.peers(hashes[0]!, 0, 10).length, 0)
    for (let p = 1; p <= 5; p++) store.announce(hashes[3]!, { host: "127.0.0.2", port: p }, 0)
    assert.deepStrictEqual(store.peers(hashes[3]!, 0, 10).map((x) => x.port).sort(), [4, 5])
    assert.strictEqual(store.size().peers, 2 + 2)
    const { num, samples } = store.sample(20, 0)
    assert.strictEqual(num, 3)
    assert.strictEqual(samples.length, 3)
  })

  it("tokens are bound to the IP and accepted for one extra epoch", () => {
    const tokens = makeTokenIssuer()
    const t = tokens.make("127.0.0.1", 0)
    assert.isTrue(tokens.verify(t, "127.0.0.1", TOKEN_EPOCH_MS * 2 - 1))
    assert.isFalse(tokens.verify(t, "127.0.0.1", TOKEN_EPOCH_MS * 2))
    assert.isFalse(tokens.verify(t, "127.0.0.2", 0))
  })
})
