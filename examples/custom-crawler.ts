// A custom crawler with `bitscrape/crawler`: the Crawler layer over a DHT node, with our own sink (one infohash
// per line on stdout) where the `bitscrape crawl` command would write to the Repository.
//
//   npx tsx examples/custom-crawler.ts --bootstrap <ip:port> [--allow <cidr>] [--bind <ip>] [--limit N] [--duration S]
//
// Bootstrap addresses may also come from BITSCRAPE_BOOTSTRAP (comma-separated). On a loopback swarm, pass
// `--allow 127.0.0.0/8` (loopback is otherwise a bogon the crawler refuses). Stops after `--limit` distinct
// infohashes (default 10) or `--duration` seconds (default 60). `npm run example -- custom-crawler` runs it
// against a loopback swarm. Logs go to stderr; stdout carries only infohashes.
import { Crawler, crawlerConfig, CrawlerLive, parseCidrList } from "bitscrape/crawler"
import { dhtConfig, DhtNodeLive } from "bitscrape/dht"
import { toHex } from "bitscrape/krpc"
import { Duration, Effect, Layer, Logger, Stream } from "effect"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: {
    bootstrap: { type: "string", multiple: true, default: [] },
    allow: { type: "string", default: "" },
    bind: { type: "string", default: process.env["BITSCRAPE_BIND"] ?? "0.0.0.0" },
    limit: { type: "string", default: "10" },
    duration: { type: "string", default: "60" }
  }
})
const bootstrap = values.bootstrap.length > 0
  ? values.bootstrap
  : (process.env["BITSCRAPE_BOOTSTRAP"] ?? "").split(",").filter((a) => a !== "")
const allow = parseCidrList(values.allow)
if (bootstrap.length === 0 || !allow.ok) {
  console.error(
    "usage: custom-crawler --bootstrap <ip:port> [--allow <cidr,…>] [--bind <ip>] [--limit N] [--duration S]"
  )
  process.exit(2)
}

// The sink: anything of type (infoHashHex) => Effect — a file, a queue, an HTTP call, another database.
const sink = (infoHashHex: string) => Effect.sync(() => void process.stdout.write(`${infoHashHex}\n`))

const program = Effect.gen(function*() {
  const crawler = yield* Crawler
  // Node sightings wait in a bounded queue for a consumer; this crawler does not keep them.
  yield* Effect.forkScoped(Stream.runDrain(crawler.nodes))
  const seen = new Set<string>()
  yield* crawler.discoveries.pipe(
    Stream.map((d) => toHex(d.infoHash)),
    Stream.filter((hex) => {
      if (seen.has(hex)) return false
      seen.add(hex)
      return true
    }),
    Stream.take(Number(values.limit)),
    Stream.interruptAfter(Duration.seconds(Number(values.duration))),
    Stream.runForEach(sink)
  )
})

// The Crawler needs a DHT node (Dht + KrpcNode) and both configurations; nothing else (no Repository).
const CrawlerWithNode = CrawlerLive.pipe(
  Layer.provideMerge(DhtNodeLive),
  Layer.provide(dhtConfig({ host: values.bind, port: 0 })),
  Layer.provide(crawlerConfig({ bootstrap, allow: allow.value, lookups: false, metadata: false }))
)

await program.pipe(
  Effect.scoped,
  Effect.provide(CrawlerWithNode),
  Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.stringLogger))),
  Effect.runPromise
)
