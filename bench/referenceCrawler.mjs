// bench/referenceCrawler: a DHT crawler written the way a JavaScript developer would write one without BitScrape,
// on npm `bittorrent-dht` (11.x) alone. It is the baseline of bench/crawler.ts (issue 5); it is deliberately plain
// and uses only what the library offers plus the two internals a developer finds in its README/issues:
//
//   1. Passive harvest: the library's 'announce' (announce_peer received and stored) and 'get_peers' (get_peers
//      received) events.
//   2. Walking: `dht.lookup(<random target>)` (a get_peers lookup through the library's k-rpc `closest`),
//      `lookups` of them in flight at once, which grows the routing table and the list of nodes heard of.
//   3. BEP 51, which bittorrent-dht lacks: raw `dht._rpc.query(node, { q: "sample_infohashes", a: { id, target } })`
//      to every node heard of, `samplers` at once, honouring each node's `interval`; a node that does not answer
//      (bittorrent-dht ignores unknown queries) is not asked again. The `nodes` of every reply to us (lookups and
//      samples, read from the k-rpc socket's 'response' event) join the list of nodes to sample.
//   4. A packet budget (`--max-pps`): new lookups and samples start only while the datagrams this process sent in
//      the last second stay under it (the library itself has no rate limit; in-flight lookups may overshoot).
//
// No metadata fetching (bittorrent-protocol + ut_metadata): BitScrape does not fetch metadata yet (issue 6), so
// the comparison covers discovery only, on both sides.
//
// Usage: node --import test/support/loopbackGuard.mjs bench/referenceCrawler.mjs \
//          --bootstrap 127.10.0.1:PORT[,…] --bind 127.30.0.1 [--max-pps 1000] [--max-inflight 256] \
//          [--lookups 4] [--samplers 16] [--duration SECONDS] [--progress-ms 1000]
// Output: JSON lines on stdout —
//   {"event":"ready","host","port","nodeId"}; {"event":"joined","t","tableNodes"} when the library's bootstrap is done
//   {"event":"infohash","t":<ms since start>,"at":<Date.now()>,"hex","source":"sample"|"get_peers"|"announce"}  (first sighting)
//   {"event":"progress","t","infohashes","knownNodes","tableNodes","sent","queries":{…},"rss","heapUsed"}
//   {"event":"summary","t","infohashes","knownNodes","tableNodes","sent","queries","cpuSeconds","peakRss",…}
// It ends after --duration, or on SIGINT/SIGTERM, printing the summary first.
//
// Network safety: every address it binds, bootstraps from or queries must be in 127.0.0.0/8 (checked here; run it
// under the loopback guard and in a private network namespace as well). The bootstrap list is always explicit:
// bittorrent-dht would otherwise resolve and contact the public routers.
import DHT from "bittorrent-dht"
import { randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { clearInterval, setImmediate, setInterval, setTimeout } from "node:timers"

const LOOPBACK = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/
const isLoopback = (host) => {
  const m = LOOPBACK.exec(host)
  return m !== null && m.slice(1).every((x) => Number(x) <= 255)
}

// === Options ===

const argv = process.argv.slice(2)
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback
}
const bind = option("bind", "127.30.0.1")
const bootstrap = (option("bootstrap", "") ?? "").split(",").filter((s) => s !== "").map((entry) => {
  const [host, port] = entry.split(":")
  return { host, port: Number(port) }
})
const maxPps = Number(option("max-pps", "1000"))
const maxInflight = Number(option("max-inflight", "256"))
const lookupsInFlight = Number(option("lookups", "4"))
const samplers = Number(option("samplers", "16"))
const durationSeconds = Number(option("duration", "0"))
const progressMillis = Number(option("progress-ms", "1000"))

const send = (message) => process.stdout.write(JSON.stringify(message) + "\n")
const fail = (message) => {
  process.stderr.write(`referenceCrawler: ${message}\n`)
  process.exit(2)
}

// === Nodes heard of ===

/** Every node heard of, by "host:port": { id, host, port, nextSampleAt, samples: undefined | true | false }. */
const makeNodeList = (selfId) => {
  const nodes = new Map()
  const heardOf = (id, host, port) => {
    if (!Buffer.isBuffer(id) || id.length !== 20 || !isLoopback(host) || !(port > 0)) return
    if (id.equals(selfId)) return
    const key = `${host}:${port}`
    // Copy the id: a view would keep the whole reply datagram alive.
    if (!nodes.has(key)) nodes.set(key, { id: Buffer.from(id), host, port, nextSampleAt: 0, samples: undefined })
  }
  /** Compact node infos (26 bytes each) from a reply's `nodes`. */
  const parseNodes = (buf) => {
    if (!Buffer.isBuffer(buf)) return
    for (let i = 0; i + 26 <= buf.length; i += 26) {
      const host = `${buf[i + 20]}.${buf[i + 21]}.${buf[i + 22]}.${buf[i + 23]}`
      heardOf(buf.subarray(i, i + 20), host, buf.readUInt16BE(i + 24))
    }
  }
  return { nodes, heardOf, parseNodes }
}

// `--measure-memory N` (with node --expose-gc): heap bytes per node heard of, for bench/crawler.ts; no sockets.
const measureCount = Number(option("measure-memory", "0"))
if (measureCount > 0) {
  const heap = () => {
    for (let i = 0; i < 3; i++) globalThis.gc()
    const m = process.memoryUsage()
    return m.heapUsed + m.external
  }
  const rss0 = process.memoryUsage().rss
  const before = heap()
  const list = makeNodeList(randomBytes(20))
  // As replies arrive: one compact `nodes` string of 8 contacts per reply, garbage once parsed.
  for (let i = 0; i < measureCount; i += 8) {
    const buf = Buffer.alloc(26 * 8)
    for (let j = 0; j < 8; j++) {
      const n = i + j
      randomBytes(20).copy(buf, 26 * j)
      buf.set([127, (n >> 16) & 255, (n >> 8) & 255, n & 255], 26 * j + 20)
      buf.writeUInt16BE(1024 + (n % 60_000), 26 * j + 24)
    }
    list.parseNodes(buf)
  }
  const after = heap()
  if (list.nodes.size < measureCount) fail(`stored ${list.nodes.size} of ${measureCount}`)
  const rssBytes = (process.memoryUsage().rss - rss0) / list.nodes.size
  send({ count: list.nodes.size, knownNodesBytes: (after - before) / list.nodes.size, rssBytes })
  process.exit(0)
}

// === The DHT node ===

if (!isLoopback(bind)) fail(`--bind ${bind} is not in 127.0.0.0/8`)
if (bootstrap.length === 0) fail("--bootstrap is required (an explicit loopback list; never the public routers)")
for (const b of bootstrap) if (!isLoopback(b.host) || !(b.port > 0)) fail(`bad bootstrap ${b.host}:${b.port}`)

const started = Date.now()
const elapsed = () => Date.now() - started
const dht = new DHT({ bootstrap, concurrency: maxInflight })
// Bind in the same tick as construction: the library starts bootstrapping on the next tick.
dht.listen(0, bind)
dht.on("error", (err) => fail(`dht error: ${err?.stack ?? err}`))
dht.on("warning", () => {})

/** Datagrams sent in the current second and in total (k-rpc-socket sends queries and replies through `send`). */
let sent = 0
let sentThisSecond = 0
const socket = dht._rpc.socket
const originalSend = socket.send
socket.send = function(peer, message, cb) {
  const host = peer.address ?? peer.host
  if (!isLoopback(host)) throw new Error(`referenceCrawler: refusing to send to ${host}`)
  sent++
  sentThisSecond++
  return originalSend.call(this, peer, message, cb)
}
const underBudget = () => sentThisSecond < maxPps

// === What we learn ===

/** Infohashes (hex) seen, with how they were first seen. */
const infohashes = new Map()
const found = (infoHash, source) => {
  if (!Buffer.isBuffer(infoHash) || infoHash.length !== 20) return
  const hex = infoHash.toString("hex")
  if (infohashes.has(hex)) return
  infohashes.set(hex, source)
  send({ event: "infohash", t: elapsed(), at: Date.now(), hex, source })
}

const { nodes, heardOf, parseNodes } = makeNodeList(dht.nodeId)

dht.on("announce", (_peer, infoHash) => found(infoHash, "announce"))
dht.on("get_peers", (infoHash) => found(infoHash, "get_peers"))
dht.on("node", (node) => heardOf(node.id, node.host, node.port))
// Every reply to one of our queries: its sender and the nodes it lists.
socket.on("response", (message, rinfo) => {
  const r = message?.r
  if (r === undefined) return
  heardOf(r.id, rinfo.address, rinfo.port)
  parseNodes(r.nodes)
})

// === Walking: random-target lookups ===

const queries = { lookups: 0, sample_infohashes: 0, samplesAnswered: 0 }
let lookupsRunning = 0
const startLookups = () => {
  while (lookupsRunning < lookupsInFlight && underBudget()) {
    lookupsRunning++
    queries.lookups++
    dht.lookup(randomBytes(20), () => {
      lookupsRunning--
      setImmediate(startLookups)
    })
  }
}

// === BEP 51 by hand ===

let samplersRunning = 0
const nextToSample = () => {
  const now = Date.now()
  for (const n of nodes.values()) {
    if (n.samples !== false && n.nextSampleAt <= now) return n
  }
  return undefined
}
const sampleOne = (n) => {
  samplersRunning++
  queries.sample_infohashes++
  n.nextSampleAt = Date.now() + 60_000 // reserved meanwhile; the reply's interval replaces it
  dht._rpc.query(
    { id: n.id, host: n.host, port: n.port },
    { q: "sample_infohashes", a: { id: dht.nodeId, target: randomBytes(20) } },
    (err, reply) => {
      samplersRunning--
      const r = reply?.r
      if (err || r === undefined) {
        n.samples = false // bittorrent-dht nodes ignore it (time-out) or answer with an error: not a BEP 51 node
      } else {
        queries.samplesAnswered++
        n.samples = true
        n.nextSampleAt = Date.now() + (typeof r.interval === "number" ? r.interval : 300) * 1000
        const samples = Buffer.isBuffer(r.samples) ? r.samples : Buffer.alloc(0)
        for (let i = 0; i + 20 <= samples.length; i += 20) found(samples.subarray(i, i + 20), "sample")
      }
      setImmediate(startSamples)
    }
  )
}
const startSamples = () => {
  while (samplersRunning < samplers && underBudget()) {
    const n = nextToSample()
    if (n === undefined) return
    sampleOne(n)
  }
}

// === Reporting and the main loop ===

let peakRss = 0
const vmHwm = () => {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync("/proc/self/status", "utf8"))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}
const snapshot = () => {
  const memory = process.memoryUsage()
  peakRss = Math.max(peakRss, memory.rss)
  return {
    t: elapsed(),
    infohashes: infohashes.size,
    knownNodes: nodes.size,
    tableNodes: dht.nodes.count(),
    sent,
    queries: { ...queries },
    rss: memory.rss,
    heapUsed: memory.heapUsed
  }
}

dht.once("listening", () => {
  const address = dht.address()
  if (!isLoopback(address.address)) fail(`bound to ${address.address}`)
  send({ event: "ready", host: address.address, port: address.port, nodeId: dht.nodeId.toString("hex") })
})
// The library's bootstrap fills the routing table; then the loops start.
dht.once("ready", () => {
  send({ event: "joined", t: elapsed(), tableNodes: dht.nodes.count() })
  for (const n of dht.nodes.toArray()) heardOf(n.id, n.host, n.port)
  startLookups()
  startSamples()
})

const tick = setInterval(() => {
  sentThisSecond = 0
  for (const n of dht.nodes.toArray()) heardOf(n.id, n.host, n.port)
  if (dht.ready) {
    startLookups()
    startSamples()
  }
}, 1000)
const progress = setInterval(() => send({ event: "progress", ...snapshot() }), progressMillis)

let ending = false
const end = () => {
  if (ending) return
  ending = true
  clearInterval(tick)
  clearInterval(progress)
  const cpu = process.cpuUsage()
  send({
    event: "summary",
    ...snapshot(),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRss: Math.max(peakRss, vmHwm()),
    sources: [...infohashes.values()].reduce((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {})
  })
  dht.destroy(() => process.exit(0))
  setTimeout(() => process.exit(0), 1000).unref()
}
process.on("SIGINT", end)
process.on("SIGTERM", end)
if (durationSeconds > 0) setTimeout(end, durationSeconds * 1000)
