// The web server's perimeter cases of issue 15, against the real server: token length, rate limits on the route as
// the router matches it and before authentication, failed-token limits, the Host/Origin allow-list on loopback,
// the global live-stream cap, 400 (with the security headers) for malformed requests, and the token moved from
// the URL to a cookie. Add new cases here.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { Option, Redacted } from "effect"
import * as http from "node:http"
import * as net from "node:net"
import { webConfig } from "../../src/config/WebConfig.js"
import { RepositoryMemory } from "../../src/repository/memory.js"
import { WebInfo } from "../../src/web/handlers.js"
import { LiveStatsLive } from "../../src/web/LiveStats.js"
import { WebServerLive } from "../../src/web/WebServer.js"
import { webFixture } from "../support/web.js"

const TOKEN = "0123456789abcdef-perimeter"

interface Reply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** One GET with full control of the headers (Host included) and of the local address. */
const request = (
  url: string,
  options: { readonly headers?: Record<string, string>; readonly localAddress?: string; readonly keep?: boolean } = {}
) =>
  Effect.async<Reply & { readonly close: () => void }>((resume) => {
    const req = http.get(
      url,
      { headers: options.headers ?? {}, localAddress: options.localAddress, agent: false },
      (res) => {
        let body = ""
        res.setEncoding("utf8")
        const close = () => res.destroy()
        if (options.keep === true) {
          resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body, close }))
          return
        }
        res.on("data", (t: string) => (body += t))
        res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body, close })))
      }
    )
    req.on("error", (e) => resume(Effect.die(e)))
  })

/** Raw bytes to the server, for requests no HTTP client will send; returns the response text. */
const raw = (url: string, text: string) =>
  Effect.async<string>((resume) => {
    const u = new URL(url)
    const socket = net.connect(Number(u.port), u.hostname, () => socket.write(text))
    let out = ""
    socket.setEncoding("utf8").on("data", (t: string) => (out += t))
    socket.on("close", () => resume(Effect.succeed(out)))
    socket.on("error", () => resume(Effect.succeed(out)))
  })

const startWith = (token: string) =>
  Layer.build(
    WebServerLive.pipe(Layer.provide(Layer.mergeAll(
      webConfig({ port: 0, token: Option.some(Redacted.make(token)) }),
      LiveStatsLive,
      RepositoryMemory,
      Layer.succeed(WebInfo, { version: "t", database: "", host: "127.0.0.1", port: 0, token: true })
    )))
  ).pipe(Effect.exit)

describe("web perimeter (real server)", () => {
  it.scopedLive("an empty or short token is refused at start, naming the minimum length", () =>
    Effect.gen(function*() {
      for (const [token, says] of [["", "is empty"], ["short-token", "is 11 characters long"]] as const) {
        const exit = yield* startWith(token)
        assert.isTrue(Exit.isFailure(exit))
        const text = String(Exit.isFailure(exit) ? exit.cause : "")
        assert.include(text, says)
        assert.include(text, "at least 16 characters")
      }
    }))

  it.scopedLive("rate limits key on the normalised route: //api, /API, /%61pi count as /api", () =>
    Effect.gen(function*() {
      const web = yield* webFixture({ rateLimit: 1 })
      const base = web.url.replace(/\/$/, "")
      const spellings = ["//api/stats", "/API/stats", "/%61pi/stats", "/api/./stats", "/api//stats"]
      const statuses = new Map(spellings.map((p) => [p, [] as Array<number>]))
      for (let i = 0; i < 60; i++) {
        const path = spellings[i % spellings.length]!
        statuses.get(path)!.push((yield* request(`${base}${path}`)).status)
      }
      // Each spelling reaches the API (some 200s) and shares the one bucket (429s for every spelling).
      for (const [path, list] of statuses) {
        assert.include(list, 429, `${path}: ${list}`)
      }
      assert.include(statuses.get("/API/stats")!, 200)
    }))

  it.scopedLive("rate limits apply before the token check, and wrong tokens are limited per client", () =>
    Effect.gen(function*() {
      const limited = yield* webFixture({ rateLimit: 2, token: TOKEN })
      const before: Array<number> = []
      for (let i = 0; i < 20; i++) before.push((yield* request(`${limited.url}api/stats`)).status)
      assert.include(before, 429, "unauthenticated floods are rate limited too")

      const web = yield* webFixture({ rateLimit: 1000, token: TOKEN })
      const guesses: Array<number> = []
      for (let i = 0; i < 30; i++) {
        guesses.push(
          (yield* request(`${web.url}api/stats`, { headers: { authorization: `Bearer guess-${i}` } })).status
        )
      }
      assert.strictEqual(guesses[0], 401)
      assert.include(guesses, 429, String(guesses))
      assert.isAtMost(guesses.filter((s) => s === 401).length, 11, String(guesses))
      // That client now waits, even with the right token; another address is not affected.
      const locked = yield* request(`${web.url}api/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })
      assert.strictEqual(locked.status, 429)
      const other = yield* request(`${web.url.replace("127.0.0.1", "127.0.0.1")}api/stats`, {
        headers: { authorization: `Bearer ${TOKEN}` },
        localAddress: "127.0.0.2"
      })
      assert.strictEqual(other.status, 200)
    }))

  it.scopedLive("bound to loopback, a foreign Host or Origin (DNS rebinding) is refused", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      const port = new URL(web.url).port
      for (const path of ["api/about", "api/search?q=ubuntu", "metrics"]) {
        const r = yield* request(`${web.url}${path}`, { headers: { host: `rebind.attacker.example:${port}` } })
        assert.strictEqual(r.status, 403, path)
        assert.include(r.headers["content-security-policy"] ?? "", "default-src 'none'")
      }
      const origin = yield* request(`${web.url}api/about`, { headers: { origin: "http://rebind.attacker.example" } })
      assert.strictEqual(origin.status, 403)
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, "localhost"]) {
        assert.strictEqual((yield* request(`${web.url}api/about`, { headers: { host } })).status, 200, host)
      }
      const sameOrigin = yield* request(`${web.url}api/about`, { headers: { origin: `http://127.0.0.1:${port}` } })
      assert.strictEqual(sameOrigin.status, 200)
    }))

  it.scopedLive("live streams are capped in all, not only per address", () =>
    Effect.gen(function*() {
      const web = yield* webFixture({ rateLimit: 1000 })
      const open: Array<{ close: () => void }> = []
      const statuses: Array<number> = []
      // 8 per address (the per-address cap) from 10 addresses: 80 asked, the global cap (64) holds.
      for (let a = 1; a <= 10; a++) {
        for (let i = 0; i < 8; i++) {
          const r = yield* request(`${web.url}api/live`, { localAddress: `127.0.0.${10 + a}`, keep: true })
          statuses.push(r.status)
          open.push(r)
        }
      }
      const accepted = statuses.filter((s) => s === 200).length
      for (const r of open) r.close()
      assert.strictEqual(accepted, 64, String(statuses))
      assert.strictEqual(statuses.filter((s) => s === 429).length, 16)
    }))

  it.scopedLive("a malformed cookie or header line answers 400 with the security headers", () =>
    Effect.gen(function*() {
      const web = yield* webFixture({ token: TOKEN })
      const r = yield* request(`${web.url}api/stats`, { headers: { cookie: "bitscrape_token=%E0%A4%A" } })
      assert.strictEqual(r.status, 400)
      assert.include(r.body, "malformed")
      assert.include(r.headers["content-security-policy"] ?? "", "default-src 'none'")
      const u = new URL(web.url)
      const text = yield* raw(web.url, `GET /api/stats HTTP/1.1\r\nHost: ${u.host}\r\nBad Header Line\r\n\r\n`)
      assert.match(text, /^HTTP\/1\.1 400 /)
      assert.include(text.toLowerCase(), "content-security-policy: default-src 'none'")
      const badPath = yield* request(`${web.url}%E0%A4%A`)
      assert.strictEqual(badPath.status, 400)
    }))

  it.scopedLive("?token= is moved to an HttpOnly cookie by a redirect that drops it from the address", () =>
    Effect.gen(function*() {
      const web = yield* webFixture({ token: TOKEN })
      const r = yield* request(`${web.url}torrent/abc?x=1&token=${TOKEN}`)
      assert.strictEqual(r.status, 303)
      assert.strictEqual(r.headers.location, "/torrent/abc?x=1")
      assert.match(String(r.headers["set-cookie"]), /bitscrape_token=.*; HttpOnly; SameSite=Strict/)
      assert.include(r.headers["content-security-policy"] ?? "", "default-src 'none'")
    }))
})
