// Waiting for real I/O in a test that runs under TestClock: sockets deliver between event-loop turns, so the
// condition is checked after every turn, and the TestClock does not move meanwhile. Only a test that is about to
// fail waits out the real-time bound; its own assertion then says what is wrong.
import { Effect } from "effect"

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
