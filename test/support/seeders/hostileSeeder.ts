// A metadata seeder on loopback that misbehaves on purpose, for robustness tests of a BEP 9 client. Plain node:net,
// the protocol written here from the BEPs: BEP 3 handshake (19 "BitTorrent protocol", 8 reserved bytes, 20-byte
// infohash, 20-byte peer id) and length-prefixed messages; BEP 10 extended messages (id 20, sub-id 0 = handshake);
// BEP 9 ut_metadata (msg_type 0 request, 1 data + raw bytes after the dict, 2 reject; 16 KiB pieces).
// Every connection gets the same `behaviour`; the seeder never connects out.
import bencode from "bencode"
import { Effect } from "effect"
import type { Scope } from "effect"
import { createHash, randomBytes } from "node:crypto"
import net from "node:net"
import { isLoopbackHost } from "../interop/loopbackHosts.js"

export type HostileBehaviour =
  /** Serves the info dict correctly, 16 KiB pieces; requests beyond the advertised `reqq` in flight are rejected. */
  | "honest"
  /** Announces `claimedSize` as metadata_size (and total_size) and serves that many bytes: real ones, then zeros. */
  | "lies-about-size"
  /** Correct handshake for the infohash, but announces and serves another torrent's info dict (`otherInfoDict`). */
  | "wrong-pieces"
  /** Both handshakes, then silence: requests are never answered. */
  | "stall"
  /** Answers the first request with the start of a data message, then closes the connection. */
  | "disconnect-mid-piece"
  /** Both handshakes, then have, keep-alive, unknown-id and unknown extended messages without end (bounded by
   * `floodLimit`, honouring backpressure); requests are never answered. */
  | "flood"
  /** Both handshakes, then a message header announcing 4 GiB - 1 bytes, a few bytes of it, and silence. */
  | "huge-length-prefix"
  /** Answers every request with a data message for piece 999 (carrying the requested piece's bytes). */
  | "bad-piece-index"
  /** Answers every request with a reject. */
  | "reject-all"
  /** Handshake without the extension-protocol bit, no extended handshake; ignores everything after. */
  | "no-extension-bit"
  /** Answers with another torrent's infohash in the handshake and serves that torrent's info dict honestly (a client
   * that checks the metadata against the peer's handshake instead of the hash it asked for is fooled). */
  | "wrong-infohash-handshake"

export const HOSTILE_BEHAVIOURS: ReadonlyArray<HostileBehaviour> = [
  "honest",
  "lies-about-size",
  "wrong-pieces",
  "stall",
  "disconnect-mid-piece",
  "flood",
  "huge-length-prefix",
  "bad-piece-index",
  "reject-all",
  "no-extension-bit",
  "wrong-infohash-handshake"
]

export interface HostileSeederOptions {
  /** A 127.0.0.0/8 address to listen on. */
  readonly host: string
  /** The bencoded info dictionary; the seeder answers handshakes for its SHA-1. */
  readonly infoDict: Uint8Array
  readonly behaviour: HostileBehaviour
  /** Seed under the truncated SHA-256 of the info dict (a v2 / hybrid torrent's v2 hash) instead of its SHA-1. */
  readonly byV2?: boolean
  /** Listen port; 0 (default) picks an ephemeral one. */
  readonly port?: number
  /** "lies-about-size": the metadata_size announced (default: the real size + 16385, one more piece). */
  readonly claimedSize?: number
  /** "wrong-pieces" / "wrong-infohash-handshake": the other torrent's info dict (default: a generated one). */
  readonly otherInfoDict?: Uint8Array
  /** "honest": the reqq advertised in the extended handshake (default 250). */
  readonly reqq?: number
  /** "flood": most messages sent per connection (default 200,000). */
  readonly floodLimit?: number
  /** The extended-message id this seeder uses for ut_metadata (default 3). */
  readonly utMetadataId?: number
}

export interface HostileSeeder {
  readonly host: string
  readonly port: number
  /** SHA-1 of `infoDict`: the infohash the seeder accepts in handshakes. */
  readonly infoHash: Uint8Array
  /** Connections accepted so far. */
  readonly connections: () => number
  /** Connections open now. */
  readonly openConnections: () => number
  /** ut_metadata requests received so far, over all connections. */
  readonly requests: () => number
  /** Messages the "flood" behaviour has sent so far, over all connections. */
  readonly floodSent: () => number
}

export const METADATA_PIECE_LENGTH = 16384
const PROTOCOL = Buffer.from("BitTorrent protocol", "latin1")
const HANDSHAKE_LENGTH = 68
const EXTENDED = 20
/** Incoming messages longer than this end the connection (requests and handshakes are tiny). */
const MAX_INCOMING_MESSAGE = 1 << 20

const sha1 = (bytes: Uint8Array) => new Uint8Array(createHash("sha1").update(bytes).digest())

/** A small valid v1 info dict that is not `infoDict`, for the behaviours that serve another torrent. */
export const otherTorrentInfo = (): Uint8Array =>
  bencode.encode({
    name: `other-torrent-${randomBytes(4).toString("hex")}`,
    "piece length": 16384,
    length: 1234,
    pieces: randomBytes(20)
  })

const message = (id: number, payload: Uint8Array = new Uint8Array(0)) => {
  const out = Buffer.alloc(5 + payload.length)
  out.writeUInt32BE(1 + payload.length, 0)
  out[4] = id
  out.set(payload, 5)
  return out
}

const extended = (subId: number, dict: unknown, trailer?: Uint8Array) => {
  const head = bencode.encode(dict)
  const payload = Buffer.alloc(1 + head.length + (trailer?.length ?? 0))
  payload[0] = subId
  payload.set(head, 1)
  if (trailer !== undefined) payload.set(trailer, 1 + head.length)
  return message(EXTENDED, payload)
}

const handshake = (infoHash: Uint8Array, peerId: Uint8Array, extensionBit: boolean) => {
  const reserved = Buffer.alloc(8)
  if (extensionBit) reserved[5] |= 0x10 // BEP 10: bit 20 from the right
  return Buffer.concat([Buffer.from([19]), PROTOCOL, reserved, infoHash, peerId])
}

interface Counters {
  connections: number
  open: number
  requests: number
  floodSent: number
}

interface Config {
  readonly behaviour: HostileBehaviour
  readonly info: Uint8Array
  readonly infoHash: Uint8Array
  readonly other: Uint8Array
  readonly claimedSize: number
  readonly reqq: number
  readonly floodLimit: number
  readonly utId: number
  readonly peerId: Uint8Array
}

/** What this connection serves: the bytes, and the infohash it puts in its handshake. */
const served = (config: Config) => {
  switch (config.behaviour) {
    case "lies-about-size": {
      const bytes = new Uint8Array(config.claimedSize)
      bytes.set(config.info.subarray(0, Math.min(config.info.length, config.claimedSize)))
      return { bytes, handshakeHash: config.infoHash }
    }
    case "wrong-pieces":
      return { bytes: config.other, handshakeHash: config.infoHash }
    case "wrong-infohash-handshake":
      return { bytes: config.other, handshakeHash: sha1(config.other) }
    default:
      return { bytes: config.info, handshakeHash: config.infoHash }
  }
}

const serveConnection = (socket: net.Socket, config: Config, counters: Counters) => {
  const { bytes, handshakeHash } = served(config)
  const pieces = Math.ceil(bytes.length / METADATA_PIECE_LENGTH)
  const behaviour = config.behaviour
  let buffer: Buffer = Buffer.alloc(0)
  let handshaken = false
  let remoteUtId: number | undefined
  let inFlight = 0
  let closed = false
  socket.on("close", () => {
    closed = true
    counters.open--
  })
  socket.on("error", () => {}) // the peer's problem; "close" follows

  const send = (data: Uint8Array) => {
    if (!closed) socket.write(data)
  }
  const sendMetadata = (dict: Record<string, number>, trailer?: Uint8Array) => {
    if (remoteUtId !== undefined) send(extended(remoteUtId, dict, trailer))
  }
  const pieceBytes = (piece: number) =>
    bytes.subarray(piece * METADATA_PIECE_LENGTH, Math.min(bytes.length, (piece + 1) * METADATA_PIECE_LENGTH))

  const flood = () => {
    let sent = 0
    const junk = randomBytes(64)
    const pump = () => {
      while (!closed && sent < config.floodLimit) {
        const kind = sent % 4
        const data = kind === 0
          ? message(4, Buffer.from([0, 0, (sent >> 8) & 255, sent & 255])) // have
          : kind === 1
          ? Buffer.alloc(4) // keep-alive
          : kind === 2
          ? message(77, junk) // an id nobody defined
          : extended(remoteUtId === 99 ? 98 : 99, { junk: sent }, junk) // an extension nobody negotiated
        sent++
        counters.floodSent++
        if (!socket.write(data)) {
          socket.once("drain", pump)
          return
        }
      }
    }
    setImmediate(pump)
  }

  const afterHandshake = () => {
    const extensionBit = behaviour !== "no-extension-bit"
    send(handshake(handshakeHash, config.peerId, extensionBit))
    if (!extensionBit) return
    send(extended(0, {
      m: { ut_metadata: config.utId },
      metadata_size: bytes.length,
      reqq: config.reqq,
      v: `BitScrape hostile seeder (${behaviour})`
    }))
    if (behaviour === "flood") flood()
    if (behaviour === "huge-length-prefix") {
      const header = Buffer.alloc(5)
      header.writeUInt32BE(0xffff_ffff, 0)
      header[4] = EXTENDED
      send(Buffer.concat([header, Buffer.from([config.utId]), randomBytes(1000)]))
    }
  }

  const onRequest = (piece: number): void => {
    counters.requests++
    switch (behaviour) {
      case "honest":
      case "lies-about-size":
      case "wrong-pieces":
      case "wrong-infohash-handshake": {
        if (!Number.isInteger(piece) || piece < 0 || piece >= pieces || inFlight >= config.reqq) {
          sendMetadata({ msg_type: 2, piece })
          return
        }
        // Answered on a later turn, so a burst of requests is really in flight and `reqq` means something.
        inFlight++
        setImmediate(() => {
          inFlight--
          sendMetadata({ msg_type: 1, piece, total_size: bytes.length }, pieceBytes(piece))
        })
        return
      }
      case "reject-all":
        sendMetadata({ msg_type: 2, piece })
        return
      case "bad-piece-index":
        sendMetadata({ msg_type: 1, piece: 999, total_size: bytes.length }, pieceBytes(0))
        return
      case "disconnect-mid-piece": {
        if (remoteUtId === undefined) return
        const full = extended(remoteUtId, { msg_type: 1, piece, total_size: bytes.length }, pieceBytes(piece))
        socket.write(full.subarray(0, Math.max(6, full.length >> 1)), () => socket.destroy())
        return
      }
      default:
        return // stall, flood, huge-length-prefix, no-extension-bit: never answered
    }
  }

  const onExtended = (payload: Buffer) => {
    if (payload.length < 1) return
    const subId = payload[0]
    let dict: unknown
    try {
      dict = bencode.decode(payload, 1, bencodedEnd(payload, 1))
    } catch {
      socket.destroy()
      return
    }
    if (typeof dict !== "object" || dict === null) return
    const fields = dict as Record<string, unknown>
    if (subId === 0) {
      const m = fields.m as Record<string, unknown> | undefined
      const id = m?.ut_metadata
      if (typeof id === "number" && id > 0 && id < 256) remoteUtId = id
      return
    }
    if (subId === config.utId && fields.msg_type === 0 && typeof fields.piece === "number") onRequest(fields.piece)
  }

  const onData = (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
    if (!handshaken) {
      if (buffer.length < HANDSHAKE_LENGTH) return
      const ok = buffer[0] === 19 && buffer.subarray(1, 20).equals(PROTOCOL) &&
        buffer.subarray(28, 48).equals(config.infoHash)
      if (!ok) {
        socket.destroy()
        return
      }
      handshaken = true
      buffer = buffer.subarray(HANDSHAKE_LENGTH)
      afterHandshake()
    }
    while (buffer.length >= 4) {
      const length = buffer.readUInt32BE(0)
      if (length > MAX_INCOMING_MESSAGE) {
        socket.destroy()
        return
      }
      if (buffer.length < 4 + length) return
      const body = buffer.subarray(4, 4 + length)
      buffer = buffer.subarray(4 + length)
      if (length > 0 && body[0] === EXTENDED && behaviour !== "no-extension-bit") onExtended(body.subarray(1))
      if (closed) return
    }
  }
  socket.on("data", onData)
}

/** Index just past the bencoded value starting at `start` (throws on malformed input). */
export const bencodedEnd = (bytes: Uint8Array, start: number): number => {
  let i = start
  const value = (): void => {
    const c = bytes[i]
    if (c === 0x69) { // i...e
      const end = bytes.indexOf(0x65, i + 1)
      if (end < 0) throw new Error("unterminated integer")
      i = end + 1
    } else if (c === 0x6c || c === 0x64) { // l...e, d...e
      i++
      while (bytes[i] !== 0x65) {
        if (i >= bytes.length) throw new Error("unterminated list or dictionary")
        value()
      }
      i++
    } else if (c !== undefined && c >= 0x30 && c <= 0x39) { // <length>:<bytes>
      const colon = bytes.indexOf(0x3a, i)
      if (colon < 0) throw new Error("unterminated string length")
      const length = Number(Buffer.from(bytes.subarray(i, colon)).toString("latin1"))
      if (!Number.isSafeInteger(length) || colon + 1 + length > bytes.length) throw new Error("bad string length")
      i = colon + 1 + length
    } else {
      throw new Error(`unexpected byte ${c} at ${i}`)
    }
  }
  value()
  return i
}

/**
 * Starts the seeder in the current Scope; closing the Scope closes the server and every connection. A non-loopback
 * host or a failed listen is a defect (the test is wrong, not the code under test).
 */
export const makeHostileSeeder = (options: HostileSeederOptions): Effect.Effect<HostileSeeder, never, Scope.Scope> =>
  Effect.gen(function*() {
    if (!isLoopbackHost(options.host)) {
      return yield* Effect.dieMessage(`hostile seeder: host must be in 127.0.0.0/8, got ${options.host}`)
    }
    // A v2 or hybrid torrent is also known by its truncated SHA-256 (BEP 52): `byV2` seeds it under that hash.
    const infoHash = options.byV2 === true
      ? new Uint8Array(createHash("sha256").update(options.infoDict).digest().subarray(0, 20))
      : sha1(options.infoDict)
    const config: Config = {
      behaviour: options.behaviour,
      info: options.infoDict,
      infoHash,
      other: options.otherInfoDict ?? otherTorrentInfo(),
      claimedSize: options.claimedSize ?? options.infoDict.length + METADATA_PIECE_LENGTH + 1,
      reqq: options.reqq ?? 250,
      floodLimit: options.floodLimit ?? 200_000,
      utId: options.utMetadataId ?? 3,
      peerId: Buffer.concat([Buffer.from("-BS0001-", "latin1"), randomBytes(12)])
    }
    const counters: Counters = { connections: 0, open: 0, requests: 0, floodSent: 0 }
    const sockets = new Set<net.Socket>()
    const server = yield* Effect.acquireRelease(
      Effect.async<net.Server>((resume) => {
        const server = net.createServer((socket) => {
          counters.connections++
          counters.open++
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          serveConnection(socket, config, counters)
        })
        server.once("error", (err) => resume(Effect.die(err)))
        server.listen({ host: options.host, port: options.port ?? 0 }, () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.async<void>((resume) => {
          for (const socket of sockets) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    const address = server.address() as net.AddressInfo
    return {
      host: options.host,
      port: address.port,
      infoHash,
      connections: () => counters.connections,
      openConnections: () => counters.open,
      requests: () => counters.requests,
      floodSent: () => counters.floodSent
    }
  })
