// A child process in which npm `webtorrent` seeds generated torrents on loopback, driven over JSON lines.
// Started by WebtorrentSeeders.ts as `node --import <loopbackGuard.mjs> webtorrentSeeder.mjs '<config json>'`.
//
// Config: { hosts: [string], port: number, torrents: [{ name, files: [{ path, length }], pieceLength? }] }
// Torrent i is seeded by its own WebTorrent client whose TCP server listens on hosts[i]:port (0 = ephemeral).
// A torrent whose only file is named like the torrent is single-file; otherwise files live under a folder of that
// name. Content is zero-filled files in a temp dir (removed on shutdown); webtorrent hashes them itself (seed()).
//
// Every public default is off: no DHT, trackers, LSD, uTP, UPnP, NAT-PMP, web seeds or PEX, and an empty announce
// list in the .torrent. WebTorrent 2 has no option for the listen address (ConnPool calls
// `tcpServer.listen(port, cb)`, i.e. all interfaces, which the loopback guard refuses), so the client is built while
// net.Server#listen is wrapped to add the host.
//
// Protocol: one JSON object per line.
//   stdout: {"event":"ready","torrents":[...]} once all are seeding; {"event":"fatal","reason","error"} before a
//           deliberate exit; {"id":n,"result":...} or {"id":n,"error":"..."} for each request.
//   stdin:  {"id":n,"cmd":"<name>","args":[...]}; end of stdin means shutdown.
import bencode from "bencode"
import { createHash } from "node:crypto"
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import net from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { TextDecoder } from "node:util"
import { takeViolations } from "../loopbackGuard.mjs"

const send = (message) => process.stdout.write(JSON.stringify(message) + "\n")

// tmpfs when there is one: creating many small files on this machine's ext4 /tmp takes ~2 ms each.
const shm = (() => {
  try {
    accessSync("/dev/shm", constants.W_OK)
    return "/dev/shm"
  } catch {
    return tmpdir()
  }
})()
const workdir = mkdtempSync(join(shm, "bitscrape-wt-seeder-"))
const cleanup = () => rmSync(workdir, { recursive: true, force: true })

const fatal = (reason, error) => {
  send({ event: "fatal", reason, error: String(error?.stack ?? error) })
  cleanup()
  process.exit(2)
}

process.on("uncaughtException", (e) => fatal("Crashed", e))
process.on("unhandledRejection", (e) => fatal("Crashed", e))

let WebTorrent
try {
  WebTorrent = (await import("webtorrent")).default
} catch (e) {
  fatal("MissingDependency", `npm webtorrent is not installed (npm install --save-dev webtorrent@^2.8.5): ${e}`)
}

const config = JSON.parse(process.argv[2] ?? "{}")
const isLoopback = (host) => /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)

/** Runs `make` while every net.Server#listen(port, ...) call is turned into listen({ port, host }, ...). */
const withListenHost = (host, make) => {
  const original = net.Server.prototype.listen
  net.Server.prototype.listen = function(...args) {
    if (typeof args[0] === "number") {
      const callback = args.find((a) => typeof a === "function")
      return original.call(this, { port: args[0], host }, callback)
    }
    return original.apply(this, args)
  }
  try {
    return make()
  } finally {
    net.Server.prototype.listen = original
  }
}

const text = (bytes) => new TextDecoder().decode(bytes)

/** Files as the info dict lists them (paths relative to the torrent's folder; a single file is named like it). */
const filesOf = (info) =>
  info.files === undefined
    ? [{ path: text(info.name), length: info.length }]
    : info.files.map((f) => ({
      path: f.path.map(text).join("/"),
      length: f.length,
      ...(f.attr !== undefined && text(f.attr).includes("p") ? { pad: true } : {})
    }))

const clients = []
const reports = []

const seedOne = (spec, i) =>
  new Promise((resolve, reject) => {
    const host = config.hosts[i]
    if (!isLoopback(host)) return reject(new Error(`refusing non-loopback host ${JSON.stringify(host)}`))
    const single = spec.files.length === 1 && spec.files[0].path === spec.name
    const root = join(workdir, String(i))
    for (const file of spec.files) {
      const path = single ? join(root, spec.name) : join(root, spec.name, ...file.path.split("/"))
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, Buffer.alloc(file.length))
    }
    const client = withListenHost(host, () =>
      new WebTorrent({
        dht: false,
        tracker: false,
        lsd: false,
        utp: false,
        natUpnp: false,
        natPmp: false,
        webSeeds: false,
        utPex: false,
        torrentPort: config.port ?? 0
      }))
    clients.push(client)
    client.on("error", (err) => fatal("ClientError", `client ${i} (${host}): ${err?.stack ?? err}`))
    client.seed(join(root, spec.name), {
      name: spec.name,
      announceList: [],
      urlList: [],
      private: false,
      ...(spec.pieceLength === undefined ? {} : { pieceLength: spec.pieceLength })
    }, (torrent) => {
      const address = client.address()
      const infoBuffer = torrent.infoBuffer
      const sha1 = createHash("sha1").update(infoBuffer).digest("hex")
      if (sha1 !== torrent.infoHash) return reject(new Error(`${spec.name}: SHA-1 of infoBuffer is not the infohash`))
      if (!torrent.done) return reject(new Error(`${spec.name}: webtorrent does not consider itself a seeder`))
      const info = bencode.decode(infoBuffer)
      resolve({
        infoHashHex: torrent.infoHash,
        name: torrent.name,
        files: filesOf(info),
        infoHex: Buffer.from(infoBuffer).toString("hex"),
        infoSize: infoBuffer.length,
        metadataPieces: Math.ceil(infoBuffer.length / 16384),
        peer: { host: address.address, port: address.port }
      })
    })
  })

const commands = {
  torrents: () => reports,
  // Non-loopback traffic the loopback guard refused in this process (a library may swallow the exception).
  violations: () => takeViolations(),
  status: () =>
    clients.map((client) => ({
      torrents: client.torrents.map((t) => ({ infoHashHex: t.infoHash, done: t.done, peers: t.numPeers })),
      uploaded: client.torrents.reduce((n, t) => n + t.uploaded, 0)
    }))
}

const shutdown = () => {
  for (const client of clients) {
    try {
      client.destroy()
    } catch {
      // exiting anyway
    }
  }
  cleanup()
  process.exit(0)
}

try {
  const specs = config.torrents ?? []
  if ((config.hosts ?? []).length < specs.length) throw new Error(`need ${specs.length} hosts`)
  for (const [i, spec] of specs.entries()) reports.push(await seedOne(spec, i))
} catch (e) {
  fatal("StartFailed", e)
}
send({ event: "ready", torrents: reports })

createInterface({ input: process.stdin })
  .on("line", (line) => {
    if (line.trim() === "") return
    const { id, cmd, args = [] } = JSON.parse(line)
    if (cmd === "shutdown") {
      send({ id, result: null })
      return shutdown()
    }
    try {
      const handler = commands[cmd]
      if (handler === undefined) throw new Error(`unknown command ${JSON.stringify(cmd)}`)
      send({ id, result: handler(...args) })
    } catch (e) {
      send({ id, error: String(e?.message ?? e) })
    }
  })
  .on("close", shutdown)
