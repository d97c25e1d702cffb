import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Clock, Effect, Layer, Option, Redacted, Schedule, Stream } from "effect"
import { createHash } from "node:crypto"
import { readdirSync, readFileSync } from "node:fs"
import { createServer } from "node:http"
import { extname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { WebConfig } from "../config/WebConfig.js"
import { formatHostPort } from "../domain/address.js"
import { infoHashFromHex, toHex } from "../domain/ids.js"
import { Repository } from "../repository/Repository.js"
import { torrentFile } from "../wire/torrentInfo.js"
import { BitscrapeApi } from "./api.js"
import { makeDbMetrics } from "./dbMetrics.js"
import { FEED_ATOM_PATH, FEED_RSS_PATH, feedResponse } from "./feed.js"
import { ApiHandlers } from "./handlers.js"
import { LiveStats } from "./LiveStats.js"
import { openApiDocument } from "./openapi.js"
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from "./prometheus.js"
import {
  allowedOnLoopback,
  CSRF_HEADER,
  csrfValue,
  isLoopbackHost,
  isMutation,
  makeRateLimiter,
  makeStreamLimiter,
  MalformedRequest,
  MAX_BODY_BYTES,
  mutationProblem,
  normalisedRoute,
  presentedToken,
  sameSecret,
  SECURITY_HEADERS,
  TOKEN_COOKIE,
  tokenProblem
} from "./security.js"
import { WebInfo, WebServer, WebServerError } from "./services.js"
import { errorResponse as torznabError, TORZNAB_PATH, TorznabError, torznabResponse } from "./torznab.js"

// The web UI's HTTP server (@effect/platform on Node's http): the JSON API (HttpApi, with its OpenAPI
// description), live stats as server-sent events, .torrent downloads, Prometheus metrics and the pages'
// static assets, behind one global middleware that adds the security headers and enforces the token, the
// method/body limits and per-client rate limits.

export { WebServer, WebServerError }

// === Static assets (the pages: plain HTML, CSS and JavaScript; no build step) ===

const ASSETS_DIR = fileURLToPath(new URL("./assets/", import.meta.url))
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json"
}

interface Asset {
  readonly body: Uint8Array
  readonly type: string
  readonly etag: string
}

const loadAssets = (): ReadonlyMap<string, Asset> => {
  const assets = new Map<string, Asset>()
  for (const name of readdirSync(ASSETS_DIR)) {
    const type = TYPES[extname(name)]
    if (type === undefined) continue
    const body = readFileSync(join(ASSETS_DIR, name))
    assets.set(name, { body, type, etag: `"${createHash("sha1").update(body).digest("hex").slice(0, 16)}"` })
  }
  return assets
}

/** Page routes and the asset that renders each. */
const PAGES: ReadonlyArray<readonly [`/${string}`, string]> = [
  ["/", "index.html"],
  ["/search", "search.html"],
  ["/torrent/:infohash", "torrent.html"],
  ["/about", "about.html"],
  ["/insights", "insights.html"]
]

// === Server-sent events ===

const encoder = new TextEncoder()
const sse = (event: string, data: unknown) => encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)

/** Live streams open at once, all clients together (each holds a connection and a subscription). */
const MAX_LIVE_STREAMS = 64

/** Routes whose clients present the token as a URL parameter on every request (and the parameter's name). */
const QUERY_KEY_ROUTES: Readonly<Record<string, string>> = {
  [TORZNAB_PATH]: "apikey",
  [FEED_RSS_PATH]: "token",
  [FEED_ATOM_PATH]: "token"
}

/**
 * The request's span (@effect/platform's tracer, "http.server GET" with `http.route`, exported when tracing is on)
 * records the URL and headers: the token given as `?token=` or `apikey=`, and the CSRF header derived from it, are
 * replaced by "REDACTED" there (Authorization and Cookie already are).
 */
const redactRequestSpan = Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
  Effect.sync(() => {
    if (Option.isNone(span)) return
    for (const key of ["url.full", "url.query"]) {
      const value = span.value.attributes.get(key)
      if (typeof value === "string") {
        span.value.attribute(key, value.replace(/(^|[?&])(token|apikey)=[^&#]*/gi, "$1$2=REDACTED"))
      }
    }
    const csrf = `http.request.header.${CSRF_HEADER}`
    if (span.value.attributes.has(csrf)) span.value.attribute(csrf, "REDACTED")
  }))

/** The normalised route of a request URL, or "" when it cannot be read (the guard answers 400 for it later). */
const routeOf = (requestUrl: string) => {
  try {
    return normalisedRoute(new URL(requestUrl.startsWith("/") ? `http://localhost${requestUrl}` : requestUrl).pathname)
  } catch {
    return ""
  }
}

const clientOf = (request: HttpServerRequest.HttpServerRequest) => Option.getOrElse(request.remoteAddress, () => "?")

const make = Effect.gen(function*() {
  const config = yield* WebConfig
  const live = yield* LiveStats
  const repo = yield* Repository
  const info = yield* WebInfo
  const dbMetrics = yield* makeDbMetrics(repo)
  const openapi = openApiDocument()
  const assets = loadAssets()
  const token = Option.map(config.token, Redacted.value)
  const apiLimiter = makeRateLimiter({ rate: config.rateLimit, burst: config.rateLimit * 4 })
  // Pages and assets: a browser loads a handful per view; generous, but a flood is still cut off.
  const pageLimiter = makeRateLimiter({ rate: config.rateLimit * 4, burst: config.rateLimit * 16 })
  // Wrong tokens: a few a minute per client, so guessing is hopeless (1 per 2 s, bursts of 10).
  const authFailures = makeRateLimiter({ rate: 0.5, burst: 10 })
  const streams = makeStreamLimiter(8, MAX_LIVE_STREAMS)
  const loopbackOnly = isLoopbackHost(config.host)
  // What a page of this server sends with a change (MUTATING_ROUTES); it reads the value from /api/session.
  const csrf = csrfValue(Option.getOrUndefined(token))

  const asset = (name: string, cacheable: boolean) =>
    Effect.gen(function*() {
      const a = assets.get(name)
      if (a === undefined) return HttpServerResponse.text("not found\n", { status: 404 })
      const request = yield* HttpServerRequest.HttpServerRequest
      const headers = { etag: a.etag, "cache-control": cacheable ? "public, max-age=300" : "no-cache" }
      if (request.headers["if-none-match"] === a.etag) return HttpServerResponse.empty({ status: 304, headers })
      return HttpServerResponse.uint8Array(a.body, { contentType: a.type, headers })
    })

  const liveEvents = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const client = clientOf(request)
    const slot = streams.acquire(client)
    if (slot !== "ok") {
      return HttpServerResponse.text(
        slot === "client" ? "too many live streams from this address\n" : "too many live streams open; try later\n",
        { status: 429, headers: { "retry-after": "5" } }
      )
    }
    const history = yield* live.history
    const events = Stream.concat(
      Stream.make(sse("history", history)),
      Stream.merge(
        // The stream ends after the crawl's last snapshot ("stopped"), so shutting down can wait for it to be sent.
        Stream.map(
          Stream.takeUntil(live.changes, (s) => !s.running),
          (s) => sse(s.running ? "stats" : "stopped", s)
        ),
        // A comment line every 15 s keeps proxies from closing an idle stream.
        Stream.map(Stream.fromSchedule(Schedule.spaced("15 seconds")), () => encoder.encode(": keep-alive\n\n")),
        { haltStrategy: "left" }
      )
    ).pipe(Stream.ensuring(Effect.sync(() => streams.release(client))))
    return HttpServerResponse.stream(events, {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
    })
  })

  const download = Effect.gen(function*() {
    const params = yield* HttpRouter.params
    const ih = infoHashFromHex(params["infohash"] ?? "")
    if (ih === undefined) return HttpServerResponse.text("an infohash is 40 hexadecimal digits\n", { status: 400 })
    return yield* repo.getTorrent(ih).pipe(
      Effect.map((t) =>
        HttpServerResponse.uint8Array(torrentFile(t.info), {
          contentType: "application/x-bittorrent",
          headers: { "content-disposition": `attachment; filename="${toHex(t.infoHash)}.torrent"` }
        })
      ),
      Effect.catchTags({
        TorrentNotFound: () => Effect.succeed(HttpServerResponse.text("no such torrent\n", { status: 404 })),
        RepositoryError: (e) => Effect.succeed(HttpServerResponse.text(`${e.message}\n`, { status: 500 }))
      })
    )
  })

  const routes = HttpLayerRouter.use((router) =>
    Effect.gen(function*() {
      for (const [path, file] of PAGES) yield* router.add("GET", path, asset(file, false))
      yield* router.add("GET", "/assets/:file", Effect.flatMap(HttpRouter.params, (p) => asset(p["file"] ?? "", true)))
      yield* router.add("GET", "/favicon.ico", asset("favicon.svg", true))
      yield* router.add("GET", "/api/live", liveEvents)
      yield* router.add("GET", "/api/torrents/:infohash/file", download)
      yield* router.add("GET", "/api/openapi.json", Effect.sync(() => HttpServerResponse.unsafeJson(openapi)))
      yield* router.add(
        "GET",
        "/api/session",
        Effect.sync(() =>
          HttpServerResponse.unsafeJson({ csrf, header: CSRF_HEADER }, { headers: { "cache-control": "no-store" } })
        )
      )
      yield* router.add("GET", TORZNAB_PATH, torznabResponse(repo, info.version))
      yield* router.add("GET", FEED_RSS_PATH, feedResponse(repo, "rss"))
      yield* router.add("GET", FEED_ATOM_PATH, feedResponse(repo, "atom"))
      // Anything else: a 404 that still passes through the guard (headers, token, limits).
      yield* router.add("*", "*", Effect.succeed(HttpServerResponse.text("not found\n", { status: 404 })))
      yield* router.add(
        "GET",
        "/metrics",
        Effect.zipRight(
          dbMetrics,
          Effect.sync(() => HttpServerResponse.text(prometheusText(), { contentType: PROMETHEUS_CONTENT_TYPE }))
        )
      )
    })
  )

  // Every request: method and body limits, the Host check, rate limits, the token (if any); every response:
  // security headers. Rate limits come before the token check and key on the route as the router matches it.
  const guard = HttpLayerRouter.middleware((app) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      yield* redactRequestSpan
      const deny = (status: number, text: string, headers: Record<string, string> = {}) =>
        HttpServerResponse.text(`${text}\n`, { status, headers: { ...SECURITY_HEADERS, ...headers } })
      // Every route is a read, GET only (the router has no HEAD routes, so HEAD is refused rather than a 404),
      // except the few changes MUTATING_ROUTES lists, which must carry a header that proves their origin.
      const mutation = request.method !== "GET" && isMutation(request.method, routeOf(request.url))
      if (request.method !== "GET" && !mutation) {
        return deny(405, "only GET is accepted", { allow: "GET" })
      }
      const lengthHeader = request.headers["content-length"]
      if (lengthHeader !== undefined && !/^\d+$/.test(lengthHeader.trim())) return deny(400, "malformed Content-Length")
      if (mutation) {
        if (request.headers["transfer-encoding"] !== undefined) return deny(411, "send the body with a Content-Length")
        if (Number(lengthHeader ?? "0") > MAX_BODY_BYTES) {
          return deny(413, `a body here is at most ${MAX_BODY_BYTES} bytes`)
        }
      } else if (Number(lengthHeader ?? "0") > 0 || request.headers["transfer-encoding"] !== undefined) {
        return deny(413, "requests carry no body here")
      }
      if (request.url.length > 4096) {
        return deny(414, "URL too long")
      }
      let url: URL
      let route: string
      let presented: ReturnType<typeof presentedToken> | undefined
      try {
        // Prefixed rather than resolved: "//api/stats" is a path here, not a host (the router matches it as one).
        url = new URL(request.url.startsWith("/") ? `http://localhost${request.url}` : request.url)
        route = normalisedRoute(url.pathname)
        if (Option.isSome(token)) {
          // Torznab clients (Sonarr, Radarr, Prowlarr) send the token as `apikey=`, feed readers as `token=`, on
          // every request, and keep no cookie: no redirect for them.
          const key = QUERY_KEY_ROUTES[route]
          const given = key === undefined ? null : url.searchParams.get(key)
          presented = given !== null ? { token: given, fromQuery: false } : presentedToken(request.headers, url)
        }
      } catch (e) {
        return deny(400, e instanceof MalformedRequest ? e.message : "malformed request")
      }
      // DNS rebinding: bound to loopback, answer only to loopback names (a rebound page sends its own name).
      if (loopbackOnly && !allowedOnLoopback(request.headers["host"], request.headers["origin"], config.host)) {
        return deny(403, "this server answers only to localhost and loopback addresses (Host/Origin refused)")
      }
      const client = clientOf(request)
      const now = yield* Clock.currentTimeMillis
      const limiter = route.startsWith("/api/") || route === "/metrics" ? apiLimiter : pageLimiter
      if (!limiter.take(client, now)) return deny(429, "too many requests; slow down", { "retry-after": "1" })
      if (Option.isSome(token)) {
        if (!authFailures.has(client, now)) {
          return deny(429, "too many wrong tokens from this address; wait a minute", { "retry-after": "60" })
        }
        if (presented?.token === undefined || !sameSecret(presented.token, token.value)) {
          if (presented?.token !== undefined) authFailures.take(client, now)
          if (route === TORZNAB_PATH) {
            return HttpServerResponse.setHeaders(
              torznabError(new TorznabError(100, "Incorrect user credentials: the API key is the UI token")),
              SECURITY_HEADERS
            )
          }
          return deny(401, "a token is required: open the link printed by bitscrape (…?token=…)", {
            "www-authenticate": "Bearer"
          })
        }
      }
      if (mutation) {
        const problem = mutationProblem(request.headers, Option.getOrUndefined(token), csrf, request.method)
        if (problem !== undefined) return deny(problem.startsWith("a change sends") ? 415 : 403, problem)
      }
      if (Option.isSome(token) && presented?.fromQuery === true) {
        // The token goes into an HttpOnly cookie and out of the address bar and history: redirect to the same
        // address without it.
        url.searchParams.delete("token")
        const location = `${url.pathname}${url.search}`
        return deny(303, "the token is now in a cookie", {
          location,
          "cache-control": "no-store",
          "set-cookie": `${TOKEN_COOKIE}=${encodeURIComponent(token.value)}; HttpOnly; SameSite=Strict; Path=/`
        })
      }
      const response = yield* app.pipe(
        Effect.catchAllDefect(() => Effect.succeed(HttpServerResponse.text("internal error\n", { status: 500 })))
      )
      return HttpServerResponse.setHeaders(response, SECURITY_HEADERS)
    }), { global: true })

  const app = Layer.mergeAll(
    routes,
    HttpLayerRouter.addHttpApi(BitscrapeApi).pipe(Layer.provide(ApiHandlers)),
    guard
  )
  return { app, liveStreams: streams.open }
})

/**
 * The web server, listening on `WebConfig`'s host and port. Refuses to start on a non-loopback address
 * without a token. Needs the Repository, the LiveStats feed and WebInfo.
 */
export const WebServerLive = Layer.unwrapScoped(Effect.gen(function*() {
  const config = yield* WebConfig
  if (!isLoopbackHost(config.host) && Option.isNone(config.token)) {
    return yield* Effect.fail(
      new WebServerError({
        reason: "TokenRequired",
        message:
          `the web UI would listen on ${config.host}, which is reachable from other machines: set BITSCRAPE_UI_TOKEN to a secret first (or use --ui-host 127.0.0.1)`
      })
    )
  }
  const tooShort = Option.flatMap(config.token, (t) => Option.fromNullable(tokenProblem(Redacted.value(t))))
  if (Option.isSome(tooShort)) {
    return yield* Effect.fail(new WebServerError({ reason: "TokenTooShort", message: tooShort.value }))
  }
  const { app, liveStreams } = yield* make
  const live = yield* LiveStats
  const server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000 })
  // A request Node's parser rejects (a malformed header line, oversized headers) still gets a plain 400 with the
  // security headers, not Node's bare reply.
  server.on("clientError", (_error, socket) => {
    if (!socket.writable) return socket.destroy()
    const headers = Object.entries(SECURITY_HEADERS).map(([k, v]) => `${k}: ${v}\r\n`).join("")
    const body = "malformed request\n"
    socket.end(
      `HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n` +
        `${headers}connection: close\r\n\r\n${body}`
    )
  })
  const listening = NodeHttpServer.layer(() => server, { host: config.host, port: config.port }).pipe(
    Layer.mapError((e) =>
      new WebServerError({
        reason: "Listen",
        message: `the web UI cannot listen on ${config.host}:${config.port}: ${
          (e.cause as Error | undefined)?.message ?? e
        } (choose another port with --ui-port, 0 for any free one; crawl and demo also run without the UI with --no-ui)`
      })
    )
  )
  // Node's server.close() waits for open connections, and a dashboard's event stream never ends by itself:
  // close them first, so stopping the crawl is not held up by an open browser tab.
  const closer = Layer.scopedDiscard(Effect.flatMap(
    HttpServer.HttpServer,
    () =>
      Effect.addFinalizer(() =>
        Effect.gen(function*() {
          // When the crawl has just stopped, first let the live streams send its last snapshot ("stopped") to open
          // dashboards: each stream ends after it (waits at most a second).
          const stopped = Option.exists(yield* live.latest, (s) => !s.running)
          for (let i = 0; stopped && i < 50 && liveStreams() > 0; i++) yield* Effect.sleep("20 millis")
          server.closeAllConnections()
        })
      )
  ))
  const handle = Layer.effect(
    WebServer,
    Effect.map(HttpServer.HttpServer, (s) => {
      const a = s.address
      return WebServer.of({
        url: a._tag === "TcpAddress" ? `http://${formatHostPort(a.hostname, a.port)}/` : `unix:${a.path}`
      })
    })
  )
  return Layer.mergeAll(
    HttpLayerRouter.serve(app, { disableLogger: true, disableListenLog: true }),
    closer,
    handle
  ).pipe(Layer.provide(listening))
}))
