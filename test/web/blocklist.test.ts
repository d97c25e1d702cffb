// The blocklist through the JSON API (issue 16 item 8): POST /api/blocklist adds an entry and removes what it
// blocks, DELETE /api/blocklist/ID removes one; a change needs the CSRF header (GET /api/session) or the token
// in an Authorization header — the token cookie alone is not enough (CSRF) — and a foreign Origin is refused.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import { webConfig } from "../../src/config/WebConfig.js"
import { RepositoryMemory } from "../../src/repository/memory.js"
import { Repository } from "../../src/repository/Repository.js"
import { BlocklistAddResponse, BlocklistEntry, SearchResponse } from "../../src/web/api.js"
import { BlocklistStore, WebInfo } from "../../src/web/handlers.js"
import { LiveStatsLive } from "../../src/web/LiveStats.js"
import { WebServer, WebServerLive } from "../../src/web/WebServer.js"
import { webFixture } from "../support/web.js"

const call = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const r = await fetch(url, init)
    const text = await r.text()
    return { status: r.status, text, body: r.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text }
  })

/** The CSRF value the pages send with changes (GET /api/session). */
const writeKey = (base: string, init?: RequestInit) =>
  Effect.map(call(`${base}api/session`, init), (r) => (r.body as { csrf: string }).csrf)

const post = (base: string, body: unknown, headers: Record<string, string>) =>
  call(`${base}api/blocklist`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body)
  })

describe("blocklist API", () => {
  it.scopedLive("adds and removes entries with the CSRF header; what is blocked is no longer shown", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      const key = yield* writeKey(web.url)
      const auth = { "x-bitscrape-csrf": key }
      const searchTotal = Effect.map(
        call(`${web.url}api/search?q=ubuntu`),
        (r) => Schema.decodeUnknownSync(SearchResponse)(r.body).total
      )
      assert.strictEqual(yield* searchTotal, 1)

      // Refused: no key, a wrong key, a foreign Origin, a body that is not JSON, another method.
      assert.strictEqual((yield* post(web.url, { entry: "*ubuntu*" }, {})).status, 403)
      assert.strictEqual(
        (yield* post(web.url, { entry: "*ubuntu*" }, { "x-bitscrape-csrf": "x".repeat(24) })).status,
        403
      )
      const foreign = yield* post(web.url, { entry: "*ubuntu*" }, { ...auth, origin: "https://evil.example" })
      assert.strictEqual(foreign.status, 403)
      const plain = yield* call(`${web.url}api/blocklist`, {
        method: "POST",
        headers: { ...auth, "content-type": "text/plain" },
        body: JSON.stringify({ entry: "*ubuntu*" })
      })
      assert.strictEqual(plain.status, 415)
      assert.strictEqual((yield* call(`${web.url}api/blocklist`, { method: "PUT", headers: auth })).status, 405)
      assert.strictEqual((yield* call(`${web.url}api/stats`, { method: "DELETE", headers: auth })).status, 405)
      const big = yield* post(web.url, { entry: "x".repeat(17_000) }, auth)
      assert.strictEqual(big.status, 413)
      assert.strictEqual(yield* searchTotal, 1, "nothing was blocked by a refused request")

      // Bad entries: a clear 400.
      const empty = yield* post(web.url, { entry: "  " }, auth)
      assert.strictEqual(empty.status, 400)
      assert.include(empty.text, "empty")
      assert.strictEqual((yield* post(web.url, { entry: "*" }, auth)).status, 400)
      assert.strictEqual((yield* post(web.url, { nope: 1 }, auth)).status, 400)

      // Added: the torrent disappears from search and the entry is listed with its reason.
      const added = yield* post(web.url, { entry: "*UBUNTU*", reason: "not wanted" }, {
        ...auth,
        origin: web.url.slice(0, -1)
      })
      assert.strictEqual(added.status, 200, added.text)
      const r = Schema.decodeUnknownSync(BlocklistAddResponse)(added.body)
      assert.strictEqual(r.added.length, 1)
      assert.strictEqual(r.added[0]!.kind, "name")
      assert.strictEqual(r.purged.torrents, 1)
      assert.strictEqual(yield* searchTotal, 0)
      const again = Schema.decodeUnknownSync(BlocklistAddResponse)(
        (yield* post(web.url, { entry: "*UBUNTU*" }, auth)).body
      )
      assert.deepStrictEqual([again.added.length, again.already], [0, 1])
      const hash = web.hashes[1]!
      assert.strictEqual(
        (yield* post(web.url, { entry: `magnet:?xt=urn:btih:${hash.toUpperCase()}` }, auth)).status,
        200
      )

      const list = Schema.decodeUnknownSync(Schema.Array(BlocklistEntry))((yield* call(`${web.url}api/blocklist`)).body)
      const pattern = list.find((b) => b.value === "*UBUNTU*")!
      assert.strictEqual(pattern.reason, "not wanted")
      assert.isDefined(list.find((b) => b.kind === "infohash" && b.value === hash && b.via === null))

      // Removed: by id, with the key; unknown ids are 404, no key is 403.
      assert.strictEqual((yield* call(`${web.url}api/blocklist/${pattern.id}`, { method: "DELETE" })).status, 403)
      const removed = yield* call(`${web.url}api/blocklist/${pattern.id}`, { method: "DELETE", headers: auth })
      assert.strictEqual(removed.status, 200, removed.text)
      assert.isAtLeast((removed.body as { removed: number }).removed, 1)
      const gone = yield* call(`${web.url}api/blocklist/${pattern.id}`, { method: "DELETE", headers: auth })
      assert.strictEqual(gone.status, 404)
      assert.strictEqual((yield* call(`${web.url}api/blocklist/abc`, { method: "DELETE", headers: auth })).status, 405)
      const after = Schema.decodeUnknownSync(Schema.Array(BlocklistEntry))(
        (yield* call(`${web.url}api/blocklist`)).body
      )
      assert.deepStrictEqual(after.map((b) => b.value), [hash])
    }))

  it.scopedLive("with a token: the cookie alone cannot change anything; the CSRF header or a Bearer header can", () =>
    Effect.gen(function*() {
      const token = "t0ken-for-the-blocklist-test"
      const web = yield* webFixture({ token })
      const cookie = { cookie: `bitscrape_token=${token}` }
      // Reads work with the cookie, changes do not.
      assert.strictEqual((yield* call(`${web.url}api/blocklist`, { headers: cookie })).status, 200)
      assert.strictEqual((yield* post(web.url, { entry: "*sample*" }, cookie)).status, 403)
      // Without the token nothing at all, not even the key.
      assert.strictEqual((yield* call(`${web.url}api/session`)).status, 401)
      const key = yield* writeKey(web.url, { headers: cookie })
      assert.strictEqual((yield* post(web.url, { entry: "*sample*" }, { "x-bitscrape-csrf": key })).status, 401)
      assert.strictEqual(
        (yield* post(web.url, { entry: "*sample*" }, { ...cookie, "x-bitscrape-csrf": key })).status,
        200
      )
      const bearer = yield* post(web.url, { entry: "name:*trailer*" }, { authorization: `Bearer ${token}` })
      assert.strictEqual(bearer.status, 200, bearer.text)
      const wrong = yield* post(web.url, { entry: "name:*x*" }, { authorization: `Bearer ${"w".repeat(token.length)}` })
      assert.strictEqual(wrong.status, 401)
      const list = Schema.decodeUnknownSync(Schema.Array(BlocklistEntry))(
        (yield* call(`${web.url}api/blocklist`, { headers: cookie })).body
      )
      assert.sameMembers(list.map((b) => b.value), ["*sample*", "*trailer*"])
    }))

  it.scopedLive("`serve`: changes go to the BlocklistStore when one is provided (its reads stay read-only)", () =>
    Effect.gen(function*() {
      const writable = yield* Layer.build(RepositoryMemory)
      const store = Context.get(writable, Repository)
      const ctx = yield* Layer.build(
        WebServerLive.pipe(Layer.provide(Layer.mergeAll(
          webConfig({ port: 0 }),
          LiveStatsLive,
          RepositoryMemory,
          Layer.succeed(BlocklistStore, { block: store.block, unblock: store.unblock }),
          Layer.succeed(WebInfo, { version: "t", database: "", host: "127.0.0.1", port: 0, token: false })
        )))
      )
      const url = Context.get(ctx, WebServer).url
      const key = yield* writeKey(url)
      assert.strictEqual((yield* post(url, { entry: "*sample*" }, { "x-bitscrape-csrf": key })).status, 200)
      assert.deepStrictEqual((yield* store.blocklist).map((b) => b.value), ["*sample*"])
    }))
})
