import { splitList } from "./address.js"
import { parseIP } from "./address.js"

// Which addresses the crawler talks to. Pure: CIDR lists, the bogons nobody on the public DHT can be reached at,
// and a ban list for nodes that misbehave. A node is usable when its port is not 0, it is not our own address,
// it is not banned, it is not in a deny range, and it is either in an allow range or (when no allow list is
// given) not a bogon. An explicit allow range wins over the bogon list, which is how tests crawl 127.0.0.0/8.

/** An address range: the first `bits` bits of `bytes` (4 bytes IPv4, 16 IPv6), and how the user wrote it. */
export interface Cidr {
  readonly bytes: Uint8Array
  readonly bits: number
  readonly text: string
}

/** Parses "10.0.0.0/8", "127.0.0.1" (a /32), "fc00::/7"; `undefined` if malformed. */
export const parseCidr = (text: string): Cidr | undefined => {
  const [addr, len, extra] = text.trim().split("/")
  if (addr === undefined || extra !== undefined) return undefined
  const bytes = parseIP(addr)
  if (bytes === undefined) return undefined
  const max = bytes.length * 8
  const bits = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN
  if (!(bits >= 0 && bits <= max)) return undefined
  return { bytes, bits, text: text.trim() }
}

/** Parses a comma-separated CIDR list; returns the first bad entry on failure. */
export const parseCidrList = (
  text: string
): { readonly ok: true; readonly value: Array<Cidr> } | { readonly ok: false; readonly bad: string } => {
  const out: Array<Cidr> = []
  for (const item of splitList(text)) {
    const c = parseCidr(item)
    if (c === undefined) return { ok: false, bad: item }
    out.push(c)
  }
  return { ok: true, value: out }
}

/** Parses a CIDR list known to be valid (constants, tests); throws on a bad entry. */
export const cidrs = (text: string): Array<Cidr> => {
  const r = parseCidrList(text)
  if (!r.ok) throw new Error(`not a CIDR range: ${r.bad}`)
  return r.value
}

/** True when `ip` (4 or 16 bytes) lies in `cidr`; an address of the other family never does. */
export const cidrContains = (cidr: Cidr, ip: Uint8Array): boolean => {
  if (ip.length !== cidr.bytes.length) return false
  const full = cidr.bits >> 3
  for (let i = 0; i < full; i++) if (ip[i] !== cidr.bytes[i]) return false
  const rest = cidr.bits & 7
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return (ip[full]! & mask) === (cidr.bytes[full]! & mask)
}

/**
 * Addresses never reachable on the public DHT: unspecified, private, loopback, link-local, CGNAT, multicast,
 * reserved, broadcast; for IPv6 the unspecified and loopback addresses, unique-local fc00::/7, link-local
 * fe80::/10, multicast ff00::/8 and the documentation range 2001:db8::/32 (IPv4-mapped addresses are judged as
 * the IPv4 address they carry, see `unmapIPv4`).
 */
export const BOGONS: ReadonlyArray<Cidr> = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "255.255.255.255/32",
  "::/128",
  "::1/128",
  "fc00::/7",
  "fe80::/10",
  "ff00::/8",
  "2001:db8::/32"
].map((c) => parseCidr(c)!)

/**
 * The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 ::ffff:0:0/96), which the
 * lists judge as that IPv4 address; any other address unchanged.
 */
export const unmapIPv4 = (ip: Uint8Array): Uint8Array => {
  if (ip.length !== 16 || ip[10] !== 0xff || ip[11] !== 0xff) return ip
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return ip
  return ip.subarray(12, 16)
}

/** Hosts whose verdict is remembered (then the memory starts over). */
const HOST_CACHE = 65_536

/** Why an address may ("ok") or may not be queried. */
export type Verdict =
  | "ok"
  | "port-zero"
  | "self"
  | "banned"
  | "denied"
  | "not-allowed"
  | "bogon"
  | "not-an-ip"
  /** A node of an address family we have no socket for (counted by the crawler, not by this filter). */
  | "other-family"

/** Decides which addresses the crawler talks to (see `makeAddressFilter`). */
export interface AddressFilter {
  /** Whether we may talk to host:port, and if not, why. */
  readonly check: (host: string, port: number) => Verdict
  /** Bans an IP (misbehaviour); the ban list is bounded, oldest first out. */
  readonly ban: (host: string) => void
  /** How many IPs are banned now. */
  readonly banned: () => number
}

/** An address filter: port 0, `self`, banned IPs and `deny` refused; then `allow` if given, else no bogons. */
export const makeAddressFilter = (options: {
  readonly allow: ReadonlyArray<Cidr>
  readonly deny: ReadonlyArray<Cidr>
  readonly self: ReadonlyArray<{ readonly host: string; readonly port: number }>
  readonly maxBans?: number
}): AddressFilter => {
  const bans = new Set<string>()
  const maxBans = options.maxBans ?? 100_000
  const selfHosts = new Set(options.self.map((s) => s.host))
  const selfKeys = new Set(options.self.map((s) => `${s.host}|${s.port}`))
  /** What the address lists say of an IP (they never change): a crawl checks every contact it hears of. */
  const byHost = new Map<string, Verdict>()
  const ofHost = (host: string): Verdict => {
    const parsed = parseIP(host)
    if (parsed === undefined) return "not-an-ip"
    const ip = unmapIPv4(parsed)
    // A mapped address matches a range written either way (127.0.0.0/8 or ::ffff:127.0.0.0/104).
    const within = (c: Cidr) => cidrContains(c, ip) || (ip !== parsed && cidrContains(c, parsed))
    if (options.deny.some(within)) return "denied"
    if (options.allow.length > 0) return options.allow.some(within) ? "ok" : "not-allowed"
    return BOGONS.some((c) => cidrContains(c, ip)) ? "bogon" : "ok"
  }
  return {
    check: (host, port) => {
      if (port <= 0 || port > 65535) return "port-zero"
      if (selfHosts.has(host) && selfKeys.has(`${host}|${port}`)) return "self"
      if (bans.has(host)) return "banned"
      let verdict = byHost.get(host)
      if (verdict === undefined) {
        verdict = ofHost(host)
        if (byHost.size >= HOST_CACHE) byHost.clear()
        byHost.set(host, verdict)
      }
      return verdict
    },
    ban: (host) => {
      bans.add(host)
      if (bans.size > maxBans) bans.delete(bans.values().next().value!)
    },
    banned: () => bans.size
  }
}
