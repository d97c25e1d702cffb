// Vitest global setup: the CLI tests run the built CLI (dist/main.js), as users do, so build it first.
// The build is incremental (dist/.tsbuildinfo): a run with nothing changed costs about two seconds.
// Starting the built CLI takes about half the CPU of src/main.ts through tsx, and the suite starts hundreds.
import { execFileSync } from "node:child_process"

export default function setup() {
  try {
    execFileSync("npm", ["run", "--silent", "build"], { stdio: ["ignore", "inherit", "inherit"] })
  } catch (e) {
    throw new Error(`the tests need the built CLI, and \`npm run build\` failed: ${String(e)}`)
  }
}
