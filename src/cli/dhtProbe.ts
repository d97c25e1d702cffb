import { Args, Command, HelpDoc, Options } from "@effect/cli"
import { Console, Effect, Layer, Option } from "effect"
import { crawlerConfigFromEnv } from "../config/CrawlerConfig.js"
import { DhtConfig, dhtConfigFromEnv } from "../config/DhtConfig.js"
import { resolveBootstrap } from "../crawler/Crawler.js"
import { toHex } from "../domain/ids.js"
import { Dht } from "../rpc/Dht.js"
import { KrpcNode } from "../rpc/KrpcNode.js"
import { measureNetworkSize } from "../rpc/networkSize.js"
import { DhtNodeLive } from "../rpc/node.js"
import { scrape } from "../rpc/scrape.js"
import { parseTarget } from "./fetch.js"
import { bootstrapFlag, integerFlag, ipFlag, portFlag } from "./flags.js"
import { jsonOption } from "./repositoryOptions.js"

// Measurements that join the DHT for a moment instead of reading the database: `analyze size` (the k-closest
// network-size estimate, docs/analysis.md) and `scrape` (BEP 33 seed and peer estimates for one infohash).

const dhtOptions = {
  bootstrap: bootstrapFlag.pipe(Options.withDescription("host:port[,…] to join the DHT through"), Options.optional),
  bind: ipFlag("bind").pipe(Options.withDescription("UDP address to use"), Options.optional),
  port: portFlag("port").pipe(Options.withDescription("UDP port to use (default: any)"), Options.optional)
}

type DhtFlags = {
  readonly bootstrap: Option.Option<ReadonlyArray<string>>
  readonly bind: Option.Option<string>
  readonly port: Option.Option<number>
}

/** Runs `use` on a DHT node joined through the bootstrap addresses (flag, else env, else the default list). */
const joined = <A, E>(
  flags: DhtFlags,
  use: (dht: typeof Dht.Service, node: typeof KrpcNode.Service) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const dhtEnv = yield* dhtConfigFromEnv
    const crawlerEnv = yield* crawlerConfigFromEnv
    const bootstrap = Option.getOrElse(flags.bootstrap, () => crawlerEnv.bootstrap)
    const layer = DhtNodeLive.pipe(Layer.provide(Layer.succeed(DhtConfig, {
      ...dhtEnv,
      host: Option.getOrElse(flags.bind, () => dhtEnv.host),
      port: Option.getOrElse(flags.port, () => 0)
    })))
    return yield* Effect.gen(function*() {
      const dht = yield* Dht
      const node = yield* KrpcNode
      yield* dht.bootstrap((yield* Effect.forEach(bootstrap, resolveBootstrap)).flat())
      return yield* use(dht, node)
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

const lookups = integerFlag("lookups", { min: 1, max: 10_000 }).pipe(
  Options.withDefault(100),
  Options.withDescription("lookups toward random targets (more: narrower interval, more packets; 1–10000)")
)

/** `bitscrape analyze size`. */
export const analyzeSize = Command.make(
  "size",
  { ...dhtOptions, lookups, json: jsonOption },
  (flags) =>
    Effect.gen(function*() {
      const m = yield* joined(flags, (dht, node) => measureNetworkSize(dht, node, { lookups: flags.lookups }))
      const e = m.estimate
      if (flags.json) {
        return yield* Console.log(JSON.stringify({
          nodes: e === undefined ? null : Math.round(e.nodes),
          low: e === undefined ? null : Math.round(e.low),
          high: e === undefined ? null : Math.round(e.high),
          lookups: e?.lookups ?? 0,
          points: e?.points ?? 0,
          timeout_rate: m.timeoutRate
        }))
      }
      if (e === undefined) return yield* Console.log("no node answered: no estimate")
      yield* Console.log(
        `about ${Math.round(e.nodes)} responsive nodes (95 % interval ${Math.round(e.low)}–${Math.round(e.high)}), ` +
          `from ${e.lookups} lookups; ${(m.timeoutRate * 100).toFixed(1)} % of queries timed out (unreachable ` +
          "nodes are not counted)"
      )
    })
).pipe(Command.withDescription("Estimate the number of DHT nodes from lookups toward random targets (joins the DHT)"))

const target = Args.text({ name: "magnet-or-infohash" }).pipe(
  Args.withDescription("a magnet link, or an infohash (40 hex digits)"),
  Args.mapEffect((text) => {
    const parsed = parseTarget(text)
    return parsed !== undefined
      ? Effect.succeed(parsed.infoHash)
      : Effect.fail(HelpDoc.p(
        text.startsWith("-")
          ? `${text}: not a flag of scrape (see bitscrape scrape --help)`
          : `"${text}" is neither a magnet link nor an infohash`
      ))
  })
)

/** `bitscrape scrape <infohash>`: BEP 33. */
export const scrapeCommand = Command.make(
  "scrape",
  { target, ...dhtOptions, json: jsonOption },
  (flags) =>
    Effect.gen(function*() {
      const r = yield* joined(flags, (dht, node) => scrape(dht, node, flags.target))
      if (flags.json) {
        return yield* Console.log(JSON.stringify({
          infohash: toHex(flags.target),
          seeds: Math.round(r.seeds),
          peers: Math.round(r.peers),
          asked: r.asked,
          answered: r.answered
        }))
      }
      yield* Console.log(
        `${toHex(flags.target)}: about ${Math.round(r.seeds)} seeds and ${Math.round(r.peers)} other peers ` +
          `(BEP 33 filters from ${r.answered} of ${r.asked} closest nodes)`
      )
    })
).pipe(Command.withDescription("Estimate an infohash's seeds and peers with BEP 33 DHT scrapes (joins the DHT)"))
