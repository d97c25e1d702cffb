import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { redactDb } from "../config/redact.js"
import { cidrs } from "../crawler/addressFilter.js"
import { makeDemoSwarm } from "../demo/swarm.js"
import { formatHostPort } from "../krpc/address.js"
import { checkWritableDatabase } from "../repository/layers.js"
import { crawlFlags, resolveSettings, runCrawl } from "./crawl.js"
import { positiveFlag } from "./flags.js"

// `bitscrape demo`: the whole pipeline offline. A loopback swarm (hundreds of DHT nodes on 127.77.x.y, seeders
// with generated torrents, ongoing lookups) starts in this process, then a real crawl with metadata fetching
// runs against it into a temporary (or the given) database. Nothing leaves 127.0.0.0/8: the bootstrap is the
// swarm and the crawler only talks to 127.0.0.0/8, whatever the environment says.

const demoFlags = {
  ...crawlFlags,
  nodes: positiveFlag("nodes").pipe(
    Options.withDescription("DHT nodes in the demo swarm"),
    Options.withDefault(300)
  ),
  torrents: positiveFlag("torrents").pipe(
    Options.withDescription("torrents seeded in it"),
    Options.withDefault(120)
  ),
  seeders: positiveFlag("seeders").pipe(Options.withDescription("seeding nodes"), Options.withDefault(30))
}

export const demo = Command.make("demo", demoFlags, (flags) =>
  Effect.scoped(Effect.gen(function*() {
    const log = (line: string) => flags.json ? Effect.void : Console.log(line)
    const db = Option.getOrElse(flags.db, () => join(mkdtempSync(join(tmpdir(), "bitscrape-demo-")), "demo.db"))
    // Every flag and setting is checked, and the database opened once, BEFORE the swarm starts: a bad value is
    // reported at once instead of after starting hundreds of nodes.
    const checked = yield* resolveSettings({
      ...flags,
      db: Option.some(db),
      bootstrap: Option.some(["127.0.0.1:1"]),
      bind: Option.some(Option.getOrElse(flags.bind, () => "127.79.0.1")),
      port: Option.some(Option.getOrElse(flags.port, () => 0)),
      allow: Option.some(cidrs("127.0.0.0/8"))
    })
    yield* checkWritableDatabase(db)
    yield* log(`demo: starting a loopback swarm of ${flags.nodes} nodes and ${flags.torrents} torrents…`)
    const swarm = yield* makeDemoSwarm({
      nodes: Math.max(20, flags.nodes),
      torrents: Math.max(1, flags.torrents),
      seeders: Math.max(1, flags.seeders),
      log
    })
    const settings = {
      ...checked,
      crawler: { ...checked.crawler, bootstrap: [formatHostPort(swarm.bootstrap.host, swarm.bootstrap.port)] }
    }
    const shown = redactDb(db)
    yield* log(
      `demo: crawling into ${shown} (Ctrl-C to stop${
        Option.isSome(flags.duration) ? `, or after ${flags.duration.value} s` : ""
      })`
    )
    yield* runCrawl(settings, {
      json: flags.json,
      duration: flags.duration,
      onSummary: () =>
        log(
          [
            `demo: the swarm held ${swarm.torrents.length} torrents on ${swarm.nodes} nodes. Explore what was found:`,
            `  bitscrape stats --db ${shown}`,
            `  bitscrape search --db ${shown} ubuntu`,
            `  bitscrape search --db ${shown} --sort largest --min-size 1GB`,
            `  bitscrape show --db ${shown} <infohash from search>`,
            `  bitscrape export --db ${shown} --format jsonl --out demo.jsonl`
          ].join("\n")
        )
    })
  }))).pipe(
    Command.withDescription(
      "Run the whole pipeline offline against a loopback swarm of DHT nodes and seeders (takes crawl's flags)"
    )
  )
