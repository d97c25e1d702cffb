// A worker process of the realistic network model: it holds the UDP sockets of its share of the simulated DHT
// nodes (one loopback address each) and nothing else. Every datagram a socket receives goes to the parent, which
// decides everything (the parent holds the model); the parent's replies come back with the delay to wait before
// sending. One process can only open 20,000 files here, hence several workers for a large model.
// Node built-ins only, so it runs as compiled JavaScript (dist/) or through tsx (src/) alike.
import dgram from "node:dgram"

type Inbound = [slot: number, host: string, port: number, data: Uint8Array]
type Outbound = [slot: number, host: string, port: number, data: Uint8Array, delayMs: number]
type Command =
  | { readonly t: "bind"; readonly req: number; readonly nodes: ReadonlyArray<[slot: number, host: string]> }
  | { readonly t: "send"; readonly batch: ReadonlyArray<Outbound> }
  | { readonly t: "close"; readonly slots: ReadonlyArray<number> }
  | { readonly t: "stop" }

const sockets = new Map<number, dgram.Socket>()
let inbox: Array<Inbound> = []
let flushing = false

const post = (message: unknown) => {
  if (process.connected) process.send!(message)
}
const flush = () => {
  flushing = false
  if (inbox.length === 0) return
  post({ t: "recv", batch: inbox })
  inbox = []
}

const open = (slot: number, host: string): Promise<[number, number]> =>
  new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: "udp4", recvBufferSize: 1 << 20 })
    socket.once("error", reject)
    socket.on("message", (msg, rinfo) => {
      inbox.push([slot, rinfo.address, rinfo.port, msg])
      if (!flushing) {
        flushing = true
        setImmediate(flush)
      }
    })
    socket.bind({ address: host, port: 0, exclusive: true }, () => {
      socket.removeListener("error", reject)
      socket.on("error", () => {}) // a send to a vanished port; UDP has no connection to fail
      sockets.set(slot, socket)
      resolve([slot, socket.address().port])
    })
  })

const send = ([slot, host, port, data, delayMs]: Outbound) => {
  const socket = sockets.get(slot)
  if (socket === undefined) return
  const go = () => {
    if (sockets.get(slot) === socket) socket.send(data, port, host)
  }
  if (delayMs > 0) setTimeout(go, delayMs).unref()
  else go()
}

const stop = () => {
  for (const socket of sockets.values()) socket.close()
  sockets.clear()
  process.exit(0)
}

process.on("message", (command: Command) => {
  switch (command.t) {
    case "bind":
      // Bound in chunks: thousands of binds at once would queue thousands of callbacks for no gain.
      void (async () => {
        const ports: Array<[number, number]> = []
        try {
          for (let i = 0; i < command.nodes.length; i += 256) {
            ports.push(...await Promise.all(command.nodes.slice(i, i + 256).map(([slot, host]) => open(slot, host))))
          }
          post({ t: "bound", req: command.req, ports })
        } catch (e) {
          post({ t: "error", req: command.req, message: String(e) })
        }
      })()
      return
    case "send":
      for (const item of command.batch) send(item)
      return
    case "close":
      for (const slot of command.slots) {
        sockets.get(slot)?.close()
        sockets.delete(slot)
      }
      return
    case "stop":
      stop()
  }
})
// The parent is gone (crashed or killed): a worker never outlives it.
process.on("disconnect", stop)
post({ t: "ready" })
