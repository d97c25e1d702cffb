// bench/timers: what a callback core pays per timer (docs/architecture.md, "Time"). `liveTimers` (the live Clock's
// own primitive, a JS timer) against `fiberTimers` on the same live Clock (a fiber sleeping on Clock.sleep, what
// every other Clock gets). Two patterns of the metadata and KRPC paths: armed then cancelled (a session that ends
// before its time-out, the usual case), and armed then fired. Interleaved rounds; the median per contender.
import { Effect } from "effect"
import { fiberTimers, liveTimers, type Timers } from "../src/util/timers.js"
import { envNumber } from "./harness.js"

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** µs per timer: `n` armed and cancelled, until every cancellation has been processed. */
const armCancel = async (timers: Timers, n: number) => {
  const t0 = performance.now()
  const cancels = new Array<() => void>(n)
  for (let i = 0; i < n; i++) cancels[i] = timers.after(60_000, () => {})
  for (let i = 0; i < n; i++) cancels[i]!()
  await turn()
  return ((performance.now() - t0) * 1000) / n
}

/** µs per timer: `n` armed for 1 ms, until the last has fired (the 1 ms wait included once). */
const armFire = async (timers: Timers, n: number) => {
  const t0 = performance.now()
  await new Promise<void>((resolve) => {
    let left = n
    for (let i = 0; i < n; i++) timers.after(1, () => --left === 0 && resolve())
  })
  return ((performance.now() - t0) * 1000) / n
}

export const runTimersBench = async (): Promise<string> => {
  const n = envNumber("BITSCRAPE_BENCH_TIMERS", 20_000)
  const rounds = envNumber("BITSCRAPE_BENCH_TIMERS_ROUNDS", 7)
  const fibers = fiberTimers(Effect.runSync(Effect.clock), Effect.runSync(Effect.runtime<never>()))
  const contenders = [["liveTimers (JS timer)", liveTimers], ["fiberTimers (fiber on Clock.sleep)", fibers]] as const
  const results = contenders.map(() => ({ cancel: [] as Array<number>, fire: [] as Array<number> }))
  await armCancel(liveTimers, 1000)
  await armCancel(fibers, 1000)
  for (let r = 0; r < rounds; r++) {
    for (const [i, [, timers]] of contenders.entries()) {
      results[i]!.cancel.push(await armCancel(timers, n))
      results[i]!.fire.push(await armFire(timers, n))
    }
  }
  const base = results[0]!
  const rows = contenders.map(([name], i) => {
    const c = median(results[i]!.cancel)
    const f = median(results[i]!.fire)
    return `| ${name} | ${c.toFixed(2)} | ${(c / median(base.cancel)).toFixed(1)}× | ${f.toFixed(2)} | ${
      (f / median(base.fire)).toFixed(1)
    }× |`
  })
  return [
    `${n.toLocaleString("en")} timers per round, median of ${rounds} interleaved rounds.`,
    "",
    "| timers | armed + cancelled, µs each | vs JS timer | armed + fired (1 ms), µs each | vs JS timer |",
    "|---|---:|---:|---:|---:|",
    ...rows
  ].join("\n")
}
