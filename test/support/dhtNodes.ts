// Builds DHT nodes for tests: each node is its own set of layers, built into the caller's scope, over a
// shared MemoryNetwork (or real UDP on 127.x with `live`).
import { Context, type Duration, Effect, Fiber, Layer, TestClock } from "effect"
import { dhtConfig, DhtNodeLive, DhtNodeMemory, type DhtSettings } from "../../src/dht/index.js"
import { Dht, DhtSocket, KrpcNode, RoutingTable } from "../../src/dht/index.js"

export interface TestNode {
  readonly dht: Context.Tag.Service<Dht>
  readonly node: Context.Tag.Service<KrpcNode>
  readonly table: Context.Tag.Service<RoutingTable>
  readonly socket: Context.Tag.Service<DhtSocket>
  readonly address: { readonly host: string; readonly port: number }
}

const fromContext = (ctx: Context.Context<Dht | KrpcNode | RoutingTable | DhtSocket>): TestNode => {
  const socket = Context.get(ctx, DhtSocket)
  return {
    dht: Context.get(ctx, Dht),
    node: Context.get(ctx, KrpcNode),
    table: Context.get(ctx, RoutingTable),
    socket,
    address: socket.local
  }
}

/**
 * Test defaults: loopback, generous budget, no per-IP pace (these nodes stand for other DHT clients, and unit
 * tests send many queries to one address under TestClock) and fixed time-outs (TestClock tests advance by the
 * configured one); tests of our etiquette and of the crawler set `perIpIntervalMillis` and `adaptiveTimeout`.
 */
export const testSettings = (settings: Partial<DhtSettings> = {}): Partial<DhtSettings> => ({
  host: "127.0.0.1",
  port: 0,
  maxPps: 10_000,
  burst: 1_000,
  perIpIntervalMillis: 0,
  adaptiveTimeout: false,
  ...settings
})

/** A node on the MemoryNetwork in the current context. */
export const memoryNode = (settings: Partial<DhtSettings> = {}) =>
  Effect.map(Layer.build(DhtNodeMemory.pipe(Layer.provide(dhtConfig(testSettings(settings))))), fromContext)

/** A node on real UDP (bind it to a 127.x address). */
export const liveNode = (settings: Partial<DhtSettings> = {}) =>
  Effect.map(Layer.build(DhtNodeLive.pipe(Layer.provide(dhtConfig(testSettings(settings))))), fromContext)

/** Runs `effect` while TestClock time flows in steps of `step` (for code whose timeouts must fire). */
export const withTimeFlowing = <A, E, R>(effect: Effect.Effect<A, E, R>, step: Duration.DurationInput = "500 millis") =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    while (fiber.unsafePoll() === null) {
      yield* TestClock.adjust(step)
      yield* Effect.yieldNow()
    }
    return yield* Fiber.join(fiber)
  })
