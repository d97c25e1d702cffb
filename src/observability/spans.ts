import { Context, Effect, Exit, FiberRef } from "effect"

// Spans for code that runs as plain callbacks, not fibers (the crawler's stages, the metadata fetcher's
// scheduler): Effect.withSpan needs a fiber, these need a span opened in one callback and closed in another.
// With no tracer installed beyond Effect's built-in one (no exporter, the default) there is nothing to open: the
// starter is `undefined`, and `startSpan?.(name, {...})` costs one check — its attributes are not even built.

/** A span opened by callback code; `end` closes it, adding the attributes known only at the end. */
export interface OpenSpan {
  readonly end: (attributes?: Readonly<Record<string, unknown>>) => void
}

/** Opens a span named `name`, a child of the span that was current when the starter was made. */
export type SpanStarter = (name: string, attributes: Readonly<Record<string, unknown>>) => OpenSpan

/** Effect's own tracer, installed when nothing else is: its spans go nowhere. */
const builtInTracer = Effect.runSync(Effect.tracer)

/**
 * A span starter for callback code, children of the current span; `undefined` when spans would go nowhere (no
 * exporter installed, or tracing disabled for this fiber).
 */
export const spanStarter: Effect.Effect<SpanStarter | undefined> = Effect.gen(function*() {
  const tracer = yield* Effect.tracer
  if (tracer === builtInTracer || !(yield* FiberRef.get(FiberRef.currentTracerEnabled))) return undefined
  const parent = yield* Effect.option(Effect.currentParentSpan)
  const clock = yield* Effect.clock
  return (name, attributes) => {
    const span = tracer.span(name, parent, Context.empty(), [], clock.unsafeCurrentTimeNanos(), "internal")
    for (const key in attributes) span.attribute(key, attributes[key])
    return {
      end: (more) => {
        if (span.status._tag === "Ended") return
        if (more !== undefined) { for (const key in more) span.attribute(key, more[key]) }
        span.end(clock.unsafeCurrentTimeNanos(), Exit.void)
      }
    }
  }
})
