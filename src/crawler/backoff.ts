import { Effect } from "effect"
import type { Dispatcher } from "./dispatch.js"
import type { CrawlState, Stage } from "./state.js"

// Stage "back-off" (the crawl's control loop, every 5 s):
//   1. Back off only on a CHANGE: on the real DHT 40–50 % of queries time out all the time, so a fixed
//      threshold reads a normal network as congestion. The loop keeps a slow baseline of the time-out rate
//      and backs off (halving the share of the packet budget the dispatcher may use, down to 10 %) when the
//      rate jumps well above it, or on explicit signals: send errors (ICMP unreachable, full socket buffers)
//      or our own inbound buffer overflowing. It recovers step by step once the signal is gone, and says why
//      in the log, the progress line and the dashboard.
//   2. Shift the budget toward where the yield comes from: each stage's yield per packet (walk: nodes answering
//      for the first time; sample: new infohashes; peers: infohashes that got peers) relative to the best it
//      has shown; a stage whose returns fall (the walk once the reachable network is known) gives budget to
//      the others. Each keeps a floor.

const EVERY_MS = 5000
/** A jump of the time-out rate by this much over its baseline counts as a change. */
const JUMP = 0.2
/** Baseline smoothing per round (≈ 2 minutes). */
const BASELINE_ALPHA = 0.04
/** Rounds of normal traffic the baseline needs before a jump over it counts (the first minute learns). */
const WARMUP_ROUNDS = 12

export const makeControl = (s: CrawlState, dispatcher: Dispatcher) => {
  const status = { baseline: undefined as number | undefined, recent: 0, rounds: 0 }
  const best: Partial<Record<Stage, number>> = {}

  const totals = () => {
    let out = 0
    let responses = 0
    let timeouts = 0
    let sendErrors = 0
    let inboundDrops = 0
    for (const id of s.identities) {
      const k = id.node.stats()
      const sock = id.socket.stats()
      out += k.queriesOut
      responses += k.responses + k.errors
      timeouts += k.timeouts
      sendErrors += sock.sendErrors
      inboundDrops += sock.droppedInbound
    }
    return { out, responses, timeouts, sendErrors, inboundDrops }
  }

  const loop = Effect.gen(function*() {
    let last = totals()
    let lastSpent = { ...s.spent }
    let lastYields = { ...s.yields }
    for (;;) {
      yield* Effect.sleep(EVERY_MS)
      const now = totals()
      const sent = now.out - last.out
      // The share of the queries that ended in the last round (answered or timed out) that timed out.
      const ended = now.responses - last.responses + now.timeouts - last.timeouts
      const ratio = ended > 0 ? (now.timeouts - last.timeouts) / ended : 0
      const signal = now.sendErrors - last.sendErrors > Math.max(5, sent / 20)
        ? `${now.sendErrors - last.sendErrors} send errors in 5 s`
        : now.inboundDrops > last.inboundDrops
        ? `our inbound buffer overflowed (${now.inboundDrops - last.inboundDrops} datagrams dropped in 5 s)`
        : undefined
      last = now
      if (sent >= 20 && ended >= 20) {
        status.recent = ratio
        const base = status.baseline
        const jumped = base !== undefined && status.rounds >= WARMUP_ROUNDS && ended >= 50 && ratio > base + JUMP
        if (signal !== undefined || jumped) {
          s.backoff.share = Math.max(0.1, s.backoff.share / 2)
          s.backoff.reason = signal ??
            `time-outs rose from ${Math.round(base! * 100)} % to ${Math.round(ratio * 100)} % of queries`
          yield* Effect.logWarning(
            `discovery slowed: ${s.backoff.reason}; using ${Math.round(s.backoff.share * 100)} % of the packet budget`
          )
        } else {
          if (s.backoff.share < 1) {
            s.backoff.share = Math.min(1, s.backoff.share * 1.5)
            if (s.backoff.share === 1) s.backoff.reason = undefined
          }
          // The baseline learns only while the network behaves as usual (faster during the warm-up).
          const alpha = status.rounds < WARMUP_ROUNDS ? 1 / (status.rounds + 1) : BASELINE_ALPHA
          status.baseline = base === undefined ? ratio : base + alpha * (ratio - base)
          status.rounds++
        }
      }
      // Yield per packet of each stage over the last round, relative to the best it has shown.
      const weights: Partial<Record<Stage, number>> = {}
      for (const stage of ["walk", "sample", "peers"] as const) {
        const packets = s.spent[stage] - lastSpent[stage]
        const produced = s.yields[stage] - lastYields[stage]
        if (packets < 10) {
          weights[stage] = dispatcher.shares()[stage] ?? 0
          continue
        }
        const rate = produced / packets
        best[stage] = Math.max(best[stage] ?? 0, rate)
        weights[stage] = best[stage]! > 0 ? 0.1 + rate / best[stage]! : 0.1
      }
      if (s.config.strategies.shiftBudget) dispatcher.rebalance(weights)
      lastSpent = { ...s.spent }
      lastYields = { ...s.yields }
    }
  })

  return { loop, status }
}
