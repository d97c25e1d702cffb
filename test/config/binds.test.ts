import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { globalIPv6Addresses } from "../../src/cli/crawl.js"
import { NO_SEQUENCES } from "../../src/config/configFile.js"
import { dhtConfigFromEnv, parseBinds } from "../../src/config/DhtConfig.js"

// Issue 18, item 1: `--bind` / BITSCRAPE_BIND take one address per family; IPv6 is on by default only with a
// global IPv6 address.

const fromEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(
    dhtConfigFromEnv,
    // As src/main.ts reads the environment (lists are one string: NO_SEQUENCES).
    ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_", seqDelim: NO_SEQUENCES }).pipe(
      ConfigProvider.nested("bitscrape"),
      ConfigProvider.constantCase
    )
  )

describe("bind addresses", () => {
  it("one address, or one per family", () => {
    assert.deepStrictEqual(parseBinds("0.0.0.0,::"), { ok: true, value: ["0.0.0.0", "::"] })
    assert.deepStrictEqual(parseBinds("::1, 127.0.0.1"), { ok: true, value: ["::1", "127.0.0.1"] })
    assert.deepStrictEqual(parseBinds("::1"), { ok: true, value: ["::1"] })
    const twoV4 = parseBinds("127.0.0.1,10.0.0.1")
    assert.isFalse(twoV4.ok)
    if (!twoV4.ok) assert.include(twoV4.problem, "two addresses of one family")
    const three = parseBinds("0.0.0.0,::,::1")
    assert.isFalse(three.ok)
    const bad = parseBinds("0.0.0.0,nope")
    assert.deepStrictEqual(bad, { ok: false, problem: `"nope" is not an IP address` })
  })

  it.effect("BITSCRAPE_BIND with two families: host is the first, binds both", () =>
    Effect.gen(function*() {
      const both = yield* fromEnv({ BITSCRAPE_BIND: "127.0.0.5,::1" })
      assert.strictEqual(both.host, "127.0.0.5")
      assert.deepStrictEqual(both.binds, ["127.0.0.5", "::1"])
      const unset = yield* fromEnv({})
      assert.strictEqual(unset.host, "0.0.0.0")
      assert.isUndefined(unset.binds, "unset: crawl decides (global IPv6 or not)")
      const bad = yield* Effect.flip(fromEnv({ BITSCRAPE_BIND: "::1,::2" }))
      assert.include(String(bad), "bind must be an IP address, or one IPv4 and one IPv6 address")
    }))

  it("IPv6 is on by default only when an interface has a global IPv6 address", () => {
    const iface = (address: string, family: "IPv4" | "IPv6", internal = false) => ({
      address,
      family,
      internal,
      netmask: "",
      mac: "00:00:00:00:00:00",
      cidr: null,
      ...(family === "IPv6" ? { scopeid: 0 } : {})
    })
    assert.deepStrictEqual(
      globalIPv6Addresses({
        lo: [iface("127.0.0.1", "IPv4", true), iface("::1", "IPv6", true)],
        eth0: [iface("192.0.2.10", "IPv4"), iface("fe80::1", "IPv6"), iface("fd00::5", "IPv6")]
      } as never),
      [],
      "loopback, link-local and unique-local addresses do not count"
    )
    assert.deepStrictEqual(
      globalIPv6Addresses({ eth0: [iface("fe80::1", "IPv6"), iface("2a01:4f8::10", "IPv6")] } as never),
      ["2a01:4f8::10"]
    )
  })
})
