import { Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { Repository } from "../repository/Repository.js"
import { dbOption, existingRepository, jsonOption } from "./repositoryOptions.js"

export const stats = Command.make("stats", { json: jsonOption, db: dbOption }, (flags) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const s = yield* repo.stats
    if (flags.json) return yield* Console.log(JSON.stringify(s))
    yield* Console.log(`nodes        ${s.nodes}`)
    yield* Console.log(
      `infohashes   ${s.infohashes} (sample ${s.bySource.sample}, get_peers ${s.bySource.get_peers}, announce ${s.bySource.announce}, lookup ${s.bySource.lookup})`
    )
    yield* Console.log(`torrents     ${s.torrents} with ${s.files} files; ${s.failed} infohashes failed`)
    yield* Console.log(`sessions     ${s.sessions}`)
  }).pipe(Effect.provide(existingRepository(flags.db)))).pipe(Command.withDescription("Totals of what is stored"))
