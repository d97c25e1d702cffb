// Fetches an info dict with npm `bittorrent-protocol` + `ut_metadata`: an independent BEP 9 client for checking the
// seeders. Both packages are loaded lazily, so a missing one fails the test with the command that installs it.
// ut_metadata checks SHA-1 only, against the infohash in the *peer's* handshake (INTEROP.md): fine for the honest
// seeders here, but it cannot fetch v2-only torrents.
import { randomBytes } from "node:crypto"
import net from "node:net"
import { clearTimeout, setTimeout } from "node:timers"

const load = async () => {
  try {
    const [{ default: Wire }, { default: utMetadata }] = await Promise.all([
      import("bittorrent-protocol"),
      import("ut_metadata")
    ])
    return { Wire, utMetadata }
  } catch (e) {
    throw new Error(
      `npm bittorrent-protocol and ut_metadata are needed: npm install --save-dev bittorrent-protocol@^5.0.9 ` +
        `ut_metadata@^5.0.1 (${e?.message ?? e})`
    )
  }
}

/**
 * @param {{ host: string, port: number, infoHashHex: string, timeoutMs?: number }} options
 * @returns {Promise<{ info: Uint8Array, torrent: Uint8Array, remoteInfoHashHex: string, remoteClient: string | undefined }>}
 */
export const fetchWithUtMetadata = async ({ host, port, infoHashHex, timeoutMs = 5000 }) => {
  const { Wire, utMetadata } = await load()
  return new Promise((resolve, reject) => {
    const warnings = []
    const socket = net.connect({ host, port })
    const wire = new Wire()
    let settled = false
    let remoteInfoHashHex = ""
    const finish = (error, value) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      wire.destroy()
      socket.destroy()
      if (error) reject(error)
      else resolve(value)
    }
    const timer = setTimeout(
      () =>
        finish(
          new Error(
            `ut_metadata: no metadata from ${host}:${port} within ${timeoutMs} ms` +
              (warnings.length ? `; warnings: ${warnings.join("; ")}` : "")
          )
        ),
      timeoutMs
    )
    socket.on("error", (err) => finish(new Error(`ut_metadata: socket error ${err.message}`)))
    socket.on("close", () => finish(new Error(`ut_metadata: ${host}:${port} closed the connection`)))
    wire.on("error", (err) => finish(new Error(`ut_metadata: wire error ${err?.message ?? err}`)))
    socket.pipe(wire).pipe(socket)
    wire.use(utMetadata())
    wire.on("handshake", (infoHash) => {
      remoteInfoHashHex = typeof infoHash === "string" ? infoHash : Buffer.from(infoHash).toString("hex")
    })
    wire.ut_metadata.on("warning", (err) => warnings.push(String(err?.message ?? err)))
    wire.ut_metadata.on("metadata", (torrent) => {
      const remoteClient = wire.peerExtendedHandshake?.v === undefined
        ? undefined
        : Buffer.from(wire.peerExtendedHandshake.v).toString("utf8")
      // `metadata` is the raw assembled info dict; the event's payload is a re-encoded { info } dictionary.
      finish(undefined, { info: wire.ut_metadata.metadata, torrent, remoteInfoHashHex, remoteClient })
    })
    wire.ut_metadata.fetch()
    wire.handshake(infoHashHex, randomBytes(20).toString("hex"), { dht: false })
  })
}
