import { splitList } from "./address.js"
import { ID_LENGTH, type NodeId, randomIdBytes } from "./ids.js"

// Keyspace areas the user restricts the crawl to: `--target 0a,7f00/12` means ids starting with the 8 bits 0x0a,
// or with the 12 bits 0x7f0. A prefix without "/bits" covers 4 bits per hex digit.

/** A region of the 160-bit keyspace: ids whose first `bits` bits equal `prefix`'s, and how the user wrote it. */
export interface KeyspaceArea {
  readonly prefix: Uint8Array
  readonly bits: number
  readonly text: string
}

/** Parses "0a" (8 bits) or "7f00/12"; `undefined` if malformed or longer than its hex digits. */
export const parseArea = (text: string): KeyspaceArea | undefined => {
  const [hex, len, extra] = text.trim().toLowerCase().split("/")
  if (hex === undefined || extra !== undefined || !/^[0-9a-f]{1,40}$/.test(hex)) return undefined
  const bits = len === undefined ? hex.length * 4 : /^\d{1,3}$/.test(len) ? Number(len) : NaN
  if (!(bits >= 0 && bits <= hex.length * 4 && bits <= 160)) return undefined
  const prefix = new Uint8Array(ID_LENGTH)
  Buffer.from(hex.padEnd(hex.length + (hex.length % 2), "0"), "hex").copy(prefix)
  return { prefix, bits, text: text.trim() }
}

/** Parses a comma-separated list of areas; returns the first bad entry on failure. */
export const parseAreaList = (
  text: string
): { readonly ok: true; readonly value: Array<KeyspaceArea> } | { readonly ok: false; readonly bad: string } => {
  const out: Array<KeyspaceArea> = []
  for (const item of splitList(text)) {
    const a = parseArea(item)
    if (a === undefined) return { ok: false, bad: item }
    out.push(a)
  }
  return { ok: true, value: out }
}

/** True when `id` starts with `area`'s prefix bits. */
export const inArea = (area: KeyspaceArea, id: Uint8Array): boolean => {
  const full = area.bits >> 3
  for (let i = 0; i < full; i++) if (id[i] !== area.prefix[i]) return false
  const rest = area.bits & 7
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return (id[full]! & mask) === (area.prefix[full]! & mask)
}

/** True when `id` lies in one of the areas (or no areas were given: the whole keyspace). */
export const inAreas = (areas: ReadonlyArray<KeyspaceArea>, id: Uint8Array): boolean =>
  areas.length === 0 || areas.some((a) => inArea(a, id))

/** A random id inside a random one of the areas (anywhere when there are none). */
export const randomTarget = (areas: ReadonlyArray<KeyspaceArea>): NodeId => {
  const id = randomIdBytes()
  if (areas.length === 0) return id as Uint8Array as NodeId
  const area = areas[Math.floor(Math.random() * areas.length)]!
  for (let bit = 0; bit < area.bits; bit++) {
    const byte = bit >> 3
    const mask = 0x80 >> (bit & 7)
    id[byte] = (id[byte]! & ~mask) | (area.prefix[byte]! & mask)
  }
  return id as Uint8Array as NodeId
}

/** An id next to `id`: same first 15 bytes, the rest random (lookups for it land among `id`'s neighbours). */
export const neighbourOf = (id: Uint8Array): NodeId => {
  const out = randomIdBytes()
  out.set(id.subarray(0, 15))
  return out as Uint8Array as NodeId
}
