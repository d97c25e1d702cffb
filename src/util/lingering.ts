import { Cause, Chunk, Effect, Option, Queue, Stream } from "effect"

// A queue read in batches. `Stream.fromQueue` wakes its consumer for every offer: on a crawl, where records
// arrive one or two at a time from callbacks, that is one pull through the stream machinery per record (about
// 50 µs, and 150 µs more through `Stream.groupedWithin`; bench/run.ts "batching" measures it). Lingering after
// the first record lets the others that arrive meanwhile come along: one wake-up per batch.

/**
 * Takes 1 to `max` items from `queue`. When fewer than `max` were waiting, it waits `lingerMillis` once for
 * more. Fails with `None` once the queue is shut down and nothing was taken (the end of a stream).
 */
export const takeLingering = <A>(
  queue: Queue.Dequeue<A>,
  max: number,
  lingerMillis: number
): Effect.Effect<Chunk.Chunk<A>, Option.Option<never>> =>
  Queue.takeBetween(queue, 1, max).pipe(
    Effect.flatMap((first) =>
      first.length >= max || lingerMillis <= 0
        ? Effect.succeed(first)
        : Effect.sleep(lingerMillis).pipe(
          Effect.zipRight(Queue.takeUpTo(queue, max - first.length)),
          // Shut down meanwhile: what was taken is still delivered (the next take ends the stream).
          Effect.catchAllCause(() => Effect.succeed(Chunk.empty<A>())),
          Effect.map((more) => Chunk.appendAll(first, more))
        )
    ),
    Effect.catchAllCause((cause) =>
      Effect.flatMap(
        Queue.isShutdown(queue),
        (down) => down && Cause.isInterrupted(cause) ? Effect.fail(Option.none()) : Effect.failCause(cause)
      )
    )
  ) as Effect.Effect<Chunk.Chunk<A>, Option.Option<never>>

/** The items of `queue` as a stream of batches (see `takeLingering`); it ends when the queue is shut down. */
export const fromQueueLingering = <A>(queue: Queue.Dequeue<A>, max: number, lingerMillis: number): Stream.Stream<A> =>
  Stream.repeatEffectChunkOption(takeLingering(queue, max, lingerMillis))
