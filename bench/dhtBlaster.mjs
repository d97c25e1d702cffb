// bench/dhtBlaster: the traffic side of bench/dht.ts, forked as a separate process (plain Node, no tsx) so it
// runs on the other core. Driven over the IPC channel (serialization "advanced", so Uint8Arrays pass as is):
//
//   blaster   { type: "init", mode: "blast", sources: [{ host, datagrams: [Uint8Array…] }] } → { type: "ready" }
//             { type: "target", host, port } → connects every source socket to the receiver → { type: "ready" }
//             { type: "start" } … sends as fast as it can, round robin over the sockets, each socket cycling
//             through its own datagrams (so a node id always comes from the same address) …
//             { type: "stop" } → { type: "stopped", sent, seconds, cpuSeconds, sendErrors }
//   responder { type: "init", mode: "respond", host } → { type: "ready", host, port }; answers every KRPC query
//             with a minimal response (`d1:rd2:id20:…e1:t…1:y1:re`) carrying the query's transaction id.
//             { type: "mark" } → { type: "mark", cpuMicros, answered }
//   both      { type: "close" } → exits.
//
// Network safety: every address it binds or sends to is checked to be IPv4 loopback (127.0.0.0/8) first.
import dgram from "node:dgram"
import { setImmediate } from "node:timers"

const LOOPBACK = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/
const assertLoopback = (host) => {
  const m = LOOPBACK.exec(host)
  if (m === null || m.slice(1).some((x) => Number(x) > 255)) throw new Error(`dhtBlaster: ${host} is not 127.0.0.0/8`)
  return host
}

const send = (message) => process.send?.(message)
const bind = (socket, host) =>
  new Promise((resolve, reject) => {
    socket.once("error", reject)
    socket.bind(0, assertLoopback(host), () => {
      socket.off("error", reject)
      resolve(socket)
    })
  })

// === Blaster ===

/** @type {Array<{ socket: dgram.Socket, datagrams: Array<Buffer>, next: number, connected: boolean }>} */
let sources = []
let running = false
let sent = 0
let sendErrors = 0
let started = 0n
let cpuAtStart = process.cpuUsage()
const BATCH = 64

const blast = () => {
  if (!running) return
  const n = sources.length
  for (let b = 0; b < BATCH; b++) {
    const s = sources[sent % n]
    const d = s.datagrams[s.next]
    s.next = s.next + 1 === s.datagrams.length ? 0 : s.next + 1
    try {
      s.socket.send(d)
    } catch {
      sendErrors++
    }
    sent++
  }
  // Yield to the event loop between batches so "stop" (and replies, if any) are seen.
  setImmediate(blast)
}

const onBlasterMessage = async (m) => {
  switch (m.type) {
    case "init": {
      sources = await Promise.all(m.sources.map(async (src) => {
        const socket = await bind(dgram.createSocket("udp4"), src.host)
        // Replies (if the receiver sends any) are read and dropped; count send errors (e.g. ECONNREFUSED).
        socket.on("message", () => {})
        socket.on("error", () => sendErrors++)
        return { socket, datagrams: src.datagrams.map((d) => Buffer.from(d)), next: 0, connected: false }
      }))
      send({ type: "ready" })
      return
    }
    case "target": {
      await Promise.all(sources.map((s) =>
        new Promise((resolve) => {
          if (s.connected) s.socket.disconnect()
          s.socket.connect(m.port, assertLoopback(m.host), resolve)
          s.connected = true
        })
      ))
      send({ type: "ready" })
      return
    }
    case "start": {
      sent = 0
      sendErrors = 0
      running = true
      started = process.hrtime.bigint()
      cpuAtStart = process.cpuUsage()
      setImmediate(blast)
      return
    }
    case "stop": {
      running = false
      const cpu = process.cpuUsage(cpuAtStart)
      send({
        type: "stopped",
        sent,
        sendErrors,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
        cpuSeconds: (cpu.user + cpu.system) / 1e6
      })
      return
    }
  }
}

// === Responder ===

const T_KEY = Buffer.from("1:t")
const RESPONSE_HEAD = Buffer.concat([Buffer.from("d1:rd2:id20:"), Buffer.alloc(20, 0x5a), Buffer.from("e1:t")])
const RESPONSE_TAIL = Buffer.from("1:y1:re")
let answered = 0

/** Copies the `t` value (`<len>:<bytes>`) of a query into a minimal response; undefined if it has none. */
const answer = (query) => {
  const at = query.indexOf(T_KEY)
  if (at < 0) return undefined
  const colon = query.indexOf(0x3a, at + 3)
  if (colon < 0) return undefined
  const length = Number(query.toString("latin1", at + 3, colon))
  const end = colon + 1 + length
  if (!(length > 0 && length < 64 && end <= query.length)) return undefined
  return Buffer.concat([RESPONSE_HEAD, query.subarray(at + 3, end), RESPONSE_TAIL])
}

const onResponderMessage = async (m) => {
  if (m.type === "init") {
    const socket = await bind(dgram.createSocket("udp4"), m.host)
    socket.on("error", () => {})
    socket.on("message", (query, from) => {
      const reply = answer(query)
      if (reply === undefined) return
      answered++
      socket.send(reply, from.port, assertLoopback(from.address))
    })
    const { address, port } = socket.address()
    send({ type: "ready", host: address, port })
  } else if (m.type === "mark") {
    const cpu = process.cpuUsage()
    send({ type: "mark", cpuMicros: cpu.user + cpu.system, answered })
  }
}

// === Dispatch ===

let handler
process.on("message", (m) => {
  if (m.type === "close") {
    for (const s of sources) s.socket.close()
    process.exit(0)
  }
  if (m.type === "init") handler = m.mode === "respond" ? onResponderMessage : onBlasterMessage
  handler?.(m).catch((error) => {
    send({ type: "error", message: String(error) })
    process.exit(1)
  })
})
process.on("disconnect", () => process.exit(0))
