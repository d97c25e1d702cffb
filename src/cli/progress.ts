import { Console, Effect } from "effect"
import { statSync } from "node:fs"
import { redactDb } from "../config/redact.js"
import type { CrawlerStats } from "../crawler/Crawler.js"
import { humanSize } from "../domain/format.js"
import type { SessionSummary, Written } from "../session/CrawlSession.js"
import { type Funnel, funnelLine } from "../session/funnel.js"
import type { DatabaseState } from "../session/housekeeping.js"

// Live progress of a crawl: a status panel redrawn about once a second on a terminal; plain log lines
// (every `BITSCRAPE_PROGRESS_INTERVAL` seconds, default 10) otherwise, or JSON lines with --json.

const line = (s: CrawlerStats, w: Readonly<Written>, elapsed: number, f: Funnel) =>
  `[${
    elapsed.toFixed(0)
  }s] metadata ${w.torrents} fetched/${w.failures} failed · nodes ${s.knownNodes} known/${s.responsiveNodes} responsive · infohashes ${s.uniqueInfohashes} (sample ${s.discoveries.sample}, get_peers ${s.discoveries.get_peers}, announce ${s.discoveries.announce}, lookup ${s.discoveries.lookup}) · queries find_node ${s.queries.find_node}, sample ${s.queries.sample_infohashes}, get_peers ${s.queries.get_peers} · queues ${s.queueDepths.discoveries}/${s.queueDepths.lookups} · ${
    funnelLine(f)
  }${sizeText(s)}${s.backoffReason ? ` · slowed: ${s.backoffReason}` : ""}`

/** The network-size estimate from the crawl's lookups, with its 95 % interval and the time-out rate beside it. */
const sizeText = (s: CrawlerStats) =>
  s.networkSize === undefined
    ? ""
    : ` · network ~${Math.round(s.networkSize.nodes)} nodes (95 % ${Math.round(s.networkSize.low)}–${
      Math.round(s.networkSize.high)
    }, ${s.networkSize.lookups} lookups, ${Math.round(s.timeoutRate.recent * 100)} % time-outs)`

const panel = (s: CrawlerStats, w: Readonly<Written>, elapsed: number, f: Funnel) => [
  `BitScrape crawl — ${elapsed.toFixed(0)} s`,
  `  metadata    ${w.torrents} fetched, ${w.failures} failed attempts · stored ${w.discoveries} discoveries`,
  `  nodes       ${s.knownNodes} known, ${s.responsiveNodes} responsive`,
  `  infohashes  ${s.uniqueInfohashes} unique · sample ${s.discoveries.sample} · get_peers ${s.discoveries.get_peers} · announce ${s.discoveries.announce} · lookup ${s.discoveries.lookup}`,
  `  queries     find_node ${s.queries.find_node} · sample_infohashes ${s.queries.sample_infohashes} · get_peers ${s.queries.get_peers}`,
  `  queues      discoveries ${s.queueDepths.discoveries} · nodes ${s.queueDepths.nodes} · lookups ${s.queueDepths.lookups}`,
  `  yield       ${funnelLine(f).replace(/^funnel /, "")}`,
  `  budget      ${
    Math.round(s.budgetShare * 100)
  } % in use · time-out ${s.timing.timeoutMillis} ms · ${s.identities} node id(s)`,
  `  back-off    ${s.backoffReason ?? "none"}`,
  `  network     ${sizeText(s).replace(/^ · network /, "") || "(no lookup yet)"}`
]

/** Bytes an SQLite database occupies (file + WAL); undefined for PostgreSQL or a missing file. */
export const sqliteSize = (db: string): number | undefined => {
  if (/^postgres(ql)?:/i.test(db) || db === ":memory:") return undefined
  const size = (f: string) => {
    try {
      return statSync(f).size
    } catch {
      return 0
    }
  }
  return size(db) + size(`${db}-wal`)
}

export const makeProgress = (options: {
  readonly json: boolean
  readonly intervalSeconds: number
  readonly db?: string | undefined
  /** The disk budget (bytes), shown beside the size. */
  readonly budget?: number | undefined
}) => {
  const tty = process.stdout.isTTY === true && !options.json
  const dbText = () => {
    const bytes = options.db === undefined ? undefined : sqliteSize(options.db)
    if (bytes === undefined) return ""
    return ` · db ${humanSize(bytes)}${options.budget === undefined ? "" : ` of ${humanSize(options.budget)} budget`}`
  }
  let lastPrinted = -Infinity
  let drawn = 0
  return {
    onProgress: (
      s: CrawlerStats,
      written: Readonly<Written>,
      elapsed: number,
      f: Funnel,
      database?: Readonly<DatabaseState>
    ) =>
      Effect.sync(() => {
        if (tty) {
          const text = [
            ...panel(s, written, elapsed, f),
            ...(database?.unreachable === undefined
              ? []
              : [`  DATABASE UNREACHABLE: writes wait and are retried (${database.unreachable})`]),
            `  database    ${options.db === undefined ? "?" : redactDb(options.db)}${dbText()}`
          ]
          process.stdout.write(`${drawn > 0 ? `\x1b[${drawn}A` : ""}${text.map((l) => `\x1b[2K${l}`).join("\n")}\n`)
          drawn = text.length
          return
        }
        if (elapsed - lastPrinted < options.intervalSeconds) return
        lastPrinted = elapsed
        process.stdout.write(
          options.json
            ? `${JSON.stringify({ elapsed, ...s, written, funnel: f, database })}\n`
            : `${line(s, written, elapsed, f)}${dbText()}${
              database?.unreachable === undefined
                ? ""
                : ` · DATABASE UNREACHABLE, writes wait and are retried: ${database.unreachable}`
            }\n`
        )
      }),
    onSummary: (summary: SessionSummary) =>
      options.json
        ? Console.log(JSON.stringify({ summary: true, ...summary }))
        : Console.log(
          [
            `crawl ended after ${summary.seconds.toFixed(1)} s (session ${summary.sessionId})`,
            `  ${summary.stats.knownNodes} nodes known, ${summary.stats.uniqueInfohashes} distinct infohashes`,
            `  stored ${summary.written.discoveries} discoveries, ${summary.written.nodes} node sightings, ${summary.written.torrents} torrents`,
            `  ${funnelLine(summary.funnel)}`,
            `  try: bitscrape stats · bitscrape search <words> · bitscrape export --out crawl.jsonl`
          ].join("\n")
        )
  }
}
