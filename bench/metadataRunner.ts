// bench/metadataRunner: the BitScrape side of bench/metadata.ts (issue 6). Fetches every listed infohash's metadata
// with BitScrape's MetadataFetcher and prints the same JSON summary as bench/referenceFetcher.mjs.
//
//   node --import test/support/loopbackGuard.mjs --import tsx bench/metadataRunner.ts <list.json> [mode] [maxConnections]
//
// <list.json> is [{ infoHashHex, host, port }, …]. Modes:
//   run   (default) the scheduler the crawler uses: MetadataFetcher.run over a request stream that stays open until
//         every infohash has an outcome (a finished request stream drops waiting infohashes by design);
//         maxAttempts 1, as the reference does not retry.
//   fetch MetadataFetcher.fetch per infohash under Effect.forEach with concurrency maxConnections.
// With BITSCRAPE_BENCH_WARMUP_LIST=<warmup.json> it first fetches that list the same way (own fetcher), untimed.
// Verification: fetchFromPeer already parses and hashes the info dict (parseInfo); the SHA-1 of the returned bytes
// is compared with the requested infohash once more here. Connections are counted at net.Socket.prototype.connect.
import { Effect, Layer, Stream } from "effect"
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import net from "node:net"
import { fetcherConfig } from "../src/config/FetcherConfig.js"
import type { InfoHash } from "../src/domain/ids.js"
import type { Torrent } from "../src/domain/model.js"
import { type FetchOutcome, MetadataFetcher, MetadataFetcherLive } from "../src/metadata/MetadataFetcher.js"

interface Item {
  readonly infoHashHex: string
  readonly host: string
  readonly port: number
}

const [listPath, modeArg, maxArg] = process.argv.slice(2)
if (listPath === undefined) throw new Error("usage: metadataRunner.ts <list.json> [run|fetch] [maxConnections]")
const list = JSON.parse(readFileSync(listPath, "utf8")) as ReadonlyArray<Item>
const mode = modeArg ?? "run"
const maxConnections = Number(maxArg ?? 64)
const stallSeconds = Number(process.env["BITSCRAPE_BENCH_STALL_SECONDS"] ?? 30)
const layer = MetadataFetcherLive.pipe(Layer.provide(fetcherConfig({ maxConnections, maxAttempts: 1 })))

let connections = 0
const connect = net.Socket.prototype.connect
net.Socket.prototype.connect = function(this: net.Socket, ...args: Array<unknown>) {
  connections++
  return (connect as (...a: Array<unknown>) => net.Socket).apply(this, args)
} as typeof net.Socket.prototype.connect

const rssPeak = () => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "latin1"))
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024
}

const toRequests = (items: ReadonlyArray<Item>) =>
  items.map((x) => ({
    infoHash: Buffer.from(x.infoHashHex, "hex") as Uint8Array as InfoHash,
    peers: [{ host: x.host, port: x.port }]
  }))
let fetched = 0
let verified = 0
let failed = 0
let errors: Record<string, number> = {}
const check = (t: Torrent) => {
  fetched++
  if (createHash("sha1").update(t.info).digest("hex") === Buffer.from(t.infoHash).toString("hex")) verified++
}
const fail = (message: string) => {
  failed++
  const key = message.replace(/[0-9a-f]{40}/g, "<hash>").slice(0, 120)
  errors[key] = (errors[key] ?? 0) + 1
}
/** Fetches every item of `items` with a fresh fetcher (a fresh dead-peer cache and connection limit). */
const program = (items: ReadonlyArray<Item>) =>
  Effect.gen(function*() {
    const requests = toRequests(items)
    /** The infohash a verified torrent was requested for is the one the fetcher reports; map it back to be sure. */
    const wanted = new Set(items.map((x) => x.infoHashHex))
    const fetcher = yield* MetadataFetcher
    if (mode === "fetch") {
      yield* Effect.forEach(
        requests,
        (r) =>
          fetcher.fetch(r.infoHash, r.peers).pipe(
            Effect.match({ onFailure: (e) => fail(e.message), onSuccess: check })
          ),
        { concurrency: maxConnections, discard: true }
      )
    } else {
      // A stall guard: when no outcome arrives for `stallSeconds`, stop and count the missing ones as failed.
      let last = Date.now()
      const stalled = Effect.gen(function*() {
        for (;;) {
          yield* Effect.sleep("1 second")
          if (Date.now() - last > stallSeconds * 1000) return yield* fetcher.stats
        }
      })
      const outcomes = fetcher.run(Stream.concat(Stream.fromIterable(requests), Stream.never)).pipe(
        Stream.take(requests.length),
        Stream.runForEach((o: FetchOutcome) =>
          Effect.sync(() => {
            if (o._tag === "Fetched") {
              if (!wanted.has(Buffer.from(o.torrent.infoHash).toString("hex"))) fail("unrequested infohash")
              else check(o.torrent)
            } else fail(o.failure.error)
            last = Date.now()
          })
        )
      )
      const stats = yield* Effect.raceFirst(Effect.as(outcomes, undefined), stalled)
      if (stats !== undefined) {
        const missing = requests.length - fetched - failed
        failed += missing
        errors[`no outcome after ${stallSeconds} s without progress`] = missing
        process.stderr.write(
          `metadataRunner: stalled with ${missing} outcomes missing; stats ${JSON.stringify(stats)}\n`
        )
      }
    }
  }).pipe(Effect.provide(layer))

// Warm-up (bench/metadata.ts gives both contenders the same one): a separate list of torrents fetched the same
// way, with its own fetcher, before the timed run, so that the timed run does not measure a cold JIT. Not counted.
const warmupPath = process.env["BITSCRAPE_BENCH_WARMUP_LIST"]
if (warmupPath !== undefined && warmupPath !== "") {
  await Effect.runPromise(program(JSON.parse(readFileSync(warmupPath, "utf8")) as ReadonlyArray<Item>))
  if (failed > 0) process.stderr.write(`metadataRunner: warm-up failures ${JSON.stringify(errors)}\n`)
  fetched =
    verified =
    failed =
    connections =
      0
  errors = {}
}

const cpu0 = process.cpuUsage()
const t0 = process.hrtime.bigint()
await Effect.runPromise(program(list))
const seconds = Number(process.hrtime.bigint() - t0) / 1e9
const cpu = process.cpuUsage(cpu0)
process.stdout.write(
  `${
    JSON.stringify({
      fetched,
      verified,
      failed,
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      peakRssBytes: rssPeak(),
      connections,
      errors
    })
  }\n`,
  () => process.exit(0)
)
