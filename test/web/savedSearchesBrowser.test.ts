// The search page's "Alerts" form in headless Debian chromium (playwright-core; never a downloaded browser): a
// saved search is created and deleted from the page, through a server with a token (so the page's changes go
// with the cookie and the CSRF header it reads from /api/session), and a refused one shows the server's message.
import { assert } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"

import { describe, it } from "vitest"
import { launchChromium } from "../support/chromium.js"
import { webFixture } from "../support/web.js"

describe("saved searches from the web UI (chromium)", () => {
  it("saves the search shown, refuses a bad webhook with the server's message, deletes", async () => {
    const token = "browser-test-token-0123456789"
    const scope = Effect.runSync(Scope.make())
    const browser = await launchChromium()
    try {
      const web = await Effect.runPromise(Scope.extend(webFixture({ token }), scope))
      const page = await browser.newPage()
      const problems: Array<string> = []
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
      page.on("console", (m) => {
        // The refused save is an expected 400 the browser logs as a failed resource.
        if (m.type() === "error" && !/status of 400/.test(m.text())) problems.push(`console: ${m.text()}`)
      })
      await page.goto(`${web.url}search?q=ubuntu&min_size=1GB&token=${token}`)
      await page.waitForURL(/\/search\?q=ubuntu&min_size=1GB$/)
      await page.getByTestId("saved-searches").locator("summary").click()
      await page.getByText("No saved searches yet.").waitFor()

      await page.getByTestId("save-name").fill("big ubuntu")
      await page.getByTestId("save-webhook").fill("http://127.0.0.1:9/hook")
      await page.getByTestId("save-submit").click()
      const rows = page.getByTestId("saved-search")
      await rows.first().waitFor()
      assert.include(await rows.first().innerText(), "big ubuntu")
      const saved = await Effect.runPromise(web.repo.savedSearches)
      assert.deepStrictEqual(saved.map((s) => [s.name, s.query, s.webhook]), [[
        "big ubuntu",
        "q=ubuntu&min_size=1GB",
        "http://127.0.0.1:9/hook"
      ]])

      // Refused by the server (the browser's URL check lets ftp:// through): its message is shown.
      await page.getByTestId("save-name").fill("other")
      await page.getByTestId("save-webhook").fill("ftp://127.0.0.1/hook")
      await page.getByTestId("save-submit").click()
      const error = page.locator("#save-errors").getByTestId("error")
      await error.waitFor()
      assert.include(await error.innerText(), "webhook")
      assert.strictEqual((await Effect.runPromise(web.repo.savedSearches)).length, 1)

      await rows.first().getByTestId("saved-delete").click()
      await page.getByText("No saved searches yet.").waitFor()
      assert.deepStrictEqual(await Effect.runPromise(web.repo.savedSearches), [])
      assert.deepStrictEqual(problems, [])
    } finally {
      await browser.close()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }, 60_000)
})
