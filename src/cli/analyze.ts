import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import {
  type AnalysisName,
  analyze,
  type ChurnReport,
  type ClientsReport,
  type ContentReport,
  csvRows,
  type PopularityReport,
  type SourcesReport
} from "../analysis/reports.js"
import { csvField, humanSize, printable } from "../domain/format.js"
import { analyzeSize } from "./dhtProbe.js"
import { CommandError } from "./errors.js"
import { filterOptions } from "./filters.js"
import { integerFlag } from "./flags.js"
import { dbOption, existingRepository, jsonOption } from "./repositoryOptions.js"

// `bitscrape analyze <content|sources|clients>`: the Insights over a stored crawl, as text, JSON or long CSV.

const csvOption = Options.boolean("csv").pipe(
  Options.withDescription("CSV: one value per line (section,key,metric,value)")
)
const top = integerFlag("top", { min: 1, max: 1000 }).pipe(
  Options.withDefault(20),
  Options.withDescription("longest lists (extensions, clients, versions; 1–1000)")
)
const days = integerFlag("days", { min: 1, max: 3660 }).pipe(
  Options.withDefault(30),
  Options.withDescription("days of the funnel by day (sources; the latest)")
)

const pct = (n: number, of: number) => of === 0 ? "–" : `${(100 * n / of).toFixed(1)} %`

const contentText = (r: ContentReport) => [
  `torrents     ${r.torrents} (${
    humanSize(r.bytes)
  } in ${r.files} files); private ${r.private}; v1 ${r.versions.v1}, v2 ${r.versions.v2}, hybrid ${r.versions.hybrid}`,
  "categories",
  ...r.categories.map((c) =>
    `  ${c.category.padEnd(10)} ${String(c.torrents).padStart(9)}  ${pct(c.torrents, r.torrents).padStart(7)}  ${
      humanSize(c.bytes)
    }`
  ),
  "total sizes",
  ...r.sizes.map((b) =>
    `  ${humanSize(b.min).padStart(10)} – ${(b.max === null ? "" : humanSize(b.max)).padEnd(10)} ${
      String(b.torrents).padStart(9)
    }`
  ),
  "files per torrent",
  ...r.file_counts.map((b) =>
    `  ${String(b.min).padStart(5)} – ${(b.max === null ? "" : String(b.max - 1)).padEnd(5)} ${
      String(b.torrents).padStart(9)
    }`
  ),
  "top extensions",
  ...r.extensions.map((e) =>
    `  ${printable(e.extension === "" ? "(none)" : e.extension).padEnd(10)} ${String(e.files).padStart(9)} files  ${
      humanSize(e.bytes)
    }`
  )
]

const sourcesText = (r: SourcesReport) => [
  `infohashes   ${r.infohashes} → ${r.funnel.with_peers} with peers → ${r.funnel.fetched} fetched; ${r.funnel.failed} given up`,
  "by source    infohashes   only it   sightings  with peers   fetched",
  ...r.sources.map((s) =>
    `  ${s.source.padEnd(10)} ${String(s.infohashes).padStart(10)} ${String(s.only).padStart(9)} ${
      String(s.sightings).padStart(11)
    } ${String(s.with_peers).padStart(11)} ${String(s.fetched).padStart(9)}`
  ),
  "overlap",
  ...r.overlap.map((o) => `  ${`${o.a} & ${o.b}`.padEnd(22)} ${String(o.infohashes).padStart(9)}`),
  "first seen on      seen  with peers   fetched",
  ...r.by_day.map((d) =>
    `  ${d.day} ${String(d.seen).padStart(9)} ${String(d.with_peers).padStart(11)} ${String(d.fetched).padStart(9)}`
  )
]

const clientsText = (r: ClientsReport) => [
  `nodes        ${r.nodes} (${r.responded} answered us); IPv4 ${r.ipv4}, IPv6 ${r.ipv6}; read-only ${r.read_only}`,
  `BEP 42       valid ${r.bep42.valid}, invalid ${r.bep42.invalid}, exempt or unknown ${r.bep42.unknown}`,
  `BEP 51       answered ${r.bep51.yes}, refused or ignored ${r.bep51.no}, not asked ${r.bep51.unknown} (${
    pct(r.bep51.yes, r.bep51.yes + r.bep51.no)
  } of those asked)`,
  "clients (KRPC v)",
  ...r.clients.map((c) =>
    `  ${(c.code === "" ? "--" : c.code).padEnd(3)} ${printable(c.client).padEnd(24)} ${String(c.nodes).padStart(9)}  ${
      pct(c.nodes, r.nodes).padStart(7)
    }`
  ),
  "client versions",
  ...r.versions.map((v) =>
    `  ${(v.code === "" ? "--" : v.code).padEnd(3)} ${printable(v.version).padEnd(10)} ${String(v.nodes).padStart(9)}`
  ),
  "torrents by the client of the peer that sent the metadata (BEP 10)",
  ...r.torrent_clients.map((c) =>
    `  ${printable(c.client ?? "(unknown)").padEnd(24)} ${String(c.torrents).padStart(9)}`
  )
]

const duration = (ms: number) =>
  ms < 3_600_000 ? `${ms / 60_000} min` : ms < 86_400_000 ? `${ms / 3_600_000} h` : `${ms / 86_400_000} d`

const churnText = (r: ChurnReport) => [
  `nodes        ${r.nodes}; ${r.responded} answered at least once`,
  "session (first seen → last answer)    nodes   surviving",
  ...r.sessions.map((b) =>
    `  ${duration(b.min_ms).padStart(7)} – ${(b.max_ms === null ? "" : duration(b.max_ms)).padEnd(7)} ${
      String(b.nodes).padStart(20)
    } ${pct(b.surviving, 1).padStart(11)}`
  ),
  "first seen on      nodes  answered",
  ...r.by_day.map((d) => `  ${d.day} ${String(d.seen).padStart(10)} ${pct(d.response_rate, 1).padStart(9)}`),
  `our queries per ${duration(r.response_rate_interval_ms)}           sent  answered  timed out  rate`,
  ...r.response_rates.map((p) =>
    `  ${p.at.slice(0, 16).replace("T", " ")} ${String(p.queries).padStart(10)} ${String(p.responses).padStart(9)} ${
      String(p.timeouts).padStart(10)
    } ${pct(p.response_rate, 1).padStart(6)}`
  )
]

const popularLines = (list: PopularityReport["by_peers"]) =>
  list.map((x) =>
    `  ${x.infohash} ${String(x.peers).padStart(7)} ${String(x.sightings).padStart(9)}  ${printable(x.name ?? "")}`
  )

const popularityText = (r: PopularityReport) => [
  `by distinct peers${r.since === null ? "" : ` seen since ${r.since}`}          peers sightings`,
  ...popularLines(r.by_peers),
  `by sightings${r.since === null ? "" : ` (infohashes seen since ${r.since})`}`,
  ...popularLines(r.by_sightings),
  ...r.windows.flatMap((w) => [
    `last ${w.window} (since ${w.since}) sightings  sample get_peers announce lookup   peers  seeders leechers`,
    ...w.top.map((x) =>
      `  ${x.infohash} ${String(x.sightings).padStart(9)} ${
        [x.by_source.sample, x.by_source.get_peers, x.by_source.announce, x.by_source.lookup].map((n, i) =>
          String(n).padStart([7, 10, 9, 7][i]!)
        ).join("")
      } ${String(x.peers).padStart(7)} ${String(x.swarm?.seeders ?? "-").padStart(8)} ${
        String(x.swarm?.leechers ?? "-").padStart(8)
      }  ${printable(x.name ?? "")}`
    )
  ]),
  `by BEP 33 swarm estimate${r.since === null ? "" : ` (scraped since ${r.since})`}     seeders leechers  scraped`,
  ...r.by_swarm.map((x) =>
    `  ${x.infohash} ${String(x.seeders).padStart(8)} ${String(x.leechers).padStart(8)}  ${x.scraped_at}  ${
      printable(x.name ?? "")
    }`
  )
]

const texts: Record<AnalysisName, (r: never) => Array<string>> = {
  content: contentText,
  sources: sourcesText,
  clients: clientsText,
  churn: churnText,
  popularity: popularityText
}

const descriptions: Record<AnalysisName, string> = {
  content: "Torrents by content category, size, file count, extension, version (v1/v2/hybrid) and private flag",
  sources: "Infohashes by discovery source, the sources' overlap, and the yield funnel overall and by day",
  clients: "Nodes by client version (KRPC v) and protocol support (BEP 42, 51, 43, IPv4/6); torrents by peer client",
  churn: "Node session lengths (first seen → last answer) with the survival curve, and answers by day first seen",
  popularity:
    "The most popular infohashes by distinct peers (optionally since a date), by sightings (all time, last hour, " +
    "day, week) and by BEP 33 swarm estimate"
}

const since = filterOptions.since.pipe(
  Options.withDescription("popularity: only peers and infohashes seen on or after (YYYY-MM-DD or ISO date-time)")
)

const subcommand = (name: AnalysisName) =>
  Command.make(
    name,
    { json: jsonOption, csv: csvOption, top, days, since, db: dbOption },
    (flags) =>
      Effect.gen(function*() {
        if (flags.json && flags.csv) {
          return yield* Effect.fail(new CommandError({ message: "--json or --csv, not both" }))
        }
        const report = yield* analyze(name, {
          top: flags.top,
          days: flags.days,
          since: Option.getOrUndefined(flags.since)
        })
        if (flags.json) return yield* Console.log(JSON.stringify(report))
        if (flags.csv) {
          const lines = [
            "section,key,metric,value",
            ...csvRows(report).map((r) =>
              r.map((v) => csvField(v === null ? "" : typeof v === "boolean" ? String(v) : v)).join(",")
            )
          ]
          return yield* Console.log(lines.join("\n"))
        }
        yield* Console.log(texts[name](report as never).join("\n"))
      }).pipe(Effect.provide(existingRepository(flags.db)))
  ).pipe(Command.withDescription(descriptions[name]))

export const analyzeCommand = Command.make("analyze").pipe(
  Command.withDescription(
    "Insights over what was stored: content, discovery sources, clients, churn, popularity (see docs/analysis.md)"
  ),
  Command.withSubcommands([
    subcommand("content"),
    subcommand("sources"),
    subcommand("clients"),
    subcommand("churn"),
    subcommand("popularity"),
    analyzeSize
  ])
)
