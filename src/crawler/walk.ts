import { Either } from "effect"
import { neighbourOf, randomTarget } from "../domain/keyspace.js"
import * as TokenBucket from "../socket/tokenBucket.js"
import type { Task } from "./dispatch.js"
import { nearestIdentity } from "./identities.js"
import type { KnownNode } from "./knownNodes.js"
import type { CrawlState } from "./state.js"

// Stage "walk": continuous find_node over the known nodes, newest first, to discover the network, toward a
// target next to the queried node or a random target in the crawl's areas (with several identities, from the
// identity nearest to the node or from any, see `next`).

/**
 * How long a responsive node rests before the walk asks it again, once every node has been asked (only when no
 * new node is waiting: on the real DHT that is rare; in a small network the idle budget keeps our ids fresh in
 * the tables, at 0.2 queries/s per IP, far below libtorrent's 5).
 */
const REVISIT_AFTER_MS = 5_000
/** Queue entries looked at per revisit pick (entries whose IP is busy go to the back). */
const REVISIT_SCAN = 16
/** Revisits use at most this share of the packet budget: idle budget is no reason to ask the same nodes forever. */
const REVISIT_SHARE = 0.25

export const makeWalk = (s: CrawlState) => {
  // Fresh nodes whose IP was busy when their turn came: retried before newer ones.
  const postponed: Array<KnownNode> = []
  const revisits = TokenBucket.make(Math.max(1, s.budget.maxPps * REVISIT_SHARE), 10, s.now())
  // Nodes that answered the walk, in the order they were last asked (a FIFO read from `head`; each node at most
  // once): the front is the node that has rested longest, so a revisit pick is O(1) instead of a scan.
  let rested: Array<KnownNode> = []
  let head = 0
  const requeue = (n: KnownNode) => {
    if (n.revisitQueued || n.lastResponse < 0 || s.known.get(n.host, n.port) !== n) return
    n.revisitQueued = true
    rested.push(n)
  }
  const shift = (): KnownNode => {
    const n = rested[head]!
    rested[head++] = undefined as unknown as KnownNode
    if (head > 1024 && head * 2 > rested.length) {
      rested = rested.slice(head)
      head = 0
    }
    n.revisitQueued = false
    return n
  }

  const fresh = (): KnownNode | undefined => {
    // At most 32 looked at per pick, in rotation (many nodes can share one busy IP).
    for (let i = Math.min(32, postponed.length); i > 0; i--) {
      const n = postponed.shift()!
      if (s.known.get(n.host, n.port) !== n) continue
      if (s.ipFree(n.host, n.port)) return n
      postponed.push(n)
    }
    for (let tries = 0; tries < 16; tries++) {
      const n = s.known.takeFresh(1)[0]
      if (n === undefined) return undefined
      if (s.ipFree(n.host, n.port)) return n
      if (postponed.length < 4096) postponed.push(n)
    }
    return undefined
  }

  /** The responsive node that has rested longest, if it has rested REVISIT_AFTER_MS (queried by anyone). */
  const revisit = (): KnownNode | undefined => {
    const t = s.now()
    for (let i = 0; i < REVISIT_SCAN && head < rested.length; i++) {
      const n = rested[head]!
      if (s.known.get(n.host, n.port) !== n || n.lastResponse < 0) {
        shift() // forgotten or no longer answering: out of the rotation
        continue
      }
      // The queue is in the order of walk queries: if the front was walked too recently, so was everyone behind.
      if (t - n.lastWalked <= REVISIT_AFTER_MS) return undefined
      // Asked recently by another stage (the sampler), or its IP is busy: to the back.
      if (t - n.lastQueried <= REVISIT_AFTER_MS || !s.ipFree(n.host, n.port)) {
        requeue(shift())
        continue
      }
      return shift()
    }
    return undefined
  }

  /** The next walk query, or undefined when no node can be asked now. */
  const next = (): Task | undefined => {
    const n = fresh() ?? (TokenBucket.peek(revisits, s.now()) >= 1 ? revisit() : undefined)
    if (n === undefined) return undefined
    if (n.lastResponse >= 0 && n.walks > 0) TokenBucket.tryTake(revisits, s.now())
    n.lastQueried = n.lastWalked = s.now()
    const target = n.inArea && Math.random() < 0.5 ? neighbourOf(n.id) : randomTarget(s.config.targets)
    // Every other query to a node goes from the identity nearest to it (so it files that id in a fine-grained
    // bucket); the others go from each of our identities in turn (so every node's table comes to hold our ids in
    // its farther buckets too, and lookups starting anywhere find the id nearest to their target).
    const turn = n.walks++
    // Dual stack: only the identities whose socket is of the node's family can reach it.
    const ids = s.identitiesFor(n.host)
    const id = turn % 2 === 0 ? nearestIdentity(ids, n.id) : ids[(turn >> 1) % ids.length]!
    return {
      stage: "walk",
      start: (done) => {
        s.queries.find_node++
        s.spent.walk++
        id.node.request(n.contact, { method: "find_node", target }, (result) => {
          if (Either.isLeft(result)) s.failedNodeNow(n, result.left)
          else {
            if (n.lastResponse < 0) s.yields.walk++
            s.answeredNow(n, result.right)
          }
          requeue(n)
          done()
        })
      }
    }
  }

  return { next }
}
