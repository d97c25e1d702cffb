import { Effect, Either, Queue } from "effect"
import type { SocketAddress } from "../krpc/address.js"
import type { NodeContact } from "../krpc/compact.js"
import { compareDistance, equals, toHex } from "../krpc/ids.js"

// Iterative Kademlia lookups (BEP 5 "find_node" / "get_peers" traversals). The query function is a parameter,
// so the traversal is tested without sockets. α queries run at once; the lookup converges when the k closest
// candidates that have not failed have all answered.

/** What one queried node told us. */
export interface LookupReply {
  readonly nodes: ReadonlyArray<NodeContact>
  readonly values?: ReadonlyArray<SocketAddress> | undefined
  readonly token?: Uint8Array | undefined
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
}

/** What to look up, where to start, and how to ask one node (the query function, so tests need no sockets). */
export interface LookupOptions<E> {
  readonly target: Uint8Array
  readonly seeds: ReadonlyArray<NodeContact>
  /** Asks one node; a failure (any `E`) marks the node failed and the lookup goes on without it. */
  readonly query: (contact: NodeContact) => Effect.Effect<LookupReply, E>
  /** Parallelism (α). */
  readonly alpha: number
  /** Result size and convergence width (k). */
  readonly k: number
  /** Our own id: never queried. */
  readonly self?: Uint8Array | undefined
  /** Safety bound on queries per lookup (hostile networks can hand out endless "closer" nodes). */
  readonly maxQueries?: number | undefined
}

type Status = "new" | "pending" | "ok" | "failed"
interface Candidate {
  readonly contact: NodeContact
  readonly key: string
  status: Status
  token: Uint8Array | undefined
}

/** Candidates kept per lookup; farther ones cannot matter once this many closer ones exist. */
const MAX_CANDIDATES = 256

/**
 * Iterative Kademlia lookup (BEP 5): α queries at a time, converging on the k closest responsive nodes,
 * collecting `values` as peers. Never fails; at most `maxQueries` queries (default 256).
 */
export const lookup = <E>(options: LookupOptions<E>): Effect.Effect<LookupResult> =>
  Effect.scoped(Effect.gen(function*() {
    const { alpha, k, target } = options
    const maxQueries = options.maxQueries ?? 256
    const candidates: Array<Candidate> = []
    const seen = new Set<string>()
    const peers = new Map<string, SocketAddress>()
    let queried = 0
    let responded = 0

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

    const completions = yield* Queue.unbounded<readonly [Candidate, Either.Either<LookupReply, E>]>()
    let inflight = 0
    for (;;) {
      const room = Math.min(alpha - inflight, maxQueries - queried)
      if (room > 0) {
        for (const c of launchable(room)) {
          c.status = "pending"
          inflight++
          queried++
          yield* options.query(c.contact).pipe(
            Effect.either,
            Effect.flatMap((result) => completions.offer([c, result] as const)),
            Effect.forkScoped
          )
        }
      }
      if (inflight === 0) break
      const [c, result] = yield* completions.take
      inflight--
      if (Either.isLeft(result)) {
        c.status = "failed"
        continue
      }
      responded++
      c.status = "ok"
      c.token = result.right.token
      for (const p of result.right.values ?? []) peers.set(`${p.host}|${p.port}`, p)
      for (const n of result.right.nodes) add(n)
    }
    return {
      closest: candidates.filter((c) => c.status === "ok").slice(0, k).map((c) => ({
        contact: c.contact,
        token: c.token
      })),
      peers: [...peers.values()],
      queried,
      responded
    }
  }))
