import { Effect, FiberSet } from "effect"
import type { CrawlState, Stage } from "./state.js"

// The dispatcher: the crawl sends as fast as its packet budget allows whenever there is work, instead of a
// fixed number of workers each sitting out time-outs (on the real DHT 40–50 % of queries time out, so fixed
// workers leave most of the budget unused). It launches one query task at a time while the shared budget has
// packets to spare — keeping `headroom` packets for replies to other nodes' queries, which are never delayed —
// and picks the stage by deficit round robin over the stages' shares: a stage with nothing to do gives its turn
// away, and the shares follow the measured yield (see `rebalance`). Queries in flight are bounded by the
// budget × the time a query takes (Little's law), and by `maxInflight`.

/**
 * One query (or one lookup) a stage wants to run now: an effect (run in a fiber of the dispatcher's), or for
 * single queries on the hot path a callback task, `start(done)`, that runs without a fiber (see
 * `KrpcNode.request`) and calls `done` once when it is over.
 */
export type Task = {
  readonly stage: Stage
  /** Packets it is expected to send (1 for a single query; a lookup's traversal sends many). */
  readonly cost?: number | undefined
} & ({ readonly run: Effect.Effect<void> } | { readonly start: (done: () => void) => void })

/** A stage as the dispatcher sees it: the next task it could run now, if any. */
export interface Source {
  readonly stage: Stage
  readonly next: () => Task | undefined
}

/** Shares of the budget each stage starts with (before yield is measured), and the floor each keeps. */
export const INITIAL_SHARES: Readonly<Record<Exclude<Stage, "join">, number>> = { walk: 0.3, sample: 0.35, peers: 0.35 }
const FLOOR = 0.1
/** Credit is capped so a stage idle for long cannot monopolise the budget when it wakes. */
const MAX_CREDIT = 8
/** Tasks launched in one turn of the dispatcher at most, before it lets the event loop run. */
const BURST = 32

export const makeDispatcher = (s: CrawlState, sources: ReadonlyArray<Source>, maxInflight: number) =>
  Effect.gen(function*() {
    const fibers = yield* FiberSet.make<void, never>()
    const shares: Record<string, number> = { ...INITIAL_SHARES }
    const credit: Record<string, number> = Object.fromEntries(sources.map((x) => [x.stage, 0]))
    let inflight = 0
    // Packets kept for replies to other nodes' queries: a twentieth of a second's budget (at least 2).
    // (Never more than half the bucket: with a small --burst the crawl must still be able to send.)
    const headroom = Math.min(Math.max(2, Math.floor(s.budget.maxPps / 20)), Math.floor(s.budget.burst / 2))
    // When the budget is spent, wait for a few packets' worth (at most 25 ms) rather than one: the loop wakes
    // ~40 times a second instead of once per packet, and launches what accrued in one go.
    const tick = Math.max(2, Math.min(25, Math.ceil(5000 / s.budget.maxPps)))

    // The stages by credit, most first: kept in one array and re-sorted in place by insertion (three stages, a
    // pick for every task launched: no array or sort per pick).
    // Ties go to the earlier source, as a stable sort of `sources` would.
    const order = [...sources]
    const rank = new Map(sources.map((x, i) => [x, i]))
    const before = (a: Source, b: Source) =>
      credit[a.stage]! > credit[b.stage]! || (credit[a.stage] === credit[b.stage] && rank.get(a)! < rank.get(b)!)
    const pick = (): Task | undefined => {
      for (const x of sources) credit[x.stage] = Math.min(MAX_CREDIT, credit[x.stage]! + (shares[x.stage] ?? FLOOR))
      for (let i = 1; i < order.length; i++) {
        const x = order[i]!
        let j = i - 1
        for (; j >= 0 && before(x, order[j]!); j--) order[j + 1] = order[j]!
        order[j + 1] = x
      }
      for (const x of order) {
        const task = x.next()
        if (task === undefined) continue
        credit[x.stage]! -= task.cost ?? 1
        return task
      }
      return undefined
    }

    const ready = () => s.budget.available(s.now()) >= headroom + 1 && inflight < maxInflight && s.overflowing() === 0

    /** Starts one task: a callback task at once, an effect task in a fiber of its own. */
    const launch = (task: Task) =>
      Effect.suspend(() => {
        inflight++
        if ("start" in task) {
          let over = false
          try {
            task.start(() => {
              if (!over) inflight--
              over = true
            })
          } catch (cause) {
            if (!over) inflight--
            over = true
            return Effect.logDebug("crawler task failed", cause)
          }
          return Effect.void
        }
        return FiberSet.run(
          fibers,
          task.run.pipe(
            Effect.catchAllCause((cause) => Effect.logDebug("crawler task failed", cause)),
            Effect.ensuring(Effect.sync(() => inflight--))
          )
        )
      })

    const loop = Effect.gen(function*() {
      while (!s.run.stopping) {
        if (!ready()) {
          yield* Effect.sleep(tick)
          continue
        }
        // While backing off, use only `share` of the budget: one launch, then rest in proportion.
        const share = s.backoff.share
        // Otherwise launch what the budget allows now (up to BURST) in one turn, then let the event loop run.
        let launched = 0
        do {
          const task = pick()
          if (task === undefined) break
          yield* launch(task)
          launched++
        } while (share >= 1 && launched < BURST && !s.run.stopping && ready())
        if (launched === 0) yield* Effect.sleep(25)
        else yield* share < 1 ? Effect.sleep(Math.ceil(((1 / share) - 1) * 1000 / s.budget.maxPps)) : Effect.yieldNow()
      }
    })

    /** Sets the stages' shares (normalised, each at least FLOOR). */
    const rebalance = (next: Partial<Record<Stage, number>>) => {
      const total = Object.values(next).reduce((a, b) => a + (b ?? 0), 0)
      if (!(total > 0)) return
      for (const x of sources) shares[x.stage] = Math.max(FLOOR, (next[x.stage] ?? 0) / total)
    }

    /** Waits (at most `millis`) for the tasks in flight to settle, then interrupts what is left. */
    const drain = (millis: number) =>
      Effect.gen(function*() {
        while (inflight > 0) yield* Effect.sleep(20)
      }).pipe(
        // Called from finalizers of a possibly interrupted fiber: the wait must be interruptible, and the
        // timeout runs it in a child fiber, so the caller's pending interruption does not cut it short.
        Effect.interruptible,
        Effect.timeout(millis),
        Effect.ignore,
        Effect.zipRight(FiberSet.clear(fibers))
      )

    return {
      loop,
      rebalance,
      drain,
      inflight: () => inflight,
      shares: () => ({ ...shares })
    }
  })

export type Dispatcher = Effect.Effect.Success<ReturnType<typeof makeDispatcher>>
