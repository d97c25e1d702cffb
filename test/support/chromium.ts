// Debian's chromium for the UI tests, through playwright-core: never a downloaded browser.
import { existsSync, mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { type Browser, chromium } from "playwright-core"

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
