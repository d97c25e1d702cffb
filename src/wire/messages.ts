import { Data } from "effect"
import { type BValue, decodeAt, encode, isBytes, isDict, isInt } from "./bencode.js"

// The BitTorrent peer wire, as far as metadata exchange needs it: the BEP 3 handshake, length-prefixed
// messages, the BEP 10 extension protocol and BEP 9 ut_metadata. Pure: bytes in, typed values out.

/** A peer-wire message that breaks the protocol (thrown by the decoders here; a peer session ends on it). */
export class WireError extends Data.TaggedError("WireError")<{
  readonly reason: "FrameTooLarge" | "NotADictionary" | "MissingField"
  readonly message: string
}> {}

/** BEP 3: the protocol string every handshake starts with (after its length byte, 19). */
export const PROTOCOL = Buffer.from("BitTorrent protocol", "latin1")
/** BEP 3: a handshake is 68 bytes (1 + 19 + 8 reserved + 20 infohash + 20 peer id). */
export const HANDSHAKE_LENGTH = 68
/** BEP 10: reserved bit 20 (counting from the right, 0-based) = byte 5, mask 0x10. */
export const EXTENSION_BIT = { byte: 5, mask: 0x10 } as const
/** BEP 9: metadata travels in 16 KiB pieces. */
export const METADATA_PIECE = 16 * 1024
/** BEP 10 message id. */
export const EXTENDED = 20
/** Our local id for ut_metadata in our extended handshake. */
export const OUR_UT_METADATA = 3

/** A peer's BEP 3 handshake: the torrent it wants, its id, and whether it speaks BEP 10 extensions. */
export interface Handshake {
  readonly infoHash: Uint8Array
  readonly peerId: Uint8Array
  readonly extensions: boolean
  readonly reserved: Uint8Array
}

/** Our 68-byte handshake for `infoHash`, advertising the BEP 10 extension bit. */
export const encodeHandshake = (infoHash: Uint8Array, peerId: Uint8Array): Buffer => {
  const out = Buffer.alloc(HANDSHAKE_LENGTH)
  out[0] = 19
  PROTOCOL.copy(out, 1)
  out[20 + EXTENSION_BIT.byte] = EXTENSION_BIT.mask
  out.set(infoHash, 28)
  out.set(peerId, 48)
  return out
}

/** Parses the 68-byte handshake; `undefined` if it is not a BitTorrent handshake. */
export const decodeHandshake = (b: Uint8Array): Handshake | undefined => {
  if (b.length < HANDSHAKE_LENGTH || b[0] !== 19) return undefined
  if (Buffer.compare(Buffer.from(b.buffer, b.byteOffset + 1, 19), PROTOCOL) !== 0) return undefined
  const reserved = b.subarray(20, 28)
  return {
    reserved,
    extensions: (reserved[EXTENSION_BIT.byte]! & EXTENSION_BIT.mask) !== 0,
    infoHash: b.subarray(28, 48),
    peerId: b.subarray(48, 68)
  }
}

/** One length-prefixed message: `undefined` id is a keep-alive. */
export interface Frame {
  readonly id: number | undefined
  readonly payload: Uint8Array
}

/** A frame with a 4-byte big-endian length prefix. */
export const encodeFrame = (id: number, payload: Uint8Array = new Uint8Array(0)): Buffer => {
  const out = Buffer.alloc(5 + payload.length)
  out.writeUInt32BE(1 + payload.length, 0)
  out[4] = id
  out.set(payload, 5)
  return out
}

/** A BEP 10 extended message: id 20, extension id `extId`, bencoded `dict`, then `trailer` bytes. */
export const encodeExtended = (extId: number, dict: Parameters<typeof encode>[0], trailer?: Uint8Array): Buffer => {
  const body = encode(dict)
  return encodeFrame(EXTENDED, Buffer.concat([Buffer.of(extId), body, trailer ?? Buffer.alloc(0)]))
}

/**
 * Incremental frame splitter: push bytes, take complete frames. A length above `maxLength` is an error
 * before anything is buffered for it (a hostile 4 GiB prefix costs nothing).
 */
export const makeFrameReader = (maxLength: number) => {
  let chunks: Array<Uint8Array> = []
  let buffered = 0
  const concat = () => {
    if (chunks.length > 1) {
      const all = Buffer.concat(chunks)
      chunks = [all]
    }
    return chunks[0] ?? new Uint8Array(0)
  }
  return {
    /** Appends received bytes (kept by reference, not copied). */
    push: (data: Uint8Array) => {
      chunks.push(data)
      buffered += data.length
    },
    /** Bytes received and not yet taken. */
    buffered: () => buffered,
    /** Takes exactly n raw bytes (the handshake), or undefined if not there yet. */
    takeRaw: (n: number): Uint8Array | undefined => {
      if (buffered < n) return undefined
      const all = concat()
      const out = all.subarray(0, n)
      chunks = [all.subarray(n)]
      buffered -= n
      return out
    },
    /** The next complete frame, `undefined` if incomplete; throws on an oversized length. */
    next: (): Frame | undefined => {
      if (buffered < 4) return undefined
      const all = concat()
      const length = Buffer.from(all.buffer, all.byteOffset, all.byteLength).readUInt32BE(0)
      if (length > maxLength) {
        throw new WireError({
          reason: "FrameTooLarge",
          message: `message length ${length} exceeds the ${maxLength}-byte limit`
        })
      }
      if (buffered < 4 + length) return undefined
      const frame: Frame = length === 0
        ? { id: undefined, payload: new Uint8Array(0) }
        : { id: all[4]!, payload: all.subarray(5, 4 + length) }
      chunks = [all.subarray(4 + length)]
      buffered -= 4 + length
      return frame
    }
  }
}

/** The parts of a BEP 10 extended handshake metadata exchange needs. */
export interface ExtendedHandshake {
  /** The peer's message id for ut_metadata (0 or absent: not supported). */
  readonly utMetadata: number | undefined
  readonly metadataSize: number | undefined
  /** Client name and version (`v`). */
  readonly client: string | undefined
  /** How many outstanding requests the peer accepts. */
  readonly reqq: number | undefined
}

/** Reads a BEP 10 handshake payload; throws `BencodeError` or `WireError` when malformed. */
export const decodeExtendedHandshake = (payload: Uint8Array): ExtendedHandshake => {
  const { value } = decodeAt(payload, 0)
  if (!isDict(value)) {
    throw new WireError({ reason: "NotADictionary", message: "extended handshake is not a dictionary" })
  }
  const m = value.values.get("m")
  const ut = isDict(m) ? m.values.get("ut_metadata") : undefined
  const size = value.values.get("metadata_size")
  const v = value.values.get("v")
  const reqq = value.values.get("reqq")
  return {
    utMetadata: isInt(ut) && ut > 0 && ut < 256 ? ut : undefined,
    metadataSize: isInt(size) ? size : undefined,
    client: isBytes(v) ? Buffer.from(v).toString("utf8").slice(0, 64) : undefined,
    reqq: isInt(reqq) ? reqq : undefined
  }
}

/** A BEP 9 message. */
export type MetadataMessage =
  | { readonly type: "request"; readonly piece: number }
  | { readonly type: "data"; readonly piece: number; readonly totalSize: number | undefined; readonly data: Uint8Array }
  | { readonly type: "reject"; readonly piece: number }
  | { readonly type: "unknown" }

/** Reads a BEP 9 payload (a `data` message's piece follows its dictionary); throws `BencodeError` or `WireError`. */
export const decodeMetadataMessage = (payload: Uint8Array): MetadataMessage => {
  const { end, value } = decodeAt(payload, 0)
  if (!isDict(value)) {
    throw new WireError({ reason: "NotADictionary", message: "ut_metadata message is not a dictionary" })
  }
  const type = value.values.get("msg_type")
  const piece = value.values.get("piece")
  if (!isInt(type) || !isInt(piece)) {
    throw new WireError({ reason: "MissingField", message: "ut_metadata message without msg_type/piece" })
  }
  const total: BValue | undefined = value.values.get("total_size")
  switch (type) {
    case 0:
      return { type: "request", piece }
    case 1:
      return { type: "data", piece, totalSize: isInt(total) ? total : undefined, data: payload.subarray(end) }
    case 2:
      return { type: "reject", piece }
    default:
      return { type: "unknown" }
  }
}

/** A BEP 9 request for metadata piece `piece`, to a peer whose ut_metadata id is `peerUtMetadata`. */
export const encodeMetadataRequest = (peerUtMetadata: number, piece: number) =>
  encodeExtended(peerUtMetadata, { msg_type: 0, piece })

/** Our BEP 10 handshake: ut_metadata supported (as id 3), client name `client`, 250 requests queued. */
export const encodeOurExtendedHandshake = (client: string) =>
  encodeExtended(0, { m: { ut_metadata: OUR_UT_METADATA }, v: client, reqq: 250 })

/** The number of 16 KiB pieces of a metadata size, and the length of piece `i`. */
export const pieceCount = (size: number) => Math.ceil(size / METADATA_PIECE)
/** The length of metadata piece `i` of a `size`-byte info dictionary (the last one may be short). */
export const pieceLength = (size: number, i: number) => Math.min(METADATA_PIECE, size - i * METADATA_PIECE)
