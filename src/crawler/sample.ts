import { Effect } from "effect"
import { copyId } from "../krpc/ids.js"
import type { Task } from "./dispatch.js"
import { nearestIdentity } from "./identities.js"
import type { KnownNode } from "./knownNodes.js"
import type { CrawlState } from "./state.js"
import { randomTarget } from "./targets.js"

// Stage "sample": BEP 51 sample_infohashes to nodes that answered us, each no sooner than its `interval` says
// (and never sooner than `minSampleInterval`). The sampling queue is ordered by when a node may be sampled next,
// so picking one is O(log n). A node not yet known to support BEP 51 gets a short probe: many ignore the query
// without a word. The node that returned a sample is remembered with it: it stores the infohash's peers, so one
// get_peers to it is the cheapest way to find them (stage "peers").

export const makeSample = (s: CrawlState) => {
  /** Back into the sampling queue at its `nextSampleAt`, unless it refused BEP 51 or was forgotten meanwhile. */
  const reschedule = (n: KnownNode) => {
    if (n.samples === false || s.known.get(n.host, n.port) !== n) s.sampleQueue.remove(n)
    else if (s.sampleQueue.has(n)) s.sampleQueue.update(n)
    else s.sampleQueue.push(n)
  }

  const sampleNode = (n: KnownNode) =>
    Effect.gen(function*() {
      s.queries.sample_infohashes++
      s.spent.sample++
      const id = nearestIdentity(s.identities, n.id)
      const query = id.node.sampleInfohashes(n.contact, randomTarget(s.config.targets))
      const reply = yield* Effect.either(
        n.samples === true ? query : Effect.timeoutTo(query, {
          duration: s.config.sampleProbeTimeoutMillis,
          onTimeout: () => undefined,
          onSuccess: (r) => r
        })
      )
      if (reply._tag === "Left") {
        if (reply.left._tag === "QueryPaced") {
          n.nextSampleAt = s.now() + s.budget.perIpIntervalMillis
          return
        }
        if (reply.left._tag === "KrpcError" || n.samples !== true) n.samples = false
        return yield* s.failedNode(n, reply.left)
      }
      if (reply.right === undefined) {
        n.samples = false // silent on BEP 51; still a node for the walk
        return
      }
      const r = reply.right
      n.samples = true
      n.nextSampleAt = s.now() + Math.max(s.config.minSampleInterval, r.interval ?? 0) * 1000
      yield* s.answered(n, r)
      const t = s.now()
      const reporter = n.contact
      for (const ih of r.samples ?? []) {
        if (yield* s.discovered({ infoHash: copyId(ih), source: "sample", at: t }, reporter)) s.yields.sample++
      }
    })

  /** The next sample query, or undefined when no node may be sampled now. */
  const next = (): Task | undefined => {
    for (let tries = 0; tries < 8; tries++) {
      const n = s.sampleQueue.peek()
      if (n === undefined || n.nextSampleAt > s.now()) return undefined
      s.sampleQueue.pop()
      if (!s.ipFree(n.host)) {
        // Its IP was queried a moment ago (by the walk, a lookup or another identity): come back when free.
        n.nextSampleAt = Math.max(s.now() + 50, s.budget.ipFreeAt(n.host))
        reschedule(n)
        continue
      }
      // Reserve the node for a while even before asking (it is out of the queue until rescheduled).
      n.nextSampleAt = s.now() + s.config.minSampleInterval * 1000
      n.lastQueried = s.now()
      return { stage: "sample", run: sampleNode(n).pipe(Effect.ensuring(Effect.sync(() => reschedule(n)))) }
    }
    return undefined
  }

  return { next }
}
