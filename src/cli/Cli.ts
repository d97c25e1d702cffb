import { Command, HelpDoc, Span } from "@effect/cli"
import { Console, Effect } from "effect"
import { analyzeCommand } from "./analyze.js"
import { block } from "./block.js"
import { crawl } from "./crawl.js"
import { demo } from "./demo.js"
import { scrapeCommand } from "./dhtProbe.js"
import { exportCommand } from "./export.js"
import { fetchCommand } from "./fetch.js"
import { importCommand } from "./import.js"
import { saved } from "./saved.js"
import { search } from "./search.js"
import { serve } from "./serve.js"
import { show } from "./show.js"
import { stats } from "./stats.js"

import { version } from "../domain/version.js"

export { version }

const root = Command.make("bitscrape", {}, () =>
  Console.log(
    "BitScrape explores the BitTorrent Mainline DHT. Run `bitscrape --help` to see the commands."
  )).pipe(
    Command.withDescription(
      HelpDoc.p(
        Span.text(
          "Explore the BitTorrent Mainline DHT: crawl nodes and infohashes, fetch torrent metadata, store and query it."
        )
      )
    )
  )

/** The command tree; subcommands are added here as they land. */
export const command = root.pipe(
  Command.withSubcommands([
    crawl,
    demo,
    fetchCommand,
    search,
    show,
    exportCommand,
    stats,
    serve,
    analyzeCommand,
    scrapeCommand,
    saved,
    importCommand,
    block
  ])
)

/** Runs the CLI on `argv` (as `process.argv`). */
export const run = (argv: ReadonlyArray<string>) =>
  Command.run(command, { name: "BitScrape", version })(argv).pipe(Effect.withSpan("cli"))
