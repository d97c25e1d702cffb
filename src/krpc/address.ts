import { Schema } from "effect"

// Pure IP-literal helpers: the compact formats of BEP 5 / BEP 32 carry raw 4- or 16-byte addresses.

/** A UDP/TCP port as carried on the wire (0 is representable; filters reject it as a bogon). */
export const Port = Schema.Int.pipe(Schema.between(0, 65535))

/** An IP literal (IPv4 dotted quad or IPv6) and a port. */
export const SocketAddress = Schema.Struct({ host: Schema.String, port: Port })
export type SocketAddress = typeof SocketAddress.Type

/** Formats 4 bytes at `offset` as a dotted quad. */
export const formatIPv4 = (b: Uint8Array, offset: number): string =>
  `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`

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

/** Parses a dotted quad into 4 bytes; `undefined` if it is not one. */
export const parseIPv4 = (host: string): Uint8Array | undefined => {
  const parts = host.split(".")
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!
    if (!/^\d{1,3}$/.test(p)) return undefined
    const n = Number(p)
    if (n > 255) return undefined
    out[i] = n
  }
  return out
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
