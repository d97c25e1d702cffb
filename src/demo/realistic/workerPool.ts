import { type ChildProcess, fork } from "node:child_process"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

// The parent side of the model's worker processes (worker.ts): forks them, spreads node sockets over them, and
// batches datagrams both ways over IPC (V8 serialisation, so bytes travel as bytes).

/** A datagram a simulated node received. */
export type Received = (slot: number, host: string, port: number, data: Uint8Array) => void

export interface WorkerPool {
  /** Binds one UDP socket per node on its address; resolves with each slot's port. */
  readonly bind: (nodes: ReadonlyArray<[slot: number, host: string]>) => Promise<Map<number, number>>
  /** Sends `data` from node `slot`'s socket after `delayMs`. */
  readonly send: (slot: number, host: string, port: number, data: Uint8Array, delayMs: number) => void
  /** Closes the sockets of these nodes. */
  readonly close: (slots: ReadonlyArray<number>) => void
  /** Process ids of the workers (for leak checks). */
  readonly pids: ReadonlyArray<number>
  /** Stops every worker; SIGKILL after 3 s. */
  readonly stop: () => Promise<void>
}

/**
 * The worker script beside this file: worker.js when running compiled (dist/), worker.ts under tsx or vitest
 * (src/), which then needs tsx's loader in the child too.
 */
const workerEntry = (): { readonly file: string; readonly execArgv: Array<string> } => {
  const here = fileURLToPath(import.meta.url)
  const inherited = process.execArgv.filter((a) => !a.startsWith("--inspect"))
  const js = join(dirname(here), "worker.js")
  if (!here.endsWith(".ts") && existsSync(js)) return { file: js, execArgv: inherited }
  const ts = join(dirname(here), "worker.ts")
  if (inherited.some((a) => a.includes("tsx"))) return { file: ts, execArgv: inherited }
  const loader = createRequire(import.meta.url).resolve("tsx")
  return { file: ts, execArgv: [...inherited, "--import", pathToFileURL(loader).href] }
}

const spawnWorker = (onMessage: (message: WorkerMessage) => void): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const { execArgv, file } = workerEntry()
    const child = fork(file, [], {
      execArgv,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`realistic network worker exited early (code ${code})`)))
    child.on("message", (message: WorkerMessage) => {
      if (message.t === "ready") resolve(child)
      else onMessage(message)
    })
  })

type WorkerMessage =
  | { readonly t: "ready" }
  | { readonly t: "recv"; readonly batch: ReadonlyArray<[number, string, number, Uint8Array]> }
  | { readonly t: "bound"; readonly req: number; readonly ports: ReadonlyArray<[number, number]> }
  | { readonly t: "error"; readonly req: number; readonly message: string }

export const startWorkerPool = async (count: number, received: Received): Promise<WorkerPool> => {
  const pending = new Map<number, { resolve: (p: Map<number, number>) => void; reject: (e: Error) => void }>()
  const onMessage = (message: WorkerMessage) => {
    if (message.t === "recv") {
      for (const [slot, host, port, data] of message.batch) received(slot, host, port, data)
    } else if (message.t === "bound") {
      pending.get(message.req)?.resolve(new Map(message.ports))
      pending.delete(message.req)
    } else if (message.t === "error") {
      pending.get(message.req)?.reject(new Error(`realistic network worker: ${message.message}`))
      pending.delete(message.req)
    }
  }
  const started = await Promise.allSettled(Array.from({ length: count }, () => spawnWorker(onMessage)))
  const workers = started.flatMap((s) => s.status === "fulfilled" ? [s.value] : [])
  const failed = started.find((s) => s.status === "rejected")
  for (const w of workers) w.removeAllListeners("exit")

  const owner = new Map<number, number>()
  const load = workers.map(() => 0)
  const outbox: Array<Array<[number, string, number, Uint8Array, number]>> = workers.map(() => [])
  let flushing = false
  let req = 0
  const flush = () => {
    flushing = false
    outbox.forEach((batch, w) => {
      if (batch.length === 0) return
      if (workers[w]!.connected) workers[w]!.send({ t: "send", batch })
      outbox[w] = []
    })
  }
  const stop = async () => {
    await Promise.all(workers.map((w) =>
      new Promise<void>((resolve) => {
        if (w.exitCode !== null || w.signalCode !== null) return resolve()
        const kill = setTimeout(() => w.kill("SIGKILL"), 3000)
        w.once("exit", () => {
          clearTimeout(kill)
          resolve()
        })
        if (w.connected) w.send({ t: "stop" })
        else w.kill("SIGKILL")
      })
    ))
  }
  if (failed !== undefined) {
    await stop()
    throw (failed as PromiseRejectedResult).reason
  }

  return {
    pids: workers.map((w) => w.pid!),
    bind: (nodes) => {
      const perWorker: Array<Array<[number, string]>> = workers.map(() => [])
      for (const node of nodes) {
        const w = load.indexOf(Math.min(...load))
        owner.set(node[0], w)
        load[w]!++
        perWorker[w]!.push(node)
      }
      return Promise.all(
        perWorker.map((list, w) =>
          list.length === 0 ? Promise.resolve(new Map<number, number>()) : new Promise<Map<number, number>>(
            (resolve, reject) => {
              pending.set(++req, { resolve, reject })
              workers[w]!.send({ t: "bind", req, nodes: list })
            }
          )
        )
      ).then((maps) => new Map(maps.flatMap((m) => [...m])))
    },
    send: (slot, host, port, data, delayMs) => {
      const w = owner.get(slot)
      if (w === undefined) return
      outbox[w]!.push([slot, host, port, data, Math.round(delayMs)])
      if (!flushing) {
        flushing = true
        setImmediate(flush)
      }
    },
    close: (slots) => {
      const perWorker: Array<Array<number>> = workers.map(() => [])
      for (const slot of slots) {
        const w = owner.get(slot)
        if (w === undefined) continue
        owner.delete(slot)
        load[w]!--
        perWorker[w]!.push(slot)
      }
      perWorker.forEach((list, w) =>
        list.length > 0 && workers[w]!.connected && workers[w]!.send({ t: "close", slots: list })
      )
    },
    stop
  }
}
