// /api/analysis/*: the Insights over the web fixture's torrents, decoded with the API's own Schemas; the
// category filter of /api/search; both in the OpenAPI description.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import {
  ChurnReport,
  ClientsReport,
  ContentReport,
  PopularityReport,
  SourcesReport
} from "../../src/web/analysisApi.js"
import { SearchResponse } from "../../src/web/api.js"
import { webFixture } from "../support/web.js"

const json = <A, I>(url: string, schema: Schema.Schema<A, I>) =>
  Effect.promise(async () => {
    const r = await fetch(url)
    const body = await r.json()
    return { status: r.status, body: r.status === 200 ? Schema.decodeUnknownSync(schema)(body) : undefined, raw: body }
  })

describe("JSON API: /api/analysis", () => {
  it.scopedLive("content, sources and clients; search by category; OpenAPI", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      const content = yield* json(`${web.url}api/analysis/content?top=3`, ContentReport)
      assert.strictEqual(content.status, 200)
      // Two ISO images (software) and two torrents whose bytes are mostly .mkv (video).
      assert.deepStrictEqual(
        content.body!.categories.filter((c) => c.torrents > 0).map((c) => [c.category, c.torrents]),
        [["video", 2], ["software", 2]]
      )
      assert.deepStrictEqual(content.body!.extensions.map((e) => [e.extension, e.files]), [["txt", 4], ["iso", 2], [
        "mkv",
        2
      ]])
      const sources = yield* json(`${web.url}api/analysis/sources`, SourcesReport)
      assert.deepStrictEqual(sources.body!.funnel, { seen: 4, with_peers: 4, fetched: 4, failed: 0 })
      assert.strictEqual(sources.body!.sources.find((s) => s.source === "announce")!.only, 4)
      const clients = yield* json(`${web.url}api/analysis/clients`, ClientsReport)
      assert.deepStrictEqual(clients.body!.torrent_clients, [{ client: "-LT2080-", torrents: 4 }])
      assert.strictEqual(clients.body!.nodes, 0)

      const churn = yield* json(`${web.url}api/analysis/churn`, ChurnReport)
      assert.strictEqual(churn.status, 200)
      assert.strictEqual(churn.body!.nodes, 0)
      assert.deepStrictEqual(churn.body!.response_rates, [])
      yield* web.repo.recordResponseRates([{
        at: Date.UTC(2026, 0, 1, 12, 0, 30),
        queries: 8,
        responses: 6,
        timeouts: 2
      }])
      const rates = yield* json(`${web.url}api/analysis/churn`, ChurnReport)
      assert.deepStrictEqual(rates.body!.response_rates, [
        { at: "2026-01-01T12:00:00.000Z", queries: 8, responses: 6, timeouts: 2, response_rate: 0.75 }
      ])
      assert.strictEqual(rates.body!.response_rate_interval_ms, 60_000)
      const popularity = yield* json(`${web.url}api/analysis/popularity?top=2&since=2020-01-01`, PopularityReport)
      assert.strictEqual(popularity.body!.by_peers.length, 2)
      assert.strictEqual(popularity.body!.since, "2020-01-01T00:00:00.000Z")
      assert.deepStrictEqual(popularity.body!.windows.map((w) => w.window), ["1h", "1d", "7d"])
      const badSince = yield* json(`${web.url}api/analysis/popularity?since=soon`, PopularityReport)
      assert.strictEqual(badSince.status, 400)
      const popular = yield* json(`${web.url}api/search?sort=popular`, SearchResponse)
      assert.strictEqual(popular.body!.total, 4)

      const video = yield* json(`${web.url}api/search?category=video`, SearchResponse)
      assert.strictEqual(video.body!.total, 2)
      assert.deepStrictEqual([...new Set(video.body!.items.map((i) => i.category))], ["video"])
      const bad = yield* json(`${web.url}api/search?category=movies`, SearchResponse)
      assert.strictEqual(bad.status, 400)
      const badTop = yield* json(`${web.url}api/analysis/content?top=0`, ContentReport)
      assert.strictEqual(badTop.status, 400)

      const openapi = (yield* json(`${web.url}api/openapi.json`, Schema.Unknown)).raw as {
        paths: Record<string, unknown>
      }
      for (const analysis of ["content", "sources", "clients", "churn", "popularity"]) {
        const path = `/api/analysis/${analysis}`
        assert.property(openapi.paths, path)
      }
    }), 60_000)
})
