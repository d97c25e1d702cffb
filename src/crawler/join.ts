import { Effect } from "effect"
import dns from "node:dns"
import { parseHostPort, parseIP, type SocketAddress } from "../domain/address.js"
import { compareDistance } from "../domain/ids.js"
import { randomTarget } from "../domain/keyspace.js"
import type { NodeContact } from "../krpc/compact.js"
import { lookup } from "../rpc/lookup.js"
import { nearestIdentity } from "./identities.js"
import type { CrawlState } from "./state.js"

// Stage "join": the first queries. The bootstrap addresses and the nodes saved by earlier sessions are asked
// at once, side by side: saved nodes are often dead after a restart, so each gets one short probe (`joinProbe`
// time-out) and no stage waits for them — the walk and the sampler start on the first node that answers.
// Then the first identity runs the full Kademlia join (own-id lookup, bucket refreshes) in the background;
// the other identities fill their routing tables from the walk's answers. A lost reply must not strand the
// crawl: while no node has answered for a while (at the start, or after a network outage), the bootstrap list
// is asked again, at growing intervals (2 s, 4 s, … 60 s).

/** The `count` responsive known nodes of `family` nearest to `target` among the most recently seen few thousand. */
const nearestKnown = (s: CrawlState, target: Uint8Array, count: number, family: 4 | 6): Array<NodeContact> => {
  const best: Array<NodeContact> = []
  let scanned = 0
  for (const n of s.known.values()) {
    if (++scanned > 8192) break
    if (n.lastResponse < 0 || n.host.includes(":") !== (family === 6)) continue
    best.push(n.contact)
    if (best.length > count * 4) {
      best.sort((a, b) => compareDistance(target, a.id, b.id))
      best.length = count
    }
  }
  return best.sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, count)
}

/** Resolves a "host:port" bootstrap entry to IP addresses (host names through DNS; IP literals never). */
export const resolveBootstrap = (entry: string): Effect.Effect<ReadonlyArray<SocketAddress>> => {
  const parsed = parseHostPort(entry)
  if (parsed === undefined) return Effect.succeed([])
  const { host, port } = parsed
  if (parseIP(host) !== undefined) return Effect.succeed([{ host, port }])
  return Effect.tryPromise(() => dns.promises.lookup(host, { all: true })).pipe(
    Effect.map((addresses) => addresses.map((a) => ({ host: a.address, port }))),
    Effect.catchAll((e) => Effect.as(Effect.logWarning(`cannot resolve bootstrap ${entry}`, e), []))
  )
}

/** Saved nodes probed at once (each query still goes through the per-IP pace and the packet budget). */
const PROBE_CONCURRENCY = 64
/** Without an answer from any node for this long, the crawl asks its bootstrap addresses again. */
const STRANDED_AFTER_MS = 10_000

export const join = (s: CrawlState) =>
  Effect.gen(function*() {
    const resolved = yield* Effect.forEach(s.config.bootstrap, resolveBootstrap, { concurrency: 4 })
    // Only addresses one of our sockets can reach (dual stack: both families).
    const reachable = (a: SocketAddress) => s.identitiesFor(a.host).length > 0 && s.usable(a.host, a.port)
    const addresses = resolved.flat().filter(reachable)
    const saved = s.config.savedNodes.flatMap((entry) => {
      const a = parseHostPort(entry)
      return a !== undefined && parseIP(a.host) !== undefined && reachable(a) ? [a] : []
    })
    if (addresses.length === 0 && saved.length === 0) {
      return yield* Effect.logWarning("no usable bootstrap address; waiting for incoming queries")
    }
    const ask = (a: SocketAddress, timeout: number) => {
      const target = randomTarget(s.config.targets)
      const id = nearestIdentity(s.identitiesFor(a.host), target)
      s.queries.find_node++
      s.spent.join++
      return id.node.findNode(a, target).pipe(
        // An address that answers with garbage is banned, as anywhere else in the crawl.
        Effect.tapError((e) => e._tag === "MalformedResponse" ? Effect.sync(() => s.ban(a.host)) : Effect.void),
        Effect.timeout(timeout),
        // The address answered: a known, responsive node like any other (libtorrent never lists the nodes it
        // bootstrapped from, so the walk might never meet it otherwise).
        Effect.flatMap((r) => s.answered(s.known.add({ id: r.id, host: a.host, port: a.port }, s.now()), r)),
        Effect.ignore
      )
    }
    yield* Effect.all([
      Effect.forEach(addresses, (a) => ask(a, 5000), { concurrency: "unbounded", discard: true }),
      Effect.forEach(saved, (a) => ask(a, s.config.joinProbeMillis), { concurrency: PROBE_CONCURRENCY, discard: true })
    ], { concurrency: "unbounded", discard: true })
    yield* Effect.logInfo(
      `joined the DHT through ${addresses.length} bootstrap and ${saved.length} saved address(es); ${s.known.size()} nodes known`
    )
    // The first identity of each family runs the full join through the bootstrap addresses of its family (an
    // IPv6 socket without IPv6 bootstrap addresses starts from the `nodes6` the IPv4 side learns).
    const firsts = s.families.map((f) => s.identitiesFor(f === 4 ? "0.0.0.0" : "::")[0]!)
    yield* Effect.forEach(firsts, (first) =>
      Effect.gen(function*() {
        const own = addresses.filter((a) => a.host.includes(":") === (first.family === 6))
        if (own.length === 0) return
        const result = yield* first.dht.bootstrap(own)
        s.learnNodes(result.closest.map((r) => r.contact))
      }), { concurrency: "unbounded", discard: true })
    // Every other identity looks itself up (the Kademlia join), so the nodes nearest to it — where announces
    // and lookups for infohashes near it go — learn it; two at a time, through the same budget and pace.
    // Its own routing table starts empty: the lookup starts from the known nodes of its family nearest to it.
    yield* Effect.forEach(s.identities.filter((id) => !firsts.includes(id)), (id) =>
      lookup({
        target: id.node.self,
        seeds: nearestKnown(s, id.node.self, 16, id.family),
        query: (c) =>
          Effect.map(
            id.node.findNode(c, id.node.self),
            (r) => ({ nodes: (id.family === 4 ? r.nodes : r.nodes6) ?? [] })
          ),
        alpha: 3,
        k: 8,
        self: id.node.self
      }).pipe(Effect.tap((r) => Effect.sync(() => s.learnNodes(r.closest.map((c) => c.contact))))), {
      concurrency: 2,
      discard: true
    })
    let wait = 2000
    while (!s.run.stopping) {
      yield* Effect.sleep(wait)
      if (s.run.lastAnswer >= 0 && s.now() - s.run.lastAnswer < STRANDED_AFTER_MS) {
        wait = 2000
        continue
      }
      yield* Effect.logInfo(`no node answered for ${STRANDED_AFTER_MS / 1000} s; asking the bootstrap addresses again`)
      yield* Effect.forEach(addresses, (a) => ask(a, 5000), { concurrency: "unbounded", discard: true })
      wait = Math.min(60_000, wait * 2)
    }
  })
