// bench/batching: CPU per record of reading a queue that records trickle into — as on a crawl, where callbacks
// offer one or a few records at a time — and writing it in batches. Three readers of the same trickle:
//   - `Stream.fromQueue` + `Stream.groupedWithin` (what the crawl session did before),
//   - `Stream.fromQueue` + `writeBatched` (chunk-wise batching, no groupedWithin),
//   - `fromQueueLingering` + `writeBatched` (what it does now: one wake-up per batch).
// A timer offers 3 records every 6 ms (500 records/s) for BITSCRAPE_BENCH_BATCHING_SECONDS (default 4) per
// round; the write is a no-op, so the figure is the reading and batching alone, above the same producer with no
// reader at all. Rounds are interleaved (5), the median per contender is reported.
import { Chunk, Duration, Effect, Queue, Stream } from "effect"
import { writeBatched } from "../src/repository/Repository.js"
import { fromQueueLingering } from "../src/util/lingering.js"
import { envNumber } from "./harness.js"

const seconds = envNumber("BITSCRAPE_BENCH_BATCHING_SECONDS", 4)
const rounds = 5
const PER_TICK = 3
const TICK_MILLIS = 6

type Reader = (queue: Queue.Queue<number>, written: { n: number }) => Effect.Effect<unknown, unknown>

const write = (written: { n: number }) => (batch: ReadonlyArray<number>) =>
  Effect.sync(() => void (written.n += batch.length))

const readers: ReadonlyArray<[string, Reader | undefined]> = [
  ["producer alone (no reader)", undefined],
  [
    "Stream.fromQueue + Stream.groupedWithin(1000, 1 s)",
    (q, w) =>
      Stream.fromQueue(q, { maxChunkSize: 1024 }).pipe(
        Stream.groupedWithin(1000, Duration.seconds(1)),
        Stream.runForEach((c) => write(w)(Chunk.toReadonlyArray(c)))
      )
  ],
  ["Stream.fromQueue + writeBatched", (q, w) => writeBatched(Stream.fromQueue(q, { maxChunkSize: 1024 }), write(w))],
  ["fromQueueLingering(250 ms) + writeBatched", (q, w) => writeBatched(fromQueueLingering(q, 1024, 250), write(w))]
]

/** CPU µs spent in one round with `reader`, and records offered. */
const round = (reader: Reader | undefined) =>
  Effect.gen(function*() {
    const queue = yield* Queue.bounded<number>(100_000)
    const written = { n: 0 }
    const fiber = reader === undefined ? undefined : yield* Effect.fork(reader(queue, written))
    let offered = 0
    const t0 = process.cpuUsage()
    yield* Effect.async<void>((resume) => {
      const timer = setInterval(() => {
        for (let i = 0; i < PER_TICK; i++) queue.unsafeOffer(offered++)
      }, TICK_MILLIS)
      setTimeout(() => {
        clearInterval(timer)
        resume(Effect.void)
      }, seconds * 1000)
    })
    // Let the last batch through (the lingering reader waits 250 ms, the writers' ticker up to 1 s).
    yield* Effect.sleep(Duration.millis(1200))
    const cpu = process.cpuUsage(t0)
    if (fiber !== undefined) yield* Queue.shutdown(queue)
    return { micros: cpu.user + cpu.system, offered, written: written.n }
  })

export const runBatchingBench = async (): Promise<string> => {
  const results = readers.map(() => [] as Array<{ micros: number; offered: number; written: number }>)
  for (let r = 0; r < rounds; r++) {
    for (const [i, [, reader]] of readers.entries()) results[i]!.push(await Effect.runPromise(round(reader)))
  }
  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const perRecord = results.map((rs) => median(rs.map((x) => x.micros / x.offered)))
  const base = perRecord[0]!
  const lines = [
    `${rounds} interleaved rounds of ${seconds} s, ${
      (PER_TICK * 1000) / TICK_MILLIS
    } records/s offered ${PER_TICK} at a time; median CPU per record offered (the whole process, so the producer's timer is in every row; the first row is that alone).`,
    "",
    "| reader | CPU µs per record | above the producer alone | records written (last round) |",
    "|---|---:|---:|---:|"
  ]
  for (const [i, [name]] of readers.entries()) {
    const last = results[i]!.at(-1)!
    lines.push(
      `| ${name} | ${perRecord[i]!.toFixed(1)} | ${i === 0 ? "—" : (perRecord[i]! - base).toFixed(1)} | ${
        i === 0 ? "—" : `${last.written} of ${last.offered}`
      } |`
    )
  }
  return lines.join("\n")
}
