// Vitest setup for every test file: the loopback guard stays on for the whole suite, forever.
import { addEqualityTesters } from "@effect/vitest"
import { afterEach } from "vitest"
import { takeViolations } from "./support/loopbackGuard.mjs"

addEqualityTesters()

afterEach(() => {
  const violations = takeViolations()
  if (violations.length > 0) {
    throw new Error(`Network traffic outside loopback was attempted:\n${violations.join("\n")}`)
  }
})
