import { assert, describe, it } from "@effect/vitest"
import { Chunk, Context, Effect, Exit, Fiber, Layer, Scope, Stream, TestClock } from "effect"
import dgram from "node:dgram"
import { dhtConfig, DhtSocket, DhtSocketLive } from "../../src/dht/index.js"

const live = (settings: Parameters<typeof dhtConfig>[0]) => DhtSocketLive.pipe(Layer.provide(dhtConfig(settings)))

const blast = (to: { host: string; port: number }, count: number, from = "127.0.0.1") =>
  Effect.async<void>((resume) => {
    const s = dgram.createSocket("udp4")
    s.bind(0, from, () => {
      let sent = 0
      for (let i = 0; i < count; i++) {
        s.send(Buffer.from(`datagram ${i}`), to.port, to.host, () => {
          if (++sent === count) {
            s.close()
            resume(Effect.void)
          }
        })
      }
    })
  })

/** Polls a condition on real time (the kernel delivers datagrams asynchronously). */
const waitFor = (done: () => boolean) =>
  Effect.promise(async () => {
    for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 5))
  })

describe("DhtSocket over UDP (loopback)", () => {
  it.scoped("delivers datagrams with their sender address", () =>
    Effect.gen(function*() {
      const socket = yield* DhtSocket
      const received = yield* Effect.fork(Stream.runCollect(Stream.take(socket.incoming, 3)))
      yield* blast(socket.local, 3, "127.0.0.5")
      const got = Chunk.toReadonlyArray(yield* Fiber.join(received))
      assert.strictEqual(got.length, 3)
      assert.isTrue(got.every((d) => d.host === "127.0.0.5"))
      assert.strictEqual(socket.stats().packetsIn, 3)
    }).pipe(Effect.provide(live({ host: "127.0.3.1", port: 0 }))))

  it.scoped("drops and counts datagrams beyond its bounded inbound buffer (nobody reading)", () =>
    Effect.gen(function*() {
      const socket = yield* DhtSocket
      yield* blast(socket.local, 200)
      yield* waitFor(() => socket.stats().packetsIn === 200)
      const stats = socket.stats()
      assert.strictEqual(stats.packetsIn, 200)
      assert.strictEqual(stats.droppedInbound, 200 - 16)
      const buffered = yield* Stream.runCollect(Stream.take(socket.incoming, 16))
      assert.strictEqual(Chunk.size(buffered), 16)
    }).pipe(Effect.provide(live({ host: "127.0.3.2", port: 0, inboundBuffer: 16 }))))

  it.scoped("drops oversized datagrams", () =>
    Effect.gen(function*() {
      const socket = yield* DhtSocket
      yield* Effect.async<void>((resume) => {
        const s = dgram.createSocket("udp4")
        s.bind(0, "127.0.0.1", () =>
          s.send(Buffer.alloc(3000), socket.local.port, socket.local.host, () => {
            s.close()
            resume(Effect.void)
          }))
      })
      yield* waitFor(() => socket.stats().packetsIn === 1)
      assert.strictEqual(socket.stats().droppedOversized, 1)
    }).pipe(Effect.provide(live({ host: "127.0.3.3", port: 0, maxDatagram: 1500 }))))

  it.scoped("paces sends with its token bucket (TestClock), and trySend drops beyond the budget", () =>
    Effect.gen(function*() {
      const socket = yield* DhtSocket
      const target = { host: "127.0.3.5", port: 9 }
      // burst 5, 10 packets/s: 5 go at once, the next waits 100 ms.
      const sending = yield* Effect.fork(
        Effect.forEach(Array.from({ length: 8 }), () => socket.send(target.host, target.port, Buffer.from("x")), {
          discard: true
        })
      )
      yield* Effect.yieldNow()
      assert.isFalse(socket.trySend(target.host, target.port, Buffer.from("y")))
      assert.strictEqual(socket.stats().droppedRateLimited, 1)
      yield* TestClock.adjust("99 millis")
      assert.isNull(sending.unsafePoll())
      yield* TestClock.adjust("300 millis")
      yield* Fiber.join(sending)
    }).pipe(Effect.provide(live({ host: "127.0.3.4", port: 0, maxPps: 10, burst: 5 }))))

  it.effect("closes the UDP socket when its scope closes (the port can be bound again)", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const ctx = yield* Layer.buildWithScope(live({ host: "127.0.3.6", port: 0 }), scope)
      const { port } = Context.get(ctx, DhtSocket).local
      yield* Scope.close(scope, Exit.void)
      const again = yield* Layer.build(live({ host: "127.0.3.6", port })).pipe(Effect.scoped, Effect.either)
      assert.strictEqual(again._tag, "Right")
    }))

  it.effect("fails with a typed error when the address is taken", () =>
    Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(live({ host: "127.0.3.7", port: 0 }))
      const { port } = Context.get(ctx, DhtSocket).local
      const error = yield* Layer.build(live({ host: "127.0.3.7", port })).pipe(Effect.flip)
      assert.strictEqual(error._tag, "DhtSocketError")
    })))
})
