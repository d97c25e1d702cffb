import { Data, Effect, Either, Layer } from "effect"

// Optional OpenTelemetry traces (docs/configuration.md, "Tracing"): off by default; on when the standard OTEL_*
// variables ask for it, sent over OTLP/HTTP by @effect/opentelemetry's exporter, which is loaded (a dynamic import
// of ./otlp.js) only then. OTEL_SDK_DISABLED=true wins over everything.

/** Where and how spans are exported. */
export interface OtlpSettings {
  /** The OTLP/HTTP traces URL (…/v1/traces). */
  readonly url: string
  readonly protocol: "http/protobuf" | "http/json"
  /** Extra request headers (OTEL_EXPORTER_OTLP_HEADERS, then …_TRACES_HEADERS). */
  readonly headers: Readonly<Record<string, string>>
  readonly serviceName: string
  /** OTEL_RESOURCE_ATTRIBUTES. */
  readonly resourceAttributes: Readonly<Record<string, string>>
  /** How often the spans gathered so far are sent (OTEL_BSP_SCHEDULE_DELAY, ms). */
  readonly exportIntervalMillis: number
  /** Spans that trigger a send at once (OTEL_BSP_MAX_EXPORT_BATCH_SIZE). */
  readonly maxBatchSize: number
}

/** An OTEL_* variable that asks for tracing holds a value BitScrape cannot follow. A usage error (exit 2). */
export class TracingConfigError extends Data.TaggedError("TracingConfigError")<{
  /** The variable at fault, e.g. OTEL_EXPORTER_OTLP_PROTOCOL. */
  readonly variable: string
  /** `VARIABLE: what is wrong` (header and attribute values are never repeated: they may hold secrets). */
  readonly message: string
}> {}

type Env = Readonly<Record<string, string | undefined>>

const DEFAULT_ENDPOINT = "http://localhost:4318"

const fail = (variable: string, problem: string) =>
  Either.left(new TracingConfigError({ variable, message: `${variable}: ${problem}` }))

const nonEmpty = (env: Env, name: string): string | undefined => {
  const value = env[name]?.trim()
  return value === undefined || value === "" ? undefined : value
}

/** `key=value,key=value` with percent-encoded values (W3C baggage form, as the OTel spec says). */
const keyValues = (env: Env, name: string): Either.Either<Record<string, string>, TracingConfigError> => {
  const out: Record<string, string> = {}
  const text = nonEmpty(env, name)
  if (text === undefined) return Either.right(out)
  const entries = text.split(",")
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!.trim()
    if (entry === "") continue
    const eq = entry.indexOf("=")
    const key = eq <= 0 ? "" : entry.slice(0, eq).trim()
    if (key === "") return fail(name, `entry ${i + 1} is not key=value`)
    try {
      out[key] = decodeURIComponent(entry.slice(eq + 1).trim())
    } catch {
      return fail(name, `entry ${i + 1} ("${key}") has a malformed percent-encoding`)
    }
  }
  return Either.right(out)
}

const millis = (env: Env, name: string, fallback: number, min: number) => {
  const text = nonEmpty(env, name)
  if (text === undefined) return Either.right(fallback)
  const n = Number(text)
  return /^\d+$/.test(text) && n >= min ? Either.right(n) : fail(name, `"${text}" is not a whole number ≥ ${min}`)
}

/**
 * What the OTEL_* variables of `env` ask for: `undefined` when tracing stays off (the default: none of
 * OTEL_TRACES_EXPORTER=otlp, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; or
 * OTEL_TRACES_EXPORTER=none; or OTEL_SDK_DISABLED=true), else where and how to export.
 */
export const otlpSettings = (env: Env): Either.Either<OtlpSettings | undefined, TracingConfigError> =>
  Either.gen(function*() {
    if (nonEmpty(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true") return undefined
    const exporters = (nonEmpty(env, "OTEL_TRACES_EXPORTER") ?? "").toLowerCase().split(",").map((e) => e.trim())
      .filter((e) => e !== "")
    if (exporters.includes("none")) return undefined
    const unsupported = exporters.find((e) => e !== "otlp")
    if (unsupported !== undefined) {
      return yield* fail("OTEL_TRACES_EXPORTER", `"${unsupported}" is not supported (otlp or none)`)
    }
    const tracesEndpoint = nonEmpty(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    const endpoint = nonEmpty(env, "OTEL_EXPORTER_OTLP_ENDPOINT")
    if (exporters.length === 0 && tracesEndpoint === undefined && endpoint === undefined) return undefined

    // The signal's own endpoint is used as it is; the general one gets the signal's path.
    const [variable, url] = tracesEndpoint !== undefined
      ? ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", tracesEndpoint]
      : ["OTEL_EXPORTER_OTLP_ENDPOINT", `${(endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, "")}/v1/traces`]
    const parsed = URL.canParse(url) ? new URL(url) : undefined
    if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
      return yield* fail(variable, "not an http:// or https:// URL")
    }
    const protocolVariable = nonEmpty(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") !== undefined
      ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
      : "OTEL_EXPORTER_OTLP_PROTOCOL"
    const protocol = (nonEmpty(env, protocolVariable) ?? "http/protobuf").toLowerCase()
    if (protocol !== "http/protobuf" && protocol !== "http/json") {
      return yield* fail(protocolVariable, `"${protocol}" is not supported (http/protobuf or http/json)`)
    }
    const headers = {
      ...yield* keyValues(env, "OTEL_EXPORTER_OTLP_HEADERS"),
      ...yield* keyValues(env, "OTEL_EXPORTER_OTLP_TRACES_HEADERS")
    }
    const resourceAttributes = yield* keyValues(env, "OTEL_RESOURCE_ATTRIBUTES")
    return {
      url: parsed.href,
      protocol,
      headers,
      serviceName: nonEmpty(env, "OTEL_SERVICE_NAME") ?? resourceAttributes["service.name"] ?? "bitscrape",
      resourceAttributes,
      exportIntervalMillis: yield* millis(env, "OTEL_BSP_SCHEDULE_DELAY", 5000, 1),
      maxBatchSize: yield* millis(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, 1)
    } satisfies OtlpSettings
  })

/**
 * The tracer the OTEL_* variables of the process ask for, for as long as the layer lives (its end sends the last
 * spans); nothing at all, and nothing loaded, when they ask for none.
 */
export const tracingLayer = (serviceVersion: string): Layer.Layer<never, TracingConfigError> =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const settings = yield* otlpSettings(process.env)
      if (settings === undefined) return Layer.empty
      const { otlpTracerLayer } = yield* Effect.promise(() => import("./otlp.js"))
      return otlpTracerLayer(settings, serviceVersion)
    })
  )
