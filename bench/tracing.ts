// bench/tracing: what a span costs the crawler's callback paths (observability/spans.ts), without an exporter (the
// default: the starter is undefined and the call site is one nullish check) and with the OTLP/HTTP exporter on
// (@effect/opentelemetry's OtlpTracer, protobuf and JSON, posting to a receiver in a child process on 127.0.0.1).
// Spans are made as a crawl makes them: 200 per event-loop turn, so the exporter's fibers run between turns; the
// time per span includes serialising and posting it. Run: bash scripts/netns.sh npx tsx bench/run.ts tracing
import { Effect, Either } from "effect"
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import "../test/support/loopbackGuard.mjs"
import { otlpTracerLayer } from "../src/observability/otlp.js"
import { spanStarter } from "../src/observability/spans.js"
import { otlpSettings } from "../src/observability/tracing.js"
import { envNumber } from "./harness.js"

const GUARD = new URL("../test/support/loopbackGuard.mjs", import.meta.url).pathname

const SPANS = envNumber("BITSCRAPE_BENCH_TRACING_SPANS", 100_000)
const PER_TURN = 200

const turn = () => Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** Nanoseconds per span: `SPANS` walk-like spans, 200 per turn, median of 3 rounds (after one warm-up round). */
const perSpan = Effect.gen(function*() {
  const start = yield* spanStarter
  const rounds: Array<number> = []
  for (let round = 0; round < 4; round++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < SPANS; i++) {
      if (i % PER_TURN === 0) yield* turn()
      const span = start?.("Crawler.walk", {
        "server.address": "127.0.0.1",
        "server.port": 6881,
        "dht.target": "ab".repeat(20),
        "dht.revisit": false
      })
      span?.end({ "dht.outcome": "answered", "dht.nodes": 8 })
    }
    yield* turn()
    if (round > 0) rounds.push(Number(process.hrtime.bigint() - t0) / SPANS)
  }
  return rounds.sort((a, b) => a - b)[1]!
}).pipe(Effect.withSpan("bench"))

/** The receiver: a Node process answering every POST with 200; it prints its port, then "requests bytes" at exit. */
const RECEIVER = `
const http = require("node:http")
let requests = 0, bytes = 0
const server = http.createServer((req, res) => {
  req.on("data", (c) => (bytes += c.length))
  req.on("end", () => { requests++; res.writeHead(200, { "content-type": "application/json" }).end("{}") })
})
server.listen(0, "127.0.0.1", () => console.log(server.address().port))
process.stdin.on("data", () => console.log(requests + " " + bytes))
process.stdin.on("end", () => process.exit(0))
`

export const runTracingBench = async (): Promise<string> => {
  const receiver = spawn(process.execPath, ["--import", GUARD, "-e", RECEIVER], { stdio: ["pipe", "pipe", "inherit"] })
  const lines = createInterface({ input: receiver.stdout! })[Symbol.asyncIterator]()
  const port = Number((await lines.next()).value)
  const received = async () => {
    receiver.stdin!.write("?\n")
    const [requests, bytes] = String((await lines.next()).value).split(" ").map(Number)
    return { requests: requests!, bytes: bytes! }
  }
  const rows: Array<string> = []
  try {
    const off = await Effect.runPromise(perSpan)
    rows.push(`| no exporter (default) | ${off.toFixed(0)} ns | — |`)
    for (const protocol of ["http/protobuf", "http/json"]) {
      const settings = Either.getOrThrow(
        otlpSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_PROTOCOL: protocol })
      )!
      const before = await received()
      const ns = await Effect.runPromise(perSpan.pipe(Effect.provide(otlpTracerLayer(settings, "bench"))))
      const after = await received()
      rows.push(
        `| OTLP exporter, ${protocol} | ${(ns / 1000).toFixed(1)} µs | ${
          ((after.bytes - before.bytes) / (SPANS * 4)).toFixed(0)
        } B |`
      )
    }
  } finally {
    receiver.stdin!.end()
  }
  return [
    `${SPANS.toLocaleString("en")} spans a round, ${PER_TURN} per event-loop turn (the time per span includes one`,
    `setImmediate per ${PER_TURN}); median of 3 rounds; the receiver is another process.`,
    "",
    "| tracing | time per span (start + end, 4 + 2 attributes, exported) | bytes sent per span |",
    "|---|---:|---:|",
    ...rows
  ].join("\n")
}
