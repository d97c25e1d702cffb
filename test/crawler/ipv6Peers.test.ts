import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { fetcherConfig } from "../../src/config/FetcherConfig.js"
import { makeMetadataSeeder } from "../../src/demo/seeder.js"
import { cidrs, makeAddressFilter } from "../../src/domain/cidr.js"
import { decodeMessage, encodeMessage, type InfoHash, type NodeId, toHex } from "../../src/krpc/index.js"
import { MetadataFetcher, MetadataFetcherLive } from "../../src/metadata/MetadataFetcher.js"
import { makeBudget, paceHost, paceKey } from "../../src/socket/budget.js"
import { encode } from "../../src/wire/bencode.js"

// Issue 18, item 2: IPv6 peers and the IPv6 side of the address filter and the per-IP pace.

describe("IPv6 bogons (address filter)", () => {
  const open = makeAddressFilter({ allow: [], deny: [], self: [] })

  it("refuses the IPv6 ranges nobody on the public DHT can be reached at", () => {
    for (
      const host of [
        "::",
        "::1",
        "fc00::1",
        "fd12:3456::7",
        "fe80::1",
        "febf:ffff::1",
        "ff02::1",
        "ff0e::1234",
        "2001:db8::1",
        "2001:db8:ffff:1::2"
      ]
    ) assert.strictEqual(open.check(host, 6881), "bogon", host)
    for (const host of ["2001:4860:4860::8888", "2a00:1450::1", "fec0::1", "2001:db9::1", "::2"]) {
      assert.strictEqual(open.check(host, 6881), "ok", host)
    }
  })

  it("judges an IPv4-mapped address (::ffff:0:0/96) as the IPv4 address it carries", () => {
    assert.strictEqual(open.check("::ffff:10.1.2.3", 6881), "bogon")
    assert.strictEqual(open.check("::ffff:127.0.0.1", 6881), "bogon")
    assert.strictEqual(open.check("::ffff:c0a8:101", 6881), "bogon", "192.168.1.1 in hex groups")
    assert.strictEqual(open.check("::ffff:203.0.113.9", 6881), "ok")
    const denyV4 = makeAddressFilter({ allow: [], deny: cidrs("203.0.113.0/24"), self: [] })
    assert.strictEqual(denyV4.check("::ffff:203.0.113.9", 6881), "denied", "an IPv4 deny range catches mapped ones")
    const allowV4 = makeAddressFilter({ allow: cidrs("127.0.0.0/8"), deny: [], self: [] })
    assert.strictEqual(allowV4.check("::ffff:127.0.0.5", 6881), "ok")
    assert.strictEqual(allowV4.check("::1", 6881), "not-allowed", "IPv6 loopback is not in 127.0.0.0/8")
  })

  it("lets ::1 through only when loopback is allowed", () => {
    const loop = makeAddressFilter({ allow: cidrs("127.0.0.0/8,::1"), deny: [], self: [{ host: "::1", port: 7000 }] })
    assert.strictEqual(loop.check("::1", 7001), "ok")
    assert.strictEqual(loop.check("::1", 7000), "self")
    assert.strictEqual(loop.check("fe80::1", 7001), "not-allowed")
  })
})

describe("per-IP pace over IPv6", () => {
  it("treats one /64 as one host, whatever way the address is written", () => {
    assert.strictEqual(paceKey("2001:DB8:0001:0002::1"), paceKey("2001:db8:1:2:ffff:ffff:ffff:ffff"))
    assert.strictEqual(paceKey("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2")
    assert.strictEqual(paceKey("[2001:db8:1:2::9]"), "2001:db8:1:2")
    assert.strictEqual(paceKey("::1"), "0:0:0:0")
    assert.notStrictEqual(paceKey("2001:db8:1:2::1"), paceKey("2001:db8:1:3::1"))
    assert.strictEqual(paceKey("::ffff:192.0.2.1"), "192.0.2.1", "a mapped address is paced with its IPv4 one")
  })

  it("tells local nodes on ::1 apart by port (the only IPv6 loopback address), and nothing else", () => {
    assert.notStrictEqual(paceKey(paceHost("::1", 7000)), paceKey(paceHost("::1", 7001)))
    assert.strictEqual(paceKey(paceHost("::1", 7000)), paceKey(paceHost("::1", 7000)))
    assert.strictEqual(paceKey(paceHost("2001:db8:1:2::1", 7000)), paceKey(paceHost("2001:db8:1:2::2", 7001)))
    assert.strictEqual(paceKey(paceHost("127.0.0.1", 7000)), paceKey(paceHost("127.0.0.1", 7001)))
  })

  it("holds a whole /64 to one query per interval (reserveIp, holdIp, ipFreeAt)", () => {
    const b = makeBudget({ maxPps: 100, burst: 10, perIpIntervalMillis: 1000 }, 0)
    assert.strictEqual(b.reserveIp("2001:db8:5:6::1", 0, 5000), 0)
    assert.strictEqual(b.reserveIp("2001:db8:5:6:a:b:c:d", 0, 5000), 1000, "another address of the /64 waits")
    assert.strictEqual(b.reserveIp("2001:db8:5:7::1", 0, 5000), 0, "the next /64 is another host")
    b.holdIp("2001:db8:5:6::99", 2500)
    assert.strictEqual(b.ipFreeAt("2001:db8:5:6::1234"), 3500)
  })
})

describe("18-byte compact IPv6 peers", () => {
  it("a get_peers reply's `values` mixes 6- and 18-byte peers; both decode", () => {
    const reply = encodeMessage({
      _tag: "Response",
      t: Uint8Array.of(1, 2),
      v: undefined,
      id: randomBytes(20) as Uint8Array as NodeId,
      token: Uint8Array.of(9),
      values: [{ host: "203.0.113.7", port: 6881 }, { host: "2001:4860::1:2", port: 51413 }]
    })
    const decoded = decodeMessage(reply)
    if (decoded._tag !== "Right" || decoded.right._tag !== "Response") return assert.fail("not a response")
    assert.deepStrictEqual(decoded.right.values, [
      { host: "203.0.113.7", port: 6881 },
      { host: "2001:4860::1:2", port: 51413 }
    ])
  })

  it.scopedLive("the metadata fetcher fetches from a peer on [::1]", () =>
    Effect.gen(function*() {
      const info = encode({ name: "over-ipv6", "piece length": 16384, pieces: randomBytes(20), length: 4321 })
      const infoHash = new Uint8Array(createHash("sha1").update(info).digest()) as InfoHash
      const seeder = yield* makeMetadataSeeder("::1", new Map([[toHex(infoHash), info]]))
      const fetcher = yield* Effect.provide(MetadataFetcher, MetadataFetcherLive).pipe(
        Effect.provide(fetcherConfig({}))
      )
      const torrent = yield* fetcher.fetch(infoHash, [{ host: "::1", port: seeder.port }])
      assert.strictEqual(torrent.name, "over-ipv6")
      assert.strictEqual(toHex(torrent.infoHash), toHex(infoHash))
    }), 30_000)
})
