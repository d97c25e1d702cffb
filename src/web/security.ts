import { timingSafeEqual } from "node:crypto"
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

/** The token a request presents: `Authorization: Bearer …`, the cookie, or `?token=`. */
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
    if (k === TOKEN_COOKIE) return { token: decodeURIComponent(v.join("=")), fromQuery: false }
  }
  return { token: undefined, fromQuery: false }
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
    }
  }
}

/** Concurrent long-lived streams (server-sent events) per client address. */
export const makeStreamLimiter = (perClient: number) => {
  const open = new Map<string, number>()
  let total = 0
  return {
    /** Streams open now, all clients together. */
    open: () => total,
    acquire: (client: string) => {
      const n = open.get(client) ?? 0
      if (n >= perClient) return false
      open.set(client, n + 1)
      total++
      return true
    },
    release: (client: string) => {
      if (!open.has(client)) return
      total--
      const n = open.get(client)! - 1
      if (n <= 0) open.delete(client)
      else open.set(client, n)
    }
  }
}
