import { assert, describe, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { makeKnownNodes } from "../../src/crawler/knownNodes.js"
import { makeSeenSet } from "../../src/crawler/seen.js"
import { makeAddressFilter, parseCidr, parseCidrList } from "../../src/domain/cidr.js"
import { inArea, inAreas, neighbourOf, parseArea, parseAreaList, randomTarget } from "../../src/domain/keyspace.js"
import type { NodeId } from "../../src/krpc/index.js"
import { makeBudget } from "../../src/socket/budget.js"

const ok = <A>(r: { readonly ok: true; readonly value: A } | { readonly ok: false; readonly bad: string }): A => {
  if (!r.ok) throw new Error(`unexpected bad entry ${r.bad}`)
  return r.value
}

describe("address filter", () => {
  const allow = (list: string) => ok(parseCidrList(list))
  it("drops bogons by default, and lets an explicit allow range through", () => {
    const f = makeAddressFilter({ allow: [], deny: [], self: [{ host: "127.0.0.1", port: 6881 }] })
    assert.strictEqual(f.check("127.0.0.5", 6881), "bogon")
    assert.strictEqual(f.check("10.1.2.3", 6881), "bogon")
    assert.strictEqual(f.check("224.0.0.1", 6881), "bogon")
    assert.strictEqual(f.check("255.255.255.255", 6881), "bogon")
    assert.strictEqual(f.check("0.1.2.3", 6881), "bogon")
    assert.strictEqual(f.check("fe80::1", 6881), "bogon")
    assert.strictEqual(f.check("203.0.113.9", 0), "port-zero")
    assert.strictEqual(f.check("203.0.113.9", 6881), "ok")
    assert.strictEqual(f.check("not-an-ip", 6881), "not-an-ip")
    const loop = makeAddressFilter({
      allow: allow("127.0.0.0/8"),
      deny: allow("127.9.0.0/16"),
      self: [{ host: "127.0.0.1", port: 6881 }]
    })
    assert.strictEqual(loop.check("127.0.0.5", 6881), "ok")
    assert.strictEqual(loop.check("127.0.0.1", 6881), "self")
    assert.strictEqual(loop.check("127.9.1.1", 6881), "denied")
    assert.strictEqual(loop.check("203.0.113.9", 6881), "not-allowed")
    loop.ban("127.0.0.5")
    assert.strictEqual(loop.check("127.0.0.5", 1), "banned")
  })

  it("parses CIDRs and rejects malformed ones", () => {
    assert.strictEqual(parseCidr("10.0.0.0/8")?.bits, 8)
    assert.strictEqual(parseCidr("::1")?.bits, 128)
    assert.isUndefined(parseCidr("10.0.0.0/33"))
    assert.isUndefined(parseCidr("10.0.0/8"))
    assert.isUndefined(parseCidr("x/8"))
    assert.deepStrictEqual(parseCidrList("10.0.0.0/8, bad"), { ok: false, bad: "bad" })
  })
})

describe("keyspace areas (--target)", () => {
  it("parses hex prefixes with optional bit lengths", () => {
    assert.strictEqual(parseArea("0a")?.bits, 8)
    assert.strictEqual(parseArea("7f00/12")?.bits, 12)
    assert.strictEqual(parseArea("abc")?.bits, 12)
    assert.isUndefined(parseArea("7f/12"))
    assert.isUndefined(parseArea("xyz"))
    assert.deepStrictEqual(parseAreaList("0a,zz"), { ok: false, bad: "zz" })
  })
  it("random targets fall inside the areas", () => {
    const areas = ok(parseAreaList("0a,7f00/12"))
    for (let i = 0; i < 200; i++) assert.isTrue(inAreas(areas, randomTarget(areas)))
    const a = parseArea("7f00/12")!
    assert.isTrue(inArea(a, Buffer.from("7f0" + "f".repeat(37), "hex")))
    assert.isFalse(inArea(a, Buffer.from("7f1" + "0".repeat(37), "hex")))
    assert.isTrue(inAreas([], randomBytes(20)))
  })
  it("neighbourOf keeps the first 15 bytes", () => {
    const id = randomBytes(20)
    assert.strictEqual(Buffer.from(neighbourOf(id)).subarray(0, 15).toString("hex"), id.subarray(0, 15).toString("hex"))
  })
})

describe("bounded structures", () => {
  it("known nodes evict the least recently seen beyond capacity and hand out fresh ones once", () => {
    const known = makeKnownNodes(3)
    const c = (i: number) => ({ id: randomBytes(20) as Uint8Array as NodeId, host: `127.0.0.${i}`, port: 1 })
    for (let i = 1; i <= 3; i++) known.add(c(i), i)
    known.add(c(1), 10) // seen again: most recent now
    known.add(c(4), 11)
    assert.strictEqual(known.size(), 3)
    assert.isUndefined(known.get("127.0.0.2", 1))
    assert.isDefined(known.get("127.0.0.1", 1))
    assert.deepStrictEqual(known.takeFresh(10).map((n) => n.contact.host), ["127.0.0.1", "127.0.0.3", "127.0.0.4"])
    assert.deepStrictEqual(known.takeFresh(10), [])
    assert.strictEqual(known.evicted(), 1)
  })
  it("known nodes report every node that leaves, evicted or removed, once", () => {
    const gone: Array<string> = []
    const known = makeKnownNodes(2, () => true, (n) => gone.push(n.host))
    const c = (i: number) => ({ id: randomBytes(20) as Uint8Array as NodeId, host: `127.0.0.${i}`, port: 1 })
    const first = known.add(c(1), 1)
    known.add(c(2), 2)
    known.add(c(3), 3) // evicts 127.0.0.1
    known.remove(first) // already gone: not reported twice
    known.remove(known.get("127.0.0.2", 1)!)
    assert.deepStrictEqual(gone, ["127.0.0.1", "127.0.0.2"])
    assert.strictEqual(known.size(), 1)
  })
  it("the seen set remembers at least `capacity` keys and never more than twice that", () => {
    const seen = makeSeenSet(100)
    for (let i = 0; i < 1000; i++) assert.isTrue(seen.add(`k${i}`))
    for (let i = 900; i < 1000; i++) assert.isFalse(seen.add(`k${i}`))
    assert.isAtMost(seen.size(), 200)
  })
  it("the per-IP pace allows one query per interval per IP", () => {
    const pace = makeBudget({ maxPps: 100, burst: 10, perIpIntervalMillis: 1000 }, 0)
    assert.strictEqual(pace.reserveIp("127.0.0.1", 0, 0), 0)
    assert.strictEqual(pace.reserveIp("127.0.0.1", 999, 0), -1)
    assert.strictEqual(pace.reserveIp("127.0.0.2", 999, 0), 0)
    assert.strictEqual(pace.reserveIp("127.0.0.1", 1000, 0), 0)
  })
})
