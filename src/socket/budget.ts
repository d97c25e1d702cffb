import { parseIPv6 } from "../domain/address.js"
import * as TokenBucket from "./tokenBucket.js"

// The outbound etiquette of one process, shared by every socket and node id it runs: a global packet budget
// (token bucket, packets/s) and a per-remote-IP pace (at most one query per `perIpIntervalMillis` to one host:
// libtorrent's dos_blocker ignores an IP — not a port — that sends it more than 5 packets/s, for 5 minutes).
// Pure and synchronous; time (ms) is passed in, so Clock/TestClock drive it.

/** What the budget has done so far. */
export interface BudgetStats {
  /** Queries that had to wait for their IP's slot. */
  ipWaits: number
  /** Queries refused because their IP's next free slot was too far away. */
  ipRefused: number
}

/** One process's outbound etiquette: a packet budget and a per-remote-IP pace (see the file's header). */
export interface Budget {
  /** Packets per second allowed on average. */
  readonly maxPps: number
  /** Packets that may go at once after a quiet spell (the token bucket's size). */
  readonly burst: number
  /** Minimum time between two queries to one IP (ms); 0 disables the pace. */
  readonly perIpIntervalMillis: number
  /** Reserves one packet of the global budget: ms to wait before sending it (0: now). */
  readonly reservePacket: (now: number) => number
  /** Takes one packet of the global budget if one is there now; false (nothing reserved) otherwise. */
  readonly tryPacket: (now: number) => boolean
  /** Packets that could go at once now (negative while senders wait on reservations). */
  readonly available: (now: number) => number
  /**
   * Reserves the next query slot to `host`: ms to wait before the query may go (0: now), or -1 (nothing
   * reserved) when that slot is more than `maxWaitMillis` away.
   */
  readonly reserveIp: (host: string, now: number, maxWaitMillis: number) => number
  /**
   * The query to `host` whose slot was just reserved leaves only at `at` (it waited for the packet budget):
   * the IP's next slot moves to a pace interval after that, so the gap on the wire is never shorter.
   */
  readonly holdIp: (host: string, at: number) => void
  /** Earliest time (ms) a query to `host` may go. */
  readonly ipFreeAt: (host: string) => number
  readonly stats: Readonly<BudgetStats>
}

/**
 * The pace key of an address: an IPv4 address itself; for IPv6 its /64 (one host usually owns a whole /64,
 * so per-address pacing would let it be hit through many addresses), and for an IPv4-mapped IPv6 address
 * (`::ffff:a.b.c.d`) the IPv4 address it carries. Anything that is not an IPv6 literal is its own key.
 */
export const paceKey = (host: string): string => {
  if (!host.includes(":")) return host
  if (host.startsWith("[") && !host.endsWith("]")) return host // "[::1]:port" from `paceHost`
  const b = parseIPv6(host)
  if (b === undefined) return host
  let mapped = b[10] === 0xff && b[11] === 0xff
  for (let i = 0; i < 10 && mapped; i++) mapped = b[i] === 0
  if (mapped) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`
  const group = (i: number) => ((b[i]! << 8) | b[i + 1]!).toString(16)
  return `${group(0)}:${group(2)}:${group(4)}:${group(6)}`
}

/**
 * The host a query to `host:port` is paced as: the host itself, except for the IPv6 loopback address. ::1 is the
 * only one of its kind (IPv6 has no ::2 as IPv4 has 127.0.0.2), so nodes running on this machine over IPv6 —
 * tests, the demo, a local client — all share it; they are told apart by port. Never a remote host.
 */
export const paceHost = (host: string, port: number): string => host === "::1" ? `[::1]:${port}` : host

/** The budget's rate (packets/s), burst (packets), pace (ms between queries to one IP) and memory bound. */
export interface BudgetOptions {
  readonly maxPps: number
  readonly burst: number
  readonly perIpIntervalMillis: number
  /** Remote hosts remembered at most (entries whose slot has passed are dropped first). */
  readonly capacity?: number
}

/** A fresh budget, full, at time `now` (ms). */
export const makeBudget = (options: BudgetOptions, now: number): Budget => {
  const bucket = TokenBucket.make(options.maxPps, options.burst, now)
  const interval = options.perIpIntervalMillis
  const capacity = options.capacity ?? 200_000
  // host key → earliest time of its next query. Re-inserted on every reservation, so the Map's order is the
  // order of last use: the oldest entries (long past their slot) are at the front and are swept from there.
  const next = new Map<string, number>()
  const stats: BudgetStats = { ipWaits: 0, ipRefused: 0 }

  // Drops entries whose slot has passed (they carry no constraint); beyond 2 × capacity the oldest go anyway.
  const sweep = (t: number) => {
    for (const [key, at] of next) {
      if (at > t && next.size <= capacity * 2) return
      next.delete(key)
    }
  }

  return {
    maxPps: options.maxPps,
    burst: options.burst,
    perIpIntervalMillis: interval,
    reservePacket: (t) => TokenBucket.reserve(bucket, t),
    tryPacket: (t) => TokenBucket.tryTake(bucket, t),
    available: (t) => TokenBucket.peek(bucket, t),
    reserveIp: (host, t, maxWait) => {
      if (interval <= 0) return 0
      const key = paceKey(host)
      const at = next.get(key)
      const slot = at === undefined || at <= t ? t : at
      const wait = slot - t
      if (wait > maxWait) {
        stats.ipRefused++
        return -1
      }
      if (wait > 0) stats.ipWaits++
      next.delete(key)
      next.set(key, slot + interval)
      if (next.size > capacity) sweep(t)
      return wait
    },
    holdIp: (host, at) => {
      if (interval <= 0) return
      const key = paceKey(host)
      const slot = next.get(key)
      if (slot !== undefined && slot >= at + interval) return
      next.delete(key)
      next.set(key, at + interval)
    },
    ipFreeAt: (host) => (interval <= 0 ? 0 : next.get(paceKey(host)) ?? 0),
    stats
  }
}
