import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, type Either, Exit, Fiber, Option, Stream, TestClock } from "effect"
import { randomBytes } from "node:crypto"
import { MemoryNetwork, MemoryNetworkLive } from "../../src/dht/index.js"
import type { InfoHash, KrpcMessage, NodeId, Response } from "../../src/krpc/index.js"
import { decodeMessage, encodeMessage, toHex } from "../../src/krpc/index.js"
import type { QueryFailure } from "../../src/rpc/KrpcNode.js"
import { memoryNode } from "../support/dhtNodes.js"

const infoHash = () => randomBytes(20) as Uint8Array as InfoHash
const net = MemoryNetworkLive()
/** Runs `effect` (a read of the harvest, which lingers for more after each record) with the TestClock moving. */
const lingered = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < 50 && Option.isNone(yield* Fiber.poll(fiber)); i++) yield* TestClock.adjust("100 millis")
    return yield* Fiber.join(fiber)
  })

/** Sends a raw datagram from a bare endpoint and returns the decoded reply (or none). */
const rawExchange = (to: { host: string; port: number }, message: KrpcMessage) =>
  Effect.gen(function*() {
    const network = yield* MemoryNetwork
    const replies: Array<Uint8Array> = []
    const me = yield* network.attach("127.0.0.99", 0, (bytes) => void replies.push(bytes))
    network.transmit(me, to.host, to.port, encodeMessage(message))
    // The node answers from its receive fiber; let it run.
    for (let i = 0; i < 10 && replies.length === 0; i++) yield* Effect.yieldNow()
    return replies.map((r) => decodeMessage(r))
  })

describe("KrpcNode over the in-memory network", () => {
  it.scoped("answers ping, find_node and records both sides in their routing tables", () =>
    Effect.gen(function*() {
      const a = yield* memoryNode({ host: "127.0.0.1" })
      const b = yield* memoryNode({ host: "127.0.0.2" })
      const pong = yield* a.node.ping(b.address)
      assert.strictEqual(toHex(pong.id), toHex(b.node.self))
      assert.deepStrictEqual(pong.ip, { host: "127.0.0.1", port: a.address.port })
      assert.strictEqual(yield* a.table.size, 1)
      assert.strictEqual(yield* b.table.size, 1)
      const found = yield* a.node.findNode(b.address, randomBytes(20))
      assert.strictEqual(found.nodes?.length, 1)
      assert.strictEqual(toHex(found.nodes![0]!.id), toHex(a.node.self))
    }).pipe(Effect.provide(net)))

  it.scoped("get_peers hands out a token that announce_peer must bring back; peers are then returned", () =>
    Effect.gen(function*() {
      const a = yield* memoryNode({ host: "127.0.0.1" })
      const b = yield* memoryNode({ host: "127.0.0.2" })
      const ih = infoHash()
      const first = yield* a.node.getPeers(b.address, ih)
      assert.isUndefined(first.values)
      assert.isDefined(first.token)
      const bad = yield* Effect.flip(a.node.announcePeer(b.address, ih, 7000, Uint8Array.of(1, 2, 3)))
      assert.strictEqual(bad._tag, "KrpcError")
      if (bad._tag === "KrpcError") assert.strictEqual(bad.code, 203)
      yield* a.node.announcePeer(b.address, ih, 7000, first.token!)
      yield* a.node.announcePeer(b.address, ih, 9999, first.token!, true) // implied_port: the UDP source port
      const second = yield* a.node.getPeers(b.address, ih)
      assert.sameDeepMembers([...second.values!], [{ host: "127.0.0.1", port: 7000 }, {
        host: "127.0.0.1",
        port: a.address.port
      }])
    }).pipe(Effect.provide(net)))

  it.scoped("tokens stay valid about 10 minutes (two 5-minute epochs), then expire", () =>
    Effect.gen(function*() {
      const a = yield* memoryNode({ host: "127.0.0.1" })
      const b = yield* memoryNode({ host: "127.0.0.2" })
      const ih = infoHash()
      const { token } = yield* a.node.getPeers(b.address, ih)
      yield* TestClock.adjust("5 minutes")
      yield* a.node.announcePeer(b.address, ih, 7000, token!)
      yield* TestClock.adjust("6 minutes")
      const late = yield* Effect.flip(a.node.announcePeer(b.address, ih, 7000, token!))
      assert.strictEqual(late._tag, "KrpcError")
    }).pipe(Effect.provide(net)))

  it.scoped("answers sample_infohashes (BEP 51) with interval, num and samples of announced infohashes", () =>
    Effect.gen(function*() {
      const a = yield* memoryNode({ host: "127.0.0.1" })
      const b = yield* memoryNode({ host: "127.0.0.2", sampleInterval: 120 })
      const hashes = Array.from({ length: 30 }, infoHash)
      for (const ih of hashes) {
        const { token } = yield* a.node.getPeers(b.address, ih)
        yield* a.node.announcePeer(b.address, ih, 6000, token!)
      }
      const reply = yield* a.node.sampleInfohashes(b.address, randomBytes(20))
      assert.strictEqual(reply.interval, 120)
      assert.strictEqual(reply.num, 30)
      assert.strictEqual(reply.samples?.length, 20)
      const all = new Set(hashes.map(toHex))
      assert.isTrue(reply.samples!.every((s) => all.has(toHex(s))))
      assert.isDefined(reply.nodes)
    }).pipe(Effect.provide(net)))

  it.scoped("answers unknown methods with error 204, and harvests get_peers/announce_peer", () =>
    Effect.gen(function*() {
      const b = yield* memoryNode({ host: "127.0.0.2" })
      const replies = yield* rawExchange(b.address, {
        _tag: "UnknownQuery",
        t: Uint8Array.of(1, 2),
        v: undefined,
        method: "vote",
        id: randomBytes(20) as Uint8Array as NodeId
      })
      assert.strictEqual(replies.length, 1)
      const reply = replies[0]!
      assert.isTrue(reply._tag === "Right" && reply.right._tag === "ErrorMessage" && reply.right.code === 204)

      const a = yield* memoryNode({ host: "127.0.0.1" })
      const ih = infoHash()
      const { token } = yield* a.node.getPeers(b.address, ih)
      yield* a.node.announcePeer(b.address, ih, 7000, token!)
      assert.strictEqual(b.node.stats().queriesIn, 3)
      const harvested = yield* lingered(b.node.harvest.pipe(Stream.take(2), Stream.runCollect))
      assert.deepStrictEqual([...harvested].map((h) => [h.kind, toHex(h.infoHash), h.peer]), [
        ["get_peers", toHex(ih), undefined],
        ["announce_peer", toHex(ih), { host: "127.0.0.1", port: 7000 }]
      ])
    }).pipe(Effect.provide(net)))

  it.scoped("an announce_peer with a token we did not issue is refused, counted on its own and not harvested", () =>
    Effect.gen(function*() {
      const a = yield* memoryNode({ host: "127.0.0.1" })
      const b = yield* memoryNode({ host: "127.0.0.2" })
      const forged = infoHash()
      const refused = yield* Effect.flip(
        a.node.announcePeer(b.address, forged, 7000, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))
      )
      assert.strictEqual(refused._tag, "KrpcError")
      assert.strictEqual(b.node.stats().invalidTokens, 1)
      // A token issued to another IP is just as invalid here.
      const c = yield* memoryNode({ host: "127.0.0.3" })
      const { token } = yield* c.node.getPeers(b.address, forged)
      yield* Effect.flip(a.node.announcePeer(b.address, forged, 7001, token!))
      assert.strictEqual(b.node.stats().invalidTokens, 2)
      // Neither was stored: a get_peers for the infohash returns no peer.
      const after = yield* c.node.getPeers(b.address, forged)
      assert.isUndefined(after.values)
      // The harvest holds c's get_peers queries only, never an announce.
      const harvested = yield* lingered(b.node.harvest.pipe(Stream.take(2), Stream.runCollect))
      assert.deepStrictEqual([...harvested].map((h) => h.kind), ["get_peers", "get_peers"])
    }).pipe(Effect.provide(net)))

  it.scoped("read-only nodes (BEP 43) flag their queries and answer none; others keep them out of the table", () =>
    Effect.gen(function*() {
      const ro = yield* memoryNode({ host: "127.0.0.1", readOnly: true })
      const b = yield* memoryNode({ host: "127.0.0.2" })
      yield* ro.node.ping(b.address)
      assert.strictEqual(yield* b.table.size, 0)
      assert.strictEqual(yield* ro.table.size, 1)
      const fiber = yield* Effect.fork(Effect.flip(b.node.ping(ro.address)))
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "QueryTimeout")
    }).pipe(Effect.provide(net)))
})

describe("KrpcNode client bookkeeping", () => {
  const silent = { host: "127.0.0.9", port: 6881 }
  const quietNet = MemoryNetworkLive({ silent: [silent] })

  it.scoped("times out unanswered queries after the configured timeout, leaving no pending entry", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork
      yield* network.attach(silent.host, silent.port, () => {})
      const a = yield* memoryNode({ host: "127.0.0.1", queryTimeout: Duration.seconds(2) })
      const fiber = yield* Effect.fork(Effect.flip(a.node.ping(silent)))
      yield* TestClock.adjust("1999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      assert.strictEqual(yield* a.node.inflight, 1)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "QueryTimeout")
      assert.strictEqual(yield* a.node.inflight, 0)
      assert.strictEqual(a.node.stats().timeouts, 1)
    }).pipe(Effect.provide(quietNet)))

  it.scoped("caps queries in flight and frees slots on interruption", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork
      yield* network.attach(silent.host, silent.port, () => {})
      const a = yield* memoryNode({ host: "127.0.0.1", maxInflight: 3 })
      const fibers = yield* Effect.forEach(Array.from({ length: 10 }), () =>
        Effect.fork(Effect.exit(a.node.ping(silent))))
      yield* Effect.yieldNow()
      assert.strictEqual(yield* a.node.inflight, 3)
      yield* Effect.forEach(fibers, Fiber.interrupt)
      assert.strictEqual(yield* a.node.inflight, 0)
      const exits = yield* Effect.forEach(fibers, Fiber.await)
      assert.isTrue(exits.every(Exit.isInterrupted))
    }).pipe(Effect.provide(quietNet)))

  it.scoped("ignores replies from the wrong address and replies nobody asked for", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork
      const a = yield* memoryNode({ host: "127.0.0.1", queryTimeout: Duration.seconds(1) })
      const target = { host: "127.0.0.10", port: 6881 }
      const seen: Array<Uint8Array> = []
      yield* network.attach(target.host, target.port, (bytes) => void seen.push(bytes))
      const forger = yield* network.attach("127.0.0.66", 0, () => {})
      const fiber = yield* Effect.fork(Effect.flip(a.node.ping(target)))
      while (seen.length === 0) yield* Effect.yieldNow()
      const query = decodeMessage(seen[0]!)
      assert.isTrue(query._tag === "Right" && query.right._tag === "PingQuery")
      const t = query._tag === "Right" ? query.right.t : new Uint8Array(0)
      const reply = (tid: Uint8Array): KrpcMessage => ({
        _tag: "Response",
        t: tid,
        v: undefined,
        id: randomBytes(20) as Uint8Array as NodeId
      })
      // Right transaction id, wrong source address: not accepted.
      network.transmit(forger, a.address.host, a.address.port, encodeMessage(reply(t)))
      // A transaction id nobody used: counted as unexpected.
      network.transmit(forger, a.address.host, a.address.port, encodeMessage(reply(Uint8Array.of(1, 2, 3, 4))))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "QueryTimeout")
      assert.strictEqual(a.node.stats().unexpected, 2)
      assert.strictEqual(a.node.stats().responses, 0)
      assert.strictEqual(yield* a.table.size, 0)
    }).pipe(Effect.provide(quietNet)))

  it.scoped("fails a query at once when its reply is malformed", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork
      const a = yield* memoryNode({ host: "127.0.0.1" })
      const target = { host: "127.0.0.11", port: 6881 }
      const peer = yield* network.attach(target.host, target.port, (bytes) => {
        const q = decodeMessage(bytes)
        if (q._tag !== "Right") return
        // A reply with the right t but a 3-byte id.
        const t = Buffer.from(q.right.t)
        const bad = Buffer.concat([Buffer.from("d1:rd2:id3:abce1:t4:"), t, Buffer.from("1:y1:re")])
        network.transmit(peer, a.address.host, a.address.port, bad)
      })
      const error = yield* Effect.flip(a.node.ping(target))
      assert.strictEqual(error._tag, "MalformedResponse")
    }).pipe(Effect.provide(quietNet)))
})

describe("KrpcNode.request (the callback path of the crawler's hot queries)", () => {
  const silent = { host: "127.0.0.9", port: 6881 }
  const quietNet = MemoryNetworkLive({ silent: [silent] })
  type Result = Either.Either<Response, QueryFailure>

  it.scoped("answers, times out, refuses a tokenless get_peers and forgets a cancelled query", () =>
    Effect.gen(function*() {
      const network = yield* MemoryNetwork
      yield* network.attach(silent.host, silent.port, () => {})
      const a = yield* memoryNode({ host: "127.0.0.1", queryTimeout: Duration.seconds(2) })
      const b = yield* memoryNode({ host: "127.0.0.2" })
      const results: Array<Result> = []
      const collect = (r: Result) => void results.push(r)

      // A reply: find_node's nodes, and both sides know each other.
      a.node.request(b.address, { method: "find_node", target: b.node.self }, collect)
      for (let i = 0; i < 20 && results.length === 0; i++) yield* Effect.yieldNow()
      assert.strictEqual(results.length, 1)
      assert.isTrue(results[0]!._tag === "Right" && results[0]!.right.id.length === 20)
      assert.strictEqual(yield* b.table.size, 1)

      // get_peers: the reply carries a token, so it is a success.
      a.node.request(b.address, { method: "get_peers", infoHash: infoHash() }, collect)
      for (let i = 0; i < 20 && results.length === 1; i++) yield* Effect.yieldNow()
      assert.isTrue(results[1]?._tag === "Right" && results[1].right.token !== undefined)

      // No reply: a time-out after the configured time, counted, leaving no pending entry.
      a.node.request(silent, { method: "ping" }, collect)
      assert.strictEqual(yield* a.node.inflight, 1)
      yield* TestClock.adjust("2 seconds")
      for (let i = 0; i < 20 && results.length === 2; i++) yield* Effect.yieldNow()
      assert.isTrue(results[2]?._tag === "Left" && results[2].left._tag === "QueryTimeout")
      assert.strictEqual(yield* a.node.inflight, 0)
      assert.strictEqual(a.node.stats().timeouts, 1)

      // Cancelled: forgotten at once, `done` never called, no time-out counted.
      const cancel = a.node.request(silent, { method: "ping" }, collect)
      assert.strictEqual(yield* a.node.inflight, 1)
      cancel()
      assert.strictEqual(yield* a.node.inflight, 0)
      yield* TestClock.adjust("3 seconds")
      yield* Effect.yieldNow()
      assert.strictEqual(results.length, 3)
      assert.strictEqual(a.node.stats().timeouts, 1)
    }).pipe(Effect.provide(quietNet)))

  it.scoped("keeps the per-IP pace: a second query to the same IP waits for its slot", () =>
    Effect.gen(function*() {
      const a = yield* memoryNode({ host: "127.0.0.1", perIpIntervalMillis: 1000 })
      const b = yield* memoryNode({ host: "127.0.0.2" })
      const results: Array<Result> = []
      a.node.request(b.address, { method: "ping" }, (r) => void results.push(r))
      a.node.request(b.address, { method: "ping" }, (r) => void results.push(r))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      assert.strictEqual(results.length, 1) // the second waits for the IP's next slot, a second later
      assert.strictEqual(a.node.stats().queriesOut, 1)
      yield* TestClock.adjust("1 second")
      for (let i = 0; i < 20 && results.length < 2; i++) yield* Effect.yieldNow()
      assert.strictEqual(results.length, 2)
      assert.isTrue(results.every((r) => r._tag === "Right"))
    }).pipe(Effect.provide(MemoryNetworkLive())))
})
