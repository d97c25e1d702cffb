// Time in src/ comes from Effect's Clock (docs/architecture.md, "Time"): callback cores through
// src/util/timers.ts, which follows the Clock it was made with (TestClock here), and no file arms a timer or reads
// the wall clock itself, except the documented exceptions below.
import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { liveTimers, makeTimers } from "../../src/util/timers.js"

describe("Timers", () => {
  it.effect("follow the TestClock: nothing fires before its time, a cancelled timer never does", () =>
    Effect.gen(function*() {
      const timers = yield* makeTimers
      assert.notStrictEqual(timers, liveTimers)
      assert.strictEqual(timers.now(), 0)
      const fired: Array<string> = []
      timers.after(1000, () => fired.push("a"))
      const cancel = timers.after(500, () => fired.push("cancelled"))
      timers.after(1500, () => fired.push("b"))
      cancel()
      yield* TestClock.adjust("999 millis")
      assert.deepStrictEqual(fired, [])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(fired, ["a"])
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(fired, ["a", "b"])
      assert.strictEqual(timers.now(), 2000)
    }))

  it.live("on Effect's live clock are wall-clock timers", () =>
    Effect.gen(function*() {
      const timers = yield* makeTimers
      assert.strictEqual(timers, liveTimers)
      assert.approximately(timers.now(), Date.now(), 1000)
      let cancelled = false
      timers.after(10, () => (cancelled = true))()
      yield* Effect.async<void>((resume) => void timers.after(20, () => resume(Effect.void)))
      assert.isFalse(cancelled)
      // A delay longer than a JS timer can take is never, as for Effect's live Clock.sleep.
      timers.after(2 ** 31, () => (cancelled = true))()
    }))
})

// === The rule, checked over src/ ===

const ROOT = fileURLToPath(new URL("../../", import.meta.url))

type Call =
  | "Date.now"
  | "new Date()"
  | "performance.now"
  | "process.hrtime"
  | "setTimeout"
  | "setInterval"
  | "setImmediate"
const ALL: ReadonlyArray<Call> = [
  "Date.now",
  "new Date()",
  "performance.now",
  "process.hrtime",
  "setTimeout",
  "setInterval",
  "setImmediate"
]
const PATTERNS: Record<Call, RegExp> = {
  "Date.now": /\bDate\.now\b/,
  "new Date()": /\bnew Date\(\s*\)/,
  "performance.now": /\bperformance\.now\b/,
  "process.hrtime": /\bprocess\.hrtime\b/,
  // Global calls only: `socket.setTimeout(ms)` is a socket's idle time-out, not a timer of ours.
  setTimeout: /(?<![\w.])setTimeout\s*\(|globalThis\.setTimeout\b/,
  setInterval: /(?<![\w.])setInterval\s*\(|globalThis\.setInterval\b/,
  setImmediate: /(?<![\w.])setImmediate\s*\(|globalThis\.setImmediate\b/
}

/** Where src/ may touch time directly, and why; docs/architecture.md ("Time") lists the same paths. */
const EXCEPTIONS: ReadonlyArray<{ readonly path: string; readonly calls: ReadonlyArray<Call> }> = [
  // The live Clock's own timer primitive, for callback cores (a fiber per timer costs 15-45 µs, a timer < 1 µs).
  { path: "src/util/timers.ts", calls: ["setTimeout"] },
  // One flush per event-loop turn (after libuv's poll phase): no time passes, so no Clock is involved.
  { path: "src/socket/DhtSocket.ts", calls: ["setImmediate"] },
  { path: "src/metadata/MetadataFetcher.ts", calls: ["setImmediate"] },
  // Browser scripts of the web UI: the browser's clock, no Effect.
  { path: "src/web/assets/", calls: ALL },
  // The realistic network model: a simulator of the outside world (worker processes on Node built-ins only).
  { path: "src/demo/realistic/", calls: ALL }
]

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return /\.(ts|js|mjs|cjs)$/.test(name) ? [path] : []
  })

/** Every direct use of time in src/: file, line and what. Comment lines are skipped. */
const uses = (): Array<{ readonly file: string; readonly line: number; readonly call: Call }> =>
  sourceFiles(join(ROOT, "src")).flatMap((path) => {
    const file = relative(ROOT, path).split("\\").join("/")
    return readFileSync(path, "utf8").split("\n").flatMap((text, i) => {
      const code = text.trim()
      if (code.startsWith("//") || code.startsWith("*") || code.startsWith("/*")) return []
      return ALL.filter((call) => PATTERNS[call].test(code)).map((call) => ({ file, line: i + 1, call }))
    })
  })

const excepted = (file: string, call: Call) =>
  EXCEPTIONS.some((e) => (e.path.endsWith("/") ? file.startsWith(e.path) : file === e.path) && e.calls.includes(call))

describe("time in src/ goes through Effect's Clock", () => {
  it("no Date.now, new Date(), performance.now, setTimeout, setInterval or setImmediate outside the exceptions", () => {
    const found = uses()
    assert.isAbove(found.length, 0, "the scan sees the exceptions' own uses")
    const stray = found.filter((u) => !excepted(u.file, u.call)).map((u) => `${u.file}:${u.line} ${u.call}`)
    assert.deepStrictEqual(stray, [], "use Clock / Effect.sleep, or util/timers.ts in callback code")
  })

  it("every exception is still needed and is listed in docs/architecture.md", () => {
    const found = uses()
    const doc = readFileSync(join(ROOT, "docs/architecture.md"), "utf8")
    const start = doc.indexOf("\n## Time")
    const end = doc.indexOf("\n## ", start + 1)
    const section = start < 0 ? "" : doc.slice(start, end < 0 ? doc.length : end)
    assert.include(section, "## Time")
    for (const e of EXCEPTIONS) {
      const used = found.some((u) => (e.path.endsWith("/") ? u.file.startsWith(e.path) : u.file === e.path))
      assert.isTrue(used, `${e.path} no longer touches time: remove its exception`)
      assert.include(section, `\`${e.path}\``, `docs/architecture.md "Time" lists ${e.path}`)
    }
  })
})
