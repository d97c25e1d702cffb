// Loaded with `--import` into a CLI process by tests that check what it loads: every module the process resolves
// is appended, as a URL per line, to the file named by BITSCRAPE_TEST_MODULE_LOG (tracing.test.ts).
import { register } from "node:module"

register("./moduleLogHooks.mjs", import.meta.url)
