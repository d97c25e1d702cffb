import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "vitest"
import { runCli } from "../support/cli.js"

const dir = mkdtempSync(join(tmpdir(), "bitscrape-config-"))
const file = (name: string, settings: unknown) => {
  const path = join(dir, name)
  writeFileSync(path, JSON.stringify(settings))
  return path
}

describe("configuration precedence: flag > env > config file > default", () => {
  it("each level overrides the one below it", async () => {
    const cfg = file("a.json", { db: join(dir, "from-file.db") })
    const [fromFile, fromEnv, fromFlag, fromDefault] = await Promise.all([
      runCli(["stats", "--config", cfg]),
      runCli(["stats", "--config", cfg], { BITSCRAPE_DB: join(dir, "from-env.db") }),
      runCli(["stats", "--config", cfg, "--db", join(dir, "from-flag.db")], { BITSCRAPE_DB: join(dir, "from-env.db") }),
      runCli(["stats"], { BITSCRAPE_DB: "" })
    ])
    assert.include(fromFile.stderr, "from-file.db")
    assert.include(fromEnv.stderr, "from-env.db")
    assert.include(fromFlag.stderr, "from-flag.db")
    assert.strictEqual(fromDefault.status, 1)
  }, 60_000)

  it("an invalid value stops with exit 2 and one message naming the setting and the accepted form", async () => {
    const crawl = [
      "crawl",
      "--bootstrap",
      "127.0.0.1:9",
      "--bind",
      "127.0.0.1",
      "--port",
      "0",
      "--db",
      join(dir, "x.db")
    ]
    const [badFile, badEnv, badFlag, unknownKey, notJson] = await Promise.all([
      runCli([...crawl, "--config", file("b.json", { maxPps: -5 })]),
      runCli(crawl, { BITSCRAPE_MAX_PPS: "abc" }),
      runCli([...crawl, "--allow", "10.0.0.0/99"]),
      runCli(["stats", "--config", file("c.json", { maxPPS: 1 })]),
      runCli(["stats", "--config", join(dir, "missing.json")])
    ])
    assert.strictEqual(badFile.status, 2)
    assert.include(badFile.stderr, "maxPps must be a positive integer")
    assert.strictEqual(badEnv.status, 2)
    assert.include(badEnv.stderr, "BITSCRAPE_MAX_PPS")
    assert.include(badEnv.stderr, "integer")
    assert.strictEqual(badFlag.status, 2)
    assert.include(badFlag.stdout + badFlag.stderr, "--allow")
    assert.strictEqual(unknownKey.status, 2)
    assert.include(unknownKey.stderr, "unknown setting \"maxPPS\"")
    assert.strictEqual(notJson.status, 2)
  }, 60_000)
})
