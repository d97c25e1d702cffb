import { Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { redactDb } from "../config/redact.js"
import { makeRealisticNetwork } from "../demo/realistic/RealisticNetwork.js"
import { makeDemoSwarm } from "../demo/swarm.js"
import { formatHostPort, type SocketAddress } from "../domain/address.js"
import { cidrs } from "../domain/cidr.js"
import { checkWritableDatabase } from "../repository/layers.js"
import { crawlFlags, resolveSettings, runCrawl } from "./crawl.js"
import { positiveFlag } from "./flags.js"

// `bitscrape demo`: the whole pipeline offline. A loopback swarm (hundreds of DHT nodes on 127.77.x.y, seeders
// with generated torrents, ongoing lookups) starts in this process, then a real crawl with metadata fetching
// runs against it into a temporary (or the given) database. Nothing leaves 127.0.0.0/8: the bootstrap is the
// swarm and the crawler only talks to 127.0.0.0/8, whatever the environment says.
// `--profile realistic` swaps the cooperative swarm for the realistic network model (docs/model.md): silent
// nodes, delays, loss, churn, partial BEP 51, dos_blocker, stale and hostile peers.

/** A share between 0 and 1; the error names the flag. */
const shareFlag = (name: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("0–1"),
    Options.mapEffect((text) => {
      const n = Number(text.trim())
      return text.trim() !== "" && Number.isFinite(n) && n >= 0 && n <= 1
        ? Effect.succeed(n)
        : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--${name}: "${text}" is not a share between 0 and 1`)))
    })
  )

const demoFlags = {
  ...crawlFlags,
  profile: Options.choice("profile", ["cooperative", "realistic"]).pipe(
    Options.withDescription(
      "cooperative: every node answers at once; realistic: the realistic network model (docs/model.md)"
    ),
    Options.withDefault("cooperative" as const)
  ),
  nodes: positiveFlag("nodes").pipe(
    Options.withDescription("DHT nodes in the demo swarm (default 300; realistic: 5,000)"),
    Options.optional
  ),
  torrents: positiveFlag("torrents").pipe(
    Options.withDescription("torrents seeded in it (default 120; realistic: 200 live ones)"),
    Options.optional
  ),
  seeders: positiveFlag("seeders").pipe(Options.withDescription("seeding nodes"), Options.withDefault(30)),
  bep51Share: shareFlag("bep51-share").pipe(
    Options.withDescription("realistic: share of answering nodes that speak BEP 51 (default 0.35)"),
    Options.optional
  ),
  silentShare: shareFlag("silent-share").pipe(
    Options.withDescription("realistic: share of nodes that never answer (default 0.4)"),
    Options.optional
  ),
  loss: shareFlag("loss").pipe(
    Options.withDescription("realistic: share of packets lost each way (default 0.03)"),
    Options.optional
  ),
  staleRatio: positiveFlag("stale-ratio").pipe(
    Options.withDescription("realistic: stale infohashes per live torrent (default 20)"),
    Options.optional
  ),
  seed: Options.integer("seed").pipe(Options.withDescription("realistic: the model's random seed"), Options.optional)
}

type DemoFlags = Command.Command.ParseConfig<typeof demoFlags>
type Log = (line: string) => Effect.Effect<void>

/** The world the crawl runs against: its bootstrap nodes and the closing summary line. */
interface DemoWorld {
  readonly bootstrap: ReadonlyArray<SocketAddress>
  readonly summary: () => string
}

const cooperativeWorld = (flags: DemoFlags, log: Log, ipv6: boolean) =>
  Effect.gen(function*() {
    const nodes = Option.getOrElse(flags.nodes, () => 300)
    const torrents = Option.getOrElse(flags.torrents, () => 120)
    yield* log(`demo: starting a loopback swarm of ${nodes} nodes and ${torrents} torrents…`)
    const swarm = yield* makeDemoSwarm({
      nodes: Math.max(20, nodes),
      torrents: Math.max(1, torrents),
      seeders: Math.max(1, flags.seeders),
      ipv6,
      log
    })
    return {
      bootstrap: [swarm.bootstrap],
      summary: () => `demo: the swarm held ${swarm.torrents.length} torrents on ${swarm.nodes} nodes.`
    } satisfies DemoWorld
  })

const realisticWorld = (flags: DemoFlags, log: Log) =>
  Effect.gen(function*() {
    const opt = <A>(o: Option.Option<A>) => Option.getOrUndefined(o)
    const nodes = Option.getOrElse(flags.nodes, () => 5_000)
    yield* log(`demo: starting the realistic network model with ${nodes} nodes…`)
    const net = yield* makeRealisticNetwork({
      nodes: Math.max(100, nodes),
      liveTorrents: Math.max(1, Option.getOrElse(flags.torrents, () => 200)),
      ...(Option.isSome(flags.bep51Share) ? { bep51Share: flags.bep51Share.value } : {}),
      ...(Option.isSome(flags.silentShare) ? { silentShare: flags.silentShare.value } : {}),
      ...(Option.isSome(flags.loss) ? { lossRate: flags.loss.value } : {}),
      ...(Option.isSome(flags.staleRatio) ? { staleRatio: flags.staleRatio.value } : {}),
      ...(opt(flags.seed) === undefined ? {} : { seed: opt(flags.seed)! })
    })
    const o = net.info.options
    const hostile = net.liveTorrents.filter((t) => t.hostile).length
    yield* log(
      [
        `demo: realistic network up in ${(net.info.startupMs / 1000).toFixed(1)} s: ${net.nodes} nodes on ` +
        `${net.info.nodeCidr} (${net.info.workerPids.length} worker processes), ${o.silentShare * 100} % silent, ` +
        `BEP 51 on ${o.bep51Share * 100} % of the rest, ${o.lossRate * 100} % loss, median reply ` +
        `${o.replyDelayMedianMs} ms`,
        `demo: ${net.liveTorrents.length} live torrents (${hostile} also announced by hostile and stale peers), ` +
        `${net.staleInfohashes.length} stale infohashes; stale peers: ${net.info.staleMode} (${net.info.staleModeReason})`
      ].join("\n")
    )
    return {
      // All of them, as real crawlers list several routers: one lost reply must not leave the crawl alone.
      bootstrap: net.bootstrap,
      summary: () => {
        const st = net.stats()
        return [
          `demo: the model received ${st.packetsIn} packets (${st.lostInbound} lost, ${st.ignoredSilent} to silent ` +
          `nodes, ${st.ignoredDos} ignored by dos_blockers, which blocked ${st.dosBlockedIps} IPs), sent ` +
          `${st.packetsOut}, answered ${st.bep51Answered} sample_infohashes, and sent the crawler ` +
          `${st.getPeersToExternals} get_peers and ${st.announcesToExternals} announce_peer.`,
          `demo: the realistic network held ${net.liveTorrents.length} live torrents and ` +
          `${net.staleInfohashes.length} stale infohashes on ${net.nodes} nodes.`
        ].join("\n")
      }
    } satisfies DemoWorld
  })

export const demo = Command.make("demo", demoFlags, (flags) =>
  Effect.scoped(Effect.gen(function*() {
    const log = (line: string) => flags.json ? Effect.void : Console.log(line)
    const db = Option.getOrElse(flags.db, () => join(mkdtempSync(join(tmpdir(), "bitscrape-demo-")), "demo.db"))
    // Every flag and setting is checked, and the database opened once, BEFORE the world starts: a bad value is
    // reported at once instead of after starting thousands of nodes.
    const checked = yield* resolveSettings({
      ...flags,
      db: Option.some(db),
      bootstrap: Option.some(["127.0.0.1:1"]),
      // The cooperative swarm runs IPv6 nodes on ::1 beside the IPv4 ones: the crawl is dual-stack (BEP 32).
      bind: Option.some(Option.getOrElse(flags.bind, (): ReadonlyArray<string> =>
        flags.profile === "realistic" ? ["127.79.0.1"] : ["127.79.0.1", "::1"])),
      port: Option.some(Option.getOrElse(flags.port, () =>
        0)),
      allow: Option.some(cidrs("127.0.0.0/8,::1"))
    })
    yield* checkWritableDatabase(db)
    const world: DemoWorld = flags.profile === "realistic"
      ? yield* realisticWorld(flags, log)
      : yield* cooperativeWorld(flags, log, (checked.dht.binds ?? [checked.dht.host]).some((h) => h.includes(":")))
    const settings = {
      ...checked,
      crawler: { ...checked.crawler, bootstrap: world.bootstrap.map((b) => formatHostPort(b.host, b.port)) }
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
            `${world.summary()} Explore what was found:`,
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
