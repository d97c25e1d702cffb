import { MINUTE_MS, type ResponseRate } from "../repository/analysisModel.js"

// The crawl's response rate over time: the crawler's running totals of queries sent, answered and timed out,
// turned into counts per minute (the minute a delta was observed in), one finished minute at a time, for
// Repository.recordResponseRates (analyze churn, docs/analysis.md).

type Totals = { readonly queries: number; readonly responses: number; readonly timeouts: number }

export const makeResponseRates = () => {
  let last: Totals = { queries: 0, responses: 0, timeouts: 0 }
  let current: { at: number; queries: number; responses: number; timeouts: number } | undefined
  return {
    /** Adds the counts since the last call to the minute of `now`; returns the previous minute once it is over. */
    observe: (totals: Totals, now: number): ResponseRate | undefined => {
      const at = Math.floor(now / MINUTE_MS) * MINUTE_MS
      let done: ResponseRate | undefined
      if (current !== undefined && current.at !== at) {
        done = current
        current = undefined
      }
      current ??= { at, queries: 0, responses: 0, timeouts: 0 }
      current.queries += Math.max(0, totals.queries - last.queries)
      current.responses += Math.max(0, totals.responses - last.responses)
      current.timeouts += Math.max(0, totals.timeouts - last.timeouts)
      last = totals
      return done !== undefined && done.queries + done.responses + done.timeouts > 0 ? done : undefined
    },
    /** The minute in progress (at the end of the crawl), if anything happened in it. */
    flush: (): ResponseRate | undefined => {
      const done = current
      current = undefined
      return done !== undefined && done.queries + done.responses + done.timeouts > 0 ? done : undefined
    }
  }
}
