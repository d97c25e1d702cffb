import { Either } from "effect"
import { copyId } from "../domain/ids.js"
import { randomTarget } from "../domain/keyspace.js"
import type { Response } from "../krpc/messages.js"
import type { QueryFailure } from "../rpc/KrpcNode.js"
import type { Task } from "./dispatch.js"
import { nearestIdentity } from "./identities.js"
import type { KnownNode } from "./knownNodes.js"
import type { CrawlState } from "./state.js"

// Stage "sample": BEP 51 sample_infohashes to nodes that answered us, each no sooner than its `interval` says
// (and never sooner than `minSampleInterval`). The sampling queue is ordered by when a node may be sampled next,
// so picking one is O(log n). A node not yet known to support BEP 51 gets a short probe: many ignore the query
// without a word. The node that returned a sample is remembered with it: it stores the infohash's peers, so one
// get_peers to it is the cheapest way to find them (stage "peers").

/** Probes a node gets before it counts as not answering BEP 51. */
const SAMPLE_PROBES = 2
/** When an unanswered probe is repeated (ms). */
const PROBE_RETRY_MS = 30_000

export const makeSample = (s: CrawlState) => {
  /** Back into the sampling queue at its `nextSampleAt`, unless it refused BEP 51 or was forgotten meanwhile. */
  const reschedule = (n: KnownNode) => {
    if (n.samples === false || s.known.get(n.host, n.port) !== n) s.sampleQueue.remove(n)
    else if (s.sampleQueue.has(n)) s.sampleQueue.update(n)
    else s.sampleQueue.push(n)
  }

  const answeredSample = (n: KnownNode, r: Response) => {
    n.samples = true
    n.nextSampleAt = s.now() + Math.max(s.config.minSampleInterval, r.interval ?? 0) * 1000
    s.answeredNow(n, r)
    const t = s.now()
    const reporter = n.contact
    for (const ih of r.samples ?? []) {
      if (s.discoveredNow({ infoHash: copyId(ih), source: "sample", at: t }, reporter)) s.yields.sample++
    }
  }

  /**
   * A probe went unanswered: the node ignores BEP 51 (most do, without a word) — or the query or its reply was
   * lost (a few % each way on the real DHT), or it was busy. One more probe a while later, then it is only a
   * node for the walk. (An error reply says "no BEP 51" at once.)
   */
  const silent = (n: KnownNode) => {
    if (++n.sampleProbes >= SAMPLE_PROBES) n.samples = false
    else n.nextSampleAt = s.now() + Math.max(PROBE_RETRY_MS, s.config.minSampleInterval * 1000)
  }

  /** One sample_infohashes, as a callback task (no fiber through the round trip). */
  const sampleNode = (n: KnownNode, done: () => void) => {
    s.queries.sample_infohashes++
    s.spent.sample++
    const id = nearestIdentity(s.identitiesFor(n.host), n.id)
    let over = false
    const finish = (result: Either.Either<Response, QueryFailure> | undefined) => {
      if (over) return
      over = true
      if (probe !== undefined) clearTimeout(probe)
      if (result === undefined) {
        cancel()
        silent(n)
      } else if (Either.isRight(result)) answeredSample(n, result.right)
      else if (result.left._tag === "QueryPaced") n.nextSampleAt = s.now() + s.budget.perIpIntervalMillis
      else {
        if (result.left._tag === "KrpcError") n.samples = false
        else if (n.samples !== true) silent(n)
        s.failedNodeNow(n, result.left)
      }
      reschedule(n)
      done()
    }
    // A node not yet known to answer BEP 51 gets a short probe: many ignore the query without a word. (Only
    // needed when the query's own time-out is longer.)
    const probe = n.samples !== true && id.node.timing().timeoutMillis > s.config.sampleProbeTimeoutMillis
      ? setTimeout(() => finish(undefined), s.config.sampleProbeTimeoutMillis)
      : undefined
    const cancel = id.node.request(
      n.contact,
      { method: "sample_infohashes", target: randomTarget(s.config.targets) },
      finish
    )
  }

  /** The next sample query, or undefined when no node may be sampled now. */
  const next = (): Task | undefined => {
    for (let tries = 0; tries < 8; tries++) {
      const n = s.sampleQueue.peek()
      if (n === undefined || n.nextSampleAt > s.now()) return undefined
      s.sampleQueue.pop()
      if (!s.ipFree(n.host, n.port)) {
        // Its IP was queried a moment ago (by the walk, a lookup or another identity): come back when free.
        n.nextSampleAt = Math.max(s.now() + 50, s.ipFreeAt(n.host, n.port))
        reschedule(n)
        continue
      }
      // Reserve the node for a while even before asking (it is out of the queue until rescheduled).
      n.nextSampleAt = s.now() + s.config.minSampleInterval * 1000
      n.lastQueried = s.now()
      return { stage: "sample", start: (done) => sampleNode(n, done) }
    }
    return undefined
  }

  return { next }
}
