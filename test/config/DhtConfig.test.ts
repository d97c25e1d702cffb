import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Option } from "effect"
import { dhtConfigFromEnv, dhtDefaults } from "../../src/config/DhtConfig.js"

const fromEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(
    dhtConfigFromEnv,
    ConfigProvider.fromMap(new Map(Object.entries(env)), { pathDelim: "_" }).pipe(
      ConfigProvider.nested("bitscrape"),
      ConfigProvider.constantCase
    )
  )

describe("DhtConfig from BITSCRAPE_*", () => {
  it.effect("uses the defaults when nothing is set", () =>
    Effect.gen(function*() {
      const config = yield* fromEnv({})
      assert.strictEqual(config.maxPps, dhtDefaults.maxPps)
      assert.isTrue(Option.isNone(config.nodeId))
    }))

  it.effect("reads every kind of setting", () =>
    Effect.gen(function*() {
      const config = yield* fromEnv({
        BITSCRAPE_BIND: "127.0.0.5",
        BITSCRAPE_PORT: "7000",
        BITSCRAPE_MAX_PPS: "50",
        BITSCRAPE_QUERY_TIMEOUT: "2 seconds",
        BITSCRAPE_READ_ONLY: "true",
        BITSCRAPE_NODE_ID: "ab".repeat(20)
      })
      assert.strictEqual(config.host, "127.0.0.5")
      assert.strictEqual(config.port, 7000)
      assert.strictEqual(config.maxPps, 50)
      assert.isTrue(Duration.equals(config.queryTimeout, Duration.seconds(2)))
      assert.isTrue(config.readOnly)
      assert.isTrue(Option.isSome(config.nodeId))
    }))

  it.effect("rejects invalid values with a message naming the setting", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.flip(fromEnv({ BITSCRAPE_MAX_PPS: "-3" }))
      assert.include(String(bad), "maxPps")
      const id = yield* Effect.flip(fromEnv({ BITSCRAPE_NODE_ID: "xyz" }))
      assert.include(String(id), "nodeId must be 40 hexadecimal digits")
      const port = yield* Effect.flip(fromEnv({ BITSCRAPE_PORT: "70000" }))
      assert.include(String(port), "port must be 0–65535")
    }))
})
