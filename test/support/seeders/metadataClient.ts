// A minimal, strict BEP 9 metadata client written from the BEPs, for checking the seeders themselves (it is not the
// MetadataFetcher under test). It handshakes with the given 20-byte hash, asks for every metadata piece, and checks
// the assembled dictionary against a SHA-1 (v1) or SHA-256 (v2) — so unlike npm ut_metadata it can fetch v2-only
// torrents via their truncated hash. Every deviation from the protocol is a MiniClientError.
import bencode from "bencode"
import { Data, Effect } from "effect"
import { createHash, randomBytes } from "node:crypto"
import net from "node:net"
import { withLiveClock } from "../interop/jsonLinesProcess.js"
import { bencodedEnd, METADATA_PIECE_LENGTH } from "./hostileSeeder.js"

export class MiniClientError extends Data.TaggedError("MiniClientError")<{
  readonly reason:
    | "Timeout"
    | "Closed"
    | "HandshakeMismatch"
    | "NoExtensionProtocol"
    | "NoUtMetadata"
    | "BadMetadataSize"
    | "Rejected"
    | "BadPiece"
    | "HashMismatch"
    | "MessageTooLong"
    | "Protocol"
  readonly detail: string
}> {}

export interface FetchMetadataOptions {
  readonly host: string
  readonly port: number
  /** The 20 bytes sent in the handshake: a v1 infohash, or a v2 one truncated to 20 bytes. */
  readonly handshakeHash: Uint8Array
  /** What the assembled info dict must hash to (default: SHA-1 = handshakeHash). */
  readonly verify?: { readonly sha1: Uint8Array } | { readonly sha256: Uint8Array }
  /** Default 5 s. */
  readonly timeoutMillis?: number
  /** Longest message accepted (default 64 KiB: a 16 KiB piece and its header fit easily). */
  readonly maxMessage?: number
  /** Requests kept in flight (default 8, lowered to the peer's reqq unless `respectReqq` is false). */
  readonly pipeline?: number
  readonly respectReqq?: boolean
}

export interface FetchedMetadata {
  /** The info dict exactly as the peer sent it. */
  readonly info: Uint8Array
  readonly metadataSize: number
  /** The peer's extended handshake: `v` and `reqq` when given. */
  readonly client: string | undefined
  readonly reqq: number | undefined
  /** Messages received, keep-alives included. */
  readonly messages: number
}

const PROTOCOL = Buffer.from("BitTorrent protocol", "latin1")
const OUR_UT_METADATA = 2
const MAX_METADATA_SIZE = 10_000_000

const fail = (reason: MiniClientError["reason"], detail: string) => new MiniClientError({ reason, detail })

const extended = (subId: number, dict: unknown) => {
  const body = bencode.encode(dict)
  const out = Buffer.alloc(6 + body.length)
  out.writeUInt32BE(2 + body.length, 0)
  out[4] = 20
  out[5] = subId
  out.set(body, 6)
  return out
}

const text = (value: unknown) => value instanceof Uint8Array ? Buffer.from(value).toString("utf8") : undefined

/** Fetches the info dict from host:port over BEP 9. */
export const fetchMetadata = (options: FetchMetadataOptions): Effect.Effect<FetchedMetadata, MiniClientError> =>
  Effect.async<FetchedMetadata, MiniClientError>((resume) => {
    const maxMessage = options.maxMessage ?? 65_536
    const socket = net.connect({ host: options.host, port: options.port })
    let done = false
    const finish = (result: Effect.Effect<FetchedMetadata, MiniClientError>) => {
      if (done) return
      done = true
      socket.destroy()
      resume(result)
    }
    let buffer: Buffer = Buffer.alloc(0)
    let handshaken = false
    let remoteUt: number | undefined
    let size = 0
    let pieces = 0
    let nextPiece = 0
    let received = 0
    let metadata: Uint8Array = new Uint8Array(0)
    let got: Array<boolean> = []
    let client: string | undefined
    let reqq: number | undefined
    let messages = 0

    const request = () => {
      const pipeline = Math.min(options.pipeline ?? 8, options.respectReqq === false ? Infinity : reqq ?? Infinity)
      const batch: Array<Buffer> = []
      while (nextPiece < pieces && nextPiece - received < pipeline) {
        batch.push(extended(remoteUt!, { msg_type: 0, piece: nextPiece++ }))
      }
      if (batch.length > 0) socket.write(Buffer.concat(batch)) // one write: the requests really are in flight together
    }

    const verify = () => {
      const expected = options.verify ?? { sha1: options.handshakeHash }
      const [algorithm, want] = "sha1" in expected ? ["sha1", expected.sha1] : ["sha256", expected.sha256]
      const actual = createHash(algorithm).update(metadata).digest()
      if (!actual.equals(want)) {
        return finish(Effect.fail(fail("HashMismatch", `${algorithm} ${actual.toString("hex")} of ${size} bytes`)))
      }
      finish(Effect.succeed({ info: metadata, metadataSize: size, client, reqq, messages }))
    }

    const onExtended = (payload: Buffer) => {
      const subId = payload[0]
      let end: number
      let dict: Record<string, unknown>
      try {
        end = bencodedEnd(payload, 1)
        dict = bencode.decode(payload, 1, end) as Record<string, unknown>
      } catch (e) {
        return finish(Effect.fail(fail("Protocol", `undecodable extended message ${subId}: ${e}`)))
      }
      if (subId === 0) {
        const id = (dict.m as Record<string, unknown> | undefined)?.ut_metadata
        if (typeof id !== "number" || id <= 0) return finish(Effect.fail(fail("NoUtMetadata", "no m.ut_metadata")))
        const announced = dict.metadata_size
        if (typeof announced !== "number" || announced <= 0 || announced > MAX_METADATA_SIZE) {
          return finish(Effect.fail(fail("BadMetadataSize", `metadata_size ${String(announced)}`)))
        }
        remoteUt = id
        client = text(dict.v)
        reqq = typeof dict.reqq === "number" && dict.reqq > 0 ? dict.reqq : undefined
        size = announced
        pieces = Math.ceil(size / METADATA_PIECE_LENGTH)
        metadata = new Uint8Array(size)
        got = new Array(pieces).fill(false)
        return request()
      }
      if (subId !== OUR_UT_METADATA) return // an extension we did not negotiate: ignored
      const piece = dict.piece
      if (dict.msg_type === 2) return finish(Effect.fail(fail("Rejected", `piece ${String(piece)} rejected`)))
      if (dict.msg_type !== 1) return
      if (typeof piece !== "number" || !Number.isInteger(piece) || piece < 0 || piece >= pieces || got[piece]) {
        return finish(Effect.fail(fail("BadPiece", `data for piece ${String(piece)} of ${pieces}`)))
      }
      const data = payload.subarray(end)
      const want = Math.min(METADATA_PIECE_LENGTH, size - piece * METADATA_PIECE_LENGTH)
      if (data.length !== want || dict.total_size !== size) {
        return finish(Effect.fail(
          fail("BadPiece", `piece ${piece}: ${data.length} bytes (want ${want}), total_size ${String(dict.total_size)}`)
        ))
      }
      metadata.set(data, piece * METADATA_PIECE_LENGTH)
      got[piece] = true
      received++
      if (received === pieces) return verify()
      request()
    }

    socket.on("data", (chunk: Buffer) => {
      if (done) return
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
      if (!handshaken) {
        if (buffer.length < 68) return
        if (buffer[0] !== 19 || !buffer.subarray(1, 20).equals(PROTOCOL)) {
          return finish(Effect.fail(fail("Protocol", "not a BitTorrent handshake")))
        }
        if (!buffer.subarray(28, 48).equals(options.handshakeHash)) {
          return finish(Effect.fail(fail("HandshakeMismatch", `peer answered ${buffer.toString("hex", 28, 48)}`)))
        }
        if ((buffer[25] & 0x10) === 0) return finish(Effect.fail(fail("NoExtensionProtocol", "reserved bit 20 unset")))
        handshaken = true
        buffer = buffer.subarray(68)
      }
      while (!done && buffer.length >= 4) {
        const length = buffer.readUInt32BE(0)
        if (length > maxMessage) return finish(Effect.fail(fail("MessageTooLong", `message of ${length} bytes`)))
        if (buffer.length < 4 + length) return
        const body = buffer.subarray(4, 4 + length)
        buffer = buffer.subarray(4 + length)
        messages++
        if (length > 1 && body[0] === 20) onExtended(body.subarray(1))
      }
    })
    socket.on("error", (err) => finish(Effect.fail(fail("Closed", `socket error: ${err.message}`))))
    socket.on(
      "close",
      () => finish(Effect.fail(fail("Closed", `connection closed after ${received}/${pieces} pieces`)))
    )
    socket.on("connect", () => {
      const reserved = Buffer.alloc(8)
      reserved[5] |= 0x10
      const peerId = Buffer.concat([Buffer.from("-BSTEST-", "latin1"), randomBytes(12)])
      socket.write(Buffer.concat([Buffer.from([19]), PROTOCOL, reserved, options.handshakeHash, peerId]))
      socket.write(extended(0, { m: { ut_metadata: OUR_UT_METADATA }, v: "BitScrape test mini client" }))
    })
    return Effect.sync(() => {
      done = true
      socket.destroy()
    })
  }).pipe(
    Effect.timeoutFail({
      duration: options.timeoutMillis ?? 5000,
      onTimeout: () => fail("Timeout", `no complete metadata within ${options.timeoutMillis ?? 5000} ms`)
    }),
    withLiveClock
  )
