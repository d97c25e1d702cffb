// bench/referenceFetcher: the reference metadata fetcher of bench/metadata.ts (issue 6), written the way a typical
// JS developer would with npm bittorrent-protocol + ut_metadata: for each infohash, net.connect to its peer, a Wire
// with the ut_metadata extension, handshake, fetch, and a SHA-1 check of the metadata against the *requested*
// infohash (ut_metadata itself only checks against the hash in the peer's handshake). At most `concurrency`
// connections at once (BitScrape's default maxConnections, 64).
//
//   node --import test/support/loopbackGuard.mjs bench/referenceFetcher.mjs <list.json> [concurrency] [timeoutMs]
//
// With BITSCRAPE_BENCH_WARMUP_LIST=<warmup.json> it first fetches that list the same way, untimed.
//
// <list.json> is [{ infoHashHex, host, port }, …]. Prints one JSON line: { fetched, verified, failed, seconds,
// cpuSeconds, peakRssBytes, connections, errors } — seconds and cpuSeconds cover the fetching only (not start-up).
import Wire from "bittorrent-protocol"
import { Buffer } from "node:buffer"
import { createHash, randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import net from "node:net"
import process from "node:process"
import { clearTimeout, setTimeout } from "node:timers"
import utMetadata from "ut_metadata"

const [listPath, concurrencyArg, timeoutArg] = process.argv.slice(2)
if (listPath === undefined) throw new Error("usage: referenceFetcher.mjs <list.json> [concurrency] [timeoutMs]")
const list = JSON.parse(readFileSync(listPath, "utf8"))
const concurrency = Number(concurrencyArg ?? 64)
const timeoutMs = Number(timeoutArg ?? 20000)
const peerId = randomBytes(20).toString("hex")

let connections = 0

/** Resolves with the raw info dict, or rejects. */
const fetchOne = ({ infoHashHex, host, port }) =>
  new Promise((resolve, reject) => {
    connections++
    const socket = net.connect({ host, port })
    const wire = new Wire()
    let settled = false
    const finish = (error, value) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      wire.destroy()
      socket.destroy()
      if (error) reject(error)
      else resolve(value)
    }
    const timer = setTimeout(() => finish(new Error("timeout")), timeoutMs)
    socket.on("error", (err) => finish(err))
    socket.on("close", () => finish(new Error("closed")))
    wire.on("error", (err) => finish(err))
    socket.pipe(wire).pipe(socket)
    wire.use(utMetadata())
    wire.on("handshake", (infoHash) => {
      const remote = typeof infoHash === "string" ? infoHash : Buffer.from(infoHash).toString("hex")
      if (remote !== infoHashHex) finish(new Error("wrong infohash in handshake"))
    })
    wire.ut_metadata.on("metadata", () => finish(undefined, wire.ut_metadata.metadata))
    wire.ut_metadata.fetch()
    wire.handshake(infoHashHex, peerId, { dht: false })
  })

const rssPeak = () => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "latin1"))
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024
}

let fetched = 0
let verified = 0
let failed = 0
let errors = {}
/** Fetches every item of `items`, at most `concurrency` at once. */
const fetchAll = async (items) => {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]
      try {
        const info = await fetchOne(item)
        fetched++
        if (createHash("sha1").update(info).digest("hex") === item.infoHashHex) verified++
      } catch (e) {
        failed++
        const key = String(e?.message ?? e)
        errors[key] = (errors[key] ?? 0) + 1
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
}

// Warm-up (bench/metadata.ts gives both contenders the same one): a separate list of torrents fetched the same
// way before the timed run, so that the timed run does not measure a cold JIT. Not counted.
const warmupPath = process.env.BITSCRAPE_BENCH_WARMUP_LIST
if (warmupPath) {
  await fetchAll(JSON.parse(readFileSync(warmupPath, "utf8")))
  if (failed > 0) process.stderr.write(`referenceFetcher: warm-up failures ${JSON.stringify(errors)}\n`)
  fetched =
    verified =
    failed =
    connections =
      0
  errors = {}
}

const cpu0 = process.cpuUsage()
const t0 = process.hrtime.bigint()
await fetchAll(list)
const seconds = Number(process.hrtime.bigint() - t0) / 1e9
const cpu = process.cpuUsage(cpu0)
process.stdout.write(
  `${
    JSON.stringify({
      fetched,
      verified,
      failed,
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      peakRssBytes: rssPeak(),
      connections,
      errors
    })
  }\n`
)
