import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { isLoopback } from "../domain/address.js"

// Pure parts of the web server's protection: response headers, the access token, per-client rate limits.

/**
 * Content-Security-Policy of every response: scripts, styles and connections only from this server, no inline
 * script or style, no plugins, no framing. Network-supplied strings are inserted as text nodes by the pages,
 * and this policy is the second line of defence should one ever be inserted as markup.
 */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'"
].join("; ")

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()"
}

/** Whether a bind address only accepts connections from this machine. */
export const isLoopbackHost = (host: string) => host === "localhost" || isLoopback(host)

/** Equal strings, compared in constant time. */
export const sameSecret = (given: string, expected: string) => {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The cookie that carries the token once a browser has presented it in `?token=`. */
export const TOKEN_COOKIE = "bitscrape_token"

/** Shortest access token accepted (a token shorter than this is guessable; the server refuses to start). */
export const MIN_TOKEN_LENGTH = 16

/** Why `token` cannot protect the web UI (empty or too short), or undefined when it can. */
export const tokenProblem = (token: string): string | undefined =>
  token.length >= MIN_TOKEN_LENGTH
    ? undefined
    : `BITSCRAPE_UI_TOKEN is ${token.length === 0 ? "empty" : `${token.length} characters long`}; ` +
      `it must be at least ${MIN_TOKEN_LENGTH} characters (for example: openssl rand -hex 16)`

/** A request header or cookie that cannot be read (bad percent-encoding): answered with 400. */
export class MalformedRequest extends Error {}

const decode = (text: string, what: string) => {
  try {
    return decodeURIComponent(text)
  } catch {
    throw new MalformedRequest(`malformed ${what}`)
  }
}

/**
 * The token a request presents: `Authorization: Bearer …`, `?token=`, or the cookie. Throws MalformedRequest for
 * a cookie that cannot be decoded.
 */
export const presentedToken = (
  headers: Readonly<Record<string, string | undefined>>,
  url: URL
): { readonly token: string | undefined; readonly fromQuery: boolean } => {
  const auth = headers["authorization"]
  if (auth !== undefined && /^Bearer\s+/i.test(auth)) {
    return { token: auth.replace(/^Bearer\s+/i, ""), fromQuery: false }
  }
  const q = url.searchParams.get("token")
  if (q !== null) return { token: q, fromQuery: true }
  for (const part of (headers["cookie"] ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=")
    if (k === TOKEN_COOKIE) return { token: decode(v.join("="), `${TOKEN_COOKIE} cookie`), fromQuery: false }
  }
  return { token: undefined, fromQuery: false }
}

/**
 * The route a path names, as the router matches it: percent-decoded, lower-case, repeated slashes and dot
 * segments removed. Rate limits key on this, so `//api/stats`, `/API/stats` and `/%61pi/stats` count as
 * `/api/stats`. Throws MalformedRequest for bad percent-encoding.
 */
export const normalisedRoute = (pathname: string): string => {
  const out: Array<string> = []
  for (const segment of decode(pathname, "path").toLowerCase().split(/[/\\]+/)) {
    if (segment === "" || segment === ".") continue
    if (segment === "..") out.pop()
    else out.push(segment)
  }
  return `/${out.join("/")}`
}

/** The host part of a Host header or an Origin (`127.0.0.1`, `::1`, `localhost`), lower-case, without the port. */
const hostnameOf = (hostHeader: string): string | undefined => {
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:/\s]+))(?::\d{1,5})?$/i.exec(hostHeader.trim())
  return m === null ? undefined : (m[1] ?? m[2])!.toLowerCase()
}

/**
 * Whether a server bound to loopback should answer a request with this Host (and Origin, when sent): only to
 * loopback names and addresses (`localhost`, `*.localhost`, 127.0.0.0/8, ::1) and the bound address. A page
 * from elsewhere that re-binds its own name to 127.0.0.1 (DNS rebinding) sends its own name, and is refused.
 */
export const allowedOnLoopback = (
  host: string | undefined,
  origin: string | undefined,
  boundHost: string
): boolean => {
  const ok = (name: string | undefined) =>
    name !== undefined &&
    (name === "localhost" || name.endsWith(".localhost") || isLoopback(name) || name === boundHost.toLowerCase())
  if (host === undefined || !ok(hostnameOf(host))) return false
  if (origin === undefined) return true
  const m = /^https?:\/\/([^/]+)$/i.exec(origin.trim())
  return m !== null && ok(hostnameOf(m[1]!))
}

/**
 * Token buckets per client address: `rate` requests per second with bursts of `burst`. Bounded: beyond
 * `maxClients` addresses the oldest bucket is forgotten (a forgotten client starts with a full bucket).
 */
export const makeRateLimiter = (
  options: { readonly rate: number; readonly burst: number; readonly maxClients?: number }
) => {
  const buckets = new Map<string, { tokens: number; at: number }>()
  const max = options.maxClients ?? 10_000
  return {
    /** Takes one token for `client` at time `now` (ms); false when the client is over its rate. */
    take: (client: string, now: number): boolean => {
      let b = buckets.get(client)
      if (b === undefined) {
        b = { tokens: options.burst, at: now }
        if (buckets.size >= max) buckets.delete(buckets.keys().next().value!)
      } else {
        buckets.delete(client)
        b.tokens = Math.min(options.burst, b.tokens + ((now - b.at) / 1000) * options.rate)
        b.at = now
      }
      buckets.set(client, b)
      if (b.tokens < 1) return false
      b.tokens -= 1
      return true
    },
    /** Whether `client` has a token left at `now`, without taking it. */
    has: (client: string, now: number): boolean => {
      const b = buckets.get(client)
      return b === undefined || Math.min(options.burst, b.tokens + ((now - b.at) / 1000) * options.rate) >= 1
    }
  }
}

/** Concurrent long-lived streams (server-sent events): at most `perClient` per address and `total` in all. */
export const makeStreamLimiter = (perClient: number, total = Infinity) => {
  const open = new Map<string, number>()
  let count = 0
  return {
    /** Streams open now, all clients together. */
    open: () => count,
    /** Takes a slot for `client`: "ok", or which cap is full. */
    acquire: (client: string): "ok" | "client" | "total" => {
      const n = open.get(client) ?? 0
      if (n >= perClient) return "client"
      if (count >= total) return "total"
      open.set(client, n + 1)
      count++
      return "ok"
    },
    release: (client: string) => {
      if (!open.has(client)) return
      count--
      const n = open.get(client)! - 1
      if (n <= 0) open.delete(client)
      else open.set(client, n)
    }
  }
}

// === Changes through the API (mutating routes) ===

/**
 * The routes that change something, as `METHOD /normalised/route` patterns; every other route is a read (GET).
 * A request to one of them must prove in a header that it is not a cross-site form or a stray link: either
 * `Authorization: Bearer <token>`, or the CSRF header with the value `GET /api/session` gives a page of this
 * server (which other sites cannot read). A cookie alone is never enough. Add a route here to allow it.
 */
export const MUTATING_ROUTES: ReadonlyArray<readonly [method: string, route: RegExp]> = [
  ["POST", /^\/api\/saved-searches$/],
  ["DELETE", /^\/api\/saved-searches\/[^/]+$/],
  ["POST", /^\/api\/blocklist$/],
  ["DELETE", /^\/api\/blocklist\/\d{1,15}$/]
]

/** Whether `method` on the normalised `route` is an allowed change. */
export const isMutation = (method: string, route: string) =>
  MUTATING_ROUTES.some(([m, r]) => m === method && r.test(route))

/** Largest request body (bytes) a mutating route accepts; every other request carries none. */
export const MAX_BODY_BYTES = 16 * 1024

/** The header that carries the CSRF value on a change made from the web UI. */
export const CSRF_HEADER = "x-bitscrape-csrf"

/**
 * The CSRF value of a server: derived from its token (stable across restarts), or random per process when it runs
 * without one (on loopback).
 */
export const csrfValue = (token: string | undefined): string =>
  createHmac("sha256", token ?? randomBytes(32)).update("bitscrape web UI CSRF").digest("hex")

/**
 * Why a mutating request is refused (undefined: allowed): it must carry `Authorization: Bearer <token>` (when the
 * server has a token; checked as every request's token) or the CSRF header; an Origin, when sent, must be the
 * server's own (the Host's); a POST body must be JSON.
 */
export const mutationProblem = (
  headers: Readonly<Record<string, string | undefined>>,
  token: string | undefined,
  csrf: string,
  method = "POST"
): string | undefined => {
  const auth = headers["authorization"]
  const bearer = token !== undefined && auth !== undefined && /^Bearer\s+/i.test(auth)
  if (bearer && !sameSecret(auth.replace(/^Bearer\s+/i, ""), token)) return "wrong token"
  const given = headers[CSRF_HEADER]
  if (!bearer && !(given !== undefined && sameSecret(given, csrf))) {
    return `a change needs the ${CSRF_HEADER} header (its value is at GET /api/session)` +
      (token === undefined ? "" : " or Authorization: Bearer <token>")
  }
  const origin = headers["origin"]
  if (origin !== undefined) {
    const m = /^https?:\/\/([^/]+)$/i.exec(origin.trim())
    if (m === null || m[1]!.toLowerCase() !== (headers["host"] ?? "").trim().toLowerCase()) {
      return "a change must come from this server's own pages (Origin refused)"
    }
  }
  if (method === "POST" && !/^application\/json\s*(;|$)/i.test(headers["content-type"] ?? "")) {
    return "a change sends Content-Type: application/json"
  }
  return undefined
}
