// The realistic network model (src/demo/realistic) measured from the outside, over real loopback UDP and TCP, the
// way a crawler meets it: silent nodes, delayed replies, libtorrent's dos_blocker, partial BEP 51, stale peers that
// time out, live seeders with verifiable metadata, traffic toward external nodes, and a clean shutdown.
// Bounds are wide on purpose: loss and delays are random, and the machine may be busy.
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { createHash } from "node:crypto"
import dgram from "node:dgram"
import { readFileSync } from "node:fs"
import net from "node:net"
import { dropRuleInstalled, type RealisticNetwork, startRealisticNetwork } from "../../src/demo/realistic/index.js"
import { type InfoHash, type NodeId, unsafeNodeId } from "../../src/domain/ids.js"
import { decodeMessage, encodeMessage } from "../../src/krpc/codec.js"
import type { KrpcMessage, Query, Response } from "../../src/krpc/messages.js"
import { fetchMetadata } from "../support/seeders/metadataClient.js"

const rootInNetns = () =>
  process.getuid?.() === 0 &&
  readFileSync("/proc/net/dev", "utf8").split("\n").slice(2).every((l) => l.trim() === "" || l.trim().startsWith("lo:"))

/** A UDP client on its own 127.99.x address that sends KRPC queries and collects replies and incoming queries. */
const makeClient = async (host: string, id: Uint8Array) => {
  const socket = dgram.createSocket("udp4")
  await new Promise<void>((resolve) => socket.bind({ address: host, port: 0 }, resolve))
  let next = 0
  const waiting = new Map<string, (r: Response) => void>()
  const queries: Array<{ query: Query; from: { host: string; port: number } }> = []
  socket.on("message", (data, rinfo) => {
    const decoded = decodeMessage(data)
    if (Either.isLeft(decoded)) return
    const m = decoded.right
    if (m._tag === "Response") waiting.get(Buffer.from(m.t).toString("hex"))?.(m)
    else if (m._tag !== "ErrorMessage") queries.push({ query: m, from: { host: rinfo.address, port: rinfo.port } })
  })
  const send = (to: { host: string; port: number }, m: KrpcMessage) => socket.send(encodeMessage(m), to.port, to.host)
  /** One query; resolves with the reply and its round-trip time, or undefined after `timeoutMs`. */
  const ask = (to: { host: string; port: number }, build: (t: Uint8Array, id: NodeId) => Query, timeoutMs = 2500) =>
    new Promise<{ reply: Response; ms: number } | undefined>((resolve) => {
      const t = Buffer.alloc(4)
      t.writeUInt32BE(next++)
      const key = t.toString("hex")
      const started = performance.now()
      const timer = setTimeout(() => {
        waiting.delete(key)
        resolve(undefined)
      }, timeoutMs)
      waiting.set(key, (reply) => {
        clearTimeout(timer)
        waiting.delete(key)
        resolve({ reply, ms: performance.now() - started })
      })
      send(to, build(t, unsafeNodeId(id)))
    })
  /** Up to three tries, so 3 % loss each way does not look like silence. */
  const askHard = async (to: { host: string; port: number }, build: (t: Uint8Array, id: NodeId) => Query) => {
    for (let i = 0; i < 3; i++) {
      const r = await ask(to, build)
      if (r !== undefined) return r
    }
    return undefined
  }
  return { socket, queries, ask, askHard, send, close: () => socket.close() }
}

const ping = (t: Uint8Array, id: NodeId): Query => ({ _tag: "PingQuery", t, id })

describe("realistic network model (1,000 nodes on loopback)", () => {
  let network: RealisticNetwork & { stop: () => Promise<void> }
  let prober: Awaited<ReturnType<typeof makeClient>>
  const answering = new Set<string>()

  beforeAll(async () => {
    network = await startRealisticNetwork({
      nodes: 1000,
      seed: 7,
      addressBlock: 1,
      liveTorrents: 12,
      staleRatio: 10,
      churnPerMinute: 0,
      announceIntervalSeconds: 5,
      lookupsPerSecond: 4
    })
    prober = await makeClient("127.99.0.1", createHash("sha1").update("prober").digest())
  }, 60_000)

  afterAll(async () => {
    prober?.close()
    await network?.stop()
  })

  it("leaves about the configured share of nodes silent, and delays the replies of the others", async () => {
    const sample = network.describeNodes().filter((_, i) => i % 4 === 1).slice(0, 200)
    const results = await Promise.all(sample.map(async (n, i) => {
      await new Promise((r) => setTimeout(r, i * 5))
      return { n, r: await prober.askHard(n, ping) }
    }))
    for (const { n, r } of results) if (r !== undefined) answering.add(`${n.host}:${n.port}`)
    const silent = 1 - answering.size / sample.length
    assert.isAtLeast(silent, 0.28, `silent share ${silent}`)
    assert.isAtMost(silent, 0.52, `silent share ${silent}`)
    const delays = results.flatMap(({ r }) => r === undefined ? [] : [r.ms]).sort((a, b) => a - b)
    const median = delays[delays.length >> 1]!
    assert.isAtLeast(median, 20, `median reply delay ${median} ms`)
    assert.isAtMost(median, 1000, `median reply delay ${median} ms`)
    for (const { n, r } of results) {
      if (r !== undefined) assert.strictEqual(Buffer.from(r.reply.id).toString("hex"), n.id)
    }
  }, 40_000)

  it(
    "has about the configured share of answering nodes speak BEP 51, with libtorrent's interval and ≤ 20 samples",
    async () => {
      const known = new Set([...network.liveTorrents.map((t) => t.infoHash), ...network.staleInfohashes])
      const targets = network.describeNodes().filter((n) => answering.has(`${n.host}:${n.port}`))
      assert.isAtLeast(targets.length, 60)
      const results = await Promise.all(targets.map(async (n, i) => {
        await new Promise((r) => setTimeout(r, i * 10))
        return prober.askHard(n, (t, id) => ({ _tag: "SampleInfohashesQuery", t, id, target: id }))
      }))
      let speaking = 0
      let samples = 0
      for (const r of results) {
        if (r === undefined) continue
        speaking++
        assert.strictEqual(r.reply.interval, 21_600)
        assert.isAtMost(r.reply.samples!.length, 20)
        assert.isAtLeast(r.reply.num!, r.reply.samples!.length)
        for (const s of r.reply.samples!) assert.isTrue(known.has(Buffer.from(s).toString("hex")))
        samples += r.reply.samples!.length
      }
      const share = speaking / targets.length
      assert.isAtLeast(share, 0.18, `BEP 51 share ${share}`)
      assert.isAtMost(share, 0.55, `BEP 51 share ${share}`)
      assert.isAbove(samples, 0, "some BEP 51 node stores an infohash")
    },
    60_000
  )

  it("dos_blocker: a node ignores an IP after a 60-packet burst, while another IP still gets answers", async () => {
    const target = network.describeNodes().find((n) => n.dosBlocker && answering.has(`${n.host}:${n.port}`))!
    const burster = await makeClient("127.99.0.2", createHash("sha1").update("burster").digest())
    const other = await makeClient("127.99.0.3", createHash("sha1").update("other").digest())
    try {
      for (let i = 0; i < 60; i++) burster.send(target, ping(Uint8Array.of(0xff, i), unsafeNodeId(new Uint8Array(20))))
      await new Promise((r) => setTimeout(r, 500))
      const blocked = await burster.askHard(target, ping)
      assert.isUndefined(blocked, "the bursting IP is still answered")
      const fine = await other.askHard(target, ping)
      assert.isDefined(fine, "another IP is not answered")
      assert.isAtLeast(network.stats().dosBlockedIps, 1)
      const counted = network.inboundByIp().find((x) => x.ip === "127.99.0.2")!
      assert.isAtLeast(counted.maxPerSecond, 50)
    } finally {
      burster.close()
      other.close()
    }
  }, 30_000)

  it(
    "stale peers time out on TCP connect (DROP mode) or are refused; live seeders serve verifiable metadata",
    async () => {
      if (rootInNetns()) assert.strictEqual(network.info.staleMode, "drop", network.info.staleModeReason)
      else {assert.fail(
          `run inside a private network namespace as root (bash scripts/netns.sh …) with iptables installed`
        )}
      const connect = (host: string, port: number) =>
        new Promise<"connected" | "refused" | "timeout">((resolve) => {
          const s = net.connect({ host, port })
          const timer = setTimeout(() => {
            s.destroy()
            resolve("timeout")
          }, 1500)
          s.once("connect", () => (clearTimeout(timer), s.destroy(), resolve("connected")))
          s.once(
            "error",
            (
              e: NodeJS.ErrnoException
            ) => (clearTimeout(timer), resolve(e.code === "ECONNREFUSED" ? "refused" : "timeout"))
          )
        })
      const gone = network.stalePeers.find((p) => p.kind === "timeout")!
      assert.strictEqual(await connect(gone.host, gone.port), "timeout")
      const refused = network.stalePeers.find((p) => p.kind === "refused")!
      assert.strictEqual(await connect(refused.host, refused.port), "refused")

      const live = network.liveTorrents[0]!
      const infoHash = Buffer.from(live.infoHash, "hex")
      const got = await Effect.runPromise(
        fetchMetadata({ ...live.seeders[0]!, handshakeHash: infoHash, timeoutMillis: 10_000 })
      )
      assert.strictEqual(createHash("sha1").update(got.info).digest("hex"), live.infoHash)
    },
    30_000
  )

  it("an external node that queried sim nodes later receives get_peers and announce_peer from the model", async () => {
    // An id next to a live torrent's infohash: it is among the closest nodes of that torrent once the network knows it.
    const live = network.liveTorrents[1]!
    const id = Buffer.from(live.infoHash, "hex")
    id[19] ^= 1
    const crawler = await makeClient("127.99.0.4", id)
    try {
      for (const n of network.bootstrap) {
        await crawler.askHard(n, (t, self) => ({ _tag: "FindNodeQuery", t, id: self, target: self }))
      }
      const token = Uint8Array.of(1, 2, 3, 4)
      const answered = new Set<unknown>()
      const deadline = Date.now() + 40_000
      let announce: { query: Query; from: { host: string } } | undefined
      while (announce === undefined && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100))
        for (const q of crawler.queries) {
          if (q.query._tag === "GetPeersQuery" && !answered.has(q)) {
            answered.add(q)
            crawler.send(q.from, { _tag: "Response", t: q.query.t, id: unsafeNodeId(id), token, nodes: [] })
          }
        }
        announce = crawler.queries.find((q) => q.query._tag === "AnnouncePeerQuery")
      }
      assert.isDefined(announce, `no announce_peer arrived; got ${crawler.queries.map((q) => q.query._tag).join(", ")}`)
      const a = announce!.query as Extract<Query, { _tag: "AnnouncePeerQuery" }>
      assert.deepStrictEqual(a.token, token)
      const announced = Buffer.from(a.info_hash as InfoHash).toString("hex")
      assert.isTrue(
        network.liveTorrents.some((t) => t.infoHash === announced) || network.staleInfohashes.includes(announced)
      )
      assert.isTrue(crawler.queries.some((q) => q.query._tag === "GetPeersQuery"))
      assert.isAtLeast(network.stats().externalsKnown, 1)
    } finally {
      crawler.close()
    }
  }, 60_000)

  it("closes everything: worker processes end and the iptables rule is removed", async () => {
    const pids = network.info.workerPids
    const cidr = network.info.staleCidr
    assert.isTrue(dropRuleInstalled(cidr))
    await network.stop()
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    }
    for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100))
    assert.deepStrictEqual(pids.filter(alive), [])
    assert.isFalse(dropRuleInstalled(cidr))
  }, 30_000)
})
