import type { NodeId } from "../domain/ids.js"
import type { NodeContact } from "../krpc/compact.js"

// The crawler's "known nodes": far larger than a routing table, bounded (least recently seen evicted first),
// with the liveness and scheduling facts each node needs: when we last queried it, whether it answers,
// whether it supports BEP 51 and when its `interval` lets us sample it again. Time is passed in (ms).

/**
 * One known node. The id is kept as a 20-character latin1 string (about 40 bytes) rather than its own
 * `Uint8Array` (about 220 bytes with its backing store); `contact` rebuilds the bytes when a query needs them.
 */
export class KnownNode {
  /** Last time it answered us; -1 never. */
  lastResponse = -1
  /** Last time we queried it; -1 never. */
  lastQueried = -1
  /** Consecutive unanswered queries. */
  failures = 0
  /** find_node queries the walk sent it (picks which of our identities asks next). */
  walks = 0
  /** BEP 51: undefined unknown, true answered sample_infohashes, false did not. */
  samples: boolean | undefined = undefined
  /** BEP 51 probes that went unanswered. */
  sampleProbes = 0
  /** Earliest time we may sample it again (its BEP 51 `interval`); 0 until first picked for sampling. */
  nextSampleAt = 0
  /** Position in the crawler's sampling queue (-1: not queued). */
  sampleSlot = -1
  /** Last time the walk queried it; -1 never. */
  lastWalked = -1
  /** Waiting in the walk's revisit queue (each node at most once). */
  revisitQueued = false
  lastSeen: number
  /** An IPv6 address (counted per family each second: a field, not a scan of the host text). */
  readonly ipv6: boolean
  constructor(
    readonly key: string,
    readonly idKey: string,
    readonly host: string,
    readonly port: number,
    /** Whether its id lies in the crawl's target areas (fixed for a crawl). */
    readonly inArea: boolean,
    readonly firstSeen: number
  ) {
    this.lastSeen = firstSeen
    this.ipv6 = host.includes(":")
  }
  /** The node as a query target (a fresh copy of the id). */
  get contact(): NodeContact {
    return { id: this.id, host: this.host, port: this.port }
  }
  get id(): NodeId {
    return Buffer.from(this.idKey, "latin1") as Uint8Array as NodeId
  }
}

export interface KnownNodes {
  /** Adds or refreshes a node; returns it (undefined if the store refused it). */
  readonly add: (contact: NodeContact, now: number) => KnownNode
  readonly get: (host: string, port: number) => KnownNode | undefined
  /** Drops a node (misbehaving or dead). */
  readonly remove: (node: KnownNode) => void
  readonly size: () => number
  readonly responsive: (now: number, withinMillis: number) => number
  /** Nodes known and responsive (within `withinMillis`), by address family (one pass over the store). */
  readonly families: (now: number, withinMillis: number) => {
    readonly known: { ipv4: number; ipv6: number }
    readonly responsive: { ipv4: number; ipv6: number }
  }
  /** Every node, least recently seen first. */
  readonly values: () => IterableIterator<KnownNode>
  /** Nodes added since the last call (the walk's frontier), oldest first. */
  readonly takeFresh: (limit: number) => Array<KnownNode>
  readonly evicted: () => number
}

const keyOf = (host: string, port: number) => `${host}|${port}`

/** After this many unanswered queries in a row, a node is forgotten. */
export const FORGET_AFTER_FAILURES = 3

export const makeKnownNodes = (
  capacity: number,
  inArea: (id: Uint8Array) => boolean = () => true,
  /** Called for every node that leaves the store (evicted or removed). */
  onForget: (node: KnownNode) => void = () => {}
): KnownNodes => {
  const nodes = new Map<string, KnownNode>()
  // The walk's frontier, a FIFO read from `head` (Array.shift is O(n) on large arrays); compacted when half spent.
  let fresh: Array<KnownNode> = []
  let head = 0
  const compact = () => {
    if (head > 1024 && head * 2 > fresh.length) {
      fresh = fresh.slice(head)
      head = 0
    }
  }
  let evicted = 0
  return {
    add: (contact, now) => {
      const key = keyOf(contact.host, contact.port)
      const known = nodes.get(key)
      if (known !== undefined) {
        known.lastSeen = now
        nodes.delete(key)
        nodes.set(key, known) // most recently seen last
        return known
      }
      const node = new KnownNode(
        key,
        Buffer.from(contact.id.buffer, contact.id.byteOffset, contact.id.byteLength).toString("latin1"),
        contact.host,
        contact.port,
        inArea(contact.id),
        now
      )
      nodes.set(key, node)
      fresh.push(node)
      // Only entries already evicted from `nodes` can be this old.
      if (fresh.length - head > 2 * capacity) {
        fresh[head++] = undefined as unknown as KnownNode
        compact()
      }
      if (nodes.size > capacity) {
        const oldest = nodes.keys().next().value!
        onForget(nodes.get(oldest)!)
        nodes.delete(oldest)
        evicted++
      }
      return node
    },
    get: (host, port) => nodes.get(keyOf(host, port)),
    remove: (node) => {
      if (nodes.get(node.key) !== node) return
      nodes.delete(node.key)
      onForget(node)
    },
    size: () => nodes.size,
    responsive: (now, within) => {
      let n = 0
      for (const node of nodes.values()) if (node.lastResponse >= 0 && now - node.lastResponse <= within) n++
      return n
    },
    families: (now, within) => {
      const known = { ipv4: 0, ipv6: 0 }
      const responsive = { ipv4: 0, ipv6: 0 }
      for (const node of nodes.values()) {
        const family = node.ipv6 ? "ipv6" : "ipv4"
        known[family]++
        if (node.lastResponse >= 0 && now - node.lastResponse <= within) responsive[family]++
      }
      return { known, responsive }
    },
    values: () => nodes.values(),
    takeFresh: (limit) => {
      const out: Array<KnownNode> = []
      while (out.length < limit && head < fresh.length) {
        const node = fresh[head]!
        fresh[head++] = undefined as unknown as KnownNode // let it be collected
        compact()
        if (nodes.get(node.key) === node) out.push(node)
      }
      return out
    },
    evicted: () => evicted
  }
}
