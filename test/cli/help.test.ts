// --help of every command, as printed: none of @effect/cli's stock sentences, the usage line names the program
// and the command and shows optional options as optional, and an EXAMPLES section whose examples use the
// command and only its options. The README documents shell completions.
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { EXAMPLES } from "../../src/cli/help.js"
import { cliProgram } from "../../src/cli/program.js"

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g")

/** What `bitscrape …args` prints on stdout, run in-process. */
const stdoutOf = (args: ReadonlyArray<string>) =>
  Effect.consoleWith((console) => {
    const out: Array<string> = []
    return cliProgram(["node", "bitscrape", ...args]).pipe(
      Effect.withConsole({
        ...console,
        log: (...a: ReadonlyArray<unknown>) => Effect.sync(() => void out.push(a.map(String).join(" ")))
      }),
      Effect.provide(NodeContext.layer),
      Effect.map((code) => ({ code, text: out.join("\n").replace(ANSI, "") }))
    )
  })

const STOCK = [
  "A user-defined piece of text",
  "An integer.",
  "A true or false value.",
  "A floating point number.",
  "This setting is optional.",
  "may be repeated zero or more times"
]

describe("--help", () => {
  for (const path of Object.keys(EXAMPLES)) {
    it.effect(`bitscrape ${path} --help`.replace("  ", " "), () =>
      Effect.gen(function*() {
        const words = path === "" ? [] : path.split(" ")
        const { code, text } = yield* stdoutOf([...words, "--help"])
        assert.strictEqual(code, 0)
        for (const s of STOCK) assert.notInclude(text, s, `bitscrape ${path} --help`)
        const usage = text.split("\n").find((l) => l.startsWith("$ "))!
        assert.isTrue(
          usage === `$ bitscrape${path === "" ? "" : ` ${path}`}` || usage.startsWith(`$ bitscrape ${path} `),
          usage
        )
        // Every option is either required (bare) or shown optional ([…]); a repeatable optional one as [--x v]...
        assert.notMatch(usage, /[^[]--[a-z-]+ [^\s\]]+\.\.\./, usage)
        const examples = text.split("\nEXAMPLES\n")[1]?.split("\n").filter((l) => l.startsWith("  $ ")) ?? []
        assert.isAbove(examples.length, 0, `bitscrape ${path} --help has EXAMPLES`)
        for (const e of examples) {
          assert.include(e, `bitscrape${path === "" ? "" : ` ${path}`}`)
          // Each option an example uses is one this command's help lists (or a global one).
          for (const flag of e.match(/(?<=\s)--[a-z-]+/g) ?? []) {
            assert.isTrue(
              text.includes(`${flag} `) || text.includes(`${flag}\n`) || flag === "--completions",
              `${e}: ${flag}`
            )
          }
        }
      }))
  }

  it.effect("every command has examples", () =>
    Effect.gen(function*() {
      const { text } = yield* stdoutOf(["--help"])
      const commands = [...text.matchAll(/^\s*- bitscrape (.+)$/gm)].map((m) => m[1]!.trim())
      assert.isAbove(commands.length, 8)
      for (const c of commands) assert.isDefined(EXAMPLES[c], c)
    }))

  it.effect("fetch shows its repeatable --peer as optional", () =>
    Effect.gen(function*() {
      const { text } = yield* stdoutOf(["fetch", "--help"])
      assert.include(text, "$ bitscrape fetch [--peer host:port]... ")
    }))

  it("the README documents shell completions", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8")
    assert.match(readme, /--completions (bash|zsh|fish)/)
  })
})
