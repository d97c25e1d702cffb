import type { Chunk } from "effect"
import { Cause, Effect, Option, Queue, Stream } from "effect"

// A queue read in batches. `Stream.fromQueue` wakes its consumer for every offer: on a crawl, where records
// arrive one or two at a time from callbacks, that is one pull through the stream machinery per record (about
// 50 µs, and 150 µs more through `Stream.groupedWithin`; `npm run bench batching` measures it). Lingering before
// each take lets the records that arrive meanwhile come along: about one wake-up per batch.

/**
 * Takes 1 to `max` items from `queue`, lingering `lingerMillis` first unless `max` are already waiting: what
 * arrives meanwhile comes along. Items stay in the queue while it lingers (its depth counts them, and a stop that
 * waits for the queue to drain sees them). When the queue is empty it waits for the first item, which then goes
 * alone. Fails with `None` once the queue is shut down (the end of a stream).
 */
export const takeLingering = <A>(
  queue: Queue.Dequeue<A>,
  max: number,
  lingerMillis: number
): Effect.Effect<Chunk.Chunk<A>, Option.Option<never>> =>
  Queue.size(queue).pipe(
    Effect.flatMap((waiting) => waiting >= max || lingerMillis <= 0 ? Effect.void : Effect.sleep(lingerMillis)),
    Effect.zipRight(Queue.takeBetween(queue, 1, max)),
    Effect.catchAllCause((cause) =>
      Effect.flatMap(
        Queue.isShutdown(queue),
        (down) => down && Cause.isInterrupted(cause) ? Effect.fail(Option.none()) : Effect.failCause(cause)
      )
    )
  )

/** The items of `queue` as a stream of batches (see `takeLingering`); it ends when the queue is shut down. */
export const fromQueueLingering = <A>(queue: Queue.Dequeue<A>, max: number, lingerMillis: number): Stream.Stream<A> =>
  Stream.repeatEffectChunkOption(takeLingering(queue, max, lingerMillis))
