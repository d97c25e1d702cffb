import { Effect } from "effect"
import * as TokenBucket from "../socket/tokenBucket.js"
import type { Task } from "./dispatch.js"
import { nearestIdentity } from "./identities.js"
import type { KnownNode } from "./knownNodes.js"
import type { CrawlState } from "./state.js"
import { neighbourOf, randomTarget } from "./targets.js"

// Stage "walk": continuous find_node over the known nodes, newest first, to discover the network, toward a
// target next to the queried node or a random target in the crawl's areas (with several identities, from the
// identity nearest to the node or from any, see `next`).

/**
 * How long a responsive node rests before the walk asks it again, once every node has been asked (only when no
 * new node is waiting: on the real DHT that is rare; in a small network the idle budget keeps our ids fresh in
 * the tables, at 0.2 queries/s per IP, far below libtorrent's 5).
 */
const REVISIT_AFTER_MS = 5_000
/** Known nodes looked at per revisit pick (bounds the cost of one pick in a store of 200,000). */
const REVISIT_SCAN = 2048
/** Revisits use at most this share of the packet budget: idle budget is no reason to ask the same nodes forever. */
const REVISIT_SHARE = 0.25

export const makeWalk = (s: CrawlState) => {
  // Fresh nodes whose IP was busy when their turn came: retried before newer ones.
  const postponed: Array<KnownNode> = []
  let cursor: IterableIterator<KnownNode> | undefined
  const revisits = TokenBucket.make(Math.max(1, s.budget.maxPps * REVISIT_SHARE), 10, s.now())

  const fresh = (): KnownNode | undefined => {
    for (let i = 0; i < postponed.length; i++) {
      const n = postponed[i]!
      if (s.known.get(n.host, n.port) !== n) {
        postponed.splice(i--, 1)
        continue
      }
      if (s.ipFree(n.host)) return postponed.splice(i, 1)[0]
    }
    for (let tries = 0; tries < 16; tries++) {
      const n = s.known.takeFresh(1)[0]
      if (n === undefined) return undefined
      if (s.ipFree(n.host)) return n
      if (postponed.length < 4096) postponed.push(n)
    }
    return undefined
  }

  /** The least recently queried responsive node among the next REVISIT_SCAN of the store, if rested enough. */
  const revisit = (): KnownNode | undefined => {
    let best: KnownNode | undefined
    for (let i = 0; i < REVISIT_SCAN; i++) {
      cursor ??= s.known.values()
      const next = cursor.next()
      if (next.done === true) {
        cursor = undefined
        break
      }
      const n = next.value
      if (n.lastResponse < 0 || !s.ipFree(n.host)) continue
      if (best === undefined || n.lastQueried < best.lastQueried) best = n
    }
    return best !== undefined && s.now() - best.lastQueried > REVISIT_AFTER_MS ? best : undefined
  }

  /** The next walk query, or undefined when no node can be asked now. */
  const next = (): Task | undefined => {
    const n = fresh() ?? (TokenBucket.peek(revisits, s.now()) >= 1 ? revisit() : undefined)
    if (n === undefined) return undefined
    if (n.lastResponse >= 0 && n.walks > 0) TokenBucket.tryTake(revisits, s.now())
    n.lastQueried = s.now()
    const target = n.inArea && Math.random() < 0.5 ? neighbourOf(n.id) : randomTarget(s.config.targets)
    // Every other query to a node goes from the identity nearest to it (so it files that id in a fine-grained
    // bucket); the others go from each of our identities in turn (so every node's table comes to hold our ids in
    // its farther buckets too, and lookups starting anywhere find the id nearest to their target).
    const turn = n.walks++
    const id = turn % 2 === 0 ? nearestIdentity(s.identities, n.id) : s.identities[(turn >> 1) % s.identities.length]!
    return {
      stage: "walk",
      run: Effect.suspend(() => {
        s.queries.find_node++
        s.spent.walk++
        return id.node.findNode(n.contact, target).pipe(
          Effect.matchEffect({
            onFailure: (e) => s.failedNode(n, e),
            onSuccess: (r) => {
              if (n.lastResponse < 0) s.yields.walk++
              return s.answered(n, r)
            }
          })
        )
      })
    }
  }

  return { next }
}
