import type { SocketAddress } from "../../domain/address.js"
import type { AddressPlan } from "./addresses.js"
import { type Client, LINGER_MS, type Model } from "./model.js"
import type { ResolvedOptions } from "./options.js"
import type { Rng } from "./rng.js"
import type { WorkerPool } from "./workerPool.js"

// The model's background activity, as on the real DHT: peers re-announce their torrents, downloaders look up
// infohashes, nodes leave and others join. Computed against the model's global view; only the parts that reach
// external nodes (crawlers) become packets.

/** One peer's periodic announce of one infohash. */
export interface Announcement {
  readonly infoHash: Uint8Array
  /** The peer address stored (the announcer's IP and its TCP port). */
  readonly peer: SocketAddress
  /** The announcer's DHT side, for real announces to external nodes. */
  readonly client: Client | undefined
  readonly intervalMs: number
  next: number
}

const TICK_MS = 250

export interface TrafficTargets {
  readonly live: ReadonlyArray<Uint8Array>
  readonly stale: ReadonlyArray<Uint8Array>
}

/** Runs every announcement once now (stores only: nobody external is known yet), then schedules the rest. */
export const startTraffic = (
  o: ResolvedOptions,
  model: Model,
  plan: AddressPlan,
  rng: Rng,
  pool: WorkerPool,
  announcements: ReadonlyArray<Announcement>,
  targets: TrafficTargets
): { readonly stop: () => void } => {
  const start = Date.now()
  for (const a of announcements) {
    model.announce(a.infoHash, a.peer, a.client)
    // Spread the next round over one interval, as peers that started at different times would be.
    a.next = start + rng.next() * a.intervalMs
  }
  let alive = model.nodes.filter((n) => n?.alive).length
  const departed: Array<{ slot: number; at: number }> = []
  let lookupBudget = 0
  let churnBudget = 0
  let nextSlot = model.nodes.length

  const depart = (now: number) => {
    for (let tries = 0; tries < 32; tries++) {
      const n = model.nodes[rng.int(model.nodes.length)]
      if (n === undefined || !n.alive || n.bootstrap) continue
      n.alive = false
      n.departedAt = now
      n.store.clear()
      n.sample = undefined
      departed.push({ slot: n.slot, at: now })
      alive--
      model.stats.churnLeft++
      return
    }
  }

  const join = (count: number) => {
    const drawn = Array.from({ length: count }, () => model.draw(nextSlot++, false))
    void pool.bind(drawn.map((d) => [d.slot, plan.node(d.slot)] as [number, string])).then((ports) => {
      for (const d of drawn) {
        const port = ports.get(d.slot)
        if (port === undefined) continue
        model.add(d, port)
        alive++
        model.stats.churnJoined++
      }
    }, () => {})
  }

  const tick = () => {
    const now = Date.now()
    for (const a of announcements) {
      if (a.next > now) continue
      model.announce(a.infoHash, a.peer, a.client)
      a.next = now + a.intervalMs
    }
    lookupBudget += (o.lookupsPerSecond * TICK_MS) / 1000
    for (; lookupBudget >= 1; lookupBudget--) {
      const r = rng.next()
      const target = r < 0.7 && targets.live.length > 0
        ? targets.live[rng.int(targets.live.length)]!
        : r < 0.9 && targets.stale.length > 0
        ? targets.stale[rng.int(targets.stale.length)]!
        : rng.bytes(20)
      model.lookup(target)
    }
    churnBudget += (o.churnPerMinute * alive * TICK_MS) / 60_000
    let joins = 0
    for (; churnBudget >= 1; churnBudget--) {
      depart(now)
      joins++
    }
    if (joins > 0) join(joins)
    // Departed nodes leave the routing tables (and their sockets close) once nobody would still list them.
    let gone = 0
    while (gone < departed.length && departed[gone]!.at <= now - LINGER_MS) gone++
    if (gone > 0) {
      const slots = departed.splice(0, gone).map((d) => d.slot)
      for (const slot of slots) {
        model.keyspace.remove(model.nodes[slot]!.member)
        model.nodes[slot] = undefined
      }
      pool.close(slots)
    }
  }
  const timer = setInterval(tick, TICK_MS)
  return { stop: () => clearInterval(timer) }
}
