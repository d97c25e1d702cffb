// The loopback swarm the examples run against (for `npm run example` and test/library/examples.test.ts): the
// offline demo's swarm (src/demo/swarm.ts) — BitScrape DHT nodes on 127.77.x.y, metadata seeders announcing
// generated torrents, ongoing get_peers traffic — and each example's command line against it. Harness code,
// not an example: it imports the sources directly.
import { Effect } from "effect"
import { type DemoSwarm, makeDemoSwarm } from "../../src/demo/swarm.js"
import { toHex } from "../../src/domain/ids.js"

/** The runnable examples, by name (examples/<name>.ts). */
export const EXAMPLES = ["dht-lookup", "fetch-metadata", "custom-crawler"] as const
export type ExampleName = typeof EXAMPLES[number]

/** A small swarm: up in a few seconds, enough for every example. */
export const startLoopbackSwarm = (log: (line: string) => Effect.Effect<void> = () => Effect.void) =>
  makeDemoSwarm({ nodes: 40, torrents: 8, seeders: 4, log })

/** The torrent the examples look for (one with several files), and a seeder that has it. */
export const exampleTarget = (swarm: DemoSwarm) => {
  const torrent = swarm.torrents.find((t) => t.fileCount > 1) ?? swarm.torrents[0]!
  const infoHash = toHex(torrent.infoHash)
  const seeder = swarm.seeders.find((s) => s.infoHashes.includes(infoHash))!
  return { torrent, infoHash, seeder }
}

/** Where the examples bind: a loopback address of their own. */
export const EXAMPLE_BIND = "127.78.0.1"

/** The arguments that run example `name` against `swarm`. */
export const exampleArgs = (name: ExampleName, swarm: DemoSwarm): Array<string> => {
  const { infoHash, seeder } = exampleTarget(swarm)
  const bootstrap = `${swarm.bootstrap.host}:${swarm.bootstrap.port}`
  switch (name) {
    case "dht-lookup":
      return [infoHash, "--bootstrap", bootstrap, "--bind", EXAMPLE_BIND]
    case "fetch-metadata":
      return [infoHash, "--peer", `${seeder.host}:${seeder.port}`]
    case "custom-crawler":
      return ["--bootstrap", bootstrap, "--allow", "127.0.0.0/8", "--bind", EXAMPLE_BIND, "--limit", "5"]
  }
}
