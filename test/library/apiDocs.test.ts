// The API reference (typedoc.json) builds from the six entry points, and every exported symbol has a doc
// comment: typedoc's `notDocumented` / `notExported` / `invalidLink` warnings are errors there. `npm run docs:check`
// is the same check; `npm run docs:api` writes the HTML to docs/api/.
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const ROOT = fileURLToPath(new URL("../../", import.meta.url))

describe("API reference", () => {
  it("typedoc validates every exported symbol of the six entry points as documented", async () => {
    const result = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ["node_modules/typedoc/bin/typedoc", "--emit", "none"], {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      child.stdout.setEncoding("utf8").on("data", (t: string) => (output += t))
      child.stderr.setEncoding("utf8").on("data", (t: string) => (output += t))
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, output }))
    })
    expect(result.code, result.output).toBe(0)
  }, 240_000) // typedoc type-checks the whole project: ~20 s on a quiet machine, 90 s seen under load
})
