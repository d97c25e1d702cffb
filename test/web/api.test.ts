import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Schema } from "effect"
import { createHash } from "node:crypto"
import { webConfig } from "../../src/config/WebConfig.js"
import type { NodeId } from "../../src/krpc/index.js"
import { RepositoryMemory } from "../../src/repository/memory.js"
import {
  AboutResponse,
  BlocklistEntry,
  NodeInfo,
  SearchResponse,
  SessionInfo,
  StatsResponse,
  TorrentDetail
} from "../../src/web/api.js"
import { WebInfo } from "../../src/web/handlers.js"
import { LiveSnapshot, LiveStatsLive, snapshotOf } from "../../src/web/LiveStats.js"
import { WebServerLive } from "../../src/web/WebServer.js"
import { CrawlerStatsFixture } from "../support/liveStats.js"
import { webFixture, XSS_NAMES } from "../support/web.js"

const get = (url: string, init?: RequestInit) => Effect.promise(() => fetch(url, init))
/** Fetches JSON and decodes it with the API's own response Schema (so the responses are checked against it). */
const json = <A, I>(url: string, schema: Schema.Schema<A, I>) =>
  Effect.promise(async () => {
    const r = await fetch(url)
    return { status: r.status, headers: r.headers, body: Schema.decodeUnknownSync(schema)(await r.json()) }
  })
const ErrorBody = Schema.Struct({
  _tag: Schema.String,
  message: Schema.optional(Schema.String),
  issues: Schema.optional(Schema.Array(Schema.Struct({ path: Schema.Array(Schema.Unknown), message: Schema.String })))
})

const OpenApiBody = Schema.Struct({
  openapi: Schema.String,
  paths: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})

describe("JSON API", () => {
  it.scopedLive("stats, search with filters and sorting, torrent detail, nodes, sessions, about", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      const stats = yield* json(`${web.url}api/stats`, StatsResponse)
      assert.strictEqual(stats.status, 200)
      assert.strictEqual(stats.body.database.torrents, 4)
      assert.strictEqual(stats.body.database.by_source.announce, 4)
      assert.isNull(stats.body.live)

      const all = yield* json(`${web.url}api/search`, SearchResponse)
      assert.strictEqual(all.body.total, 4)
      const ubuntu = yield* json(`${web.url}api/search?q=ubuntu`, SearchResponse)
      assert.deepStrictEqual(ubuntu.body.items.map((i) => i.name), ["Ubuntu 24.04 desktop amd64"])
      const big = yield* json(`${web.url}api/search?min_size=1GB&sort=largest`, SearchResponse)
      assert.deepStrictEqual(big.body.items.map((i) => i.name), ["Ubuntu 24.04 desktop amd64"])
      const paged = yield* json(`${web.url}api/search?sort=name&limit=1&page=2`, SearchResponse)
      assert.strictEqual(paged.body.items.length, 1)
      assert.strictEqual(paged.body.total, 4)
      assert.strictEqual(paged.body.page, 2)

      const detail = yield* json(`${web.url}api/torrents/${web.hashes[0]}`, TorrentDetail)
      assert.strictEqual(detail.status, 200)
      assert.strictEqual(detail.body.name, "Ubuntu 24.04 desktop amd64")
      assert.strictEqual(detail.body.files.length, 3)
      assert.match(detail.body.magnet, /^magnet:\?xt=urn:btih:[0-9a-f]{40}&dn=Ubuntu/)
      assert.strictEqual(detail.body.seen.announce, 1)
      assert.deepStrictEqual(detail.body.peers.map((p) => p.port), [6000])

      const file = yield* get(`${web.url}api/torrents/${web.hashes[0]}/file`)
      assert.strictEqual(file.status, 200)
      assert.strictEqual(file.headers.get("content-type"), "application/x-bittorrent")
      const bytes = Buffer.from(yield* Effect.promise(() => file.arrayBuffer()))
      // d4:info<info dict>e — the SHA-1 of the info dictionary is the infohash.
      const info = bytes.subarray(7, bytes.length - 1)
      assert.strictEqual(createHash("sha1").update(info).digest("hex"), web.hashes[0])

      yield* web.repo.upsertNodes([{
        id: Buffer.alloc(20, 7) as Uint8Array as NodeId,
        host: "127.0.0.5",
        port: 6881,
        seenAt: 1,
        respondedAt: 1,
        version: Buffer.from([0x4c, 0x54, 2, 8])
      }])
      const nodes = yield* json(`${web.url}api/nodes?limit=5`, Schema.Array(NodeInfo))
      assert.deepStrictEqual(nodes.body.map((n) => [n.host, n.client]), [["127.0.0.5", "LT 2.8"]])
      const sessions = yield* json(`${web.url}api/sessions`, Schema.Array(SessionInfo))
      assert.deepStrictEqual(sessions.body, [])
      const about = yield* json(`${web.url}api/about`, AboutResponse)
      assert.strictEqual(about.body.version, "test")
      assert.isNull(about.body.crawl)
      // The blocklist, with when and why; a blocked torrent is no longer found.
      assert.deepStrictEqual((yield* json(`${web.url}api/blocklist`, Schema.Array(BlocklistEntry))).body, [])
      yield* web.repo.block([{ kind: "infohash", value: web.hashes[0]!, reason: "asked to" }])
      const blocked = yield* json(`${web.url}api/blocklist`, Schema.Array(BlocklistEntry))
      assert.deepStrictEqual(blocked.body.map((b) => [b.kind, b.value, b.reason, b.via]), [
        ["infohash", web.hashes[0], "asked to", null]
      ])
      const gone = yield* json(`${web.url}api/torrents/${web.hashes[0]}`, ErrorBody)
      assert.strictEqual(gone.status, 404)
    }))

  it.scopedLive("invalid parameters give 400 with a message naming them; unknown torrents 404", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      const bad = yield* json(`${web.url}api/search?min_size=huge`, ErrorBody)
      assert.strictEqual(bad.status, 400)
      assert.strictEqual(bad.body._tag, "HttpApiDecodeError")
      assert.deepStrictEqual(bad.body.issues![0]!.path, ["min_size"])
      assert.strictEqual(bad.body.issues![0]!.message, "\"huge\" is not a size such as 700MB or 1.5GiB")
      const sort = yield* json(`${web.url}api/search?sort=random`, ErrorBody)
      assert.strictEqual(sort.status, 400)
      assert.include(JSON.stringify(sort.body), "sort")
      const limit = yield* json(`${web.url}api/search?limit=100000`, ErrorBody)
      assert.strictEqual(limit.status, 400)
      const hash = yield* json(`${web.url}api/torrents/not-a-hash`, ErrorBody)
      assert.strictEqual(hash.status, 400)
      assert.strictEqual(hash.body.issues![0]!.message, "an infohash is 40 hexadecimal digits")
      const missing = yield* json(`${web.url}api/torrents/${"ab".repeat(20)}`, ErrorBody)
      assert.strictEqual(missing.status, 404)
      assert.strictEqual(missing.body._tag, "NotFound")
    }))

  it.scopedLive("serves an OpenAPI description of the API", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      const spec = yield* json(`${web.url}api/openapi.json`, OpenApiBody)
      assert.strictEqual(spec.status, 200)
      assert.match(spec.body.openapi, /^3\./)
      assert.includeMembers(Object.keys(spec.body.paths), [
        "/api/stats",
        "/api/search",
        "/api/torrents/{infohash}",
        "/api/nodes",
        "/api/sessions",
        "/api/about"
      ])
    }))

  it.scopedLive("network strings come back as data, never as markup in HTML responses", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      const r = yield* json(`${web.url}api/search?sort=name`, SearchResponse)
      assert.strictEqual(r.headers.get("content-type"), "application/json")
      assert.includeMembers(r.body.items.map((i) => i.name), [...XSS_NAMES])
    }))
})

describe("Live stats", () => {
  it.scopedLive("server-sent events: history first, then a snapshot per publish, then 'stopped', then the end", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      yield* web.live.publish(
        snapshotOf(Date.now(), CrawlerStatsFixture(10), { discoveries: 1, nodes: 2, torrents: 0, failures: 0 }, 1)
      )
      const events: Array<{ event: string; data: unknown }> = []
      const controller = new AbortController()
      const reading = Effect.promise(async () => {
        const r = await fetch(`${web.url}api/live`, { signal: controller.signal })
        assert.strictEqual(r.headers.get("content-type"), "text/event-stream")
        const reader = r.body!.getReader()
        let text = ""
        for (;;) {
          const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }))
          if (done) return
          text += Buffer.from(value!).toString()
          let i
          while ((i = text.indexOf("\n\n")) >= 0) {
            const block = text.slice(0, i)
            text = text.slice(i + 2)
            const event = /^event: (.*)$/m.exec(block)?.[1]
            const data = /^data: (.*)$/m.exec(block)?.[1]
            if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) })
          }
        }
      })
      const fiber = yield* Effect.fork(reading)
      const waitFor = (n: number) =>
        Effect.gen(function*() {
          for (let i = 0; i < 100 && events.length < n; i++) yield* Effect.sleep("20 millis")
        })
      yield* waitFor(1)
      yield* web.live.publish(
        snapshotOf(Date.now(), CrawlerStatsFixture(20), { discoveries: 5, nodes: 9, torrents: 1, failures: 0 }, 2)
      )
      yield* waitFor(2)
      yield* web.live.publish(
        snapshotOf(
          Date.now(),
          CrawlerStatsFixture(21),
          { discoveries: 6, nodes: 9, torrents: 1, failures: 0 },
          3,
          false
        )
      )
      yield* waitFor(3)
      // The server ends the stream after "stopped": the reader sees its end without aborting.
      const ended = yield* Effect.timeout(fiber.await, "2 seconds").pipe(Effect.option)
      controller.abort()
      assert.isTrue(ended._tag === "Some", "the event stream ends after the crawl's last snapshot")
      assert.deepStrictEqual(events.map((e) => e.event), ["history", "stats", "stopped"])
      assert.strictEqual(Schema.decodeUnknownSync(Schema.Array(LiveSnapshot))(events[0]!.data).length, 1)
      assert.strictEqual(Schema.decodeUnknownSync(LiveSnapshot)(events[1]!.data).knownNodes, 20)
      assert.strictEqual(Schema.decodeUnknownSync(LiveSnapshot)(events[2]!.data).running, false)
      const stats = yield* json(`${web.url}api/stats`, StatsResponse)
      assert.strictEqual(stats.body.live?.knownNodes, 21)
    }))
})

describe("Prometheus", () => {
  it.scopedLive("/metrics exposes the Effect metrics in the text format", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      const r = yield* get(`${web.url}metrics`)
      assert.strictEqual(r.status, 200)
      assert.match(r.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/)
      const text = yield* Effect.promise(() => r.text())
      assert.match(text, /^# TYPE process_resident_memory_bytes gauge$/m)
      // Every sample line is `name{labels} value`.
      for (const line of text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
        assert.match(
          line,
          /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? \S+$/
        )
      }
    }))
})

describe("Security", () => {
  it.scopedLive("strict CSP and protective headers on every response", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      for (const path of ["", "search", "api/stats", "api/nodes?limit=0", "assets/app.js", "nope"]) {
        const r = yield* get(`${web.url}${path}`)
        const csp = r.headers.get("content-security-policy") ?? ""
        assert.include(csp, "default-src 'none'", path)
        assert.include(csp, "script-src 'self'", path)
        assert.notInclude(csp, "unsafe-inline", path)
        assert.strictEqual(r.headers.get("x-content-type-options"), "nosniff", path)
        assert.strictEqual(r.headers.get("x-frame-options"), "DENY", path)
      }
    }))

  it.scopedLive("refuses bodies, other methods and long URLs; rate-limits API clients", () =>
    Effect.gen(function*() {
      const web = yield* webFixture({ rateLimit: 2 })
      assert.strictEqual((yield* get(`${web.url}api/stats`, { method: "POST", body: "x" })).status, 405)
      assert.strictEqual((yield* get(`${web.url}api/stats`, { method: "HEAD" })).status, 405)
      assert.strictEqual(
        (yield* get(`${web.url}api/stats`, { method: "GET", headers: { "content-length": "0" } })).status,
        200
      )
      assert.strictEqual((yield* get(`${web.url}api/search?q=${"a".repeat(5000)}`)).status, 414)
      // Burst of 4 × rate, then 429 with Retry-After.
      const statuses: Array<number> = []
      for (let i = 0; i < 12; i++) statuses.push((yield* get(`${web.url}api/stats`)).status)
      assert.include(statuses, 429)
      const limited = yield* get(`${web.url}api/stats`)
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.headers.get("retry-after"), "1")
      // Pages and assets are not API calls: still served.
      assert.strictEqual((yield* get(web.url)).status, 200)
    }))

  it.scopedLive("with a token: 401 without it; Bearer, ?token= (moved to a cookie by a redirect) and the cookie", () =>
    Effect.gen(function*() {
      const secret = "s3cret-s3cret-s3cret"
      const web = yield* webFixture({ token: secret })
      assert.strictEqual((yield* get(`${web.url}api/stats`)).status, 401)
      assert.strictEqual((yield* get(`${web.url}api/stats?token=wrong`)).status, 401)
      assert.strictEqual(
        (yield* get(`${web.url}api/stats`, { headers: { authorization: `Bearer ${secret}` } })).status,
        200
      )
      const viaQuery = yield* get(`${web.url}search?q=x&token=${secret}`, { redirect: "manual" })
      assert.strictEqual(viaQuery.status, 303)
      assert.strictEqual(viaQuery.headers.get("location"), "/search?q=x")
      const cookie = viaQuery.headers.get("set-cookie")!
      assert.match(cookie, new RegExp(`^bitscrape_token=${secret}; HttpOnly; SameSite=Strict; Path=/`))
      assert.strictEqual(
        (yield* get(`${web.url}api/stats`, { headers: { cookie: cookie.split(";")[0]! } })).status,
        200
      )
    }))

  it.scopedLive("refuses to start on a non-loopback address without a token", () =>
    Effect.gen(function*() {
      const exit = yield* Layer.build(
        WebServerLive.pipe(Layer.provide(Layer.mergeAll(
          webConfig({ host: "0.0.0.0", port: 0 }),
          LiveStatsLive,
          RepositoryMemory,
          Layer.succeed(WebInfo, { version: "t", database: "", host: "0.0.0.0", port: 0, token: false })
        )))
      ).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "BITSCRAPE_UI_TOKEN")
    }))
})
