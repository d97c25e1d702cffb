// The interop harnesses themselves, on loopback: a bittorrent-dht swarm, libtorrent sessions, and the failure modes
// of the process wrapper. Each test owns its harness through the test's Scope.
import { assert, describe, it } from "@effect/vitest"
import bencode from "bencode"
import { Cause, Effect, Exit, Option } from "effect"
import dgram from "node:dgram"
import { makeBittorrentDhtSwarm } from "../support/interop/BittorrentDhtSwarm.js"
import type { InteropProcessError } from "../support/interop/jsonLinesProcess.js"
import { spawnJsonLines, withLiveClock } from "../support/interop/jsonLinesProcess.js"
import { LIBTORRENT_SCRIPT, makeLibtorrentSwarm, PYTHON } from "../support/interop/LibtorrentSwarm.js"

const INFOHASH = "5a".repeat(20)
const TARGET = "00".repeat(20)

/** Runs `check` every 100 ms until it yields Some; fails after `millis`. */
const eventually = <A, E>(what: string, millis: number, check: Effect.Effect<Option.Option<A>, E>) => {
  const loop: Effect.Effect<A, E> = Effect.flatMap(
    check,
    (found) => Option.isSome(found) ? Effect.succeed(found.value) : Effect.zipRight(Effect.sleep(100), loop)
  )
  return loop.pipe(Effect.timeoutFail({ duration: millis, onTimeout: () => new Error(`timed out: ${what}`) }))
}

describe("BittorrentDhtSwarm", () => {
  it.scopedLive(
    "a 50-node swarm converges, and an announce from node 0 is found from node 30",
    () =>
      Effect.gen(function*() {
        const swarm = yield* makeBittorrentDhtSwarm({ size: 50, baseHost: "127.1.0.1" })
        yield* Effect.log(`bittorrent-dht: 50 nodes ready and converged in ${swarm.startupMillis} ms`)
        assert.strictEqual(swarm.contacts.length, 50)
        assert.strictEqual(new Set(swarm.contacts.map((c) => c.host)).size, 50, "one address per node")

        const sizes = yield* swarm.tableSizes()
        assert.isTrue(sizes.every((n) => n > 0), `every table non-empty: ${sizes}`)
        const tables = yield* Effect.forEach(swarm.contacts, (_, i) => swarm.tableIds(i))
        const known = new Set(tables.flat())
        const unknown = swarm.contacts.filter((c) => !known.has(c.idHex))
        assert.deepStrictEqual(unknown, [], "the union of the tables covers every node")
        assert.isTrue(yield* swarm.tableHas(1, swarm.contacts[0].idHex), "node 1 bootstrapped from node 0")

        yield* swarm.announce(0, INFOHASH, 6881)
        const peers = yield* swarm.lookup(30, INFOHASH)
        assert.deepInclude(peers, { host: swarm.contacts[0].host, port: 6881 })
        assert.deepStrictEqual(yield* swarm.warnings(), [])
      }),
    30_000
  )
})

describe("LibtorrentSwarm", () => {
  it.scopedLive(
    "4 sessions know each other, and an announce from session 0 shows up in BEP 51 samples",
    () =>
      Effect.gen(function*() {
        const lt = yield* makeLibtorrentSwarm({ size: 4, baseHost: "127.2.0.1" })
        yield* Effect.log(`libtorrent: 4 sessions ready and connected in ${lt.startupMillis} ms`)
        const ids = lt.contacts.map((c) => c.idHex)
        for (let i = 0; i < 4; i++) {
          const report = yield* lt.dhtNodes(i)
          assert.strictEqual(report.idHex, ids[i])
          const seen = new Set(report.nodes.map((n) => n.idHex))
          assert.deepStrictEqual(ids.filter((id, j) => j !== i && !seen.has(id)), [], `session ${i} knows the others`)
        }

        const announced = yield* lt.announce(0, INFOHASH, 6881)
        // BEP 51 serves what others announced to a node: wait until a session other than 0 and 1 stores the hash.
        const storing = yield* eventually(
          "another session to store the announce",
          15_000,
          Effect.map(
            Effect.forEach([2, 3], (j) => Effect.map(lt.counters(j, ["dht.dht_torrents"]), (c) => [j, c] as const)),
            (all) => Option.fromNullable(all.find(([, c]) => c["dht.dht_torrents"] > 0)?.[0])
          )
        )
        const { host, port } = lt.contacts[storing]
        const reply = yield* lt.sampleInfohashes(1, host, port, TARGET)
        assert.include(reply.samples, INFOHASH)
        assert.isAtLeast(reply.num, 1)
        assert.strictEqual(reply.interval, 21_600, "stock dht_sample_infohashes_interval")

        const peers = yield* lt.getPeers(1, INFOHASH, { minPeers: 1 })
        assert.deepInclude(peers, { host: lt.contacts[0].host, port: announced.port })
      }),
    30_000
  )

  it.scopedLive(
    "a session answers sample_infohashes from a plain UDP socket (not libtorrent)",
    () =>
      Effect.gen(function*() {
        const lt = yield* makeLibtorrentSwarm({ size: 2, baseHost: "127.2.1.1", interconnect: 1 })
        yield* lt.announce(0, INFOHASH, 6881)
        yield* eventually(
          "session 1 to store the announce",
          15_000,
          Effect.map(
            lt.counters(1, ["dht.dht_torrents"]),
            (c) => Option.liftPredicate(c, (x) => x["dht.dht_torrents"] > 0)
          )
        )
        const socket = yield* Effect.acquireRelease(
          Effect.async<dgram.Socket>((resume) => {
            const s = dgram.createSocket("udp4")
            s.bind(0, "127.2.1.200", () => resume(Effect.succeed(s)))
          }),
          (s) => Effect.sync(() => s.close())
        )
        const reply = yield* Effect.async<Record<string, unknown>>((resume) => {
          socket.once("message", (bytes) => resume(Effect.succeed(bencode.decode(bytes) as Record<string, unknown>)))
          const query = {
            t: "sx",
            y: "q",
            q: "sample_infohashes",
            a: { id: new Uint8Array(20).fill(7), target: new Uint8Array(20) }
          }
          socket.send(bencode.encode(query), lt.contacts[1].port, lt.contacts[1].host)
        }).pipe(Effect.timeout("5 seconds"))
        const r = reply.r as Record<string, Uint8Array | number>
        assert.strictEqual(Buffer.from(r.samples as Uint8Array).toString("hex"), INFOHASH)
        assert.strictEqual(r.num, 1)
      }),
    30_000
  )
})

describe("spawnJsonLines", () => {
  it.scopedLive("names what to install when the program is missing", () =>
    Effect.gen(function*() {
      const error = yield* spawnJsonLines({
        name: "missing",
        command: "/nonexistent/python3",
        args: [],
        startTimeout: "5 seconds",
        missingHint: "apt-get install -y python3-libtorrent"
      }).pipe(Effect.flip)
      assert.strictEqual(error.reason, "MissingDependency")
      assert.include(error.message, "apt-get install -y python3-libtorrent")
    }))

  it.scopedLive("reports python3-libtorrent missing with the package to install", () =>
    Effect.gen(function*() {
      // `-S` skips site-packages, which is where Debian puts the libtorrent module.
      const error = yield* spawnJsonLines({
        name: "libtorrent without site-packages",
        command: PYTHON,
        args: ["-S", LIBTORRENT_SCRIPT, "{}"],
        startTimeout: "10 seconds",
        missingHint: ""
      }).pipe(Effect.flip)
      assert.strictEqual(error.reason, "MissingDependency")
      assert.include(error.message, "python3-libtorrent")
      assert.include(error.message, "apt-get install -y python3-libtorrent")
    }))

  it.live("a child that dies after it was ready fails requests, and the scope's close dies with the crash", () =>
    Effect.gen(function*() {
      const script = `console.log(JSON.stringify({ event: "ready" })); setTimeout(() => process.exit(7), 50)`
      let requestError: InteropProcessError | undefined
      const exit = yield* Effect.gen(function*() {
        const child = yield* spawnJsonLines({
          name: "doomed",
          command: process.execPath,
          args: ["-e", script],
          startTimeout: "5 seconds",
          missingHint: ""
        })
        yield* Effect.sleep(500)
        requestError = yield* child.request("anything", []).pipe(Effect.flip)
      }).pipe(Effect.scoped, withLiveClock, Effect.exit)
      assert.strictEqual(requestError?.reason, "Crashed")
      assert.include(requestError?.message, "code 7")
      const defect = Exit.isFailure(exit) ? Cause.dieOption(exit.cause) : Option.none()
      assert.isTrue(Option.isSome(defect), "the finalizer dies")
      assert.strictEqual((Option.getOrThrow(defect) as InteropProcessError).reason, "Crashed")
    }))
})
