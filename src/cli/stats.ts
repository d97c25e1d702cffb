import { Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { humanSize } from "../domain/format.js"
import { Repository } from "../repository/Repository.js"
import { type Funnel, funnelLine } from "../session/funnel.js"
import { dbOption, existingRepository, jsonOption } from "./repositoryOptions.js"

export const stats = Command.make("stats", { json: jsonOption, db: dbOption }, (flags) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const s = yield* repo.stats
    // The yield funnel of the latest crawl session that recorded one (sessions.totals).
    const [latest] = yield* repo.sessions(1)
    const totals = latest?.totals as { readonly funnel?: Funnel } | null | undefined
    const lastFunnel = totals?.funnel
    // The size, and the budget the latest crawl ran with (sessions.settings.maxDbSize).
    const size = yield* repo.size
    const budget = (latest?.settings as { readonly maxDbSize?: number | null } | null | undefined)?.maxDbSize ?? null
    const database = { bytes: size.bytes, used: size.used, budget }
    if (flags.json) {
      return yield* Console.log(JSON.stringify({ ...s, lastSessionFunnel: lastFunnel ?? null, database }))
    }
    const f = s.byFamily
    yield* Console.log(`nodes        ${s.nodes} (IPv4 ${f.nodes.ipv4}, IPv6 ${f.nodes.ipv6})`)
    yield* Console.log(
      `peers        ${f.peers.ipv4 + f.peers.ipv6} sightings (IPv4 ${f.peers.ipv4}, IPv6 ${f.peers.ipv6})`
    )
    yield* Console.log(
      `infohashes   ${s.infohashes} (sample ${s.bySource.sample}, get_peers ${s.bySource.get_peers}, announce ${s.bySource.announce}, lookup ${s.bySource.lookup})`
    )
    yield* Console.log(`torrents     ${s.torrents} with ${s.files} files; ${s.failed} infohashes failed`)
    yield* Console.log(
      `yield        ${s.infohashes} infohashes → ${s.withPeers} with peers → ${s.torrents} fetched; ${s.failed} given up`
    )
    yield* Console.log(`sessions     ${s.sessions}`)
    yield* Console.log(
      `database     ${humanSize(size.bytes)}${budget === null ? " (no budget)" : ` of ${humanSize(budget)} budget`}`
    )
    if (lastFunnel !== undefined) yield* Console.log(`last crawl   ${funnelLine(lastFunnel)}`)
  }).pipe(Effect.provide(existingRepository(flags.db)))).pipe(Command.withDescription("Totals of what is stored"))
