// Waiting for real I/O in a test that runs under TestClock: sockets deliver between event-loop turns, so the
// condition is checked after every turn, and the TestClock does not move meanwhile. Only a test that is about to
// fail waits out the real-time bound; its own assertion then says what is wrong.
import { Effect, TestClock } from "effect"

/** Waits until `check()` holds, re-checked after every event-loop turn, for at most `withinMillis` of real time. */
export const eventually = (check: () => boolean, withinMillis = 5000): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const giveUpAt = performance.now() + withinMillis
    let handle: NodeJS.Immediate | undefined
    const poll = () => {
      if (check() || performance.now() > giveUpAt) resume(Effect.void)
      else handle = setImmediate(poll)
    }
    poll()
    return Effect.sync(() => handle !== undefined && clearImmediate(handle))
  })

/** Lets every pending callback, microtask and fiber run: a few event-loop turns (the TestClock does not move). */
export const settle: Effect.Effect<void> = Effect.promise(async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
})

/**
 * Moves the TestClock `millis` forward in `stepMillis` steps, settling after each: in-memory traffic and the fibers
 * it wakes run between steps, as they would in that much real time.
 */
export const advance = (millis: number, stepMillis = 100): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (let t = 0; t < millis; t += stepMillis) {
      yield* TestClock.adjust(Math.min(stepMillis, millis - t))
      yield* settle
    }
  })
