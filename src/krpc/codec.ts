import { Either } from "effect"
import type { SocketAddress } from "../domain/address.js"
import { ID_LENGTH, type InfoHash, type NodeId, unsafeInfoHash, unsafeNodeId } from "../domain/ids.js"
import {
  decodeNodes,
  decodePeerAt,
  NODE4_LENGTH,
  NODE6_LENGTH,
  type NodeContact,
  PEER4_LENGTH,
  PEER6_LENGTH,
  writePeer
} from "./compact.js"
import { KrpcDecodeError, type KrpcDecodeReason } from "./KrpcDecodeError.js"
import type { KrpcMessage, Want } from "./messages.js"

// A KRPC-specialised bencode decoder and encoder (BEP 3 bencoding, BEP 5 message layout).
//
// The decoder walks the datagram once, recognises the keys KRPC uses by their bytes, and builds the typed
// message directly: no generic intermediate tree, no key strings, and byte strings returned as zero-copy
// views into the datagram (copy ids before keeping them long: see `copyId`). Unknown keys are skipped.
// Hostile input is bounded: every length prefix is checked against the bytes that remain before anything is
// sliced, integers are capped in digits, and nesting is capped in depth, so decoding is O(datagram size).

/** Deepest nesting accepted in skipped values; KRPC itself needs 3 levels. */
export const MAX_DEPTH = 32
/** Longest integer accepted, in digits: enough for any safe JavaScript integer. */
const MAX_INT_DIGITS = 15
/** Longest string length prefix accepted, in digits (a UDP datagram is < 65,536 bytes). */
const MAX_LENGTH_DIGITS = 8

// --- decoder state: decoding is synchronous and non-reentrant, so module-level state is safe and fast ---

let buf: Uint8Array = new Uint8Array(0)
let pos = 0
let end = 0

/** Thrown internally (no stack capture); turned into a `KrpcDecodeError` at the API boundary. */
class Fail {
  constructor(readonly reason: KrpcDecodeReason, readonly key: string | undefined, readonly offset: number) {}
}
const fail = (reason: KrpcDecodeReason, key?: string): never => {
  throw new Fail(reason, key, pos)
}

const C_d = 0x64 // d
const C_e = 0x65 // e
const C_i = 0x69 // i
const C_l = 0x6c // l
const C_colon = 0x3a
const C_minus = 0x2d
const C_0 = 0x30
const C_9 = 0x39

/** Reads a string length prefix and its colon; returns the start of the string and advances past it. */
const readString = (key?: string): number => {
  let len = 0
  let digits = 0
  let c = buf[pos]
  if (c === undefined || c < C_0 || c > C_9) return fail("WrongType", key)
  if (c === C_0 && buf[pos + 1] !== C_colon) return fail("NotBencode", key)
  while (c !== C_colon) {
    if (c === undefined) return fail("NotBencode", key)
    if (c < C_0 || c > C_9 || ++digits > MAX_LENGTH_DIGITS) return fail("NotBencode", key)
    len = len * 10 + (c - C_0)
    c = buf[++pos]
  }
  pos++
  const start = pos
  if (len > end - start) return fail("LengthPrefixTooLarge", key)
  pos = start + len
  return start
}

const readBytes = (key?: string): Uint8Array => {
  const start = readString(key)
  return buf.subarray(start, pos)
}

const readInt = (key?: string): number => {
  if (buf[pos] !== C_i) return fail("WrongType", key)
  pos++
  let negative = false
  if (buf[pos] === C_minus) {
    negative = true
    pos++
  }
  const first = pos
  let n = 0
  let c = buf[pos]
  while (c !== C_e) {
    if (c === undefined || c < C_0 || c > C_9) return fail("NotBencode", key)
    if (pos - first >= MAX_INT_DIGITS) return fail("IntegerOutOfRange", key)
    n = n * 10 + (c - C_0)
    c = buf[++pos]
  }
  const digits = pos - first
  if (digits === 0 || (buf[first] === C_0 && (digits > 1 || negative))) return fail("NotBencode", key)
  pos++
  return negative ? -n : n
}

/** Skips any bencoded value, bounded in depth. */
const skipValue = (depth: number): void => {
  if (depth > MAX_DEPTH) return fail("TooDeep")
  const c = buf[pos]
  if (c === C_i) {
    readInt()
  } else if (c === C_l) {
    pos++
    while (buf[pos] !== C_e) {
      if (pos >= end) return fail("NotBencode")
      skipValue(depth + 1)
    }
    pos++
  } else if (c === C_d) {
    pos++
    while (buf[pos] !== C_e) {
      if (pos >= end) return fail("NotBencode")
      readString()
      skipValue(depth + 1)
    }
    pos++
  } else if (c !== undefined && c >= C_0 && c <= C_9) {
    readString()
  } else {
    fail("NotBencode")
  }
}

const keyIs = (start: number, len: number, key: Uint8Array): boolean => {
  if (len !== key.length) return false
  for (let i = 0; i < len; i++) if (buf[start + i] !== key[i]) return false
  return true
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0))
const K = {
  id: ascii("id"),
  ip: ascii("ip"),
  ro: ascii("ro"),
  target: ascii("target"),
  info_hash: ascii("info_hash"),
  port: ascii("port"),
  token: ascii("token"),
  implied_port: ascii("implied_port"),
  want: ascii("want"),
  seed: ascii("seed"),
  scrape: ascii("scrape"),
  noseed: ascii("noseed"),
  BFsd: ascii("BFsd"),
  BFpe: ascii("BFpe"),
  nodes: ascii("nodes"),
  nodes6: ascii("nodes6"),
  values: ascii("values"),
  interval: ascii("interval"),
  num: ascii("num"),
  samples: ascii("samples"),
  ping: ascii("ping"),
  find_node: ascii("find_node"),
  get_peers: ascii("get_peers"),
  announce_peer: ascii("announce_peer"),
  sample_infohashes: ascii("sample_infohashes"),
  n4: ascii("n4"),
  n6: ascii("n6")
}

const readId = (key: string): Uint8Array => {
  const b = readBytes(key)
  if (b.length !== ID_LENGTH) fail("WrongType", key)
  return b
}

const readFlag = (key: string): boolean => readInt(key) !== 0

const readWant = (): Array<Want> => {
  if (buf[pos] !== C_l) return fail("WrongType", "want")
  pos++
  const out: Array<Want> = []
  while (buf[pos] !== C_e) {
    if (pos >= end) return fail("NotBencode", "want")
    const start = readString("want")
    const len = pos - start
    if (keyIs(start, len, K.n4)) out.push("n4")
    else if (keyIs(start, len, K.n6)) out.push("n6")
  }
  pos++
  return out
}

// --- "a" (query arguments) ---
let aId: Uint8Array | undefined
let aTarget: Uint8Array | undefined
let aInfoHash: Uint8Array | undefined
let aPort: number | undefined
let aToken: Uint8Array | undefined
let aImplied: boolean | undefined
let aWant: Array<Want> | undefined
let aSeed: boolean | undefined
let aScrape: boolean | undefined
let aNoSeed: boolean | undefined

const readArgs = (): void => {
  if (buf[pos] !== C_d) return fail("WrongType", "a")
  pos++
  while (buf[pos] !== C_e) {
    if (pos >= end) return fail("NotBencode", "a")
    const ks = readString()
    const kl = pos - ks
    const k0 = buf[ks]
    if (k0 === 0x69 /* i */ && keyIs(ks, kl, K.id)) aId = readId("id")
    else if (k0 === 0x69 && keyIs(ks, kl, K.info_hash)) aInfoHash = readId("info_hash")
    else if (k0 === 0x69 && keyIs(ks, kl, K.implied_port)) aImplied = readFlag("implied_port")
    else if (k0 === 0x74 /* t */ && keyIs(ks, kl, K.target)) aTarget = readId("target")
    else if (k0 === 0x74 && keyIs(ks, kl, K.token)) aToken = readBytes("token")
    else if (k0 === 0x70 /* p */ && keyIs(ks, kl, K.port)) {
      aPort = readInt("port")
      if (aPort < 0 || aPort > 65535) fail("IntegerOutOfRange", "port")
    } else if (k0 === 0x77 /* w */ && keyIs(ks, kl, K.want)) aWant = readWant()
    else if (k0 === 0x73 /* s */ && keyIs(ks, kl, K.seed)) aSeed = readFlag("seed")
    else if (k0 === 0x73 && keyIs(ks, kl, K.scrape)) aScrape = readFlag("scrape")
    else if (k0 === 0x6e /* n */ && keyIs(ks, kl, K.noseed)) aNoSeed = readFlag("noseed")
    else skipValue(2)
  }
  pos++
}

// --- "r" (response values) ---
let rId: Uint8Array | undefined
let rNodes: Array<NodeContact> | undefined
let rNodes6: Array<NodeContact> | undefined
let rValues: Array<SocketAddress> | undefined
let rToken: Uint8Array | undefined
let rInterval: number | undefined
let rNum: number | undefined
let rSamples: Array<InfoHash> | undefined
let rBFsd: Uint8Array | undefined
let rBFpe: Uint8Array | undefined

const readNodes = (key: string, family: 4 | 6): Array<NodeContact> => {
  const b = readBytes(key)
  return decodeNodes(b, family) ?? fail("BadCompactLength", key)
}

const readValues = (): Array<SocketAddress> => {
  if (buf[pos] !== C_l) return fail("WrongType", "values")
  pos++
  const out: Array<SocketAddress> = []
  while (buf[pos] !== C_e) {
    if (pos >= end) return fail("NotBencode", "values")
    const start = readString("values")
    const len = pos - start
    if (len !== PEER4_LENGTH && len !== PEER6_LENGTH) return fail("BadCompactLength", "values")
    out.push(decodePeerAt(buf, start, len))
  }
  pos++
  return out
}

const readSamples = (): Array<InfoHash> => {
  const b = readBytes("samples")
  if (b.length % ID_LENGTH !== 0) return fail("BadCompactLength", "samples")
  const out: Array<InfoHash> = []
  for (let o = 0; o < b.length; o += ID_LENGTH) out.push(unsafeInfoHash(b.subarray(o, o + ID_LENGTH)))
  return out
}

const readNonNegative = (key: string): number => {
  const n = readInt(key)
  return n < 0 ? fail("IntegerOutOfRange", key) : n
}

const readResult = (): void => {
  if (buf[pos] !== C_d) return fail("WrongType", "r")
  pos++
  while (buf[pos] !== C_e) {
    if (pos >= end) return fail("NotBencode", "r")
    const ks = readString()
    const kl = pos - ks
    const k0 = buf[ks]
    if (k0 === 0x6e /* n */) {
      if (keyIs(ks, kl, K.nodes)) rNodes = readNodes("nodes", 4)
      else if (keyIs(ks, kl, K.nodes6)) rNodes6 = readNodes("nodes6", 6)
      else if (keyIs(ks, kl, K.num)) rNum = readNonNegative("num")
      else skipValue(2)
    } else if (k0 === 0x69 /* i */ && keyIs(ks, kl, K.id)) rId = readId("id")
    else if (k0 === 0x69 && keyIs(ks, kl, K.interval)) rInterval = readNonNegative("interval")
    else if (k0 === 0x76 /* v */ && keyIs(ks, kl, K.values)) rValues = readValues()
    else if (k0 === 0x74 /* t */ && keyIs(ks, kl, K.token)) rToken = readBytes("token")
    else if (k0 === 0x73 /* s */ && keyIs(ks, kl, K.samples)) rSamples = readSamples()
    else if (k0 === 0x42 /* B */ && keyIs(ks, kl, K.BFsd)) rBFsd = readBytes("BFsd")
    else if (k0 === 0x42 && keyIs(ks, kl, K.BFpe)) rBFpe = readBytes("BFpe")
    else skipValue(2)
  }
  pos++
}

// --- "e" (error list) ---
let eCode: number | undefined
let eMessage: string | undefined
const utf8 = new TextDecoder("utf-8", { fatal: false })

const readErrorList = (): void => {
  if (buf[pos] !== C_l) return fail("WrongType", "e")
  pos++
  if (buf[pos] !== C_i) return fail("WrongType", "e")
  eCode = readInt("e")
  if (buf[pos] === C_e) {
    eMessage = ""
  } else {
    eMessage = utf8.decode(readBytes("e"))
    while (buf[pos] !== C_e) {
      if (pos >= end) return fail("NotBencode", "e")
      skipValue(2)
    }
  }
  pos++
}

const methodName = (b: Uint8Array): string => {
  let s = ""
  for (let i = 0; i < b.length && i < 64; i++) s += String.fromCharCode(b[i]!)
  return s
}

/** Decodes one datagram as a KRPC message; never throws. */
export const decodeMessage = (datagram: Uint8Array): Either.Either<KrpcMessage, KrpcDecodeError> => {
  try {
    return Either.right(decodeUnsafe(datagram))
  } catch (e) {
    if (e instanceof Fail) {
      return Either.left(
        new KrpcDecodeError(
          e.key === undefined ? { reason: e.reason, offset: e.offset } : {
            reason: e.reason,
            key: e.key,
            offset: e.offset
          }
        )
      )
    }
    throw e
  } finally {
    buf = EMPTY
  }
}
const EMPTY = new Uint8Array(0)

const decodeUnsafe = (input: Uint8Array): KrpcMessage => {
  // Views of a plain Uint8Array are about twice as cheap to make as Buffer views (no species lookup).
  const datagram = input.constructor === Uint8Array
    ? input
    : new Uint8Array(input.buffer, input.byteOffset, input.length)
  buf = datagram
  pos = 0
  end = datagram.length
  aId =
    aTarget =
    aInfoHash =
    aToken =
      undefined
  aPort = undefined
  aImplied =
    aSeed =
    aScrape =
    aNoSeed =
      undefined
  aWant = undefined
  rId = rToken = undefined
  rNodes = rNodes6 = undefined
  rValues = undefined
  rInterval = rNum = undefined
  rSamples = undefined
  rBFsd = rBFpe = undefined
  eCode = undefined
  eMessage = undefined

  if (buf[0] !== C_d) return fail("NotADictionary")
  pos = 1
  let t: Uint8Array | undefined
  let y: number | undefined
  let q: Uint8Array | undefined
  let v: Uint8Array | undefined
  let ip: SocketAddress | undefined
  let ro: boolean | undefined
  let hasA = false
  let hasR = false
  let hasE = false
  while (buf[pos] !== C_e) {
    if (pos >= end) return fail("NotBencode")
    const ks = readString()
    const kl = pos - ks
    const k0 = buf[ks]!
    if (kl === 1) {
      switch (k0) {
        case 0x74: // t
          t = readBytes("t")
          break
        case 0x79: { // y
          const yb = readBytes("y")
          if (yb.length !== 1) fail("UnknownMessageType", "y")
          y = yb[0]
          break
        }
        case 0x71: // q
          q = readBytes("q")
          break
        case 0x61: // a
          readArgs()
          hasA = true
          break
        case 0x72: // r
          readResult()
          hasR = true
          break
        case 0x65: // e
          readErrorList()
          hasE = true
          break
        case 0x76: // v
          v = readBytes("v")
          break
        default:
          skipValue(1)
      }
    } else if (keyIs(ks, kl, K.ip)) {
      if (buf[pos]! >= C_0 && buf[pos]! <= C_9) {
        const start = readString("ip")
        const len = pos - start
        // BEP 42 `ip` is informational: a malformed one is ignored rather than failing the message.
        if (len === PEER4_LENGTH || len === PEER6_LENGTH) ip = decodePeerAt(buf, start, len)
      } else {
        skipValue(1)
      }
    } else if (keyIs(ks, kl, K.ro)) {
      ro = readFlag("ro")
    } else {
      skipValue(1)
    }
  }
  pos++
  if (pos !== end) return fail("TrailingBytes")
  if (t === undefined) return fail("MissingKey", "t")
  if (y === undefined) return fail("MissingKey", "y")

  switch (y) {
    case 0x71: { // q
      if (q === undefined) return fail("MissingKey", "q")
      if (!hasA) return fail("MissingKey", "a")
      const ql = q.length
      if (ql === 4 && keyIs(q.byteOffset - datagram.byteOffset, 4, K.ping)) {
        return { _tag: "PingQuery", t, v, id: requireId(aId), ro }
      }
      if (ql === 9 && q[0] === 0x66 && keyIs(q.byteOffset - datagram.byteOffset, 9, K.find_node)) {
        return { _tag: "FindNodeQuery", t, v, id: requireId(aId), ro, target: requireTarget(), want: aWant }
      }
      if (ql === 9 && keyIs(q.byteOffset - datagram.byteOffset, 9, K.get_peers)) {
        return {
          _tag: "GetPeersQuery",
          t,
          v,
          id: requireId(aId),
          ro,
          info_hash: requireInfoHash(),
          want: aWant,
          scrape: aScrape,
          noseed: aNoSeed
        }
      }
      if (ql === 13 && keyIs(q.byteOffset - datagram.byteOffset, 13, K.announce_peer)) {
        if (aPort === undefined && aImplied !== true) return fail("MissingKey", "port")
        if (aToken === undefined) return fail("MissingKey", "token")
        return {
          _tag: "AnnouncePeerQuery",
          t,
          v,
          id: requireId(aId),
          ro,
          info_hash: requireInfoHash(),
          port: aPort ?? 0,
          token: aToken,
          implied_port: aImplied,
          seed: aSeed
        }
      }
      if (ql === 17 && keyIs(q.byteOffset - datagram.byteOffset, 17, K.sample_infohashes)) {
        return { _tag: "SampleInfohashesQuery", t, v, id: requireId(aId), ro, target: requireTarget(), want: aWant }
      }
      return {
        _tag: "UnknownQuery",
        t,
        v,
        method: methodName(q),
        id: aId === undefined ? undefined : unsafeNodeId(aId)
      }
    }
    case 0x72: // r
      if (!hasR) return fail("MissingKey", "r")
      return {
        _tag: "Response",
        t,
        v,
        id: requireId(rId),
        ip,
        nodes: rNodes,
        nodes6: rNodes6,
        values: rValues,
        token: rToken,
        interval: rInterval,
        num: rNum,
        samples: rSamples,
        BFsd: rBFsd,
        BFpe: rBFpe
      }
    case 0x65: // e
      if (!hasE) return fail("MissingKey", "e")
      return { _tag: "ErrorMessage", t, v, ip, code: eCode!, message: eMessage! }
    default:
      return fail("UnknownMessageType", "y")
  }
}

const requireId = (id: Uint8Array | undefined): NodeId => id === undefined ? fail("MissingKey", "id") : unsafeNodeId(id)
const requireTarget = (): NodeId => aTarget === undefined ? fail("MissingKey", "target") : unsafeNodeId(aTarget)
const requireInfoHash = (): InfoHash =>
  aInfoHash === undefined ? fail("MissingKey", "info_hash") : unsafeInfoHash(aInfoHash)

// === Encoder ===

let out = new Uint8Array(2048)
let w = 0

const ensure = (n: number): void => {
  if (w + n <= out.length) return
  let size = out.length * 2
  while (size < w + n) size *= 2
  const next = new Uint8Array(size)
  next.set(out.subarray(0, w))
  out = next
}

const putByte = (c: number): void => {
  ensure(1)
  out[w++] = c
}

const putRaw = (bytes: Uint8Array): void => {
  ensure(bytes.length)
  out.set(bytes, w)
  w += bytes.length
}

const putDecimal = (n: number): void => {
  if (n < 10) {
    putByte(C_0 + n)
    return
  }
  const s = String(n)
  ensure(s.length)
  for (let i = 0; i < s.length; i++) out[w++] = s.charCodeAt(i)
}

const putBytes = (bytes: Uint8Array): void => {
  putDecimal(bytes.length)
  putByte(C_colon)
  putRaw(bytes)
}

const putInt = (n: number): void => {
  putByte(C_i)
  if (n < 0) {
    putByte(C_minus)
    putDecimal(-Math.trunc(n))
  } else {
    putDecimal(Math.trunc(n))
  }
  putByte(C_e)
}

/** A pre-encoded dictionary key ("2:id"). */
const key = (s: string): Uint8Array => ascii(`${s.length}:${s}`)
const E = {
  a: key("a"),
  BFpe: key("BFpe"),
  BFsd: key("BFsd"),
  e: key("e"),
  id: key("id"),
  implied_port: key("implied_port"),
  info_hash: key("info_hash"),
  interval: key("interval"),
  ip: key("ip"),
  nodes: key("nodes"),
  nodes6: key("nodes6"),
  noseed: key("noseed"),
  num: key("num"),
  port: key("port"),
  q: key("q"),
  r: key("r"),
  ro: key("ro"),
  samples: key("samples"),
  scrape: key("scrape"),
  seed: key("seed"),
  t: key("t"),
  target: key("target"),
  token: key("token"),
  v: key("v"),
  values: key("values"),
  want: key("want"),
  y: key("y"),
  yq: ascii("1:q"),
  yr: ascii("1:r"),
  ye: ascii("1:e")
}

const putWant = (want: ReadonlyArray<Want> | undefined): void => {
  if (want === undefined) return
  putRaw(E.want)
  putByte(C_l)
  for (const item of want) putBytes(ascii(item))
  putByte(C_e)
}

const peerScratch = new Uint8Array(PEER6_LENGTH)
const putAddress = (address: SocketAddress): void => {
  const n = writePeer(peerScratch, 0, address.host, address.port)
  if (n > 0) putBytes(peerScratch.subarray(0, n))
}

/** Compact node infos written straight into the output (length prefix first, as one bencoded string). */
const putNodes = (contacts: ReadonlyArray<NodeContact>, family: 4 | 6): void => {
  const size = family === 4 ? NODE4_LENGTH : NODE6_LENGTH
  let valid = 0
  for (const c of contacts) if (c.id.length === ID_LENGTH && c.host.includes(":") === (family === 6)) valid++
  // Reserve room for the digits and the colon, then fill and patch the true length in.
  ensure(8 + valid * size)
  const lengthAt = w
  w += 8
  const start = w
  for (const c of contacts) {
    if (c.id.length !== ID_LENGTH || c.host.includes(":") !== (family === 6)) continue
    if (writePeer(out, w + ID_LENGTH, c.host, c.port) !== size - ID_LENGTH) continue
    out.set(c.id, w)
    w += size
  }
  const prefix = `${w - start}:`
  out.copyWithin(lengthAt + prefix.length, start, w)
  for (let i = 0; i < prefix.length; i++) out[lengthAt + i] = prefix.charCodeAt(i)
  w = lengthAt + prefix.length + (w - start)
}

const putTail = (t: Uint8Array, v: Uint8Array | undefined, y: Uint8Array): void => {
  putRaw(E.t)
  putBytes(t)
  if (v !== undefined) {
    putRaw(E.v)
    putBytes(v)
  }
  putRaw(E.y)
  putRaw(y)
  putByte(C_e)
}

const textEncoder = new TextEncoder()

const writeMessage = (m: KrpcMessage): void => {
  putByte(C_d)
  switch (m._tag) {
    case "Response": {
      if (m.ip !== undefined) {
        putRaw(E.ip)
        putAddress(m.ip)
      }
      putRaw(E.r)
      putByte(C_d)
      // Canonical key order: "BFpe" < "BFsd" < "id" (upper case sorts first).
      if (m.BFpe !== undefined) {
        putRaw(E.BFpe)
        putBytes(m.BFpe)
      }
      if (m.BFsd !== undefined) {
        putRaw(E.BFsd)
        putBytes(m.BFsd)
      }
      putRaw(E.id)
      putBytes(m.id)
      if (m.interval !== undefined) {
        putRaw(E.interval)
        putInt(m.interval)
      }
      if (m.nodes !== undefined) {
        putRaw(E.nodes)
        putNodes(m.nodes, 4)
      }
      if (m.nodes6 !== undefined) {
        putRaw(E.nodes6)
        putNodes(m.nodes6, 6)
      }
      if (m.num !== undefined) {
        putRaw(E.num)
        putInt(m.num)
      }
      if (m.samples !== undefined) {
        putRaw(E.samples)
        putDecimal(m.samples.length * ID_LENGTH)
        putByte(C_colon)
        for (const s of m.samples) putRaw(s)
      }
      if (m.token !== undefined) {
        putRaw(E.token)
        putBytes(m.token)
      }
      if (m.values !== undefined) {
        putRaw(E.values)
        putByte(C_l)
        for (const p of m.values) putAddress(p)
        putByte(C_e)
      }
      putByte(C_e)
      putTail(m.t, m.v, E.yr)
      return
    }
    case "ErrorMessage": {
      putRaw(E.e)
      putByte(C_l)
      putInt(m.code)
      putBytes(textEncoder.encode(m.message))
      putByte(C_e)
      if (m.ip !== undefined) {
        putRaw(E.ip)
        putAddress(m.ip)
      }
      putTail(m.t, m.v, E.ye)
      return
    }
    default: {
      putRaw(E.a)
      putByte(C_d)
      if (m.id !== undefined) {
        putRaw(E.id)
        putBytes(m.id)
      }
      let method: string
      switch (m._tag) {
        case "PingQuery":
          method = "ping"
          break
        case "FindNodeQuery":
          method = "find_node"
          putRaw(E.target)
          putBytes(m.target)
          putWant(m.want)
          break
        case "GetPeersQuery":
          method = "get_peers"
          putRaw(E.info_hash)
          putBytes(m.info_hash)
          if (m.noseed !== undefined) {
            putRaw(E.noseed)
            putInt(m.noseed ? 1 : 0)
          }
          if (m.scrape !== undefined) {
            putRaw(E.scrape)
            putInt(m.scrape ? 1 : 0)
          }
          putWant(m.want)
          break
        case "AnnouncePeerQuery":
          method = "announce_peer"
          if (m.implied_port !== undefined) {
            putRaw(E.implied_port)
            putInt(m.implied_port ? 1 : 0)
          }
          putRaw(E.info_hash)
          putBytes(m.info_hash)
          putRaw(E.port)
          putInt(m.port)
          if (m.seed !== undefined) {
            putRaw(E.seed)
            putInt(m.seed ? 1 : 0)
          }
          putRaw(E.token)
          putBytes(m.token)
          break
        case "SampleInfohashesQuery":
          method = "sample_infohashes"
          putRaw(E.target)
          putBytes(m.target)
          putWant(m.want)
          break
        case "UnknownQuery":
          method = m.method
          break
      }
      putByte(C_e)
      putRaw(E.q)
      putBytes(textEncoder.encode(method))
      if (m._tag !== "UnknownQuery" && m.ro !== undefined) {
        putRaw(E.ro)
        putInt(m.ro ? 1 : 0)
      }
      putTail(m.t, m.v, E.yq)
    }
  }
}

/** Encodes a message as a bencoded datagram with keys in canonical (sorted) order. */
export const encodeMessage = (message: KrpcMessage): Buffer => {
  w = 0
  writeMessage(message)
  const result = Buffer.allocUnsafe(w)
  result.set(out.subarray(0, w))
  return result
}

/**
 * Best effort: the transaction id of a datagram that failed to decode, so the query it answers can fail at
 * once (as malformed) instead of waiting for its timeout. `undefined` if even that cannot be read.
 */
export const peekTransactionId = (datagram: Uint8Array): Uint8Array | undefined => {
  try {
    buf = datagram
    pos = 0
    end = datagram.length
    if (buf[0] !== C_d) return undefined
    pos = 1
    while (pos < end && buf[pos] !== C_e) {
      const ks = readString()
      if (pos - ks === 1 && buf[ks] === 0x74 /* t */) return readBytes("t")
      skipValue(1)
    }
    return undefined
  } catch {
    return undefined
  } finally {
    buf = EMPTY
  }
}
