import { Effect, type Scope } from "effect"
import type net from "node:net"
import { toHex } from "../../domain/ids.js"
import {
  decodeExtendedHandshake,
  decodeHandshake,
  decodeMetadataMessage,
  encodeExtended,
  encodeHandshake,
  EXTENDED,
  HANDSHAKE_LENGTH,
  makeFrameReader,
  METADATA_PIECE
} from "../../wire/messages.js"
import { listenScoped } from "./tcpServer.js"

// A BEP 9 peer that misbehaves the way some real ones do, for the realistic network model. BEP 3 handshake,
// BEP 10 extended handshake advertising ut_metadata, then one of:
//   stall   — both handshakes, then silence;
//   trickle — serves the right pieces at ~256 bytes/s, so a 16 KiB piece takes about a minute;
//   lie     — claims a metadata_size one piece larger than the real one and serves real bytes then zeros;
//   wrong   — serves another torrent's info dictionary under this infohash (its SHA-1 does not match).

export type HostileBehaviour = "stall" | "trickle" | "lie" | "wrong"
export const HOSTILE_BEHAVIOURS: ReadonlyArray<HostileBehaviour> = ["stall", "trickle", "lie", "wrong"]

const OUR_UT = 2
const MAX_MESSAGE = 64 * 1024
const TRICKLE_BYTES = 64
const TRICKLE_EVERY_MS = 250

export interface HostilePeer {
  readonly host: string
  readonly port: number
  readonly behaviour: HostileBehaviour
}

/** What a connection for `info` serves under `behaviour`: the bytes, and the size it claims. */
const servedBytes = (behaviour: HostileBehaviour, info: Uint8Array, other: Uint8Array): Uint8Array => {
  if (behaviour === "wrong") return other
  if (behaviour !== "lie") return info
  const bytes = new Uint8Array(info.length + METADATA_PIECE + 1)
  bytes.set(info)
  return bytes
}

const serve = (
  socket: net.Socket,
  behaviour: HostileBehaviour,
  infos: ReadonlyMap<string, Uint8Array>,
  other: Uint8Array
) => {
  const reader = makeFrameReader(MAX_MESSAGE)
  let bytes: Uint8Array | undefined
  let peerUt: number | undefined
  const timers = new Set<NodeJS.Timeout>()
  socket.setTimeout(120_000, () => socket.destroy())
  socket.on("error", () => socket.destroy())
  socket.on("close", () => timers.forEach(clearTimeout))
  const trickle = (data: Uint8Array) => {
    let offset = 0
    const step = () => {
      if (socket.destroyed) return
      socket.write(data.subarray(offset, offset + TRICKLE_BYTES))
      offset += TRICKLE_BYTES
      if (offset < data.length) timers.add(setTimeout(step, TRICKLE_EVERY_MS))
    }
    step()
  }
  socket.on("data", (chunk: Buffer) => {
    reader.push(chunk)
    try {
      if (bytes === undefined) {
        const raw = reader.takeRaw(HANDSHAKE_LENGTH)
        if (raw === undefined) return
        const hs = decodeHandshake(raw)
        const info = hs === undefined ? undefined : infos.get(toHex(hs.infoHash))
        if (hs === undefined || info === undefined) return socket.destroy()
        bytes = servedBytes(behaviour, info, other)
        socket.write(encodeHandshake(hs.infoHash, Buffer.from(`-BS0001-${behaviour.padEnd(12, "x")}`)))
        socket.write(
          encodeExtended(0, { m: { ut_metadata: OUR_UT }, metadata_size: bytes.length, v: "BitScrape model" })
        )
      }
      for (let f = reader.next(); f !== undefined; f = reader.next()) {
        if (f.id !== EXTENDED || f.payload.length === 0) continue
        if (f.payload[0] === 0) {
          peerUt = decodeExtendedHandshake(f.payload.subarray(1)).utMetadata
          continue
        }
        if (f.payload[0] !== OUR_UT || peerUt === undefined || behaviour === "stall") continue
        const m = decodeMetadataMessage(f.payload.subarray(1))
        if (m.type !== "request") continue
        const start = m.piece * METADATA_PIECE
        if (m.piece < 0 || start >= bytes.length) {
          socket.write(encodeExtended(peerUt, { msg_type: 2, piece: m.piece }))
          continue
        }
        const piece = bytes.subarray(start, Math.min(bytes.length, start + METADATA_PIECE))
        const message = encodeExtended(peerUt, { msg_type: 1, piece: m.piece, total_size: bytes.length }, piece)
        if (behaviour === "trickle") trickle(message)
        else socket.write(message)
      }
    } catch {
      socket.destroy()
    }
  })
}

/** Serves `infos` (infohash hex → info dictionary) on `host` with `behaviour` until the scope closes. */
export const makeHostilePeer = (
  host: string,
  behaviour: HostileBehaviour,
  infos: ReadonlyMap<string, Uint8Array>,
  other: Uint8Array
): Effect.Effect<HostilePeer, Error, Scope.Scope> =>
  listenScoped(host, (socket) => serve(socket, behaviour, infos, other)).pipe(
    Effect.map((port) => ({ host, port, behaviour }))
  )
