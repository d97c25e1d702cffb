import { randomBytes, timingSafeEqual } from "node:crypto"
import { isLoopback } from "../krpc/address.js"

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

// === Changes (the only requests that are not reads) ===

/**
 * The key a change must carry in the `X-BitScrape-Write` header (unless it carries the token in an
 * `Authorization: Bearer` header). Pages of this server read it from GET /api/write-key; another site cannot
 * (no CORS headers), so a browser holding the token cookie cannot be made to change anything (CSRF). Random per
 * process.
 */
export const WRITE_KEY = randomBytes(18).toString("base64url")

/** The header that carries WRITE_KEY. */
export const WRITE_HEADER = "x-bitscrape-write"

/** Longest body a change may send. */
export const MAX_WRITE_BODY = 4096

/**
 * Whether `method` on `route` (as normalisedRoute gives it) is one of the changes the server accepts: adding a
 * blocklist entry (POST /api/blocklist) and removing one (DELETE /api/blocklist/ID). Every other route is GET.
 */
export const isWriteRoute = (method: string, route: string): boolean =>
  (method === "POST" && route === "/api/blocklist") ||
  (method === "DELETE" && /^\/api\/blocklist\/\d{1,15}$/.test(route))

/**
 * Why a change may not go ahead, or undefined when it may: it must present the write key in its header, or the
 * token (when one is set) in an Authorization header — never a cookie alone; an Origin, when sent, must be the
 * server's own (the Host's); a body must be JSON.
 */
export const writeProblem = (
  headers: Readonly<Record<string, string | undefined>>,
  method: string,
  token: string | undefined
): string | undefined => {
  const key = headers[WRITE_HEADER]
  const auth = headers["authorization"]
  const bearer = auth !== undefined && /^Bearer\s+/i.test(auth) ? auth.replace(/^Bearer\s+/i, "") : undefined
  const keyOk = key !== undefined && sameSecret(key, WRITE_KEY)
  const bearerOk = token !== undefined && bearer !== undefined && sameSecret(bearer, token)
  if (!keyOk && !bearerOk) {
    return `a change needs the ${WRITE_HEADER} header (its value from GET /api/write-key)${
      token === undefined ? "" : " or Authorization: Bearer <token>"
    }`
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
