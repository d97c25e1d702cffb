// Runs every example (examples/*.ts) as a user would — a child process importing "bitscrape/…" by name — against
// one loopback swarm, under the loopback guard. In the repository the names resolve to the sources (tsconfig
// paths, read by tsx); test/library/pack.test.ts runs an example against the packed package instead.
import { Effect, Exit, Scope } from "effect"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  exampleArgs,
  type ExampleName,
  exampleTarget,
  startLoopbackSwarm
} from "../../examples/harness/loopbackSwarm.js"
import type { DemoSwarm } from "../../src/demo/swarm.js"
import { toHex } from "../../src/domain/ids.js"
import { type ProcessResult, runProcess } from "../support/process.js"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const GUARD = fileURLToPath(new URL("../support/loopbackGuard.mjs", import.meta.url))

type Run = ProcessResult

/** Runs examples/<name>.ts to completion. */
const runExample = (name: ExampleName, args: ReadonlyArray<string>): Promise<Run> =>
  runProcess(process.execPath, ["--import", GUARD, "--import", "tsx", `examples/${name}.ts`, ...args], { cwd: ROOT })

describe("examples against a loopback swarm", () => {
  let scope: Scope.CloseableScope
  let swarm: DemoSwarm

  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    swarm = await Effect.runPromise(Scope.extend(startLoopbackSwarm(), scope))
  })
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

  it("dht-lookup finds the seeder of the torrent", async () => {
    const { seeder } = exampleTarget(swarm)
    const r = await runExample("dht-lookup", exampleArgs("dht-lookup", swarm))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.split("\n")).toContain(`${seeder.host}:${seeder.port}`)
  })

  it("fetch-metadata prints the torrent's name and files", async () => {
    const { torrent } = exampleTarget(swarm)
    const r = await runExample("fetch-metadata", exampleArgs("fetch-metadata", swarm))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.split("\n")[0]).toBe(torrent.name)
    expect(r.stdout).toContain(`${torrent.fileCount} files, ${torrent.totalLength} bytes`)
    expect(r.stdout.split("\n").filter((l) => l.startsWith("  ") && !l.includes(" files, "))).toHaveLength(
      torrent.fileCount
    )
  })

  it("fetch-metadata exits 1 with the typed error's message when the peer does not have the torrent", async () => {
    const { seeder } = exampleTarget(swarm)
    const r = await runExample("fetch-metadata", ["ab".repeat(20), "--peer", `${seeder.host}:${seeder.port}`])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`no metadata for ${"ab".repeat(20)}`)
  })

  it("custom-crawler writes distinct infohashes of the swarm to stdout, nothing else", async () => {
    const r = await runExample("custom-crawler", exampleArgs("custom-crawler", swarm))
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.trim().split("\n")
    const seeded = new Set(swarm.torrents.map((t) => toHex(t.infoHash)))
    expect(lines).toHaveLength(5)
    expect(new Set(lines).size).toBe(5)
    for (const line of lines) expect(seeded.has(line), line).toBe(true)
  })
})
