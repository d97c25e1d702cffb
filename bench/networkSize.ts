// bench/networkSize: the k-closest network-size estimator (src/rpc/networkSize.ts) on in-memory DHTs of known
// size (BitScrape nodes over MemoryNetwork, each joining through an earlier one), measured from one node with 200
// lookups toward random targets. Reports the estimate, its 95 % interval and the error against the truth.
// Sizes: BITSCRAPE_BENCH_SIZES (default "1000,5000").
import { Context, Effect, Layer } from "effect"
import { dhtConfig, DhtNodeMemory, MemoryNetworkLive } from "../src/dht/index.js"
import { Dht, KrpcNode } from "../src/dht/index.js"
import { measureNetworkSize } from "../src/rpc/networkSize.js"

const node = (i: number) =>
  Layer.build(DhtNodeMemory.pipe(Layer.provide(dhtConfig({
    host: `127.7.${i >> 8}.${(i & 255) + 1}`,
    port: 0,
    maxPps: 10_000,
    burst: 1_000,
    perIpIntervalMillis: 0,
    adaptiveTimeout: false
  }))))

const measure = (size: number) =>
  Effect.gen(function*() {
    const t0 = Date.now()
    const nodes = []
    for (let i = 0; i < size; i++) {
      const ctx = yield* node(i)
      const dht = Context.get(ctx, Dht)
      const krpc = Context.get(ctx, KrpcNode)
      if (i > 0) yield* dht.bootstrap([nodes[Math.floor(Math.random() * i)]!.address])
      nodes.push({ dht, node: krpc, address: krpc.local })
    }
    const built = (Date.now() - t0) / 1000
    const m = yield* measureNetworkSize(nodes[0]!.dht, nodes[0]!.node, { lookups: 200 })
    const e = m.estimate!
    const truth = size - 1
    return `| ${size} | ${truth} | ${e.nodes.toFixed(0)} | ${e.low.toFixed(0)}–${e.high.toFixed(0)} | ${
      ((e.nodes / truth - 1) * 100).toFixed(1)
    } % | ${(m.timeoutRate * 100).toFixed(1)} % | ${built.toFixed(0)} s |`
  }).pipe(Effect.scoped, Effect.provide(MemoryNetworkLive()))

export const runNetworkSizeBench = async (): Promise<string> => {
  const sizes = (process.env.BITSCRAPE_BENCH_SIZES ?? "1000,5000").split(",").map(Number)
  const rows: Array<string> = []
  for (const size of sizes) rows.push(await Effect.runPromise(measure(size)))
  return [
    "| nodes | others (truth) | estimate | 95 % interval | error | time-outs | swarm built in |",
    "|---|---|---|---|---|---|---|",
    ...rows
  ].join("\n")
}
