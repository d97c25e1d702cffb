// End-to-end tests of the web UI in headless Debian chromium (playwright-core; never a downloaded browser):
// search and open a torrent, the XSS cases, the dashboard fed by a LiveStats feed and by a real loopback crawl
// (`bitscrape demo`), with screenshots saved under test-artifacts/screenshots/.
import { assert } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { createHash } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Browser, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, it } from "vitest"
import { type NodeId, toHex } from "../../src/krpc/index.js"
import { type LiveSnapshot, snapshotOf } from "../../src/web/LiveStats.js"
import { launchChromium, openWatched, SCREENSHOTS, type Watched } from "../support/chromium.js"
import { spawnCli } from "../support/cli.js"
import { CrawlerStatsFixture } from "../support/liveStats.js"
import { makeTorrent } from "../support/torrents.js"
import { type WebFixture, webFixture, XSS_NAMES } from "../support/web.js"

let browser: Browser
let scope: Scope.CloseableScope
/** A server without a crawl (as `bitscrape serve`). */
let idle: WebFixture
/** A server whose LiveStats feed the dashboard test publishes to. */
let crawl: WebFixture

beforeAll(async () => {
  scope = Effect.runSync(Scope.make())
  ;[idle, crawl, browser] = await Promise.all([
    Effect.runPromise(Scope.extend(webFixture(), scope)),
    Effect.runPromise(Scope.extend(webFixture(), scope)),
    launchChromium(["--disable-component-update", "--disable-quic", "--disable-sync"])
  ])
  // A node whose client version is markup (client versions come from the network too).
  await Effect.runPromise(idle.repo.upsertNodes([{
    id: Buffer.alloc(20, 9) as Uint8Array as NodeId,
    host: "127.0.0.7",
    port: 6881,
    seenAt: 1_764_000_000_000,
    respondedAt: 1_764_000_000_000,
    version: Buffer.from(XSS_NAMES[1])
  }]))
}, 60_000)

afterAll(async () => {
  await browser?.close()
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
})

/** A fresh context and page, recording everything that should never happen. */
const open = (options: { viewport?: { width: number; height: number }; mobile?: boolean } = {}) =>
  openWatched(browser, {
    viewport: options.viewport ?? { width: 1280, height: 900 },
    isMobile: options.mobile ?? false,
    hasTouch: options.mobile ?? false,
    acceptDownloads: true
  })

const screenshot = (page: Page, name: string) =>
  page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })

/** No element was created from a payload: no <script> with inline code, no <img src=x>, no on* attribute. */
const assertNoInjection = async (w: Watched) => {
  const { page } = w
  assert.deepStrictEqual(await page.$$("img[src='x']"), [], "an <img> from a payload")
  assert.deepStrictEqual(await page.$$("img[onerror]"), [], "an onerror attribute")
  const scripts = await page.$$eval("script", (s) => s.map((e) => e.getAttribute("src") ?? `inline: ${e.textContent}`))
  assert.isTrue(scripts.every((s) => s.startsWith("/assets/")), `unexpected scripts: ${scripts.join(", ")}`)
  const handlers = await page.evaluate<number>(
    "[...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => /^on/i.test(a.name))).length"
  )
  assert.strictEqual(handlers, 0, "elements with on* attributes")
  assert.deepStrictEqual(w.problems, [])
}

const numberOf = async (page: Page, testid: string) => Number(await page.getByTestId(testid).getAttribute("data-value"))

/** Waits until a counter's raw value satisfies `ok`. */
const waitForValue = async (page: Page, testid: string, ok: (n: number) => boolean, timeout = 10_000) => {
  const until = Date.now() + timeout
  let last = NaN
  while (Date.now() < until) {
    last = await numberOf(page, testid)
    if (ok(last)) return last
    await page.waitForTimeout(50)
  }
  throw new Error(`${testid} stayed at ${last}`)
}

describe("web UI in chromium", () => {
  it("search, open a torrent: file tree, magnet link and .torrent download", async () => {
    const w = await open()
    const { page } = w
    try {
      await page.goto(`${idle.url}search`)
      await page.getByTestId("search-input").fill("ubuntu")
      await page.getByTestId("search-submit").click()
      await page.waitForURL(/\/search\?q=ubuntu$/)
      const rows = page.getByTestId("result")
      await rows.first().waitFor()
      // The unfiltered list can still be on screen for a moment after the URL changed: wait for the results of
      // this search to replace it (up to 10 s; a wrong count still fails the assertion below).
      for (let t = 0; t < 100 && (await rows.count()) !== 1; t++) await page.waitForTimeout(100)
      assert.strictEqual(await rows.count(), 1)
      assert.include(await rows.first().innerText(), "5.69 GiB")
      await screenshot(page, "search")

      await page.getByRole("link", { name: "Ubuntu 24.04 desktop amd64" }).click()
      await page.waitForURL(new RegExp(`/torrent/${idle.hashes[0]}$`))
      await page.getByTestId("torrent-name").waitFor()
      assert.strictEqual(await page.getByTestId("torrent-name").innerText(), "Ubuntu 24.04 desktop amd64")
      assert.strictEqual(await page.getByTestId("infohash").innerText(), idle.hashes[0])
      assert.strictEqual(await page.getByTestId("size").innerText(), "5.69 GiB")

      // The tree: "docs" (2 files) starts open; its summary collapses and expands it. "docs/<b>bold</b>.txt"
      // is split on "/": a folder "<b>bold<" (closed, as every folder below the first level) holding "b>.txt".
      const docs = page.locator("summary").filter({ has: page.locator(".name", { hasText: /^docs$/ }) })
      assert.include(await docs.innerText(), "2 files · 1.18 KiB")
      const readme = page.getByTestId("tree-file").filter({ hasText: "README.txt" })
      assert.isTrue(await readme.isVisible())
      assert.isTrue(await page.locator("summary", { hasText: "<b>bold<" }).isVisible())
      const bold = page.getByTestId("tree-file").filter({ hasText: "b>.txt" })
      assert.strictEqual(await bold.count(), 0)
      await page.locator("summary", { hasText: "<b>bold<" }).click()
      await bold.waitFor({ state: "visible" })
      await docs.click()
      await readme.waitFor({ state: "hidden" })
      await docs.click()
      await readme.waitFor({ state: "visible" })
      await page.getByTestId("collapse-all").click()
      await readme.waitFor({ state: "hidden" })
      await page.getByTestId("expand-all").click()
      await readme.waitFor({ state: "visible" })

      const magnet = await page.getByTestId("magnet").getAttribute("href")
      assert.match(magnet!, new RegExp(`^magnet:\\?xt=urn:btih:${idle.hashes[0]}&dn=Ubuntu`))
      const link = page.getByTestId("torrent-file")
      assert.strictEqual(await link.getAttribute("href"), `/api/torrents/${idle.hashes[0]}/file`)
      const [download] = await Promise.all([page.waitForEvent("download"), link.click()])
      assert.strictEqual(download.suggestedFilename(), `${idle.hashes[0]}.torrent`)
      const bytes = readFileSync(await download.path())
      // d4:info<info dictionary>e — the SHA-1 of the info dictionary is the infohash.
      assert.strictEqual(bytes.subarray(0, 7).toString(), "d4:info")
      assert.strictEqual(createHash("sha1").update(bytes.subarray(7, bytes.length - 1)).digest("hex"), idle.hashes[0])
      await screenshot(page, "torrent")
      assert.deepStrictEqual(w.problems, [])
    } finally {
      await w.context.close()
    }
  })

  it("search: filters and page size in the URL, pagination, back button, 400 messages by the form", async () => {
    const w = await open()
    const { page } = w
    try {
      await page.goto(`${idle.url}search?sort=name&limit=1`)
      await page.getByTestId("result").first().waitFor()
      assert.strictEqual(await page.getByTestId("page-of").innerText(), "page 1 of 4")
      assert.strictEqual(await page.locator("#sort").inputValue(), "name")
      const first = await page.getByTestId("result").innerText()
      await page.getByTestId("page-next").click()
      await page.waitForURL(/page=2/)
      await page.getByTestId("page-of").filter({ hasText: "page 2 of 4" }).waitFor()
      assert.notStrictEqual(await page.getByTestId("result").innerText(), first)
      await page.goBack()
      await page.getByTestId("page-of").filter({ hasText: "page 1 of 4" }).waitFor()
      assert.strictEqual(await page.getByTestId("result").innerText(), first)

      // A size filter typed in the form; then a bad one, whose message the API gives.
      await page.locator("#min_size").fill("1GB")
      await page.getByTestId("search-submit").click()
      await page.waitForURL(/min_size=1GB/)
      await page.getByTestId("search-summary").filter({ hasText: "of 1 torrent" }).waitFor()
      await page.reload()
      await page.getByTestId("search-summary").filter({ hasText: "of 1 torrent" }).waitFor()
      assert.strictEqual(await page.locator("#min_size").inputValue(), "1GB")
      await page.locator("#min_size").fill("huge")
      await page.getByTestId("search-submit").click()
      const error = page.getByTestId("error")
      await error.waitFor()
      assert.include(await error.innerText(), "min_size: \"huge\" is not a size such as 700MB or 1.5GiB")
      assert.strictEqual(await page.getByTestId("result").count(), 0)
      // The browser logs the failed request (400) as a console error; nothing else may appear.
      assert.deepStrictEqual(w.problems.filter((p) => !p.includes("status of 400")), [])
    } finally {
      await w.context.close()
    }
  })

  it("XSS: torrent names, file paths and client versions render as text", async () => {
    const w = await open()
    const { page } = w
    try {
      await page.goto(`${idle.url}search?sort=name`)
      await page.getByTestId("result").nth(3).waitFor()
      for (const name of XSS_NAMES) {
        assert.isTrue(await page.getByRole("link", { name, exact: true }).isVisible(), name)
      }
      await assertNoInjection(w)
      await page.getByTestId("search-input").fill("script")
      await page.getByTestId("search-submit").click()
      await page.getByRole("link", { name: XSS_NAMES[0], exact: true }).waitFor()
      await assertNoInjection(w)

      for (const [i, name] of XSS_NAMES.entries()) {
        await page.goto(`${idle.url}torrent/${idle.hashes[2 + i]}`)
        await page.getByTestId("torrent-name").waitFor()
        assert.strictEqual(await page.getByTestId("torrent-name").innerText(), name)
        assert.strictEqual(await page.title(), `${name} · BitScrape`)
        // Paths are split on "/": the second payload has none, so it is a folder holding "<payload>.mkv".
        await page.getByTestId("expand-all").click()
        const files = await page.getByTestId("tree-file").allInnerTexts()
        if (i === 1) {
          assert.isTrue(files.some((f) => f.startsWith(`${name}.mkv`)), files.join(" | "))
          assert.isTrue(await page.locator("summary", { hasText: name }).isVisible())
        } else {
          assert.isTrue(files.some((f) => f.startsWith("script>.mkv")), files.join(" | "))
        }
        assert.include(decodeURIComponent((await page.getByTestId("magnet").getAttribute("href"))!), name)
        await assertNoInjection(w)
        if (i === 1) await screenshot(page, "torrent-xss")
      }

      await page.goto(`${idle.url}about`)
      const node = page.getByTestId("node").first()
      await node.waitFor()
      assert.include(await node.innerText(), XSS_NAMES[1])
      await assertNoInjection(w)
    } finally {
      await w.context.close()
    }
  })

  it("torrent page: a tree of 5,000 files renders at once and expands fully", async () => {
    // 50 folders × 10 subfolders × 10 files.
    const files = Array.from({ length: 5000 }, (_, i) => ({
      path: `season ${Math.floor(i / 100)}/disc ${Math.floor(i / 10) % 10}/episode ${i}.mkv`,
      length: 1_000_000 + i
    }))
    const big = makeTorrent("A very large collection", files)
    await Effect.runPromise(crawl.repo.saveTorrents([big]))
    const w = await open()
    const { page } = w
    try {
      const started = Date.now()
      await page.goto(`${crawl.url}torrent/${toHex(big.infoHash)}`)
      await page.getByTestId("torrent-name").waitFor()
      const shown = Date.now() - started
      // Over 200 files: folders start closed and are rendered when opened.
      assert.strictEqual(await page.getByTestId("tree-dir").count(), 50)
      assert.strictEqual(await page.getByTestId("tree-file").count(), 0)
      const summary = page.locator("summary").filter({ has: page.locator(".name", { hasText: /^season 7$/ }) })
      assert.include(await summary.innerText(), "100 files")
      await summary.click()
      await page.locator("summary", { hasText: "disc 3" }).first().waitFor()
      const expanding = Date.now()
      await page.getByTestId("expand-all").click()
      await page.getByTestId("tree-file").filter({ hasText: "episode 4999.mkv" }).waitFor()
      assert.strictEqual(await page.getByTestId("tree-file").count(), 5000)
      const expanded = Date.now() - expanding
      // Reported, not asserted: timing belongs in benchmarks, not tests (the machine is shared and noisy).
      console.log(`5,000-file tree: page shown in ${shown} ms, fully expanded in ${expanded} ms`)
      assert.deepStrictEqual(w.problems, [])
    } finally {
      await w.context.close()
    }
  })

  it("torrent page: a clear message for an unknown infohash", async () => {
    const w = await open()
    try {
      await w.page.goto(`${idle.url}torrent/${"ab".repeat(20)}`)
      await w.page.getByTestId("not-found").waitFor()
      assert.strictEqual(await w.page.getByTestId("not-found").innerText(), "Torrent not found")
    } finally {
      await w.context.close()
    }
  })

  it("dashboard and about page without a crawl: database totals and a note", async () => {
    const w = await open()
    const { page } = w
    try {
      await page.goto(idle.url)
      const status = page.getByTestId("crawl-status")
      await status.filter({ hasText: "No crawl running in this process" }).waitFor()
      assert.strictEqual(await status.getAttribute("data-state"), "idle")
      assert.strictEqual(await waitForValue(page, "db-torrents", (n) => n === 4), 4)
      assert.strictEqual(await numberOf(page, "db-infohashes"), 4)
      assert.isFalse(await page.locator("#live").isVisible())
      await screenshot(page, "dashboard-idle")

      await page.goto(`${idle.url}about`)
      await page.getByTestId("no-crawl").waitFor()
      assert.strictEqual(await page.getByTestId("version").innerText(), "test")
      assert.isTrue(await page.getByRole("link", { name: /OpenAPI/ }).isVisible())
      assert.isTrue(await page.getByRole("link", { name: /Prometheus/ }).isVisible())
      await page.getByTestId("node").first().waitFor()
      await screenshot(page, "about")
      assert.deepStrictEqual(w.problems, [])
    } finally {
      await w.context.close()
    }
  })

  it("dashboard during a crawl: counters rise, charts are drawn, 'stopped' pauses it", async () => {
    const start = Date.now() - 20_000
    /** The n-th second of a made-up crawl, every counter rising with n. */
    const snapshot = (n: number, running = true): LiveSnapshot => {
      const s = snapshotOf(
        start + n * 1000,
        CrawlerStatsFixture(100 + 40 * n),
        { discoveries: 10 * n, nodes: 30 * n, torrents: 2 * n, failures: n },
        n,
        running
      )
      return {
        ...s,
        at: start + n * 1000,
        backoffReason: n > 3 ? XSS_NAMES[0] : null,
        backoffMillis: n > 3 ? 1500 : 0,
        filtered: { ...s.filtered, [XSS_NAMES[1]]: n },
        drops: { rate_limit: n, malformed: 2 * n }
      }
    }
    const publish = (s: LiveSnapshot) => Effect.runPromise(crawl.live.publish(s))
    for (let n = 1; n <= 5; n++) await publish(snapshot(n))

    const w = await open()
    const { page } = w
    try {
      await page.goto(crawl.url)
      const status = page.getByTestId("crawl-status")
      await status.filter({ hasText: "Crawl running" }).waitFor()
      // The history draws at once.
      assert.strictEqual(await waitForValue(page, "known-nodes", (n) => n === 300), 300)
      assert.strictEqual(await numberOf(page, "unique-infohashes"), 900)
      assert.strictEqual(await numberOf(page, "torrents-fetched"), 10)
      // The network-size estimate of the latest snapshot (the fixture's: 10 × known nodes, 95 % ±10 %).
      assert.strictEqual(await numberOf(page, "network-size"), 3000)
      assert.include(await page.getByTestId("network-size-sub").textContent(), "2,700–3,300")
      assert.strictEqual(
        await page.getByTestId("chart-nodes").getAttribute("data-points"),
        "5"
      )
      // Queries rise by 40 × 3 + 5 … per second: find_node 80/s, sample_infohashes 40/s.
      assert.strictEqual(await numberOf(page, "queries-per-second"), 120)

      for (let n = 6; n <= 9; n++) {
        await publish(snapshot(n))
        await waitForValue(page, "known-nodes", (v) => v === 100 + 40 * n)
      }
      assert.strictEqual(await numberOf(page, "unique-infohashes"), 3 * (100 + 40 * 9))
      assert.strictEqual(await numberOf(page, "torrents-fetched"), 18)
      for (const chart of ["nodes", "infohashes", "metadata", "queries", "queues", "drops"]) {
        const figure = page.getByTestId(`chart-${chart}`)
        assert.isAtLeast(Number(await figure.getAttribute("data-points")), 8, chart)
        assert.isAtLeast(await figure.locator("polyline").count(), 1, chart)
      }
      const points = (await page.getByTestId("chart-nodes").locator("polyline").first().getAttribute("points"))!
      assert.strictEqual(points.split(" ").length, 9)
      // Network-supplied reasons (back-off, filter reasons) are text too.
      assert.include(await page.getByTestId("backoff-sub").innerText(), XSS_NAMES[0])
      assert.include(await page.getByTestId("filtered").innerText(), XSS_NAMES[1])
      await assertNoInjection(w)
      await screenshot(page, "dashboard")

      await publish(snapshot(10, false))
      await status.filter({ hasText: "Crawl stopped" }).waitFor()
      assert.strictEqual(await status.getAttribute("data-state"), "stopped")
      assert.strictEqual(await numberOf(page, "known-nodes"), 500)
      // Paused: nothing published afterwards reaches the page.
      await publish(snapshot(11))
      await page.waitForTimeout(300)
      assert.strictEqual(await numberOf(page, "known-nodes"), 500)
      assert.strictEqual(await status.getAttribute("data-state"), "stopped")
      await screenshot(page, "dashboard-stopped")
      await page.emulateMedia({ colorScheme: "dark" })
      await screenshot(page, "dashboard-dark")
      assert.deepStrictEqual(w.problems, [])
    } finally {
      await w.context.close()
    }
  })

  it("a phone-sized screen (390×844): no page is wider than the screen", async () => {
    const w = await open({ viewport: { width: 390, height: 844 }, mobile: true })
    const { page } = w
    try {
      const pages: Array<[string, string, string]> = [
        ["", "known-nodes", "dashboard-phone"],
        ["search?sort=name", "result", "search-phone"],
        [`torrent/${crawl.hashes[0]}`, "torrent-name", "torrent-phone"],
        ["about", "config", "about-phone"]
      ]
      for (const [path, testid, name] of pages) {
        await page.goto(`${crawl.url}${path}`)
        await page.getByTestId(testid).first().waitFor()
        await page.waitForTimeout(100)
        const width = await page.evaluate<number>("document.documentElement.scrollWidth")
        assert.isAtMost(width, 390, `${path || "/"} is ${width} px wide`)
        await screenshot(page, name)
      }
      assert.deepStrictEqual(w.problems, [])
    } finally {
      await w.context.close()
    }
  })

  it("dashboard of a real loopback crawl (bitscrape demo): counters rise, then 'stopped' after Ctrl-C", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitscrape-browser-"))
    const child = spawnCli([
      "demo",
      "--nodes",
      "60",
      "--torrents",
      "15",
      "--seeders",
      "5",
      "--duration",
      "40",
      "--ui-port",
      "0",
      "--db",
      join(dir, "demo.db")
    ])
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    let out = ""
    let err = ""
    child.stderr.setEncoding("utf8").on("data", (t: string) => (err += t))
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no dashboard line in:\n${out}\n${err}`)), 30_000)
      child.stdout.setEncoding("utf8").on("data", (t: string) => {
        out += t
        const m = /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out)
        if (m !== null) {
          clearTimeout(timer)
          resolve(m[1]!)
        }
      })
      child.on("exit", () => reject(new Error(`the demo exited:\n${out}\n${err}`)))
    })
    const w = await open()
    const { page } = w
    try {
      await page.goto(url)
      const status = page.getByTestId("crawl-status")
      await status.filter({ hasText: "Crawl running" }).waitFor({ timeout: 15_000 })
      const firstNodes = await waitForValue(page, "known-nodes", (n) => n > 0, 15_000)
      const firstInfohashes = await numberOf(page, "unique-infohashes")
      const firstFetched = await numberOf(page, "torrents-fetched")
      // The swarm's 15 torrents are found and fetched within seconds (on a busy machine the crawl may have found
      // them all before the page's first reading: then the counters are already there).
      await waitForValue(page, "unique-infohashes", (n) => n > firstInfohashes || n >= 15, 20_000)
      await waitForValue(page, "torrents-fetched", (n) => n > firstFetched || n >= 15, 20_000)
      assert.isAtLeast(await numberOf(page, "known-nodes"), firstNodes)
      const chart = page.getByTestId("chart-nodes")
      const until = Date.now() + 10_000
      while (Number(await chart.getAttribute("data-points")) < 3 && Date.now() < until) await page.waitForTimeout(200)
      assert.isAtLeast(Number(await chart.getAttribute("data-points")), 3)
      assert.isAtLeast(await chart.locator("polyline").count(), 1)
      await screenshot(page, "dashboard-demo")

      assert.deepStrictEqual(w.problems, [], "no problem while the crawl runs")
      const beforeStop = w.problems.length
      child.kill("SIGINT")
      await status.filter({ hasText: "Crawl stopped" }).waitFor({ timeout: 20_000 })
      assert.strictEqual(await exited, 0)
      // Once the server has gone, a poll the page had already scheduled fails to connect (Chromium logs that
      // itself as a console error); nothing else may appear.
      const gone = /Failed to load resource: net::ERR_CONNECTION_REFUSED/
      assert.deepStrictEqual(w.problems.slice(beforeStop).filter((p) => !gone.test(p)), [])
    } finally {
      await w.context.close()
      child.kill("SIGKILL")
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
