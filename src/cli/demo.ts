import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { cidrs } from "../crawler/addressFilter.js"
import { makeDemoSwarm } from "../demo/swarm.js"
import { crawlFlags, resolveSettings, runCrawl } from "./crawl.js"

// `bitscrape demo`: the whole pipeline offline. A loopback swarm (hundreds of DHT nodes on 127.77.x.y, seeders
// with generated torrents, ongoing lookups) starts in this process, then a real crawl with metadata fetching
// runs against it into a temporary (or the given) database. Nothing leaves 127.0.0.0/8: the bootstrap is the
// swarm and the crawler only talks to 127.0.0.0/8, whatever the environment says.

const demoFlags = {
  ...crawlFlags,
  nodes: Options.integer("nodes").pipe(
    Options.withDescription("DHT nodes in the demo swarm"),
    Options.withDefault(300)
  ),
  torrents: Options.integer("torrents").pipe(
    Options.withDescription("torrents seeded in it"),
    Options.withDefault(120)
  ),
  seeders: Options.integer("seeders").pipe(Options.withDescription("seeding nodes"), Options.withDefault(30))
}

export const demo = Command.make("demo", demoFlags, (flags) =>
  Effect.scoped(Effect.gen(function*() {
    const log = (line: string) => flags.json ? Effect.void : Console.log(line)
    yield* log(`demo: starting a loopback swarm of ${flags.nodes} nodes and ${flags.torrents} torrents…`)
    const swarm = yield* makeDemoSwarm({
      nodes: Math.max(20, flags.nodes),
      torrents: Math.max(1, flags.torrents),
      seeders: Math.max(1, flags.seeders),
      log
    })
    const db = Option.getOrElse(flags.db, () => join(mkdtempSync(join(tmpdir(), "bitscrape-demo-")), "demo.db"))
    const settings = yield* resolveSettings({
      ...flags,
      db: Option.some(db),
      bootstrap: Option.some(`${swarm.bootstrap.host}:${swarm.bootstrap.port}`),
      bind: Option.some(Option.getOrElse(flags.bind, () => "127.79.0.1")),
      port: Option.some(Option.getOrElse(flags.port, () => 0)),
      allow: Option.some(cidrs("127.0.0.0/8"))
    })
    yield* log(
      `demo: crawling into ${db} (Ctrl-C to stop${
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
            `  bitscrape stats --db ${db}`,
            `  bitscrape search --db ${db} ubuntu`,
            `  bitscrape search --db ${db} --sort largest --min-size 1GB`,
            `  bitscrape show --db ${db} <infohash from search>`,
            `  bitscrape export --db ${db} --format jsonl --out demo.jsonl`
          ].join("\n")
        )
    })
  }))).pipe(
    Command.withDescription(
      "Run the whole pipeline offline against a loopback swarm of DHT nodes and seeders (takes crawl's flags)"
    )
  )
