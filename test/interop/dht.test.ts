// Our DHT node against implementations nobody here wrote, on loopback: 50 npm `bittorrent-dht` nodes and
// Debian's python3-libtorrent. Each node has its own 127.x address; public bootstrap is off everywhere.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Option, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { compareDistance, type InfoHash, infoHashFromHex, type NodeId, toHex } from "../../src/krpc/index.js"
import * as Buckets from "../../src/routing/buckets.js"
import { liveNode } from "../support/dhtNodes.js"
import { makeBittorrentDhtSwarm } from "../support/interop/BittorrentDhtSwarm.js"
import { makeLibtorrentSwarm } from "../support/interop/LibtorrentSwarm.js"

/** Runs `check` every 100 ms until it yields Some; fails after `millis`. */
const eventually = <A, E>(what: string, millis: number, check: Effect.Effect<Option.Option<A>, E>) => {
  const loop: Effect.Effect<A, E> = Effect.flatMap(
    check,
    (found) => Option.isSome(found) ? Effect.succeed(found.value) : Effect.zipRight(Effect.sleep(100), loop)
  )
  return loop.pipe(Effect.timeoutFail({ duration: millis, onTimeout: () => new Error(`timed out: ${what}`) }))
}

/** An infohash whose first bytes equal `near`'s: the lookup for it ends next to that id. */
const hashNear = (near: Uint8Array, shared = 4): InfoHash =>
  Uint8Array.from(randomBytes(20), (x, i) => i < shared ? near[i]! : x) as InfoHash

const settings = { queryTimeout: Duration.seconds(2), maxPps: 2000, burst: 200 }

describe("interop: 50 npm bittorrent-dht nodes and our node", () => {
  it.scopedLive("we bootstrap from one of them, fill our table, and they find us", () =>
    Effect.gen(function*() {
      const swarm = yield* makeBittorrentDhtSwarm({ size: 50, baseHost: "127.1.1.1" })
      const us = yield* liveNode({ ...settings, host: "127.3.0.1" })
      const result = yield* us.dht.bootstrap([swarm.contacts[0]!])
      assert.isAtLeast(result.responded, 8)
      const size = yield* us.table.size
      // What k-buckets can hold at all: a table fed every one of the 50 ids.
      const ideal = Buckets.empty(us.node.self, 8, 0)
      for (const c of swarm.contacts) {
        Buckets.observe(
          ideal,
          { id: Buffer.from(c.idHex, "hex") as Uint8Array as NodeId, host: c.host, port: c.port },
          {
            kind: "response",
            bep42: "exempt",
            admitUnverified: true
          },
          0
        )
      }
      yield* Effect.log(`our table after bootstrap: ${size} nodes; a table knowing all 50 holds ${ideal.size}`)
      assert.isAtLeast(size, ideal.size - 1)
      const ourId = toHex(us.node.self)
      const knowUs = yield* eventually(
        "swarm nodes to add us",
        5000,
        Effect.map(
          Effect.forEach(swarm.contacts, (_, i) => swarm.tableHas(i, ourId)),
          (has) => has.filter(Boolean).length >= 10 ? Option.some(has.filter(Boolean).length) : Option.none()
        )
      )
      yield* Effect.log(`${knowUs} of 50 bittorrent-dht nodes have our node in their routing table`)
      assert.deepStrictEqual(yield* swarm.warnings(), [])
    }))

  it.scopedLive("lookups converge on the true 8 closest nodes (XOR order of all ids)", () =>
    Effect.gen(function*() {
      const swarm = yield* makeBittorrentDhtSwarm({ size: 50, baseHost: "127.1.2.1" })
      const us = yield* liveNode({ ...settings, host: "127.3.0.2" })
      yield* us.dht.bootstrap([swarm.contacts[7]!])
      for (let round = 0; round < 5; round++) {
        const target = randomBytes(20)
        const result = yield* us.dht.findNode(target)
        const truth = [...swarm.contacts].sort((a, b) =>
          compareDistance(target, Buffer.from(a.idHex, "hex"), Buffer.from(b.idHex, "hex"))
        ).slice(0, 8).map((c) => c.idHex)
        assert.deepStrictEqual(result.closest.map((r) => toHex(r.contact.id)), truth)
      }
    }))

  it.scopedLive("get_peers and announce_peer round-trip in both directions", () =>
    Effect.gen(function*() {
      const us = yield* liveNode({ ...settings, host: "127.3.0.3", port: 0 })
      const swarm = yield* makeBittorrentDhtSwarm({
        size: 50,
        baseHost: "127.1.3.1",
        extraBootstrap: [us.address]
      })
      yield* us.dht.bootstrap([swarm.contacts[0]!])

      // They announce to us: an infohash right next to our id, so we are among the closest nodes.
      const theirs = hashNear(us.node.self)
      const harvested = yield* us.node.harvest.pipe(
        Stream.filter((h) => h.kind === "announce_peer" && toHex(h.infoHash) === toHex(theirs)),
        Stream.runHead,
        Effect.fork
      )
      yield* swarm.announce(12, toHex(theirs), 51_413)
      const announce = yield* harvested.pipe(Effect.flatten, Effect.timeout("5 seconds"))
      assert.deepStrictEqual(announce.peer, { host: swarm.contacts[12]!.host, port: 51_413 })
      // …and our get_peers lookup finds that peer.
      const found = yield* us.dht.getPeers(theirs)
      assert.deepInclude(found.peers, { host: swarm.contacts[12]!.host, port: 51_413 })

      // We announce to them; a lookup from one of their nodes finds us.
      const ours = infoHashFromHex(toHex(randomBytes(20)))!
      const announced = yield* us.dht.announce(ours, 6_999)
      assert.isAtLeast(announced.announced, 6)
      const peers = yield* swarm.lookup(33, toHex(ours))
      assert.deepInclude(peers, { host: us.address.host, port: 6_999 })
      assert.deepStrictEqual(yield* swarm.warnings(), [])
    }))
})

describe("interop: python3-libtorrent and BEP 51", () => {
  it.scopedLive("libtorrent nodes answer our sample_infohashes, and we answer theirs", () =>
    Effect.gen(function*() {
      const lt = yield* makeLibtorrentSwarm({ size: 4, baseHost: "127.2.1.1" })
      const us = yield* liveNode({ ...settings, host: "127.3.0.4", sampleInterval: 90 })

      // Theirs: session 0 announces; another session stores it; our sample_infohashes to that session sees it.
      const ih = toHex(randomBytes(20))
      yield* lt.announce(0, ih, 6881)
      const sample = yield* eventually(
        "a libtorrent session to serve the infohash in its samples",
        15_000,
        Effect.gen(function*() {
          for (const c of lt.contacts) {
            const reply = yield* Effect.either(us.node.sampleInfohashes(c, randomBytes(20)))
            if (reply._tag === "Right" && reply.right.samples?.some((s) => toHex(s) === ih)) {
              return Option.some(reply.right)
            }
          }
          return Option.none()
        })
      )
      assert.isAtLeast(sample.num ?? 0, 1)
      assert.isDefined(sample.interval)
      assert.isAbove(sample.nodes?.length ?? 0, 0)

      // Ours: a peer announced to us shows up when a libtorrent session samples us.
      const other = yield* liveNode({ ...settings, host: "127.3.0.5" })
      const stored = hashNear(us.node.self)
      const { token } = yield* other.node.getPeers(us.address, stored)
      yield* other.node.announcePeer(us.address, stored, 7001, token!)
      const reply = yield* lt.sampleInfohashes(1, us.address.host, us.address.port, toHex(randomBytes(20)))
      assert.strictEqual(reply.interval, 90)
      assert.strictEqual(reply.num, 1)
      assert.deepStrictEqual(reply.samples, [toHex(stored)])
    }))

  it.scopedLive("libtorrent answers our get_peers and find_node, and puts us in its routing table", () =>
    Effect.gen(function*() {
      const lt = yield* makeLibtorrentSwarm({ size: 4, baseHost: "127.2.2.1" })
      const us = yield* liveNode({ ...settings, host: "127.3.0.6" })
      const result = yield* us.dht.bootstrap([lt.contacts[0]!])
      assert.isAtLeast(yield* us.table.size, 3)
      assert.isAbove(result.responded, 0)
      const ourId = toHex(us.node.self)
      yield* eventually(
        "a libtorrent session to list our node",
        10_000,
        Effect.map(
          Effect.forEach(lt.contacts, (_, i) => lt.dhtNodes(i)),
          (reports) => reports.some((r) => r.nodes.some((n) => n.idHex === ourId)) ? Option.some(true) : Option.none()
        )
      )
    }))
})
