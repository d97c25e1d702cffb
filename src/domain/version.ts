import { createRequire } from "node:module"

const pkg = createRequire(import.meta.url)("../../package.json") as { readonly version: string }

/** The package version, as `bitscrape --version` prints it. */
export const version: string = pkg.version
