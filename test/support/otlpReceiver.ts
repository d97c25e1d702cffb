// A loopback OTLP/HTTP receiver for tests: accepts POST /v1/traces in the JSON protocol (http/json) on
// 127.0.0.1, and keeps every span it was sent, flattened, with its attributes decoded.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** One received span. */
export interface ReceivedSpan {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly attributes: Readonly<Record<string, unknown>>
  readonly serviceName: string | undefined
}

interface AnyValue {
  readonly stringValue?: string
  readonly intValue?: number | string
  readonly doubleValue?: number
  readonly boolValue?: boolean
}
interface KeyValue {
  readonly key: string
  readonly value: AnyValue
}
interface TracesRequest {
  readonly resourceSpans?: ReadonlyArray<{
    readonly resource?: { readonly attributes?: ReadonlyArray<KeyValue> }
    readonly scopeSpans?: ReadonlyArray<{
      readonly spans?: ReadonlyArray<{
        readonly name: string
        readonly traceId: string
        readonly spanId: string
        readonly parentSpanId?: string
        readonly attributes?: ReadonlyArray<KeyValue>
      }>
    }>
  }>
}

const valueOf = (v: AnyValue): unknown =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue

const attributesOf = (list: ReadonlyArray<KeyValue> | undefined) =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]))

export interface OtlpReceiver {
  /** The base URL to give as OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string
  readonly spans: Array<ReceivedSpan>
  /** Requests received, whatever their path, with their content type. */
  readonly requests: Array<{ readonly path: string; readonly contentType: string | undefined }>
  readonly close: () => Promise<void>
}

export const startOtlpReceiver = (): Promise<OtlpReceiver> =>
  new Promise((resolve, reject) => {
    const spans: Array<ReceivedSpan> = []
    const requests: Array<{ path: string; contentType: string | undefined }> = []
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        requests.push({ path: req.url ?? "", contentType: req.headers["content-type"] })
        if (req.method !== "POST" || req.url !== "/v1/traces") {
          res.writeHead(404).end()
          return
        }
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as TracesRequest
          for (const rs of body.resourceSpans ?? []) {
            const serviceName = attributesOf(rs.resource?.attributes)["service.name"] as string | undefined
            for (const ss of rs.scopeSpans ?? []) {
              for (const s of ss.spans ?? []) {
                spans.push({
                  name: s.name,
                  traceId: s.traceId,
                  spanId: s.spanId,
                  parentSpanId: s.parentSpanId === "" ? undefined : s.parentSpanId,
                  attributes: attributesOf(s.attributes),
                  serviceName
                })
              }
            }
          }
          res.writeHead(200, { "content-type": "application/json" }).end("{}")
        } catch {
          res.writeHead(400).end()
        }
      })
    })
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        endpoint: `http://127.0.0.1:${port}`,
        spans,
        requests,
        close: () => new Promise((done) => server.close(() => done()))
      })
    })
  })
