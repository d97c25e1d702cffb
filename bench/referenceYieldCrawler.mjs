// bench/referenceYieldCrawler: a crawler that finds *and fetches* torrents, written the way a JavaScript developer
// would write one without BitScrape, on npm `bittorrent-dht` (11.x), `bittorrent-protocol` (5.x) and `ut_metadata`
// (5.x). It is the baseline of bench/yield.ts and bench/sparse.ts (issue 14). Plain by design:
//
//   1. `--ids N` bittorrent-dht instances in one process, each with its own node id (the first 32 bits spread evenly
//      over the keyspace, the rest random) and its own UDP port on the same 127.x address. Instance 0 bootstraps
//      from --bootstrap; the others from --bootstrap and instance 0. More ids = more nodes that store our ids in their
//      tables, so more get_peers/announce_peer arrive at us (passive reach).
//   2. Passive harvest: every instance's 'announce' (with the announcing peer) and 'get_peers' events.
//   3. Walking: random-target `dht.lookup`s (`--walkers` in flight), which grow the list of nodes heard of.
//   4. BEP 51 by hand (bittorrent-dht lacks it): raw k-rpc `sample_infohashes` to every node heard of,
//      `--samplers` in flight, honouring `interval`; a node that does not answer is not asked again.
//   5. Peers: `dht.lookup(infohash)` for every new infohash, FIFO, `--lookups` in flight. With `--ask-sampler`
//      (bitmagnet's strategy), each BEP 51 sample is first asked of the node that returned it with ONE get_peers;
//      an infohash that got peers that way skips the full lookup.
//   6. Metadata: bittorrent-protocol + ut_metadata over TCP, at most `--max-connections` at once, each peer given
//      `--peer-timeout` seconds; the SHA-1 of the metadata must be the requested infohash.
//   7. Etiquette: one packet budget `--max-pps` (default 200/s, BitScrape's default) shared by all instances and
//      counted over every datagram they send (queries and replies), and at most one query per second per remote IP.
//      Queries the library sends itself (lookups, bootstrap, pings) wait in a per-IP queue for their turn (dropped
//      after 1.5 s: k-rpc has timed them out by then); our own samples and sampler get_peers wait as long as needed.
//      Replies go first: each takes a token, in debt if need be (dropped beyond a second's debt), so queries wait.
//      Traffic between our own instances is not counted.
//
// Usage: node --import test/support/loopbackGuard.mjs bench/referenceYieldCrawler.mjs \
//          --bootstrap 127.a.b.c:PORT[,…] --bind 127.x.y.z [--ids 1] [--ask-sampler] [--max-pps 200] \
//          [--samplers 16] [--lookups 8] [--walkers 2] [--max-connections 64] [--peer-timeout 10] \
//          [--duration SECONDS] [--progress-ms 1000]
// Output, JSON lines on stdout:
//   {"event":"ready","host","ports":[…],"ids":N}
//   {"event":"torrent","t":<ms since start>,"at":<Date.now()>,"infohash":hex,"via":"announce"|"lookup"|"sampler"}
//   {"event":"progress","t","sent","queriesSent","repliesSent","repliesDropped","fetched","knownNodes","infohashes",…}
//   {"event":"summary",…progress fields…,"cpuSeconds","peakRss"}
// It ends after --duration, or on SIGINT/SIGTERM, printing the summary first.
//
// Network safety: every address it binds, bootstraps from, queries or connects to must be in 127.0.0.0/8 (checked
// here before each send and connect; run it under the loopback guard and in a private network namespace too).
import DHT from "bittorrent-dht"
import Wire from "bittorrent-protocol"
import { createHash, randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import net from "node:net"
import { clearInterval, clearTimeout, setImmediate, setInterval, setTimeout } from "node:timers"
import utMetadata from "ut_metadata"

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
const idCount = Number(option("ids", "1"))
const askSampler = argv.includes("--ask-sampler")
const maxPps = Number(option("max-pps", "200"))
const samplers = Number(option("samplers", "16"))
const lookupsInFlight = Number(option("lookups", "8"))
const walkers = Number(option("walkers", "2"))
const maxConnections = Number(option("max-connections", "64"))
const peerTimeoutMs = Number(option("peer-timeout", "10")) * 1000
const durationSeconds = Number(option("duration", "0"))
const progressMillis = Number(option("progress-ms", "1000"))
const PER_IP_MS = 1000
const LIBRARY_QUERY_WAIT_MS = 1500

const send = (message) => process.stdout.write(JSON.stringify(message) + "\n")
const fail = (message) => {
  process.stderr.write(`referenceYieldCrawler: ${message}\n`)
  process.exit(2)
}

if (!isLoopback(bind)) fail(`--bind ${bind} is not in 127.0.0.0/8`)
if (bootstrap.length === 0) fail("--bootstrap is required (an explicit loopback list; never the public routers)")
for (const b of bootstrap) if (!isLoopback(b.host) || !(b.port > 0)) fail(`bad bootstrap ${b.host}:${b.port}`)
if (!(idCount >= 1 && idCount <= 1024)) fail(`--ids must be 1–1024, got ${idCount}`)

const started = Date.now()
const elapsed = () => Date.now() - started

// === The shared packet budget and per-IP pace ===

const counters = { sent: 0, queriesSent: 0, repliesSent: 0, repliesDropped: 0, internal: 0, queriesExpired: 0 }
/** Token bucket: `maxPps` per second, bursts of at most a tenth of that. */
const burst = Math.max(1, maxPps / 10)
let tokens = burst
let refilledAt = Date.now()
/** Remote IP -> time its next query may leave. */
const nextAt = new Map()
/** Remote IP -> queued queries [{ run, deadline }], served round-robin across IPs. */
const queues = new Map()

const refill = (now) => {
  tokens = Math.min(burst, tokens + ((now - refilledAt) * maxPps) / 1000)
  refilledAt = now
}
/** Runs `run` (which sends one query to `ip`) as soon as the budget and the IP's pace allow, or drops it at `deadline`. */
const paced = (ip, run, deadline = Infinity) => {
  if (!isLoopback(ip)) throw new Error(`referenceYieldCrawler: refusing to query ${ip}`)
  const now = Date.now()
  refill(now)
  if (!queues.has(ip) && (nextAt.get(ip) ?? 0) <= now && tokens >= 1) {
    tokens--
    nextAt.set(ip, now + PER_IP_MS)
    run()
    return
  }
  const q = queues.get(ip)
  if (q === undefined) queues.set(ip, [{ run, deadline }])
  else q.push({ run, deadline })
}
const pump = () => {
  const now = Date.now()
  refill(now)
  for (const [ip, q] of [...queues]) {
    while (q.length > 0 && q[0].deadline < now) {
      q.shift()
      counters.queriesExpired++
    }
    if (q.length === 0) {
      queues.delete(ip)
      continue
    }
    if (tokens < 1) break
    if ((nextAt.get(ip) ?? 0) > now) continue
    tokens--
    nextAt.set(ip, now + PER_IP_MS)
    q.shift().run()
    queues.delete(ip) // to the back of the round
    if (q.length > 0) queues.set(ip, q)
  }
}
const pruneNextAt = () => {
  const now = Date.now()
  for (const [ip, t] of nextAt) if (t <= now) nextAt.delete(ip)
}

// === The DHT instances ===

const ownPorts = new Set()
/** Set while we send a query we already paced ourselves. */
let prepaced = false

const idFor = (i) => {
  const id = randomBytes(20)
  id.writeUInt32BE(Math.floor((i * 2 ** 32) / idCount) >>> 0, 0)
  return id
}

/** Each instance's address, once bound. */
const bound = new Map()

const makeInstance = (i, extraBootstrap) => {
  const dht = new DHT({ bootstrap: [...bootstrap, ...extraBootstrap], nodeId: idFor(i), concurrency: 256 })
  // Bind in the same tick as construction: the library starts bootstrapping on the next tick.
  // (Not `dht.listening`: the library sets that to true.)
  bound.set(dht, new Promise((resolve) => dht.once("listening", () => resolve(dht.address()))))
  dht.listen(0, bind)
  dht.on("error", (err) => fail(`dht ${i} error: ${err?.stack ?? err}`))
  dht.on("warning", () => {})
  const socket = dht._rpc.socket
  const originalSend = socket.send
  socket.send = function(peer, message, cb) {
    const host = peer.address ?? peer.host
    if (!isLoopback(host)) throw new Error(`referenceYieldCrawler: refusing to send to ${host}`)
    const out = () => {
      counters.sent++
      originalSend.call(this, peer, message, cb)
    }
    if (host === bind && ownPorts.has(peer.port)) {
      counters.internal++
      return originalSend.call(this, peer, message, cb)
    }
    if (message?.y !== "q") {
      // Replies go first (a node that stops answering drops out of others' tables, and with it our passive reach);
      // they take their token from the budget, in debt if need be, so queries wait. Dropped only beyond a second's
      // worth of debt.
      refill(Date.now())
      if (tokens < -maxPps) {
        counters.repliesDropped++
        return
      }
      tokens--
      counters.repliesSent++
      return out()
    }
    counters.queriesSent++
    if (prepaced) return out()
    paced(host, out, Date.now() + LIBRARY_QUERY_WAIT_MS)
  }
  return dht
}

const dhts = [makeInstance(0, [])]

/** Sends one raw query from instance `dht`, already paced. */
const rawQuery = (dht, node, message, cb) => {
  paced(node.host, () => {
    prepaced = true
    try {
      dht._rpc.query(node, message, cb)
    } finally {
      prepaced = false
    }
  })
}

// === Nodes heard of ===

/** "host:port" -> { id, host, port, nextSampleAt, samples: undefined | true | false } */
const nodes = new Map()
const heardOf = (id, host, port) => {
  if (!Buffer.isBuffer(id) || id.length !== 20 || !isLoopback(host) || !(port > 0)) return
  if (host === bind && ownPorts.has(port)) return
  const key = `${host}:${port}`
  if (!nodes.has(key)) nodes.set(key, { id: Buffer.from(id), host, port, nextSampleAt: 0, samples: undefined })
}
const parseNodes = (buf) => {
  if (!Buffer.isBuffer(buf)) return
  for (let i = 0; i + 26 <= buf.length; i += 26) {
    heardOf(
      buf.subarray(i, i + 20),
      `${buf[i + 20]}.${buf[i + 21]}.${buf[i + 22]}.${buf[i + 23]}`,
      buf.readUInt16BE(i + 24)
    )
  }
}
const decodePeers = (values) => {
  const peers = []
  for (const v of Array.isArray(values) ? values : []) {
    if (Buffer.isBuffer(v) && v.length === 6) {
      peers.push({ host: `${v[0]}.${v[1]}.${v[2]}.${v[3]}`, port: v.readUInt16BE(4) })
    }
  }
  return peers
}

// === Infohashes, peers and the fetch queue ===

/** hex -> { peers: Map<"host:port", {host, port}>, tried: Set, fetched, fetching, lookedUp, via } */
const infohashes = new Map()
const lookupQueue = []
const fetchQueue = []
let fetched = 0
const entry = (hex) => {
  let e = infohashes.get(hex)
  if (e === undefined) {
    e = { peers: new Map(), tried: new Set(), fetched: false, fetching: false, queued: false, lookedUp: false, via: "" }
    infohashes.set(hex, e)
  }
  return e
}
const seen = (infoHash, withLookup = true) => {
  if (!Buffer.isBuffer(infoHash) || infoHash.length !== 20) return undefined
  const hex = infoHash.toString("hex")
  const isNew = !infohashes.has(hex)
  const e = entry(hex)
  if (isNew && withLookup) lookupQueue.push(hex)
  return e
}
const addPeer = (hex, peer, via) => {
  if (!isLoopback(peer.host) || !(peer.port > 0)) return
  const e = entry(hex)
  if (e.fetched) return
  const key = `${peer.host}:${peer.port}`
  if (e.peers.has(key)) return
  e.peers.set(key, { ...peer, via })
  if (!e.fetching && !e.queued) {
    e.queued = true
    fetchQueue.push(hex)
    startFetches()
  }
}

// === Metadata fetching ===

const peerId = randomBytes(20).toString("hex")
let connections = 0
const fetchErrors = {}

const fetchFrom = (hex, { host, port }) =>
  new Promise((resolve, reject) => {
    if (!isLoopback(host)) return reject(new Error(`not loopback: ${host}`))
    connections++
    const socket = net.connect({ host, port })
    const wire = new Wire()
    let settled = false
    const finish = (error, value) => {
      if (settled) return
      settled = true
      connections--
      clearTimeout(timer)
      wire.destroy()
      socket.destroy()
      if (error) reject(error)
      else resolve(value)
    }
    const timer = setTimeout(() => finish(new Error("timeout")), peerTimeoutMs)
    socket.on("error", (err) => finish(err))
    socket.on("close", () => finish(new Error("closed")))
    wire.on("error", (err) => finish(err))
    socket.pipe(wire).pipe(socket)
    wire.use(utMetadata())
    wire.on("handshake", (infoHash) => {
      const remote = typeof infoHash === "string" ? infoHash : Buffer.from(infoHash).toString("hex")
      if (remote !== hex) finish(new Error("wrong infohash in handshake"))
    })
    wire.ut_metadata.on("warning", (err) => finish(err))
    wire.ut_metadata.on("metadata", () => finish(undefined, wire.ut_metadata.metadata))
    wire.ut_metadata.fetch()
    wire.handshake(hex, peerId, { dht: false })
  })

const fetchOne = async (hex) => {
  const e = infohashes.get(hex)
  e.fetching = true
  try {
    for (;;) {
      const next = [...e.peers.entries()].find(([key]) => !e.tried.has(key))
      if (next === undefined) return
      e.tried.add(next[0])
      try {
        const info = await fetchFrom(hex, next[1])
        if (createHash("sha1").update(info).digest("hex") !== hex) throw new Error("metadata hash mismatch")
        e.fetched = true
        e.via = next[1].via
        fetched++
        send({ event: "torrent", t: elapsed(), at: Date.now(), infohash: hex, via: e.via })
        return
      } catch (err) {
        const key = String(err?.code ?? err?.message ?? err).slice(0, 60)
        fetchErrors[key] = (fetchErrors[key] ?? 0) + 1
      }
    }
  } finally {
    e.fetching = false
    e.queued = false
    // Peers that arrived while we were busy.
    if (!e.fetched && [...e.peers.keys()].some((k) => !e.tried.has(k))) {
      e.queued = true
      fetchQueue.push(hex)
    }
    startFetches()
  }
}
let fetchesRunning = 0
function startFetches() {
  while (fetchesRunning < maxConnections && fetchQueue.length > 0) {
    const hex = fetchQueue.shift()
    const e = infohashes.get(hex)
    if (e.fetched || e.fetching) {
      e.queued = false
      continue
    }
    fetchesRunning++
    void fetchOne(hex).finally(() => {
      fetchesRunning--
      setImmediate(startFetches)
    })
  }
}

// === Walking, sampling, looking up ===

const queries = { walks: 0, samples: 0, samplesAnswered: 0, samplerGetPeers: 0, samplerPeers: 0, lookups: 0 }
let round = 0
const anyDht = () => dhts[round++ % dhts.length]

let walking = 0
const startWalks = () => {
  while (walking < walkers) {
    walking++
    queries.walks++
    anyDht().lookup(randomBytes(20), () => {
      walking--
      setImmediate(startWalks)
    })
  }
}

let lookingUp = 0
const startLookups = () => {
  while (lookingUp < lookupsInFlight && lookupQueue.length > 0) {
    const hex = lookupQueue.shift()
    const e = infohashes.get(hex)
    if (e.fetched || e.lookedUp) continue
    e.lookedUp = true
    lookingUp++
    queries.lookups++
    anyDht().lookup(Buffer.from(hex, "hex"), () => {
      lookingUp--
      setImmediate(startLookups)
    })
  }
}

/** bitmagnet's trick: the node that returned a sample stores its peers; ask it once. */
const askTheSampler = (dht, node, infoHash) => {
  const hex = infoHash.toString("hex")
  queries.samplerGetPeers++
  rawQuery(dht, { id: node.id, host: node.host, port: node.port }, {
    q: "get_peers",
    a: { id: dht.nodeId, info_hash: infoHash }
  }, (err, reply) => {
    const e = infohashes.get(hex)
    const peers = err ? [] : decodePeers(reply?.r?.values)
    if (!err) parseNodes(reply?.r?.nodes)
    queries.samplerPeers += peers.length
    for (const p of peers) addPeer(hex, p, "sampler")
    if (peers.length === 0 && !e.lookedUp) lookupQueue.push(hex)
  })
}

let sampling = 0
let sampleCursor = nodes.values()
const nextToSample = () => {
  const now = Date.now()
  // One pass over the nodes from where the last search stopped.
  for (let n = 0; n < nodes.size; n++) {
    let step = sampleCursor.next()
    if (step.done) {
      sampleCursor = nodes.values()
      step = sampleCursor.next()
      if (step.done) return undefined
    }
    const node = step.value
    if (node.samples !== false && node.nextSampleAt <= now) return node
  }
  return undefined
}
const startSamples = () => {
  while (sampling < samplers) {
    const node = nextToSample()
    if (node === undefined) return
    sampling++
    queries.samples++
    node.nextSampleAt = Date.now() + 3_600_000 // reserved; the reply's interval replaces it
    const dht = anyDht()
    rawQuery(dht, node, { q: "sample_infohashes", a: { id: dht.nodeId, target: randomBytes(20) } }, (err, reply) => {
      sampling--
      const r = reply?.r
      if (err || r === undefined) {
        node.samples = false // silent, or no BEP 51 (bittorrent-dht ignores it): not asked again
      } else {
        queries.samplesAnswered++
        node.samples = true
        node.nextSampleAt = Date.now() + (typeof r.interval === "number" ? r.interval : 300) * 1000
        parseNodes(r.nodes)
        const samples = Buffer.isBuffer(r.samples) ? r.samples : Buffer.alloc(0)
        for (let i = 0; i + 20 <= samples.length; i += 20) {
          const infoHash = Buffer.from(samples.subarray(i, i + 20))
          const isNew = !infohashes.has(infoHash.toString("hex"))
          seen(infoHash, !askSampler)
          if (askSampler && isNew) askTheSampler(dht, node, infoHash)
        }
      }
      setImmediate(startSamples)
    })
  }
}

// === Wiring the instances ===

const wire = (dht) => {
  dht.on("announce", (peer, infoHash) => {
    const e = seen(infoHash)
    if (e !== undefined) addPeer(infoHash.toString("hex"), { host: peer.host, port: peer.port }, "announce")
  })
  dht.on("get_peers", (infoHash) => seen(infoHash))
  dht.on("peer", (peer, infoHash) => addPeer(infoHash.toString("hex"), { host: peer.host, port: peer.port }, "lookup"))
  dht.on("node", (node) => heardOf(node.id, node.host, node.port))
  dht._rpc.socket.on("response", (message, rinfo) => {
    const r = message?.r
    if (r === undefined) return
    heardOf(r.id, rinfo.address, rinfo.port)
    parseNodes(r.nodes)
  })
}

let joined = false
const first = await bound.get(dhts[0])
if (!isLoopback(first.address)) fail(`bound to ${first.address}`)
ownPorts.add(first.port)
wire(dhts[0])
for (let i = 1; i < idCount; i++) dhts.push(makeInstance(i, [{ host: bind, port: first.port }]))
for (const dht of dhts.slice(1)) {
  const a = await bound.get(dht)
  ownPorts.add(a.port)
  wire(dht)
}
send({ event: "ready", host: bind, ports: [...ownPorts], ids: idCount, askSampler })
dhts[0].once("ready", () => {
  joined = true
  send({ event: "joined", t: elapsed(), tableNodes: dhts[0].nodes.count() })
})

// === Reporting and the main loop ===

const vmHwm = () => {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync("/proc/self/status", "utf8"))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}
const snapshot = () => ({
  t: elapsed(),
  ...counters,
  fetched,
  knownNodes: nodes.size,
  infohashes: infohashes.size,
  lookupQueue: lookupQueue.length,
  fetchQueue: fetchQueue.length,
  connections,
  paceQueues: queues.size,
  queries: { ...queries },
  rss: process.memoryUsage().rss
})

const pumpTimer = setInterval(pump, 10)
const tick = setInterval(() => {
  pruneNextAt()
  for (const dht of dhts) for (const n of dht.nodes.toArray()) heardOf(n.id, n.host, n.port)
  if (joined) {
    startWalks()
    startSamples()
    startLookups()
    startFetches()
  }
}, 250)
const progress = setInterval(() => send({ event: "progress", ...snapshot() }), progressMillis)

let uncaught = 0
process.on("uncaughtException", (err) => {
  // ut_metadata throws on some malformed input (INTEROP.md); one bad peer must not end the crawl.
  uncaught++
  if (uncaught <= 3) process.stderr.write(`referenceYieldCrawler: uncaught ${err?.stack ?? err}\n`)
})

let ending = false
const end = () => {
  if (ending) return
  ending = true
  clearInterval(tick)
  clearInterval(progress)
  clearInterval(pumpTimer)
  const cpu = process.cpuUsage()
  send({
    event: "summary",
    ...snapshot(),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRss: vmHwm(),
    fetchErrors,
    uncaught
  })
  let left = dhts.length
  for (const dht of dhts) dht.destroy(() => --left === 0 && process.exit(0))
  setTimeout(() => process.exit(0), 1000).unref()
}
process.on("SIGINT", end)
process.on("SIGTERM", end)
if (durationSeconds > 0) setTimeout(end, durationSeconds * 1000)
