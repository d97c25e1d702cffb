// A child process that hosts N npm `bittorrent-dht` nodes on loopback, driven over JSON lines.
// Started by BittorrentDhtSwarm.ts as `node --import <loopbackGuard.mjs> dhtSwarmWorker.mjs '<config json>'`.
//
// Config: { hosts: [string], port: number, extraBootstrap: [{host, port}], fanout: number, k?: number }
// Node i binds hosts[i]:port (port 0 = ephemeral). Node 0 starts with no bootstrap; node i > 0 bootstraps from
// up to `fanout` earlier nodes (always node 0, plus random others). `extraBootstrap` goes to every node.
//
// Protocol: one JSON object per line.
//   stdout: {"event":"ready","nodes":[...]} once every node listens; {"event":"fatal","reason","error"} before a
//           deliberate exit; {"id":n,"result":...} or {"id":n,"error":"..."} for each request.
//   stdin:  {"id":n,"cmd":"<name>","args":[...]}; end of stdin means shutdown.
import DHT from "bittorrent-dht"
import { createInterface } from "node:readline"
import { setImmediate } from "node:timers"

const config = JSON.parse(process.argv[2] ?? "{}")
const dhts = []
const warnings = []

const send = (message) => process.stdout.write(JSON.stringify(message) + "\n")

const fatal = (reason, error) => {
  send({ event: "fatal", reason, error: String(error?.stack ?? error) })
  process.exit(2)
}

const isLoopback = (host) => /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)

const contact = (dht) => {
  const address = dht.address()
  return { idHex: dht.nodeId.toString("hex"), host: address.address, port: address.port }
}

/** Up to `fanout` distinct earlier nodes: node 0 first (so everyone shares one hub), then random others. */
const bootstrapFor = (i) => {
  if (i === 0) return []
  const chosen = new Set([0])
  const wanted = Math.min(config.fanout ?? 8, i)
  while (chosen.size < wanted) chosen.add(Math.floor(Math.random() * i))
  return [...chosen].map((j) => contact(dhts[j])).map(({ host, port }) => ({ host, port }))
}

const startNode = (i) =>
  new Promise((resolve) => {
    const bootstrap = [...bootstrapFor(i), ...(config.extraBootstrap ?? [])]
    // An explicit list (or false) is mandatory: with `bootstrap` unset the library resolves public routers.
    const dht = new DHT({ bootstrap: bootstrap.length === 0 ? false : bootstrap, k: config.k ?? 20 })
    dht.on("warning", (err) => {
      if (warnings.length < 1000) warnings.push(`node ${i}: ${err?.message ?? err}`)
    })
    dht.on("error", (err) => fatal("NodeError", `node ${i} (${config.hosts[i]}): ${err?.stack ?? err}`))
    dht.once("listening", () => resolve(dht))
    // Bind in the same tick as construction: the library starts bootstrapping on the next tick, and an
    // unbound UDP socket would bind to all interfaces on its first send.
    dht.listen(config.port ?? 0, config.hosts[i])
    dhts.push(dht)
  })

const node = (i) => {
  const dht = dhts[i]
  if (dht === undefined) throw new Error(`no node ${i} (swarm has ${dhts.length})`)
  return dht
}

const hexId = (hex, what) => {
  if (!/^[0-9a-fA-F]{40}$/.test(hex)) throw new Error(`${what} must be 40 hex digits, got ${JSON.stringify(hex)}`)
  return Buffer.from(hex, "hex")
}

/** Runs a lookup and collects the distinct peers it reports (from this node's own store and from replies). */
const lookup = (i, infoHashHex) =>
  new Promise((resolve, reject) => {
    const dht = node(i)
    const target = hexId(infoHashHex, "infoHash")
    const found = new Map()
    const onPeer = (peer, infoHash) => {
      if (infoHash.equals(target)) found.set(`${peer.host}:${peer.port}`, { host: peer.host, port: peer.port })
    }
    dht.on("peer", onPeer)
    dht.lookup(target, (err) => {
      // Peers from this node's own store are emitted on a later tick than the callback may run.
      setImmediate(() => {
        dht.off("peer", onPeer)
        if (err) reject(err)
        else resolve([...found.values()])
      })
    })
  })

const announce = (i, infoHashHex, port) =>
  new Promise((resolve, reject) => {
    node(i).announce(hexId(infoHashHex, "infoHash"), port, (err) => (err ? reject(err) : resolve(null)))
  })

const destroyAll = () => Promise.all(dhts.map((dht) => new Promise((resolve) => dht.destroy(resolve))))

let shuttingDown = false
const shutdown = async (code) => {
  if (shuttingDown) return
  shuttingDown = true
  await destroyAll()
  process.exit(code)
}

const commands = {
  nodes: () => dhts.map(contact),
  tableSize: (i) => node(i).nodes.count(),
  tableSizes: () => dhts.map((dht) => dht.nodes.count()),
  tableIds: (i) => node(i).nodes.toArray().map((c) => c.id.toString("hex")),
  tableHas: (i, idHex) => node(i).nodes.get(hexId(idHex, "node id")) !== null,
  announce,
  lookup,
  addNode: (i, host, port) => {
    if (!isLoopback(host)) throw new Error(`refusing non-loopback node ${host}:${port}`)
    node(i).addNode({ host, port })
    return null
  },
  warnings: () => warnings.slice(),
  shutdown: async () => {
    await destroyAll()
    setImmediate(() => process.exit(0))
    return null
  }
}

const onLine = async (line) => {
  if (line.trim() === "") return
  let request
  try {
    request = JSON.parse(line)
  } catch (err) {
    return fatal("BadRequest", `unparseable request line ${JSON.stringify(line)}: ${err}`)
  }
  const handler = commands[request.cmd]
  try {
    if (handler === undefined) throw new Error(`unknown command ${JSON.stringify(request.cmd)}`)
    send({ id: request.id, result: await handler(...(request.args ?? [])) })
  } catch (err) {
    send({ id: request.id, error: String(err?.message ?? err) })
  }
}

const main = async () => {
  const hosts = config.hosts ?? []
  const bad = hosts.find((h) => !isLoopback(h)) ?? (config.extraBootstrap ?? []).find((c) => !isLoopback(c.host))
  if (bad !== undefined) return fatal("BadConfig", `non-loopback address in config: ${JSON.stringify(bad)}`)
  for (let i = 0; i < hosts.length; i++) await startNode(i)
  send({ event: "ready", nodes: dhts.map(contact) })
  const input = createInterface({ input: process.stdin })
  input.on("line", (line) => void onLine(line))
  input.on("close", () => void shutdown(0))
}

main().catch((err) => fatal("StartFailed", err))
