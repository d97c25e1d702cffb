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

describe("POST and DELETE /api/saved-searches (changes from the web UI)", () => {
  const send = (url: string, method: string, headers: Record<string, string>, body?: unknown) =>
    Effect.promise(async () => {
      const r = await fetch(url, {
        method,
        headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      const text = await r.text()
      return { status: r.status, json: text === "" || !text.startsWith("{") ? text : JSON.parse(text) }
    })

  it.scopedLive("creates and deletes with the CSRF header, refuses without it and checks the input", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      const api = `${web.url}api/saved-searches`
      const ok = { name: "ubuntu isos", search: "q=ubuntu&min_size=1GB", webhook: "http://127.0.0.1:9/hook" }
      // A cross-site form can send neither a custom header nor JSON without a preflight: refused.
      assert.strictEqual((yield* send(api, "POST", {}, ok)).status, 403)
      const session = yield* Effect.promise(() =>
        fetch(`${web.url}api/session`).then((r) => r.json())
      ) as Effect.Effect<
        { csrf: string; header: string }
      >
      assert.strictEqual(session.header, "x-bitscrape-csrf")
      assert.strictEqual((yield* send(api, "POST", { "x-bitscrape-csrf": "0".repeat(64) }, ok)).status, 403)
      const h = { [session.header]: session.csrf }
      const created = yield* send(api, "POST", h, ok)
      assert.strictEqual(created.status, 201, JSON.stringify(created.json))
      const info = Schema.decodeUnknownSync(SavedSearchInfo)(created.json)
      assert.deepStrictEqual([info.name, info.query, info.webhook], [
        "ubuntu isos",
        "q=ubuntu&min_size=1GB",
        "http://127.0.0.1:9/hook"
      ])
      assert.deepStrictEqual((yield* web.repo.savedSearches).map((s) => s.name), ["ubuntu isos"])
      // Typed 400s: each names the field.
      const conflict = yield* send(api, "POST", h, ok)
      assert.deepStrictEqual([conflict.status, conflict.json._tag], [409, "SavedSearchNameTaken"])
      for (
        const [body, field] of [
          [{ ...ok, name: "x", webhook: "ftp://127.0.0.1/hook" }, "webhook"],
          [{ ...ok, name: "x", webhook: "javascript:alert(1)" }, "webhook"],
          [{ ...ok, name: "x", search: "q=a&min_size=huge" }, "min_size"],
          [{ ...ok, name: "../etc" }, "name"],
          [{ name: "x", search: "a" }, "webhook"]
        ] as const
      ) {
        const r = yield* send(api, "POST", h, body)
        assert.strictEqual(r.status, 400, JSON.stringify(body))
        assert.include(JSON.stringify(r.json), field)
      }
      const bad = yield* send(api, "POST", h, { ...ok, name: "x", search: "q=a&min_size=huge" })
      assert.strictEqual(bad.json._tag, "InvalidSavedSearch")
      assert.strictEqual((yield* send(api, "PUT", h, ok)).status, 405)
      // Delete: without the header refused, then done, then gone.
      const one = `${api}/${encodeURIComponent("ubuntu isos")}`
      assert.strictEqual((yield* send(one, "DELETE", {})).status, 403)
      assert.strictEqual((yield* send(one, "DELETE", h)).status, 204)
      const gone = yield* send(one, "DELETE", h)
      assert.deepStrictEqual([gone.status, gone.json._tag], [404, "NotFound"])
      assert.deepStrictEqual(yield* web.repo.savedSearches, [])
    }))

  it.scopedLive("with a token: a cookie alone is refused, Bearer or cookie plus CSRF header are accepted", () =>
    Effect.gen(function*() {
      const token = "s3cret-token-0123456789"
      const web = yield* webFixture({ token })
      const api = `${web.url}api/saved-searches`
      const body = (name: string) => ({ name, search: "ubuntu", webhook: "https://127.0.0.1:9/hook" })
      const cookie = { cookie: `bitscrape_token=${token}` }
      assert.strictEqual((yield* send(api, "POST", {}, body("a"))).status, 401)
      assert.strictEqual((yield* send(api, "POST", cookie, body("a"))).status, 403)
      assert.strictEqual(
        (yield* send(api, "POST", { authorization: "Bearer wrong-token-0123456789" }, body("a"))).status,
        401
      )
      assert.strictEqual((yield* send(api, "POST", { authorization: `Bearer ${token}` }, body("a"))).status, 201)
      const session = yield* Effect.promise(() =>
        fetch(`${web.url}api/session`, { headers: cookie }).then((r) => r.json())
      ) as Effect.Effect<{ csrf: string }>
      const both = { ...cookie, "x-bitscrape-csrf": session.csrf }
      assert.strictEqual((yield* send(api, "POST", both, body("b"))).status, 201)
      assert.deepStrictEqual((yield* web.repo.savedSearches).map((s) => s.name), ["a", "b"])
      assert.strictEqual((yield* send(`${api}/a`, "DELETE", cookie)).status, 403)
      assert.strictEqual((yield* send(`${api}/a`, "DELETE", both)).status, 204)
    }))
})
