// Optional OpenTelemetry traces (issue 20, item 6): the OTEL_* variables read as the OTel spec says, a crawl's trace
// received by a loopback OTLP/HTTP receiver with its operations linked parent to child, and nothing loaded or sent
// when no variable asks for it.
import { Either } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, describe, it } from "vitest"
import { otlpSettings, type TracingConfigError } from "../../src/observability/tracing.js"
import { GUARD, MAIN, runCli, spawnCli } from "../support/cli.js"
import { type ReceivedSpan, startOtlpReceiver } from "../support/otlpReceiver.js"
import { runProcess } from "../support/process.js"

const MODULE_LOG = fileURLToPath(new URL("../support/moduleLog.mjs", import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "bitscrape-tracing-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const settings = (env: Record<string, string>) => Either.getOrThrow(otlpSettings(env))
const problem = (env: Record<string, string>): TracingConfigError =>
  Either.getLeft(otlpSettings(env)).pipe((o) => {
    assert.strictEqual(o._tag, "Some", `expected an error for ${JSON.stringify(env)}`)
    return (o as { value: TracingConfigError }).value
  })

/** A short demo crawl without the web UI (3 s, 40 nodes, 4 torrents). */
const SMALL_DEMO = ["demo", "--nodes", "40", "--torrents", "4", "--seeders", "2", "--duration", "3", "--no-ui"]

describe("OTEL_* settings", () => {
  it("are off unless a variable asks for traces; OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none win", () => {
    assert.isUndefined(settings({}))
    assert.isUndefined(settings({ OTEL_SERVICE_NAME: "x", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }))
    assert.isDefined(settings({ OTEL_TRACES_EXPORTER: "otlp" }))
    assert.isDefined(settings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }))
    assert.isDefined(settings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:4318/v1/traces" }))
    assert.isUndefined(settings({ OTEL_TRACES_EXPORTER: "otlp", OTEL_SDK_DISABLED: "TRUE" }))
    assert.isUndefined(settings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_SDK_DISABLED: "true" }))
    assert.isUndefined(settings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_TRACES_EXPORTER: "none" }))
    assert.isDefined(settings({ OTEL_TRACES_EXPORTER: "otlp", OTEL_SDK_DISABLED: "false" }))
  })

  it("resolve the endpoint, protocol, headers, service and batching as the OTel spec says", () => {
    const d = settings({ OTEL_TRACES_EXPORTER: "otlp" })!
    assert.deepStrictEqual(d, {
      url: "http://localhost:4318/v1/traces",
      protocol: "http/protobuf",
      headers: {},
      serviceName: "bitscrape",
      resourceAttributes: {},
      exportIntervalMillis: 5000,
      maxBatchSize: 512
    })
    // The general endpoint gets the signal's path; the signal's own endpoint is used as it is.
    assert.strictEqual(
      settings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9/otel/" })!.url,
      "http://127.0.0.1:9/otel/v1/traces"
    )
    assert.strictEqual(
      settings({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:8/t"
      })!
        .url,
      "http://127.0.0.1:8/t"
    )
    const s = settings({
      OTEL_EXPORTER_OTLP_ENDPOINT: "https://127.0.0.1:4318",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "HTTP/JSON",
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Basic%20abc, x-a = 1",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-a=2",
      OTEL_RESOURCE_ATTRIBUTES: "service.name=from-resource,deployment.environment=lab",
      OTEL_BSP_SCHEDULE_DELAY: "250",
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "64"
    })!
    assert.strictEqual(s.protocol, "http/json")
    assert.deepStrictEqual(s.headers, { authorization: "Basic abc", "x-a": "2" })
    assert.strictEqual(s.serviceName, "from-resource")
    assert.deepStrictEqual(s.resourceAttributes, { "service.name": "from-resource", "deployment.environment": "lab" })
    assert.strictEqual(s.exportIntervalMillis, 250)
    assert.strictEqual(s.maxBatchSize, 64)
    assert.strictEqual(
      settings({
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_SERVICE_NAME: "crawler-7",
        OTEL_RESOURCE_ATTRIBUTES: "service.name=r"
      })!
        .serviceName,
      "crawler-7"
    )
  })

  it("refuse what cannot be followed with an error naming the variable, never repeating a header's value", () => {
    const on = { OTEL_TRACES_EXPORTER: "otlp" }
    assert.strictEqual(problem({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }).variable, "OTEL_EXPORTER_OTLP_PROTOCOL")
    assert.strictEqual(
      problem({ ...on, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc" }).variable,
      "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    )
    assert.strictEqual(
      problem({ OTEL_TRACES_EXPORTER: "otlp,zipkin" }).message,
      "OTEL_TRACES_EXPORTER: \"zipkin\" is not supported (otlp or none)"
    )
    assert.strictEqual(problem({ OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://x" }).variable, "OTEL_EXPORTER_OTLP_ENDPOINT")
    assert.strictEqual(
      problem({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "not a url" }).variable,
      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    const header = problem({ ...on, OTEL_EXPORTER_OTLP_HEADERS: "a=1,secret-value-without-key" })
    assert.strictEqual(header.message, "OTEL_EXPORTER_OTLP_HEADERS: entry 2 is not key=value")
    assert.notInclude(problem({ ...on, OTEL_EXPORTER_OTLP_HEADERS: "k=%zzsecret" }).message, "secret")
    assert.strictEqual(problem({ ...on, OTEL_BSP_SCHEDULE_DELAY: "-1" }).variable, "OTEL_BSP_SCHEDULE_DELAY")
  })

  it("a bad one stops the CLI with exit 2 and one line naming it (real CLI)", async () => {
    const r = await runCli(["stats", "--db", join(dir, "none.db")], {
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc"
    })
    assert.strictEqual(r.status, 2)
    assert.strictEqual(
      r.stderr,
      "bitscrape: OTEL_EXPORTER_OTLP_PROTOCOL: \"grpc\" is not supported (http/protobuf or http/json)\n"
    )
  })
})

/** `span`'s ancestors, nearest first (names), as far as the received spans go. */
const ancestry = (span: ReceivedSpan, byId: ReadonlyMap<string, ReceivedSpan>) => {
  const out: Array<ReceivedSpan> = []
  for (let p = span.parentSpanId; p !== undefined;) {
    const parent = byId.get(p)
    if (parent === undefined) break
    out.push(parent)
    p = parent.parentSpanId
  }
  return out
}

const TOKEN = "tracing-test-token-0123456789"

describe("a crawl's trace over OTLP/HTTP (real CLI, loopback receiver)", () => {
  it(
    "holds the command's root span and, below it, lookups, samples, walks, fetch attempts, batch writes; HTTP requests with the token redacted",
    async () => {
      const receiver = await startOtlpReceiver()
      const moduleLog = join(dir, "modules-on.log")
      try {
        const child = spawnCli([
          "demo",
          "--nodes",
          "80",
          "--torrents",
          "12",
          "--seeders",
          "6",
          "--duration",
          "12",
          "--db",
          join(dir, "traced.db"),
          "--json"
        ], {
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_SERVICE_NAME: "bitscrape-test",
          // Peers are found by get_peers lookups (not by asking the samplers), so the trace has lookups.
          BITSCRAPE_ASK_SAMPLER: "false",
          BITSCRAPE_UI_TOKEN: TOKEN,
          NODE_OPTIONS: `--import=${MODULE_LOG}`,
          BITSCRAPE_TEST_MODULE_LOG: moduleLog
        })
        let stdout = ""
        let stderr = ""
        child.stdout.setEncoding("utf8").on("data", (t: string) => (stdout += t))
        child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t))
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
        let dashboard: string | undefined
        for (let i = 0; i < 600 && dashboard === undefined; i++) {
          await new Promise((r) => setTimeout(r, 100))
          const line = stdout.split("\n").find((l) => l.startsWith("{\"dashboard\""))
          if (line !== undefined) dashboard = (JSON.parse(line) as { dashboard: string }).dashboard
        }
        assert.isDefined(dashboard, `the demo announces its dashboard; stderr: ${stderr}`)
        // A feed reader presents the token in the URL (no cookie, no redirect).
        const feed = await fetch(`${new URL(dashboard!).origin}/api/feed.rss?q=ubuntu&token=${TOKEN}`)
        assert.strictEqual(feed.status, 200)
        await feed.text()
        assert.strictEqual(await exited, 0, stderr)
      } finally {
        await receiver.close()
      }

      const spans = receiver.spans
      const byId = new Map(spans.map((s) => [s.spanId, s]))
      const named = (name: string) => spans.filter((s) => s.name === name)
      const roots = spans.filter((s) => s.parentSpanId === undefined)
      const root = roots.find((s) => s.name === "bitscrape demo")
      assert.isDefined(root, `root span; got roots ${roots.map((s) => s.name).join(", ")}`)
      assert.strictEqual(named("bitscrape demo").length, 1)
      assert.isTrue(spans.every((s) => s.serviceName === "bitscrape-test"))
      assert.deepStrictEqual(receiver.requests.filter((r) => r.path !== "/v1/traces"), [])
      assert.isTrue(receiver.requests.every((r) => r.contentType === "application/json"))

      // The crawl's operations, each in the crawl's trace, each reaching the root through received parents.
      for (
        const name of [
          "Crawler.walk",
          "Crawler.sample",
          "Crawler.lookup",
          "MetadataFetcher.attempt",
          "Repository.writeBatch",
          "Dht.bootstrap"
        ]
      ) {
        const list = named(name)
        assert.isAbove(list.length, 0, `${name} spans; got ${[...new Set(spans.map((s) => s.name))].join(", ")}`)
        for (const s of list) {
          assert.strictEqual(s.traceId, root!.traceId, `${name} in the crawl's trace`)
          assert.strictEqual(ancestry(s, byId).at(-1)?.spanId, root!.spanId, `${name} reaches the root`)
        }
      }
      // Attributes that say what happened.
      const walk = named("Crawler.walk").find((s) => s.attributes["dht.outcome"] === "answered")
      assert.match(String(walk?.attributes["server.address"]), /^127\./)
      assert.match(String(walk?.attributes["dht.target"]), /^[0-9a-f]{40}$/)
      const sample = named("Crawler.sample").find((s) => s.attributes["dht.outcome"] === "answered")
      assert.isAtLeast(Number(sample?.attributes["dht.samples"]), 0)
      const lookup = named("Crawler.lookup")[0]!
      assert.match(String(lookup.attributes["bittorrent.infohash"]), /^[0-9a-f]{40}$/)
      assert.include(["peers", "no peers"], lookup.attributes["dht.outcome"])
      const fetched = named("MetadataFetcher.attempt").filter((s) => s.attributes["fetch.outcome"] === "fetched")
      assert.isAbove(fetched.length, 0)
      assert.match(String(fetched[0]!.attributes["peer.address"]), /^(127\.|\[::1\])/)
      const batches = named("Repository.writeBatch")
      assert.isTrue(batches.some((s) => Number(s.attributes["batch.discoveries"]) > 0), "a discoveries batch")
      assert.isTrue(batches.some((s) => Number(s.attributes["batch.torrents"]) > 0), "a torrents batch")
      // Each batch's SQL runs inside it.
      assert.isTrue(
        named("sql.transaction").some((s) => ancestry(s, byId)[0]?.name === "Repository.writeBatch"),
        "a batch's transaction is its child"
      )
      // The HTTP request: the platform's server span with the route; the token in the URL is not exported.
      const http = spans.filter((s) => s.name === "http.server GET" && s.attributes["http.route"] === "/api/feed.rss")
      assert.strictEqual(http.length, 1)
      assert.strictEqual(http[0]!.attributes["http.response.status_code"], 200)
      assert.include(String(http[0]!.attributes["url.full"]), "token=REDACTED")
      assert.isFalse(spans.some((s) => JSON.stringify(s.attributes).includes(TOKEN)), "the token is in no span")
      // The exporter was loaded, as asked.
      assert.include(readFileSync(moduleLog, "utf8"), "@effect/opentelemetry")
    },
    120_000
  )

  it("without OTEL_* variables nothing is loaded or sent; OTEL_SDK_DISABLED=true sends nothing either", async () => {
    const receiver = await startOtlpReceiver()
    try {
      const moduleLog = join(dir, "modules-off.log")
      const off = await runProcess(process.execPath, [
        "--import",
        GUARD,
        "--import",
        MODULE_LOG,
        MAIN,
        ...SMALL_DEMO,
        "--db",
        join(dir, "off.db")
      ], { env: { BITSCRAPE_TEST_MODULE_LOG: moduleLog }, timeoutMs: 90_000 })
      assert.strictEqual(off.code, 0, off.stderr)
      const loaded = readFileSync(moduleLog, "utf8")
      assert.include(loaded, "/dist/observability/tracing.js", "the log records the process's modules")
      assert.notInclude(loaded, "@effect/opentelemetry")
      assert.notInclude(loaded, "/dist/observability/otlp.js")

      const disabled = await runCli([
        ...SMALL_DEMO
      ], {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_SDK_DISABLED: "true"
      })
      assert.strictEqual(disabled.status, 0, disabled.stderr)
      assert.deepStrictEqual(receiver.requests, [])
    } finally {
      await receiver.close()
    }
  }, 120_000)
})
