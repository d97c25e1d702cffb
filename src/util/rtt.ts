// Query time-outs from measured round-trip times. On the real DHT 40–50 % of contacts never answer, so every
// millisecond a query waits past the point where an answer is still likely is budget spent on nothing; a fixed
// 5 s time-out makes the crawl sit out dead contacts. The estimator keeps the last `window` RTTs (replies that
// came after their time-out included, so the tail is not censored) and sets the time-out to `factor` × their
// `quantile`, within [minMillis, maxMillis]. Pure; the caller passes RTTs in ms.

export interface RttEstimator {
  /** Records one round-trip time (ms). */
  readonly record: (rttMillis: number) => void
  /** The time-out to use now (ms). */
  readonly timeout: () => number
  /** Median of the recent RTTs (ms), or undefined before any. */
  readonly median: () => number | undefined
  /** RTTs recorded so far. */
  readonly count: () => number
}

export interface RttOptions {
  readonly minMillis: number
  readonly maxMillis: number
  /** Samples needed before the estimate replaces `maxMillis`. */
  readonly warmup?: number
  readonly window?: number
  readonly quantile?: number
  readonly factor?: number
}

export const makeRttEstimator = (options: RttOptions): RttEstimator => {
  const window = options.window ?? 512
  const warmup = options.warmup ?? 32
  const quantile = options.quantile ?? 0.98
  const factor = options.factor ?? 2
  const ring = new Float64Array(window)
  let n = 0
  let current = options.maxMillis
  let med: number | undefined
  let sinceUpdate = 0

  const update = () => {
    sinceUpdate = 0
    const size = Math.min(n, window)
    const sorted = ring.slice(0, size).sort()
    med = sorted[Math.floor(size / 2)]
    if (size < warmup) return
    const q = sorted[Math.min(size - 1, Math.floor(size * quantile))]!
    current = Math.max(options.minMillis, Math.min(options.maxMillis, Math.ceil(q * factor)))
  }

  return {
    record: (rtt) => {
      ring[n % window] = rtt
      n++
      // Re-sorting 512 numbers every 64 replies costs well under a microsecond per reply.
      if (++sinceUpdate >= 64 || n === warmup) update()
    },
    timeout: () => current,
    median: () => med,
    count: () => n
  }
}
