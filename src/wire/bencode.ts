// A small general bencode reader and writer for the peer wire and torrent files (the KRPC hot path has its
// own decoder in src/krpc/codec.ts). Byte strings stay Uint8Array views, dictionaries keep their keys as
// latin1 strings plus the raw value bytes' offsets, and every length is checked against the input before use,
// with nesting capped, so hostile input costs at most its own length.

/** A decoded bencode value: integer, byte string (a view into the input), list or dictionary. */
export type BValue = number | Uint8Array | ReadonlyArray<BValue> | BDict

/** A dictionary: values by key (latin1 of the key bytes), and where each value sits in the input. */
export interface BDict {
  readonly _dict: true
  readonly values: ReadonlyMap<string, BValue>
  readonly spans: ReadonlyMap<string, readonly [start: number, end: number]>
}

/** Input that is not valid bencode (or nests too deep): why, and the byte offset where decoding stopped. */
export class BencodeError extends Error {
  constructor(readonly reason: string, readonly offset: number) {
    super(`bencode: ${reason} at byte ${offset}`)
  }
}

const MAX_DEPTH = 64

/** Decodes one value starting at `start`; returns it and the offset just past it. Throws BencodeError. */
export const decodeAt = (buf: Uint8Array, start: number): { readonly value: BValue; readonly end: number } => {
  let pos = start
  const fail = (reason: string): never => {
    throw new BencodeError(reason, pos)
  }
  const readInt = (terminator: number): number => {
    const begin = pos
    let negative = false
    if (buf[pos] === 0x2d) {
      negative = true
      pos++
    }
    let n = 0
    const digitsStart = pos
    while (pos < buf.length && buf[pos] !== terminator) {
      const c = buf[pos]!
      if (c < 0x30 || c > 0x39) fail("not a digit")
      n = n * 10 + (c - 0x30)
      pos++
      if (pos - digitsStart > 16) fail("integer too long")
    }
    if (pos >= buf.length) fail("unterminated integer")
    const digits = pos - digitsStart
    if (digits === 0 || (buf[digitsStart] === 0x30 && (digits > 1 || negative))) {
      pos = begin
      fail("malformed integer")
    }
    pos++ // terminator
    return negative ? -n : n
  }
  const value = (depth: number): BValue => {
    if (depth > MAX_DEPTH) fail("nested too deeply")
    const c = buf[pos]
    if (c === undefined) return fail("unexpected end")
    if (c === 0x69) {
      pos++
      return readInt(0x65)
    }
    if (c >= 0x30 && c <= 0x39) {
      if (c === 0x30 && buf[pos + 1] !== 0x3a) fail("leading zero in length")
      const len = readInt(0x3a)
      if (len > buf.length - pos) fail("length prefix beyond the input")
      const s = buf.subarray(pos, pos + len)
      pos += len
      return s
    }
    if (c === 0x6c) {
      pos++
      const items: Array<BValue> = []
      while (buf[pos] !== 0x65) {
        if (pos >= buf.length) fail("unterminated list")
        items.push(value(depth + 1))
      }
      pos++
      return items
    }
    if (c === 0x64) {
      pos++
      const values = new Map<string, BValue>()
      const spans = new Map<string, readonly [number, number]>()
      while (buf[pos] !== 0x65) {
        if (pos >= buf.length) fail("unterminated dictionary")
        const k = value(depth + 1)
        if (!(k instanceof Uint8Array)) fail("dictionary key is not a string")
        const key = Buffer.from((k as Uint8Array).buffer, (k as Uint8Array).byteOffset, (k as Uint8Array).byteLength)
          .toString("latin1")
        const vStart = pos
        values.set(key, value(depth + 1))
        spans.set(key, [vStart, pos])
      }
      pos++
      return { _dict: true, values, spans }
    }
    return fail("not bencode")
  }
  const v = value(0)
  return { value: v, end: pos }
}

/** Decodes a whole buffer; trailing bytes are an error. */
export const decode = (buf: Uint8Array): BValue => {
  const { end, value } = decodeAt(buf, 0)
  if (end !== buf.length) throw new BencodeError("trailing bytes", end)
  return value
}

/** Narrows a decoded value to a dictionary. */
export const isDict = (v: BValue | undefined): v is BDict => typeof v === "object" && v !== null && "_dict" in v
/** Narrows a decoded value to a byte string. */
export const isBytes = (v: BValue | undefined): v is Uint8Array => v instanceof Uint8Array
/** Narrows a decoded value to a list. */
export const isList = (v: BValue | undefined): v is ReadonlyArray<BValue> => Array.isArray(v)
/** Narrows a decoded value to an integer. */
export const isInt = (v: BValue | undefined): v is number => typeof v === "number"

// === Encoding ===

/** Values to encode: numbers, byte strings (Uint8Array or string as UTF-8), lists, and objects (keys sorted). */
export type EValue = number | string | Uint8Array | ReadonlyArray<EValue> | {
  readonly [key: string]: EValue | undefined
}

/** Canonical bencode of `value` (dictionary keys sorted by bytes, undefined values left out); never throws. */
export const encode = (value: EValue): Buffer => {
  const parts: Array<Buffer> = []
  const write = (v: EValue): void => {
    if (typeof v === "number") parts.push(Buffer.from(`i${Math.trunc(v)}e`))
    else if (typeof v === "string") {
      const b = Buffer.from(v, "utf8")
      parts.push(Buffer.from(`${b.length}:`), b)
    } else if (v instanceof Uint8Array) parts.push(Buffer.from(`${v.length}:`), Buffer.from(v))
    else if (Array.isArray(v)) {
      parts.push(Buffer.from("l"))
      for (const x of v) write(x)
      parts.push(Buffer.from("e"))
    } else {
      parts.push(Buffer.from("d"))
      const obj = v as { readonly [key: string]: EValue | undefined }
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined)
        .sort((a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")))
      for (const k of keys) {
        write(k)
        write(obj[k]!)
      }
      parts.push(Buffer.from("e"))
    }
  }
  write(value)
  return Buffer.concat(parts)
}
