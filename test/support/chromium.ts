// Debian's chromium for the UI tests, through playwright-core: never a downloaded browser.
import { existsSync, mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium, type Page } from "playwright-core"

export const CHROMIUM = "/usr/bin/chromium"
/** Where the UI tests leave their screenshots (created by launchChromium). */
export const SCREENSHOTS = fileURLToPath(new URL("../../test-artifacts/screenshots/", import.meta.url))

/** Starts headless chromium; fails loudly, naming the package, when it is not installed. */
export const launchChromium = (extraArgs: ReadonlyArray<string> = []): Promise<Browser> => {
  if (!existsSync(CHROMIUM)) {
    return Promise.reject(
      new Error(
        `${CHROMIUM} is missing: the browser tests need Debian's chromium package (run scripts/provision.sh, ` +
          "or apt-get install chromium); they never download a browser"
      )
    )
  }
  mkdirSync(SCREENSHOTS, { recursive: true })
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--no-first-run",
      ...extraArgs
    ]
  })
}

/** A page and what went wrong on it. */
export interface Watched {
  readonly page: Page
  readonly context: BrowserContext
  /** Dialogs, console errors and warnings (CSP violations among them), uncaught page errors. */
  readonly problems: Array<string>
}

/** A page in a new context whose every problem is recorded in `problems`. */
export const openWatched = async (browser: Browser, options: BrowserContextOptions): Promise<Watched> => {
  const context = await browser.newContext(options)
  await context.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => " +
      "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
  )
  const page = await context.newPage()
  const problems: Array<string> = []
  page.on("dialog", (d) => {
    problems.push(`dialog: ${d.type()} ${d.message()}`)
    void d.dismiss()
  })
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`)
  })
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
  return { page, context, problems }
}
