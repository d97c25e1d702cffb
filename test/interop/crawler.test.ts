// The crawler against Debian's python3-libtorrent with its stock DHT limits (dht_block_ratelimit 5: an IP that
// sends 50 packets within 10 s is ignored for 300 s): it must find every session and every infohash stored in
// the swarm (BEP 51), and no session may drop or block a single one of its packets.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Stream } from "effect"
import { randomBytes } from "node:crypto"
import type { Discovery } from "../../src/domain/model.js"
import { toHex } from "../../src/krpc/index.js"
import { liveCrawler } from "../support/crawlerNode.js"
import { makeLibtorrentSwarm } from "../support/interop/LibtorrentSwarm.js"

const SESSIONS = 8
const TORRENTS = 6

describe("interop: the crawler on a python3-libtorrent swarm with stock limits", () => {
  it.scopedLive(
    "finds every session and every stored infohash, and no session drops or blocks its packets",
    () =>
      Effect.gen(function*() {
        const lt = yield* makeLibtorrentSwarm({ size: SESSIONS, baseHost: "127.2.9.1" })
        const hashes = Array.from({ length: TORRENTS }, () => toHex(randomBytes(20)))
        for (let i = 0; i < TORRENTS; i++) yield* lt.announce(i % SESSIONS, hashes[i]!, 6881)
        // A session fixes its BEP 51 sample when first asked (for 6 hours, stock): let every announce be stored
        // (findable by another session's get_peers) before the crawler starts.
        for (let i = 0; i < TORRENTS; i++) {
          let peers = 0
          for (let t = 0; t < 8 && peers === 0; t++) {
            peers = (yield* lt.getPeers((i + 1) % SESSIONS, hashes[i]!, { minPeers: 1, seconds: 3 })).length
          }
          assert.isAtLeast(peers, 1, `announce ${i} is stored in the swarm`)
        }
        const droppedBefore = yield* Effect.forEach(lt.contacts, (_, i) =>
          Effect.map(lt.counters(i, ["dht.dht_messages_in_dropped"]), (c) => c["dht.dht_messages_in_dropped"]!))

        const first = lt.contacts[0]!
        const { crawler, node } = yield* liveCrawler({ host: "127.3.9.1" }, {
          bootstrap: [`${first.host}:${first.port}`],
          metadata: false
        })
        const found = new Map<string, Set<Discovery["source"]>>()
        const drain = yield* crawler.discoveries.pipe(
          Stream.runForEach((d) =>
            Effect.sync(() => {
              const key = toHex(d.infoHash)
              found.set(key, (found.get(key) ?? new Set()).add(d.source))
            })
          ),
          Effect.fork
        )
        for (
          let t = 0;
          t < 60 && !hashes.every((h) =>
            found.get(h)?.has("sample")
          );
          t++
        ) {
          yield* Effect.sleep("500 millis")
        }
        const stats = yield* crawler.stats
        yield* crawler.stop(500)
        yield* Fiber.join(drain)

        assert.deepStrictEqual(
          hashes.filter((h) => !found.get(h)?.has("sample")),
          [],
          `every stored infohash is sampled from libtorrent (stats ${JSON.stringify(stats)})`
        )
        assert.isAtLeast(stats.knownNodes, SESSIONS, "every session is known")
        assert.isAtLeast(stats.responsiveNodes, SESSIONS, "every session answered")

        // Good citizen: libtorrent dropped none of our packets, and still answers us (a blocked IP is ignored).
        const droppedAfter = yield* Effect.forEach(lt.contacts, (_, i) =>
          Effect.map(lt.counters(i, ["dht.dht_messages_in_dropped"]), (c) => c["dht.dht_messages_in_dropped"]!))
        assert.deepStrictEqual(droppedAfter, droppedBefore, "no session dropped an incoming packet")
        const answers = yield* Effect.forEach(
          lt.contacts,
          (c) =>
            Effect.option(node.findNode({ host: c.host, port: c.port }, randomBytes(20))),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(answers.map(Option.isSome), lt.contacts.map(() => true), "every session still answers")
      }),
    60_000
  )
})
