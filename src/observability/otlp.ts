import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { ConfigProvider, Effect, Layer } from "effect"
import type { OtlpSettings } from "./tracing.js"

// The OTLP/HTTP trace exporter (@effect/opentelemetry's OtlpTracer: Effect's own spans, batched and POSTed as
// protobuf or JSON). Imported only by tracing.ts, dynamically, when the OTEL_* variables ask for traces.

/** A tracer exporting every span to `settings.url`; closing the layer sends what is left (at most 3 s). */
export const otlpTracerLayer = (settings: OtlpSettings, serviceVersion: string): Layer.Layer<never> =>
  Layer.unwrapScoped(
    OtlpTracer.make({
      url: settings.url,
      headers: settings.headers,
      resource: { serviceName: settings.serviceName, serviceVersion, attributes: settings.resourceAttributes },
      exportInterval: settings.exportIntervalMillis,
      maxBatchSize: settings.maxBatchSize
    }).pipe(
      Effect.map(Layer.setTracer),
      // The exporter also reads OTEL_RESOURCE_ATTRIBUTES through Config; our settings already hold them, and the
      // ambient provider is BitScrape's (BITSCRAPE_*).
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
    )
  ).pipe(
    Layer.provide(
      Layer.merge(
        FetchHttpClient.layer,
        settings.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf
      )
    )
  )
