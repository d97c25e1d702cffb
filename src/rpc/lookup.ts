import { Effect, Either, Exit, Fiber, Runtime } from "effect"
import type { SocketAddress } from "../domain/address.js"
import { compareDistance, equals, toHex } from "../domain/ids.js"
import { BLOOM_BYTES, emptyBloom, estimateBloomSize } from "../krpc/bep33.js"
import type { NodeContact } from "../krpc/compact.js"

// Iterative Kademlia lookups (BEP 5 "find_node" / "get_peers" traversals). The query function is a parameter,
// so the traversal is tested without sockets. α queries run at once; the lookup converges when the k closest
// candidates that have not failed have all answered.

/** What one queried node told us. */
export interface LookupReply {
  readonly nodes: ReadonlyArray<NodeContact>
  readonly values?: ReadonlyArray<SocketAddress> | undefined
  readonly token?: Uint8Array | undefined
  /** BEP 33 (get_peers with scrape=1): the node's Bloom filters of the seeds and peers it stores. */
  readonly bloom?: { readonly seeds: Uint8Array; readonly peers: Uint8Array } | undefined
}

/** A node that answered, with the token it gave (get_peers). */
export interface Responder {
  readonly contact: NodeContact
  readonly token: Uint8Array | undefined
}

/** The outcome of a lookup; never an error: an unresponsive network gives empty `closest` and `peers`. */
export interface LookupResult {
  /** The k closest nodes that answered, nearest first. */
  readonly closest: ReadonlyArray<Responder>
  /** Peers collected from `values`, deduplicated. */
  readonly peers: ReadonlyArray<SocketAddress>
  /** Nodes queried. */
  readonly queried: number
  /** Nodes that answered. */
  readonly responded: number
  /**
   * BEP 33, when some nodes answered with Bloom filters: distinct seeds and peers (not seeds) estimated from the
   * union of the filters of every node that sent them, and how many did.
   */
  readonly swarm?: { readonly seeders: number; readonly leechers: number; readonly nodes: number } | undefined
}

/** What to look up and where to start. */
export interface TraversalOptions {
  readonly target: Uint8Array
  readonly seeds: ReadonlyArray<NodeContact>
  /** Parallelism (α). */
  readonly alpha: number
  /** Result size and convergence width (k). */
  readonly k: number
  /** Our own id: never queried. */
  readonly self?: Uint8Array | undefined
  /** Safety bound on queries per lookup (hostile networks can hand out endless "closer" nodes). */
  readonly maxQueries?: number | undefined
}

/** What to look up, where to start, and how to ask one node (the query function, so tests need no sockets). */
export interface LookupOptions<E> extends TraversalOptions {
  /** Asks one node; a failure (any `E`) marks the node failed and the lookup goes on without it. */
  readonly query: (contact: NodeContact) => Effect.Effect<LookupReply, E>
}

/**
 * Asks one node, calling `reply` once with what it said (undefined: it failed); returns a cancel function
 * (after which `reply` is not called).
 */
export type Ask = (contact: NodeContact, reply: (r: LookupReply | undefined) => void) => () => void

type Status = "new" | "pending" | "ok" | "failed"
interface Candidate {
  readonly contact: NodeContact
  readonly key: string
  status: Status
  token: Uint8Array | undefined
}

const orInto = (into: Uint8Array, from: Uint8Array) => {
  for (let i = 0; i < into.length; i++) into[i]! |= from[i]!
}

/** Candidates kept per lookup; farther ones cannot matter once this many closer ones exist. */
const MAX_CANDIDATES = 256

/**
 * Iterative Kademlia lookup (BEP 5) driven by callbacks: α queries at a time, converging on the k closest
 * responsive nodes, collecting `values` as peers; `done` is called once with the result. At most `maxQueries`
 * queries (default 256). Returns a cancel function that cancels the queries in flight (`done` is not called).
 * No fiber lives through the traversal: the crawler runs many at once.
 */
export const traverse = (options: TraversalOptions, ask: Ask, done: (result: LookupResult) => void): () => void => {
  const { alpha, k, target } = options
  const maxQueries = options.maxQueries ?? 256
  const candidates: Array<Candidate> = []
  const seen = new Set<string>()
  const peers = new Map<string, SocketAddress>()
  const cancels = new Map<Candidate, () => void>()
  const seedFilter = emptyBloom()
  const peerFilter = emptyBloom()
  let filters = 0
  let queried = 0
  let responded = 0
  let over = false

  const add = (contact: NodeContact) => {
    if (options.self !== undefined && equals(contact.id, options.self)) return
    const key = `${toHex(contact.id)}|${contact.host}|${contact.port}`
    if (seen.has(key)) return
    seen.add(key)
    let lo = 0
    let hi = candidates.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (compareDistance(target, candidates[mid]!.contact.id, contact.id) <= 0) lo = mid + 1
      else hi = mid
    }
    if (lo >= MAX_CANDIDATES) return
    candidates.splice(lo, 0, { contact, key, status: "new", token: undefined })
    if (candidates.length > MAX_CANDIDATES) candidates.pop()
  }
  options.seeds.forEach(add)

  /** Unqueried candidates among the k closest that have not failed, at most `n`. */
  const launchable = (n: number): Array<Candidate> => {
    const out: Array<Candidate> = []
    let live = 0
    for (const c of candidates) {
      if (live >= k || out.length >= n) break
      if (c.status === "failed") continue
      live++
      if (c.status === "new") out.push(c)
    }
    return out
  }

  const finish = () => {
    over = true
    done({
      closest: candidates.filter((c) => c.status === "ok").slice(0, k).map((c) => ({
        contact: c.contact,
        token: c.token
      })),
      peers: [...peers.values()],
      queried,
      responded,
      swarm: filters === 0
        ? undefined
        : { seeders: estimateBloomSize(seedFilter), leechers: estimateBloomSize(peerFilter), nodes: filters }
    })
  }

  const onReply = (c: Candidate, r: LookupReply | undefined) => {
    if (over) return
    cancels.delete(c)
    if (r === undefined) c.status = "failed"
    else {
      responded++
      c.status = "ok"
      c.token = r.token
      for (const p of r.values ?? []) peers.set(`${p.host}|${p.port}`, p)
      if (r.bloom !== undefined && r.bloom.seeds.length === BLOOM_BYTES && r.bloom.peers.length === BLOOM_BYTES) {
        filters++
        orInto(seedFilter, r.bloom.seeds)
        orInto(peerFilter, r.bloom.peers)
      }
      for (const n of r.nodes) add(n)
    }
    step()
  }

  // Launches what may run; finishes once nothing is in flight (a reply that comes synchronously re-enters
  // here: `stepping` turns that into another round of the loop instead of recursion).
  let stepping = false
  let again = false
  const step = () => {
    if (stepping) {
      again = true
      return
    }
    stepping = true
    do {
      again = false
      const room = Math.min(alpha - cancels.size, maxQueries - queried)
      if (room > 0) {
        for (const c of launchable(room)) {
          c.status = "pending"
          queried++
          let answered = false
          const cancel = ask(c.contact, (r) => {
            answered = true
            onReply(c, r)
          })
          if (!answered) cancels.set(c, cancel)
        }
      }
    } while (again && !over)
    stepping = false
    if (!over && cancels.size === 0) finish()
  }
  step()

  return () => {
    if (over) return
    over = true
    for (const cancel of cancels.values()) cancel()
    cancels.clear()
  }
}

/**
 * Iterative Kademlia lookup (BEP 5) over an effectful query function: `traverse` with each query run in a fiber
 * of its own. Never fails; interrupting it interrupts the queries in flight.
 */
export const lookup = <E>(options: LookupOptions<E>): Effect.Effect<LookupResult> =>
  Effect.flatMap(Effect.runtime<never>(), (runtime) =>
    Effect.async<LookupResult>((resume) => {
      const cancel = traverse(options, (contact, reply) => {
        const fiber = Runtime.runFork(runtime)(Effect.either(options.query(contact)))
        // A query that dies (a defect) counts as failed: the traversal must go on.
        fiber.addObserver((exit) =>
          reply(Exit.isSuccess(exit) && Either.isRight(exit.value) ? exit.value.right : undefined)
        )
        return () => void Runtime.runFork(runtime)(Fiber.interrupt(fiber))
      }, (result) => resume(Effect.succeed(result)))
      return Effect.sync(cancel)
    }))
