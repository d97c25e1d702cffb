import { Args, Command, HelpDoc, Options } from "@effect/cli"
import { Console, Duration, Effect, Layer, Option } from "effect"
import { createHash } from "node:crypto"
import { crawlerConfigFromEnv } from "../config/CrawlerConfig.js"
import { DhtConfig, dhtConfigFromEnv } from "../config/DhtConfig.js"
import { FetcherConfig, fetcherConfigFromEnv } from "../config/FetcherConfig.js"
import { resolveBootstrap } from "../crawler/Crawler.js"
import { parseHostPort, type SocketAddress } from "../domain/address.js"
import { humanSize, magnet, printable, torrentJson } from "../domain/format.js"
import { type InfoHash, infoHashFromHex, toHex } from "../domain/ids.js"
import { MetadataFetcher, MetadataFetcherLive } from "../metadata/MetadataFetcher.js"
import { Dht } from "../rpc/Dht.js"
import { DhtNodeLive } from "../rpc/node.js"
import { note } from "./errors.js"
import { bootstrapFlag, ipFlag, peerFlag, portFlag, positiveFlag } from "./flags.js"
import { jsonOption } from "./repositoryOptions.js"

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
const base32ToHex = (s: string): string | undefined => {
  let bits = ""
  for (const ch of s.toLowerCase()) {
    const v = BASE32.indexOf(ch)
    if (v < 0) return undefined
    bits += v.toString(2).padStart(5, "0")
  }
  return Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2))).toString("hex")
}

/** An infohash (40 hex or 32 base32) or a magnet link, with the peers a magnet may carry (`x.pe`). */
export const parseTarget = (text: string): { infoHash: InfoHash; peers: Array<SocketAddress> } | undefined => {
  const t = text.trim()
  if (t.startsWith("magnet:?")) {
    const params = new URLSearchParams(t.slice(8))
    const xts = params.getAll("xt")
    const xt = xts.map((x) => /^urn:btih:([0-9a-zA-Z]+)$/.exec(x)?.[1]).find((x) => x !== undefined)
    // BEP 52: a v2-only magnet has just `urn:btmh:` (multihash 0x12 0x20 + SHA-256); the DHT and the peer wire
    // know the torrent by the first 20 bytes of that hash.
    const btmh = xts.map((x) => /^urn:btmh:1220([0-9a-fA-F]{64})$/.exec(x)?.[1]).find((x) => x !== undefined)
    const hex = xt === undefined ? btmh?.slice(0, 40) : xt.length === 32 ? base32ToHex(xt) : xt
    const ih = hex === undefined ? undefined : infoHashFromHex(hex)
    if (ih === undefined) return undefined
    const peers = params.getAll("x.pe").map(parseHostPort).filter((p): p is SocketAddress => p !== undefined)
    return { infoHash: ih, peers }
  }
  const hex = t.length === 32 ? base32ToHex(t) : t
  const ih = hex === undefined ? undefined : infoHashFromHex(hex)
  return ih === undefined ? undefined : { infoHash: ih, peers: [] }
}

const target = Args.text({ name: "magnet-or-infohash" }).pipe(
  Args.withDescription("a magnet link, or an infohash (40 hex digits)"),
  Args.mapEffect((text) => {
    const parsed = parseTarget(text)
    if (parsed !== undefined) return Effect.succeed(parsed)
    return Effect.fail(HelpDoc.p(
      text.startsWith("-")
        ? `${text}: not a flag of fetch (see bitscrape fetch --help)`
        : `"${text}" is neither a magnet link nor an infohash`
    ))
  })
)

const peerOption = peerFlag(
  "host:port of a peer that has the torrent (repeatable); without it, peers come from the DHT"
)

export const fetchCommand = Command.make("fetch", {
  target,
  peers: peerOption,
  json: jsonOption,
  bootstrap: bootstrapFlag.pipe(
    Options.withDescription("host:port[,…] for the DHT lookup"),
    Options.optional
  ),
  bind: ipFlag("bind").pipe(Options.withDescription("UDP address for the DHT lookup"), Options.optional),
  port: portFlag("port").pipe(
    Options.withDescription("UDP port for the DHT lookup (default: any)"),
    Options.optional
  ),
  timeout: positiveFlag("timeout").pipe(
    Options.withDescription("give up after this many seconds (default 60)"),
    Options.optional
  )
}, (flags) =>
  Effect.gen(function*() {
    const fetcherEnv = yield* fetcherConfigFromEnv
    const deadline = Duration.seconds(Option.getOrElse(flags.timeout, () => 60))
    const fetcherLayer = MetadataFetcherLive.pipe(
      Layer.provide(Layer.succeed(FetcherConfig, { ...fetcherEnv, infohashDeadline: deadline }))
    )
    let peers: ReadonlyArray<SocketAddress> = [...flags.peers, ...flags.target.peers]
    if (peers.length === 0) {
      const dhtEnv = yield* dhtConfigFromEnv
      const crawlerEnv = yield* crawlerConfigFromEnv
      const bootstrap = Option.getOrElse(flags.bootstrap, () => crawlerEnv.bootstrap)
      const dhtLayer = DhtNodeLive.pipe(Layer.provide(Layer.succeed(DhtConfig, {
        ...dhtEnv,
        host: Option.getOrElse(flags.bind, () => dhtEnv.host),
        port: Option.getOrElse(flags.port, () => 0)
      })))
      peers = yield* Effect.gen(function*() {
        const dht = yield* Dht
        const addresses = (yield* Effect.forEach(bootstrap, resolveBootstrap)).flat()
        yield* dht.bootstrap(addresses)
        const found = yield* dht.getPeers(flags.target.infoHash)
        return found.peers
      }).pipe(Effect.scoped, Effect.provide(dhtLayer))
      if (!flags.json) yield* note(`found ${peers.length} peer(s) through the DHT`)
    }
    const fetched = yield* Effect.flatMap(MetadataFetcher, (f) => f.fetch(flags.target.infoHash, peers)).pipe(
      Effect.provide(fetcherLayer)
    )
    // A hybrid torrent fetched by its (truncated) v2 hash is still known by its v1 infohash: report that one.
    const t = fetched.version === "hybrid"
      ? { ...fetched, infoHash: new Uint8Array(createHash("sha1").update(fetched.info).digest()) as InfoHash }
      : fetched
    const link = magnet(t.infoHash, t.name, t.infoHashV2)
    if (flags.json) {
      return yield* Console.log(JSON.stringify(torrentJson(t)))
    }
    yield* Console.log(printable(t.name))
    yield* Console.log(`  infohash  ${toHex(t.infoHash)}${t.infoHashV2 ? ` (v2 ${toHex(t.infoHashV2)})` : ""}`)
    yield* Console.log(
      `  size      ${humanSize(t.totalLength)} in ${t.files.length} file(s), ${t.version}${
        t.private ? ", private" : ""
      }`
    )
    yield* Console.log(
      `  from      ${t.sourcePeer?.host}:${t.sourcePeer?.port}${
        t.sourceClient ? ` (${printable(t.sourceClient)})` : ""
      }`
    )
    yield* Console.log(`  magnet    ${link}`)
    for (const f of t.files.slice(0, 50)) {
      yield* Console.log(`    ${humanSize(f.length).padStart(10)}  ${printable(f.path)}`)
    }
    if (t.files.length > 50) yield* Console.log(`    … ${t.files.length - 50} more`)
  })).pipe(Command.withDescription("Fetch one torrent's metadata from peers (or the DHT) and print it"))
