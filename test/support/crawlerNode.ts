// A crawler for tests: its own DHT node (memory network or real UDP) plus CrawlerLive, built into the scope.
import { Context, Duration, Effect, Layer } from "effect"
import { crawlerConfig, type CrawlerSettings } from "../../src/config/CrawlerConfig.js"
import { Crawler, CrawlerLive } from "../../src/crawler/Crawler.js"
import { dhtConfig, DhtNodeLive, DhtNodeMemory, type DhtSettings, KrpcNode } from "../../src/dht/index.js"
import { cidrs } from "../../src/domain/cidr.js"
import { testSettings } from "./dhtNodes.js"

export const loopbackOnly = cidrs("127.0.0.0/8")

const crawlerLayers = (dht: Partial<DhtSettings>, crawler: Partial<CrawlerSettings>) => ({
  // The crawler keeps the product's per-IP pace (one query per second to any one IP).
  dhtConfig: dhtConfig(
    testSettings({ queryTimeout: Duration.seconds(2), perIpIntervalMillis: 1000, adaptiveTimeout: true, ...dht })
  ),
  crawlerConfig: crawlerConfig({ allow: loopbackOnly, ...crawler })
})

const handles = (ctx: Context.Context<Crawler | KrpcNode>) => ({
  crawler: Context.get(ctx, Crawler),
  node: Context.get(ctx, KrpcNode)
})

/** A crawler on the MemoryNetwork in the current context. */
export const memoryCrawler = (dht: Partial<DhtSettings>, crawler: Partial<CrawlerSettings>) => {
  const c = crawlerLayers(dht, crawler)
  return Effect.map(
    Layer.build(
      CrawlerLive.pipe(Layer.provideMerge(DhtNodeMemory), Layer.provide(c.dhtConfig), Layer.provide(c.crawlerConfig))
    ),
    handles
  )
}

/** A crawler on real UDP (bind it to a 127.x address). */
export const liveCrawler = (dht: Partial<DhtSettings>, crawler: Partial<CrawlerSettings>) => {
  const c = crawlerLayers(dht, crawler)
  return Effect.map(
    Layer.build(
      CrawlerLive.pipe(Layer.provideMerge(DhtNodeLive), Layer.provide(c.dhtConfig), Layer.provide(c.crawlerConfig))
    ),
    handles
  )
}
