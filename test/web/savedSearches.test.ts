// The saved searches as the JSON API lists them (the search page's "Alerts" section reads this).
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { SavedSearchInfo } from "../../src/web/api.js"
import { webFixture } from "../support/web.js"

describe("GET /api/saved-searches", () => {
  it.scopedLive("lists saved searches with their delivery state", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      const empty = yield* Effect.promise(() => fetch(`${web.url}api/saved-searches`).then((r) => r.json()))
      assert.deepStrictEqual(empty, [])
      const s = yield* web.repo.addSavedSearch({
        name: "ubuntu",
        query: "q=ubuntu",
        webhook: "http://127.0.0.1:9/hook",
        createdAt: 1_764_000_000_000
      })
      yield* web.repo.recordDelivery(s.id, { at: 1_764_000_001_000, error: "http://127.0.0.1:9/hook: refused" })
      const r = yield* Effect.promise(() => fetch(`${web.url}api/saved-searches`))
      assert.strictEqual(r.status, 200)
      const list = Schema.decodeUnknownSync(Schema.Array(SavedSearchInfo))(yield* Effect.promise(() => r.json()))
      assert.deepStrictEqual(list, [{
        id: s.id,
        name: "ubuntu",
        query: "q=ubuntu",
        webhook: "http://127.0.0.1:9/hook",
        created_at: "2025-11-24T16:00:00.000Z",
        delivered: 0,
        delivered_up_to: "2025-11-24T16:00:00.000Z",
        last_attempt_at: "2025-11-24T16:00:01.000Z",
        last_error: "http://127.0.0.1:9/hook: refused"
      }])
      const page = yield* Effect.promise(() => fetch(`${web.url}search`).then((x) => x.text()))
      assert.include(page, "data-testid=\"save-command\"")
    }))
})
