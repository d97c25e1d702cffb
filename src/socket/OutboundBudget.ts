import { Context, Effect, Layer } from "effect"
import { DhtConfig } from "../config/DhtConfig.js"
import { type Budget, makeBudget } from "./budget.js"

export { type Budget, type BudgetOptions, type BudgetStats, makeBudget, paceKey } from "./budget.js"

/**
 * The process's outbound etiquette — one packet budget (`maxPps`, `burst`) and one per-remote-IP pace
 * (`perIpIntervalMillis`) — shared by every socket and node id that is given this service. A socket built
 * without it gets a budget of its own from its `DhtConfig`.
 */
export class OutboundBudget extends Context.Tag("bitscrape/OutboundBudget")<OutboundBudget, Budget>() {}

/** A budget from `DhtConfig`; provide it once above several nodes so they share it. */
export const OutboundBudgetLive = Layer.effect(
  OutboundBudget,
  Effect.gen(function*() {
    const config = yield* DhtConfig
    const clock = yield* Effect.clock
    return makeBudget(
      { maxPps: config.maxPps, burst: config.burst, perIpIntervalMillis: config.perIpIntervalMillis },
      clock.unsafeCurrentTimeMillis()
    )
  })
)
