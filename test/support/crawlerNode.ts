// A crawler for tests: its own DHT node (memory network or real UDP) plus CrawlerLive, built into the scope.
import { Context, Duration, Effect, Layer } from "effect"
import { crawlerConfig, type CrawlerSettings } from "../../src/config/CrawlerConfig.js"
import { parseCidrList } from "../../src/crawler/addressFilter.js"
import { Crawler, CrawlerLive } from "../../src/crawler/Crawler.js"
import { dhtConfig, DhtNodeLive, DhtNodeMemory, type DhtSettings, KrpcNode } from "../../src/dht/index.js"
import { testSettings } from "./dhtNodes.js"

export const loopbackOnly = (parseCidrList("127.0.0.0/8") as { value: CrawlerSettings["allow"] }).value

const build = (
  nodeLayer: typeof DhtNodeLive | typeof DhtNodeMemory,
  dht: Partial<DhtSettings>,
  crawler: Partial<CrawlerSettings>
) =>
  Effect.map(
    Layer.build(
      CrawlerLive.pipe(
        Layer.provideMerge(nodeLayer),
        Layer.provide(dhtConfig(testSettings({ queryTimeout: Duration.seconds(2), ...dht }))),
        Layer.provide(crawlerConfig({ allow: loopbackOnly, ...crawler }))
      )
    ),
    (ctx) => ({ crawler: Context.get(ctx, Crawler), node: Context.get(ctx, KrpcNode) })
  )

export const memoryCrawler = (dht: Partial<DhtSettings>, crawler: Partial<CrawlerSettings>) =>
  build(DhtNodeMemory as never, dht, crawler)
export const liveCrawler = (dht: Partial<DhtSettings>, crawler: Partial<CrawlerSettings>) =>
  build(DhtNodeLive, dht, crawler)
