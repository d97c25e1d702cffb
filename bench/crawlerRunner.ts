// bench/crawlerRunner: the child-process side of bench/crawler.ts that measures memory per known node exactly,
// where the live runs can only give RSS growth (dominated by fixed costs and garbage at a few thousand nodes).
//
//   node --expose-gc --import tsx bench/crawlerRunner.ts <count>
//
// fills BitScrape's per-node crawler state with `count` distinct contacts, as the crawler does for every node it
// learns and queries: an entry in the known-node store (src/crawler/knownNodes.ts, which copies the id) and one in
// the per-IP pacer (src/crawler/seen.ts). Contacts are built as the KRPC decoder builds them (a 20-byte id view of
// a larger datagram buffer, a fresh dotted-quad string, a port). It prints one JSON line:
//   {"count","knownNodesBytes","withPacerBytes","rssBytes"} — heap + external bytes per node after full collections,
//   the store alone and with the pacer; and RSS growth per node over both (an upper bound: freed pages stay).
// The reference's counterpart is `bench/referenceCrawler.mjs --measure-memory <count>`. No sockets are opened.
import { makeKnownNodes } from "../src/crawler/knownNodes.js"
import type { NodeId } from "../src/domain/ids.js"
import type { NodeContact } from "../src/krpc/compact.js"
import { makeBudget } from "../src/socket/budget.js"

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with node --expose-gc")
const count = Number(process.argv[2] ?? "100000")

/** Heap plus memory outside it (typed-array backing stores), after full collections. */
const heap = () => {
  for (let i = 0; i < 3; i++) gc()
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

/** `count` contacts in 127.0.0.0/8, each id a view into a 26-byte compact record, as decoded from a reply. */
const contacts = (n: number): Array<NodeContact> => {
  const out: Array<NodeContact> = []
  for (let i = 0; i < n; i++) {
    const record = new Uint8Array(26)
    for (let j = 0; j < 20; j++) record[j] = Math.floor(Math.random() * 256)
    const host = `127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
    out.push({ id: record.subarray(0, 20) as NodeId, host, port: 1024 + (i % 60_000) })
  }
  return out
}

/** Keeps what is measured reachable until it has been measured. */
const retained: Array<unknown> = []

const measure = (withPacer: boolean) => {
  const before = heap()
  const input = contacts(count)
  const known = makeKnownNodes(count * 2)
  const pacer = makeBudget({ maxPps: 200, burst: 50, perIpIntervalMillis: 1000, capacity: count * 2 }, Date.now())
  retained.push(known, pacer)
  const now = Date.now()
  for (const c of input) {
    known.add(c, now)
    if (withPacer) pacer.reserveIp(c.host, now, Infinity)
  }
  known.takeFresh(count) // the walk drains the frontier
  input.length = 0 // the decoded replies are garbage once learnt
  const after = heap()
  if (known.size() !== count) throw new Error(`stored ${known.size()} of ${count}`)
  retained.length = 0
  return (after - before) / count
}

const rss0 = process.memoryUsage().rss
const knownNodesBytes = measure(false)
const withPacerBytes = measure(true)
const rssBytes = (process.memoryUsage().rss - rss0) / count
process.stdout.write(`${JSON.stringify({ count, knownNodesBytes, withPacerBytes, rssBytes })}\n`)
