import { Effect, type Scope } from "effect"
import net from "node:net"
import { toHex } from "../domain/ids.js"
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
} from "../wire/messages.js"

// A minimal BEP 9 metadata seeder for the offline demo: it answers handshakes for the infohashes it holds,
// advertises ut_metadata, and serves 16 KiB pieces of the info dictionary. It serves no file content.

const OUR_ID = 2
const MAX_MESSAGE = 64 * 1024

export interface MetadataSeeder {
  readonly host: string
  readonly port: number
}

/** Serves `infos` (infohash hex → info dictionary) on `host` until the scope closes. */
export const makeMetadataSeeder = (
  host: string,
  infos: ReadonlyMap<string, Uint8Array>
): Effect.Effect<MetadataSeeder, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<net.Server, Error>((resume) => {
      const server = net.createServer((socket) => serve(socket, infos))
      server.once("error", (e) => resume(Effect.fail(e)))
      server.listen({ host, port: 0 }, () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  ).pipe(Effect.map((server) => ({ host, port: (server.address() as net.AddressInfo).port })))

const serve = (socket: net.Socket, infos: ReadonlyMap<string, Uint8Array>) => {
  const reader = makeFrameReader(MAX_MESSAGE)
  let info: Uint8Array | undefined
  let peerUt: number | undefined
  socket.setTimeout(30_000, () => socket.destroy())
  socket.on("error", () => socket.destroy())
  socket.on("data", (chunk: Buffer) => {
    reader.push(chunk)
    try {
      if (info === undefined) {
        const raw = reader.takeRaw(HANDSHAKE_LENGTH)
        if (raw === undefined) return
        const hs = decodeHandshake(raw)
        const wanted = hs === undefined ? undefined : infos.get(toHex(hs.infoHash))
        if (hs === undefined || wanted === undefined) return socket.destroy()
        info = wanted
        socket.write(encodeHandshake(hs.infoHash, Buffer.from("-BS0001-demo-seeder0")))
        socket.write(encodeExtended(0, { m: { ut_metadata: OUR_ID }, metadata_size: info.length, v: "BitScrape demo" }))
      }
      for (let f = reader.next(); f !== undefined; f = reader.next()) {
        if (f.id !== EXTENDED || f.payload.length === 0) continue
        const ext = f.payload[0]
        if (ext === 0) {
          peerUt = decodeExtendedHandshake(f.payload.subarray(1)).utMetadata
        } else if (ext === OUR_ID && peerUt !== undefined) {
          const m = decodeMetadataMessage(f.payload.subarray(1))
          if (m.type !== "request") continue
          const start = m.piece * METADATA_PIECE
          if (m.piece < 0 || start >= info.length) {
            socket.write(encodeExtended(peerUt, { msg_type: 2, piece: m.piece }))
            continue
          }
          const piece = info.subarray(start, Math.min(info.length, start + METADATA_PIECE))
          socket.write(encodeExtended(peerUt, { msg_type: 1, piece: m.piece, total_size: info.length }, piece))
        }
      }
    } catch {
      socket.destroy()
    }
  })
}
