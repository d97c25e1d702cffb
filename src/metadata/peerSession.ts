import { Effect, Either } from "effect"
import net from "node:net"
import { makeTimers, type Timers } from "../util/timers.js"
import {
  decodeExtendedHandshake,
  decodeHandshake,
  decodeMetadataMessage,
  encodeFrame,
  encodeHandshake,
  encodeMetadataRequest,
  encodeOurExtendedHandshake,
  EXTENDED,
  HANDSHAKE_LENGTH,
  makeFrameReader,
  OUR_UT_METADATA,
  pieceCount,
  pieceLength
} from "../wire/messages.js"
import { parseInfo, type TorrentInfo } from "../wire/torrentInfo.js"
import { type PeerFailureReason, PeerFetchError } from "./errors.js"

// One metadata download from one peer (BEP 3 handshake, BEP 10 extended handshake, BEP 9 ut_metadata): a
// callback core (`openPeerSession`, what the fetcher's attempts run) and the same as a single Effect
// (`fetchFromPeer`) whose interruption destroys the socket. Every hostile behaviour ends in a typed
// PeerFetchError: oversized or lying sizes, wrong pieces, out-of-range indices, rejects, floods, stalls (the
// peer deadline, or the caller's), and disconnects.

/** One download's parameters: which torrent, which peer, who we are, and its limits. */
export interface PeerSessionOptions {
  readonly infoHash: Uint8Array
  readonly host: string
  readonly port: number
  readonly peerId: Uint8Array
  /** Our client string for the extended handshake. */
  readonly client: string
  readonly connectTimeoutMillis: number
  /** Largest metadata accepted (BEP 9 `metadata_size`). */
  readonly maxMetadataSize: number
  /** Deadline from start to verified metadata; past it the session fails with `Timeout`. None if absent. */
  readonly peerTimeoutMillis?: number | undefined
  /** Called once the TCP connection is established, with how long the connect took (ms). */
  readonly onConnected?: ((connectMillis: number) => void) | undefined
}

/** Verified metadata from one peer, and the client that gave it. */
export interface PeerMetadata {
  readonly info: TorrentInfo
  /** The peer's client (`v` of its extended handshake). */
  readonly client: string | undefined
}

/** Most non-metadata messages tolerated from a peer (have, bitfield, keep-alive, …) before calling it a flood. */
export const MAX_IDLE_MESSAGES = 5000
/** Largest peer-wire message accepted: a metadata piece plus its header, or a large bitfield. */
export const MAX_MESSAGE = 1 << 20

const sameBytes = (a: Uint8Array, b: Uint8Array) => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Our extended handshake, encoded once per client string. */
let ourExtended: { readonly client: string; readonly bytes: Buffer } | undefined
const ourExtendedHandshake = (client: string) => {
  if (ourExtended?.client !== client) ourExtended = { client, bytes: encodeOurExtendedHandshake(client) }
  return ourExtended.bytes
}

/**
 * Starts one metadata download and calls `onDone` exactly once with its result, unless the returned cancel
 * function is called first (which destroys the socket and silences `onDone`). The callback core of
 * `fetchFromPeer`, for callers that run many sessions inside one effect (the fetcher's attempts); its time-outs
 * run on `timers` (the caller's Effect Clock).
 */
export const openPeerSession = (
  o: PeerSessionOptions,
  timers: Timers,
  onDone: (result: Either.Either<PeerMetadata, PeerFetchError>) => void
): () => void => {
  const peer = `${o.host}:${o.port}`
  let done = false
  const socket = new net.Socket()
  const finish = (result: Either.Either<PeerMetadata, PeerFetchError>) => {
    if (done) return
    done = true
    cancelTimer()
    socket.destroy()
    onDone(result)
  }
  const fail = (reason: PeerFailureReason, detail: string) => {
    // The socket's own close after `finish` ends here too: no error object for it.
    if (!done) finish(Either.left(new PeerFetchError({ reason, peer, detail })))
  }

  // One timer per session: the connect deadline, then (re-armed on connect) the peer deadline.
  const started = timers.now()
  const peerDeadline = o.peerTimeoutMillis
  let cancelTimer = peerDeadline !== undefined && peerDeadline <= o.connectTimeoutMillis
    ? timers.after(peerDeadline, () => fail("Timeout", "peer deadline passed"))
    : timers.after(
      o.connectTimeoutMillis,
      () => fail("ConnectTimeout", `no connection within ${o.connectTimeoutMillis} ms`)
    )
  const reader = makeFrameReader(MAX_MESSAGE)
  let handshaken = false
  let size = 0
  let peerUt: number | undefined
  let client: string | undefined
  let pieces: Array<Uint8Array | undefined> = []
  let received = 0
  let idle = 0

  const onFrame = (id: number | undefined, payload: Uint8Array) => {
    if (id !== EXTENDED || payload.length === 0) {
      // keep-alive, choke/unchoke, have, bitfield, port, …: allowed, but not without end.
      if (++idle > MAX_IDLE_MESSAGES) fail("Flood", `${idle} messages without metadata`)
      return
    }
    const ext = payload[0]!
    const body = payload.subarray(1)
    if (ext === 0) {
      const hs = decodeExtendedHandshake(body)
      client = hs.client
      if (hs.utMetadata === undefined) return fail("NoMetadataSupport", "no ut_metadata in the extended handshake")
      if (hs.metadataSize === undefined || hs.metadataSize <= 0) {
        return fail("NoMetadataSupport", "no metadata_size in the extended handshake")
      }
      if (hs.metadataSize > o.maxMetadataSize) {
        return fail("MetadataTooLarge", `metadata_size ${hs.metadataSize} > ${o.maxMetadataSize}`)
      }
      if (peerUt !== undefined) return // a repeated extended handshake changes nothing we rely on
      peerUt = hs.utMetadata
      size = hs.metadataSize
      pieces = new Array(pieceCount(size)).fill(undefined)
      // Every piece at once: at most 640 requests for 10 MiB, well within any client's queue (reqq ≥ 250
      // is usual; libtorrent and webtorrent serve more by queueing).
      const count = Math.min(pieces.length, Math.max(1, hs.reqq ?? 250))
      for (let i = 0; i < count; i++) socket.write(encodeMetadataRequest(peerUt, i))
      nextRequest = count
      return
    }
    if (ext !== OUR_UT_METADATA) {
      if (++idle > MAX_IDLE_MESSAGES) fail("Flood", `${idle} messages without metadata`)
      return
    }
    if (peerUt === undefined) return fail("ProtocolError", "ut_metadata message before the extended handshake")
    const m = decodeMetadataMessage(body)
    switch (m.type) {
      case "reject":
        return fail("Rejected", `piece ${m.piece} rejected`)
      case "request":
        // We have no metadata to give: decline politely.
        socket.write(
          encodeFrame(EXTENDED, Buffer.concat([Buffer.of(peerUt), Buffer.from(`d8:msg_typei2e5:piecei${m.piece}ee`)]))
        )
        return
      case "unknown":
        return
      case "data": {
        if (m.piece < 0 || m.piece >= pieces.length) {
          return fail("BadPiece", `piece index ${m.piece} of ${pieces.length}`)
        }
        if (m.totalSize !== undefined && m.totalSize !== size) {
          return fail("SizeMismatch", `total_size ${m.totalSize} after metadata_size ${size}`)
        }
        if (m.data.length !== pieceLength(size, m.piece)) {
          return fail(
            "SizeMismatch",
            `piece ${m.piece} has ${m.data.length} bytes, expected ${pieceLength(size, m.piece)}`
          )
        }
        if (pieces[m.piece] === undefined) {
          pieces[m.piece] = Uint8Array.prototype.slice.call(m.data)
          received++
          idle = 0
        }
        if (nextRequest < pieces.length) socket.write(encodeMetadataRequest(peerUt, nextRequest++))
        if (received === pieces.length) {
          const info = Buffer.concat(pieces as Array<Uint8Array>)
          const parsed = parseInfo(info, o.infoHash)
          if (Either.isLeft(parsed)) {
            return fail(parsed.left.reason === "HashMismatch" ? "HashMismatch" : "InvalidInfo", parsed.left.detail)
          }
          return finish(Either.right({ info: parsed.right, client }))
        }
      }
    }
  }
  let nextRequest = 0

  socket.on("connect", () => {
    cancelTimer()
    const connected = timers.now()
    o.onConnected?.(connected - started)
    if (peerDeadline !== undefined) {
      cancelTimer = timers.after(started + peerDeadline - connected, () => fail("Timeout", "peer deadline passed"))
    }
    socket.setNoDelay(true)
    // Our handshake and extended handshake in one segment.
    socket.write(Buffer.concat([encodeHandshake(o.infoHash, o.peerId), ourExtendedHandshake(o.client)]))
  })
  socket.on("data", (chunk: Buffer) => {
    if (done) return
    reader.push(chunk)
    try {
      if (!handshaken) {
        const raw = reader.takeRaw(HANDSHAKE_LENGTH)
        if (raw === undefined) return
        const hs = decodeHandshake(raw)
        if (hs === undefined) return fail("HandshakeFailed", "not a BitTorrent handshake")
        if (!sameBytes(hs.infoHash, o.infoHash)) {
          return fail("WrongInfohash", "the peer answered for another torrent")
        }
        if (!hs.extensions) return fail("NoExtensionProtocol", "the peer does not support BEP 10")
        handshaken = true
      }
      for (let f = reader.next(); f !== undefined && !done; f = reader.next()) onFrame(f.id, f.payload)
    } catch (e) {
      fail("ProtocolError", e instanceof Error ? e.message : String(e))
    }
  })
  socket.on("error", (e) => fail(handshaken ? "Closed" : "ConnectFailed", e.message))
  socket.on(
    "close",
    () => fail("Closed", received > 0 ? `closed after ${received} of ${pieces.length} pieces` : "connection closed")
  )
  try {
    socket.connect({ host: o.host, port: o.port })
  } catch (e) {
    // A bad address from the DHT (port 0, …): fail like an unreachable peer, after the caller's stack unwinds.
    queueMicrotask(() => fail("ConnectFailed", e instanceof Error ? e.message : String(e)))
  }
  return () => {
    done = true
    cancelTimer()
    socket.destroy()
  }
}

/** One metadata download from one peer, as an effect whose interruption destroys the socket. */
export const fetchFromPeer = (o: PeerSessionOptions): Effect.Effect<PeerMetadata, PeerFetchError> =>
  Effect.flatMap(makeTimers, (timers) =>
    Effect.async<PeerMetadata, PeerFetchError>((resume) => {
      const cancel = openPeerSession(
        o,
        timers,
        (r) => resume(Either.isRight(r) ? Effect.succeed(r.right) : Effect.fail(r.left))
      )
      return Effect.sync(cancel)
    }))
