// /api/openapi.json: a valid OpenAPI document (checked by @seriousme/openapi-schema-validator against the
// official JSON schema of its OpenAPI version), versioned with the package, describing every route the server
// answers — and every route it describes answers (no 404, no 400 for a well-formed request).
import { assert, describe, it } from "@effect/vitest"
import { Validator } from "@seriousme/openapi-schema-validator"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { webFixture } from "../support/web.js"

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }

/** Every GET route the server serves beside the pages and assets. */
const ROUTES = [
  "/api/stats",
  "/api/search",
  "/api/torrents/{infohash}",
  "/api/torrents/{infohash}/file",
  "/api/nodes",
  "/api/sessions",
  "/api/about",
  "/api/saved-searches",
  "/api/saved-searches/{name}",
  "/api/session",
  "/api/blocklist",
  "/api/blocklist/{id}",
  "/api/analysis/content",
  "/api/analysis/sources",
  "/api/analysis/clients",
  "/api/analysis/churn",
  "/api/analysis/popularity",
  "/api/live",
  "/api/feed.rss",
  "/api/feed.atom",
  "/api/torznab",
  "/metrics"
]

describe("OpenAPI description", () => {
  it.scopedLive("is valid OpenAPI, versioned with the package, and matches the routes served", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      const spec = yield* Effect.promise(() =>
        fetch(`${web.url}api/openapi.json`).then((r) => r.json())
      ) as Effect.Effect<{
        openapi: string
        info: { version: string; title: string }
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>
      }>
      const result = yield* Effect.promise(() => new Validator().validate(spec as never))
      assert.deepStrictEqual({ valid: result.valid, errors: result.errors }, { valid: true, errors: undefined })
      assert.strictEqual(spec.info.version, pkg.version)
      assert.sameMembers(Object.keys(spec.paths), ROUTES)

      // Every described GET route answers (the SSE stream is cut after its headers); the blocklist's changes
      // are exercised in blocklist.test.ts.
      const t = web.hashes[0]!
      assert.sameMembers(Object.keys(spec.paths["/api/blocklist"]!), ["get", "post"])
      assert.sameMembers(Object.keys(spec.paths["/api/blocklist/{id}"]!), ["delete"])
      for (const path of Object.keys(spec.paths).filter((p) => spec.paths[p]!["get"] !== undefined)) {
        const url = `${web.url}${path.slice(1).replace("{infohash}", t)}${path === "/api/torznab" ? "?t=caps" : ""}`
        const abort = new AbortController()
        const r = yield* Effect.promise(() => fetch(url, { signal: abort.signal }))
        abort.abort()
        assert.strictEqual(r.status, 200, path)
        const declared = spec.paths[path]!["get"]!.responses["200"] as {
          content?: Record<string, unknown>
        }
        const type = (r.headers.get("content-type") ?? "").split(";")[0]!
        assert.include(Object.keys(declared.content ?? {}), type, `${path} answers ${type}`)
      }
    }))
})
