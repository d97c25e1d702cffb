import { Args, Command, HelpDoc } from "@effect/cli"
import { Console, Effect } from "effect"
import { humanSize, isoTime, magnet, printable, torrentJson } from "../domain/format.js"
import { infoHashFromHex, toHex } from "../domain/ids.js"
import { Repository } from "../repository/Repository.js"
import { CommandError } from "./errors.js"
import { dbOption, existingRepository, jsonOption, redactDb, resolveDb } from "./repositoryOptions.js"

const infoHashArg = Args.text({ name: "infohash" }).pipe(
  Args.withDescription("40 hex digits, or a magnet link"),
  Args.mapEffect((text) => {
    const hex = /urn:btih:([0-9a-fA-F]{40})/.exec(text)?.[1] ?? /urn:btmh:1220([0-9a-fA-F]{40})/.exec(text)?.[1] ??
      text.trim()
    const ih = infoHashFromHex(hex)
    return ih === undefined
      ? Effect.fail(HelpDoc.p(
        text.startsWith("-")
          ? `${text}: not a flag of show (see bitscrape show --help)`
          : `"${text}" is not an infohash (40 hex digits)`
      ))
      : Effect.succeed(ih)
  })
)

export const show = Command.make(
  "show",
  { infoHash: infoHashArg, json: jsonOption, db: dbOption },
  (flags) =>
    Effect.gen(function*() {
      const repo = yield* Repository
      const db = yield* resolveDb(flags.db)
      const t = yield* repo.getTorrent(flags.infoHash).pipe(
        Effect.catchTag("TorrentNotFound", () =>
          Effect.fail(
            new CommandError({ message: `no torrent with infohash ${toHex(flags.infoHash)} in ${redactDb(db)}` })
          ))
      )
      const link = magnet(t.infoHash, t.name, t.infoHashV2)
      if (flags.json) {
        return yield* Console.log(JSON.stringify({
          ...torrentJson(t),
          discovered_at: isoTime(t.discoveredAt),
          fetched_at: isoTime(t.fetchedAt),
          seen: t.seen,
          peers_seen: t.peersSeen,
          swarm: t.swarm === undefined
            ? null
            : { seeders: t.swarm.seeders, leechers: t.swarm.leechers, at: isoTime(t.swarm.at) }
        }))
      }
      yield* Console.log(printable(t.name))
      yield* Console.log(`  infohash   ${toHex(t.infoHash)}${t.infoHashV2 ? `  (v2 ${toHex(t.infoHashV2)})` : ""}`)
      yield* Console.log(`  size       ${humanSize(t.totalLength)} in ${t.files.length} file(s), ${t.version}`)
      yield* Console.log(`  discovered ${isoTime(t.discoveredAt)}, metadata ${isoTime(t.fetchedAt)}`)
      yield* Console.log(
        `  seen       sample ${t.seen.sample}, get_peers ${t.seen.get_peers}, announce ${t.seen.announce}, lookup ${t.seen.lookup}; ${t.peersSeen} peer(s)`
      )
      if (t.swarm !== undefined) {
        yield* Console.log(
          `  swarm      ~${t.swarm.seeders} seeder(s), ~${t.swarm.leechers} leecher(s) (BEP 33 scrape, ${
            isoTime(t.swarm.at)
          })`
        )
      }
      yield* Console.log(`  magnet     ${link}`)
      yield* Console.log("  files")
      for (const f of t.files) yield* Console.log(`    ${humanSize(f.length).padStart(10)}  ${printable(f.path)}`)
    }).pipe(Effect.provide(existingRepository(flags.db)))
).pipe(
  Command.withDescription("Show one torrent: files, sizes, sources and magnet link")
)
