// Side-by-side micro-benchmark harness: contenders run interleaved in rounds within one process, so machine
// noise hits them alike; we report the median rate over rounds and the ratio between contenders.

export interface Contender {
  readonly name: string
  readonly run: (iterations: number) => void
}

export interface Result {
  readonly name: string
  readonly opsPerSecond: number
}

const now = () => Number(process.hrtime.bigint()) / 1e9

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/** Runs each contender for about `roundSeconds` per round, `rounds` times, interleaved; median ops/s each. */
export const compare = (
  contenders: ReadonlyArray<Contender>,
  options: { readonly rounds?: number; readonly roundSeconds?: number } = {}
): ReadonlyArray<Result> => {
  const rounds = options.rounds ?? 7
  const roundSeconds = options.roundSeconds ?? 0.25
  // Calibrate: iterations that take roughly roundSeconds, after a warm-up.
  const iterations = contenders.map((c) => {
    c.run(1000)
    let n = 1000
    for (;;) {
      const t0 = now()
      c.run(n)
      const dt = now() - t0
      if (dt > roundSeconds / 4) return Math.max(1, Math.round((n * roundSeconds) / dt))
      n *= 4
    }
  })
  const rates: Array<Array<number>> = contenders.map(() => [])
  for (let r = 0; r < rounds; r++) {
    contenders.forEach((c, i) => {
      const n = iterations[i]!
      const t0 = now()
      c.run(n)
      rates[i]!.push(n / (now() - t0))
    })
  }
  return contenders.map((c, i) => ({ name: c.name, opsPerSecond: median(rates[i]!) }))
}

export const fmtRate = (x: number) =>
  x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k/s` : `${x.toFixed(0)} /s`

/** Consumes a value so the JIT cannot drop the work that produced it. */
export let sink: unknown
export const consume = (x: unknown) => {
  sink = x
}

/** A positive number from the environment, or `fallback` when unset or not a positive number. */
export const envNumber = (name: string, fallback: number) => {
  const v = Number(process.env[name])
  return Number.isFinite(v) && v > 0 ? v : fallback
}
