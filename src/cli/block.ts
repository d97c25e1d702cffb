import { Args, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Console, Effect, Layer, Option } from "effect"
import { readFileSync } from "node:fs"
import { isoTime } from "../domain/format.js"
import { type BlockEntry, parseBlockEntry, parseBlocklistFile } from "../repository/blocklist.js"
import { RepositoryLive } from "../repository/layers.js"
import { Repository } from "../repository/Repository.js"
import { CommandError } from "./errors.js"
import { dbOption, existingRepository, jsonOption, resolveDb } from "./repositoryOptions.js"

// `bitscrape block add|list|remove`: the blocklist, kept in the database (docs/configuration.md, "Blocklist").

const entryArgs = Args.text({ name: "entry" }).pipe(
  Args.withDescription("an infohash (40 hex digits or a magnet link), or name:GLOB (* and ? wildcards)"),
  Args.atLeast(1),
  Args.mapEffect((texts) =>
    Effect.forEach(texts, (text) => {
      const r = parseBlockEntry(text)
      return r.ok ? Effect.succeed(r.entry) : Effect.fail(HelpDoc.p(`"${text}": ${r.error}`))
    })
  )
)

const reasonOption = Options.text("reason").pipe(
  Options.withDescription("why (kept with each entry)"),
  Options.optional
)

const writable = (db: Option.Option<string>) => Layer.unwrapEffect(Effect.map(resolveDb(db), (d) => RepositoryLive(d)))

/** Adds entries to the repository's blocklist and says what happened (shared with `crawl --blocklist`). */
export const addToBlocklist = (entries: ReadonlyArray<BlockEntry>) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const { added, purged } = yield* repo.block(entries)
    return {
      added,
      already: entries.length - added.length,
      purged
    }
  })

const add = Command.make(
  "add",
  { entries: entryArgs, reason: reasonOption, db: dbOption, json: jsonOption },
  (flags) =>
    Effect.gen(function*() {
      const reason = Option.getOrUndefined(flags.reason)
      const r = yield* addToBlocklist(flags.entries.map((e) => ({ ...e, reason })))
      if (flags.json) return yield* Console.log(JSON.stringify(r))
      for (const a of r.added) yield* Console.log(`blocked ${a.kind} ${a.value} (entry ${a.id})`)
      if (r.already > 0) yield* Console.log(`${r.already} already blocked (kept as they were)`)
      yield* Console.log(
        `removed what they block from the database: ${r.purged.torrents} torrents, ${r.purged.infohashes} infohashes`
      )
    }).pipe(Effect.provide(writable(flags.db)))
).pipe(Command.withDescription("Block infohashes or torrent names: never stored, fetched or shown again"))

const list = Command.make("list", { db: dbOption, json: jsonOption }, (flags) =>
  Effect.gen(function*() {
    const repo = yield* Repository
    const entries = yield* repo.blocklist
    if (flags.json) {
      for (const e of entries) {
        yield* Console.log(JSON.stringify({ ...e, addedAt: isoTime(e.addedAt) }))
      }
      return
    }
    if (entries.length === 0) return yield* Console.log("the blocklist is empty")
    for (const e of entries) {
      yield* Console.log(
        `${String(e.id).padStart(5)}  ${e.kind.padEnd(8)}  ${e.value}  ${isoTime(e.addedAt)}${
          e.reason === undefined ? "" : `  ${e.reason}`
        }`
      )
    }
  }).pipe(Effect.provide(existingRepository(flags.db)))).pipe(
    Command.withDescription("The blocklist: id, kind, what, when added and why")
  )

const remove = Command.make(
  "remove",
  {
    entries: Args.text({ name: "id-or-entry" }).pipe(
      Args.withDescription("an entry's id (see block list), or the infohash or name:GLOB it blocks"),
      Args.atLeast(1)
    ),
    db: dbOption
  },
  (flags) =>
    Effect.gen(function*() {
      const repo = yield* Repository
      for (const text of flags.entries) {
        const n = yield* repo.unblock(text)
        if (n === 0) return yield* new CommandError({ message: `"${text}" is not on the blocklist` })
        yield* Console.log(`unblocked ${text}${n > 1 ? ` (and ${n - 1} infohashes it had blocked)` : ""}`)
      }
    }).pipe(Effect.provide(writable(flags.db)))
).pipe(Command.withDescription("Remove blocklist entries"))

export const block = Command.make("block").pipe(
  Command.withDescription("Infohashes and torrent-name patterns never to store, fetch or show"),
  Command.withSubcommands([add, list, remove])
)

/** Reads a `--blocklist` file: its entries, or a usage error naming the file and the bad lines. */
export const readBlocklistFile = (path: string) =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => readFileSync(path, "utf8"),
      catch: (e) =>
        ValidationError.invalidValue(
          HelpDoc.p(`--blocklist ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
        )
    })
    const { entries, errors } = parseBlocklistFile(text)
    if (errors.length > 0) {
      return yield* Effect.fail(ValidationError.invalidValue(HelpDoc.p(
        `--blocklist ${path}: ${errors.slice(0, 3).join("; ")}${
          errors.length > 3 ? ` (and ${errors.length - 3} more)` : ""
        }`
      )))
    }
    return entries.map((e) => ({ ...e, reason: e.reason ?? `from ${path}` }))
  })
