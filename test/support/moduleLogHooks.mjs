// Module resolution hooks for moduleLog.mjs (they run on Node's loader thread).
import { appendFileSync } from "node:fs"

export async function resolve(specifier, context, next) {
  const result = await next(specifier, context)
  const file = process.env["BITSCRAPE_TEST_MODULE_LOG"]
  if (file !== undefined && file !== "") appendFileSync(file, `${result.url}\n`)
  return result
}
