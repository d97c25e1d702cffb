import { Schema } from "effect"

// Pure IP-literal helpers: the compact formats of BEP 5 / BEP 32 carry raw 4- or 16-byte addresses.

/** A UDP/TCP port as carried on the wire (0 is representable; filters reject it as a bogon). */
export const Port = Schema.Int.pipe(Schema.between(0, 65535))

/** An IP literal (IPv4 dotted quad or IPv6) and a port. */
export const SocketAddress = Schema.Struct({ host: Schema.String, port: Port })
export type SocketAddress = typeof SocketAddress.Type

const DECIMAL = Array.from({ length: 256 }, (_, i) => String(i))

/** Formats 4 bytes at `offset` as a dotted quad. */
export const formatIPv4 = (b: Uint8Array, offset: number): string =>
  DECIMAL[b[offset]!]! + "." + DECIMAL[b[offset + 1]!]! + "." + DECIMAL[b[offset + 2]!]! + "." +
  DECIMAL[b[offset + 3]!]!

/** Formats 16 bytes at `offset` as an RFC 5952 IPv6 literal (longest zero run compressed). */
export const formatIPv6 = (b: Uint8Array, offset: number): string => {
  const groups: Array<number> = []
  for (let i = 0; i < 8; i++) groups.push((b[offset + 2 * i]! << 8) | b[offset + 2 * i + 1]!)
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(":")
  if (bestStart < 0) return hex(0, 8)
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`
}

/** Writes a dotted quad as 4 bytes at `offset`; false (nothing meaningful written) if `host` is not one. */
export const writeIPv4 = (out: Uint8Array, offset: number, host: string): boolean => {
  let part = 0
  let value = 0
  let digits = 0
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i)
    if (c === 46 /* . */) {
      if (digits === 0 || part === 3) return false
      out[offset + part++] = value
      value = 0
      digits = 0
    } else if (c >= 48 && c <= 57 && digits < 3) {
      value = value * 10 + (c - 48)
      if (value > 255) return false
      digits++
    } else {
      return false
    }
  }
  if (digits === 0 || part !== 3) return false
  out[offset + 3] = value
  return true
}

/** Parses a dotted quad into 4 bytes; `undefined` if it is not one. */
export const parseIPv4 = (host: string): Uint8Array | undefined => {
  const out = new Uint8Array(4)
  return writeIPv4(out, 0, host) ? out : undefined
}

/** Parses an IPv6 literal (with `::` and an optional trailing dotted quad) into 16 bytes. */
export const parseIPv6 = (input: string): Uint8Array | undefined => {
  let host = input
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1)
  const zone = host.indexOf("%")
  if (zone >= 0) host = host.slice(0, zone)
  const halves = host.split("::")
  if (halves.length > 2) return undefined
  const parseGroups = (part: string): Array<number> | undefined => {
    if (part === "") return []
    const out: Array<number> = []
    const items = part.split(":")
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!
      if (i === items.length - 1 && item.includes(".")) {
        const v4 = parseIPv4(item)
        if (v4 === undefined) return undefined
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined
        out.push(parseInt(item, 16))
      }
    }
    return out
  }
  const head = parseGroups(halves[0]!)
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : []
  if (head === undefined || tail === undefined) return undefined
  let groups: Array<number>
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length
    if (fill < 1) return undefined
    groups = [...head, ...new Array<number>(fill).fill(0), ...tail]
  } else {
    groups = head
  }
  if (groups.length !== 8) return undefined
  const out = new Uint8Array(16)
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >> 8
    out[2 * i + 1] = groups[i]! & 0xff
  }
  return out
}

/** 4 or 16 bytes for an IP literal, `undefined` for anything else (host names included). */
export const parseIP = (host: string): Uint8Array | undefined => host.includes(":") ? parseIPv6(host) : parseIPv4(host)

/** True for 127.0.0.0/8 and ::1 (and IPv4-mapped loopback). */
export const isLoopback = (host: string): boolean => {
  if (host.startsWith("127.")) return parseIPv4(host) !== undefined
  if (!host.includes(":")) return false
  const b = parseIPv6(host)
  if (b === undefined) return false
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff
  if (mapped) return b[12] === 127
  return b.subarray(0, 15).every((x) => x === 0) && b[15] === 1
}

/** Parses "host:port" or "[v6]:port" (a host name is allowed); `undefined` if malformed or the port is not 1–65535. */
export const parseHostPort = (text: string): SocketAddress | undefined => {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text.trim())
  if (m === null) return undefined
  const port = Number(m[2])
  return port > 0 && port < 65536 ? { host: m[1]!, port } : undefined
}

/** "host:port", with an IPv6 host in brackets ("[::1]:6881"): the form `parseHostPort` reads. */
export const formatHostPort = (host: string, port: number): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`

/** The items of a comma-separated setting ("a, b,,c" → ["a", "b", "c"]): trimmed, empty ones dropped. */
export const splitList = (text: string): Array<string> => text.split(",").map((s) => s.trim()).filter((s) => s !== "")
