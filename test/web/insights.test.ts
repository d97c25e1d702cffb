// The Insights page in headless Debian chromium (playwright-core; never a downloaded browser): charts and tables
// from /api/analysis/*, network-supplied labels rendered as text, no CSP violation, phone-width layout.
import { assert } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { join } from "node:path"
import { type Browser } from "playwright-core"
import { afterAll, beforeAll, describe, it } from "vitest"
import type { NodeId } from "../../src/krpc/index.js"
import { launchChromium, openWatched, SCREENSHOTS } from "../support/chromium.js"
import { type WebFixture, webFixture, XSS_NAMES } from "../support/web.js"

let browser: Browser
let scope: Scope.CloseableScope
let web: WebFixture

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  ;[web, browser] = await Promise.all([
    Effect.runPromise(Scope.extend(webFixture(), scope)),
    launchChromium()
  ])
  // Nodes with client versions: one real (libtorrent 2.0), one whose `v` is markup.
  await Effect.runPromise(web.repo.upsertNodes([
    {
      id: Buffer.alloc(20, 1) as Uint8Array as NodeId,
      host: "127.0.0.5",
      port: 1,
      seenAt: 1_764_000_000_000,
      respondedAt: 1_764_000_600_000,
      version: Uint8Array.of(76, 84, 2, 0),
      bep51: true
    },
    {
      id: Buffer.alloc(20, 2) as Uint8Array as NodeId,
      host: "127.0.0.6",
      port: 1,
      seenAt: 1_764_000_000_000,
      respondedAt: 1_764_000_000_000,
      version: Buffer.from(XSS_NAMES[0])
    }
  ]))
  // Our queries over three minutes: 50 %, 75 %, 100 % answered.
  await Effect.runPromise(web.repo.recordResponseRates([
    { at: 1_764_000_000_000, queries: 100, responses: 50, timeouts: 50 },
    { at: 1_764_000_060_000, queries: 40, responses: 30, timeouts: 10 },
    { at: 1_764_000_120_000, queries: 10, responses: 10, timeouts: 0 }
  ]))
}, 60_000)

afterAll(async () => {
  await browser?.close()
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
})

const open = (viewport: { width: number; height: number }) =>
  openWatched(browser, { viewport, isMobile: viewport.width < 500 })

describe("Insights page in chromium", () => {
  it(
    "draws every analysis: content, sources, clients, churn, popularity; labels from the network are text",
    async () => {
      const { context, page, problems } = await open({ width: 1280, height: 900 })
      try {
        await page.goto(`${web.url}insights`)
        await page.locator("body[data-ready='true']").waitFor({ timeout: 30_000 })
        assert.strictEqual(await page.getByTestId("torrents").innerText(), "4")
        // Seven categories; the fixture's two ISO images are software and its two .mkv torrents video.
        const categories = page.getByTestId("chart-categories")
        assert.strictEqual(await categories.getAttribute("data-bars"), "7")
        const labels = await categories.locator("text.tick.y").allTextContents()
        assert.deepStrictEqual(labels, ["video", "audio", "software", "archive", "document", "image", "other"])
        const values = await categories.locator("text.tick:not(.y)").allTextContents()
        assert.deepStrictEqual(values.map(Number), [2, 0, 2, 0, 0, 0, 0])
        assert.strictEqual(await page.getByTestId("chart-funnel").getAttribute("data-bars"), "4")
        assert.strictEqual(await page.getByTestId("overlap").locator("tbody tr").count(), 6)
        const clients = await page.getByTestId("chart-clients").locator("text.tick.y").allTextContents()
        assert.include(clients, "LT libtorrent (Ras")
        assert.isTrue(clients.some((c) => c.startsWith("?")), "the markup `v` is an unknown client, shown as text")
        assert.strictEqual(await page.getByTestId("chart-survival").getAttribute("data-bars"), "7")
        // The response rate over time: one bar per minute stored.
        const rate = page.getByTestId("chart-query-rate")
        assert.strictEqual(await rate.getAttribute("data-bars"), "3")
        assert.include(await rate.textContent(), "75.0 % of 40")
        // Popularity: the XSS-named torrents are links whose text is the name, nothing injected.
        const popular = page.getByTestId("popular")
        assert.strictEqual(await popular.locator("tbody tr").count(), 4)
        assert.sameMembers(await popular.locator("a").allInnerTexts(), [
          "Ubuntu 24.04 desktop amd64",
          "debian-12.8.0-amd64-netinst.iso",
          ...XSS_NAMES
        ])
        assert.deepStrictEqual(await page.$$("img[src='x']"), [])
        const handlers = await page.evaluate<number>(
          "[...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name))).length"
        )
        assert.strictEqual(handlers, 0)
        await page.screenshot({ path: join(SCREENSHOTS, "insights.png"), fullPage: true })
        assert.deepStrictEqual(problems, [])
      } finally {
        await context.close()
      }
    },
    120_000
  )

  it("the search page filters by category and sorts by most peers", async () => {
    const { context, page, problems } = await open({ width: 1280, height: 900 })
    try {
      await page.goto(`${web.url}search`)
      await page.evaluate("document.getElementById('filters').open = true")
      await page.selectOption("#category", "software")
      await page.selectOption("#sort", "popular")
      await page.getByTestId("search-input").press("Enter")
      await page.waitForURL(/category=software/)
      const names = page.getByTestId("result")
      await names.filter({ hasText: "Ubuntu" }).waitFor()
      assert.strictEqual(await names.count(), 2)
      assert.match(page.url(), /sort=popular/)
      assert.deepStrictEqual(problems, [])
    } finally {
      await context.close()
    }
  }, 120_000)

  it("fits a phone-sized screen (390×844); the nav links to it from every page", async () => {
    const { context, page, problems } = await open({ width: 390, height: 844 })
    try {
      await page.goto(`${web.url}about`)
      await page.getByRole("link", { name: "Insights" }).click()
      await page.locator("body[data-ready='true']").waitFor({ timeout: 30_000 })
      assert.match(page.url(), /\/insights$/)
      const width = await page.evaluate<number>("document.documentElement.scrollWidth")
      assert.isAtMost(width, 390, `insights is ${width} px wide`)
      await page.screenshot({ path: join(SCREENSHOTS, "insights-phone.png"), fullPage: true })
      assert.deepStrictEqual(problems, [])
    } finally {
      await context.close()
    }
  }, 120_000)
})
