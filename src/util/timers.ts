import { Clock, Context, DefaultServices, Duration, Effect, Exit, FiberId, Runtime } from "effect"

// Time for callback cores: socket code that runs in event handlers, outside any fiber (the metadata sessions and
// attempts, the KRPC node's request path, the crawler's sample probe). Both the current time and one-shot timers
// come from the Effect `Clock` of the environment that made them, so `TestClock` drives them in tests.
//
// With Effect's live clock, `after` calls the same primitive the live `Clock.sleep` uses (setTimeout, with its
// "longer than 2^31 - 1 ms is never" rule) instead of forking a fiber per timer: a fiber that sleeps costs ~40×
// a JS timer (docs/benchmarks.md, "timers"), and these paths arm a timer per peer connection, attempt and probe.
// Any other clock (TestClock, a clock a caller provides) gets a fiber per timer that sleeps on that clock. This
// file is the one place in src/ that arms a timer directly.

/** The clock of a callback core: read the time, arm a one-shot timer. */
export interface Timers {
  /** The clock's current time (ms since the epoch; TestClock's starts at 0). */
  readonly now: () => number
  /** Calls `f` once `millis` have passed on the clock; the result cancels it (harmless after it ran). */
  readonly after: (millis: number, f: () => void) => () => void
}

/** Longest delay a JS timer takes; Effect's live clock treats a longer sleep as never ending. */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

const noop = () => {}

const liveClock = Context.get(DefaultServices.liveServices, Clock.Clock)

/** Timers on Effect's live clock (wall time). */
export const liveTimers: Timers = {
  now: () => liveClock.unsafeCurrentTimeMillis(),
  after: (millis, f) => {
    if (millis > MAX_TIMER_MILLIS) return noop
    const handle = setTimeout(f, Math.max(0, millis))
    return () => clearTimeout(handle)
  }
}

/** Timers on any clock: each is a fiber (forked with `runtime`) sleeping on `clock`. */
export const fiberTimers = (clock: Clock.Clock, runtime: Runtime.Runtime<never>): Timers => {
  const runFork = Runtime.runFork(runtime)
  return {
    now: () => clock.unsafeCurrentTimeMillis(),
    after: (millis, f) => {
      const fiber = runFork(clock.sleep(Duration.millis(Math.max(0, millis))))
      fiber.addObserver((exit) => {
        if (Exit.isSuccess(exit)) f()
      })
      return () => fiber.unsafeInterruptAsFork(FiberId.none)
    }
  }
}

/** Timers on the current fiber's `Clock`. */
export const makeTimers: Effect.Effect<Timers> = Effect.gen(function*() {
  const clock = yield* Effect.clock
  return clock === liveClock ? liveTimers : fiberTimers(clock, yield* Effect.runtime<never>())
})
