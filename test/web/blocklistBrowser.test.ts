// The blocklist on the about page, in headless Debian chromium (playwright-core; never a downloaded browser):
// block a name pattern with a reason (its torrent leaves the search), see the entry listed, a clear message for
// a bad entry, and remove the entry again with its button. The page sends its changes with the write key it
// reads from the server, as the guard demands (blocklist.test.ts covers the refusals).
import { assert } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { join } from "node:path"
import { type Browser } from "playwright-core"
import { afterAll, beforeAll, describe, it } from "vitest"
import { launchChromium, SCREENSHOTS } from "../support/chromium.js"
import { type WebFixture, webFixture } from "../support/web.js"

let browser: Browser
let scope: Scope.CloseableScope
let web: WebFixture

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  ;[web, browser] = await Promise.all([
    Effect.runPromise(Scope.extend(webFixture({ token: "a-token-for-the-browser-test" }), scope)),
    launchChromium()
  ])
}, 60_000)

afterAll(async () => {
  await browser?.close()
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
})

const searchTotal = (query: string) =>
  Effect.runPromise(
    Effect.map(web.repo.search({ text: query, sort: "relevance", limit: 10, offset: 0 }), (r) => r.total)
  )

describe("blocklist in the web UI (chromium)", () => {
  it("adds a pattern with a reason, refuses a bad one, removes it with its button", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    const problems: Array<string> = []
    page.on("dialog", (d) => {
      problems.push(`dialog: ${d.message()}`)
      void d.dismiss()
    })
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
    page.on("console", (m) => {
      // The refused entry's 400 is logged by the browser as a failed resource load; anything else is a problem.
      if (m.type() === "error" && !/status of 400/.test(m.text())) problems.push(`console: ${m.text()}`)
    })
    try {
      // The token arrives as `?token=` and moves into the HttpOnly cookie; the page never sees it.
      await page.goto(`${web.url}about?token=a-token-for-the-browser-test`)
      await page.getByTestId("block-empty").waitFor()
      assert.strictEqual(await searchTotal("debian"), 1)

      await page.getByTestId("block-entry").fill("*")
      await page.getByTestId("block-add").click()
      await page.getByTestId("block-status").filter({ hasText: "Not blocked" }).waitFor()
      assert.include(await page.getByTestId("block-status").innerText(), "would block every torrent")

      await page.getByTestId("block-entry").fill("*DEBIAN*")
      await page.getByTestId("block-reason").fill("not on this index")
      await page.getByTestId("block-add").click()
      // The pattern's row (with its reason and a remove button), and the row of the stored infohash it matched.
      const row = page.getByTestId("block-row").filter({ has: page.getByTestId("block-remove") })
      await row.waitFor()
      assert.include(await row.innerText(), "*DEBIAN*")
      assert.include(await row.innerText(), "not on this index")
      const via = page.getByTestId("block-row").filter({ hasText: "matched *DEBIAN*" })
      assert.include(await via.innerText(), web.hashes[1]!)
      assert.include(await page.getByTestId("block-status").innerText(), "removed 1 torrents")
      assert.strictEqual(await searchTotal("debian"), 0)
      await page.screenshot({ path: join(SCREENSHOTS, "blocklist.png"), fullPage: true })

      // Reloaded, the entry is still there (kept by the server), then removed with its button.
      await page.reload()
      await row.waitFor()
      await row.getByTestId("block-remove").click()
      await page.getByTestId("block-empty").waitFor()
      assert.include(await page.getByTestId("block-status").innerText(), "Unblocked name *DEBIAN*")
      const left = await Effect.runPromise(web.repo.blocklist)
      assert.deepStrictEqual(left, [])
      assert.deepStrictEqual(problems, [])
    } finally {
      await context.close()
    }
  }, 60_000)
})
