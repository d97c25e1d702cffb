import { Args, Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { humanSize, printable, summaryJson } from "../domain/format.js"
import { toHex } from "../domain/ids.js"
import { Repository } from "../repository/Repository.js"
import { filterOptions, filtersOf } from "./filters.js"
import { choiceFlag, integerFlag } from "./flags.js"
import { dbOption, existingRepository, jsonOption } from "./repositoryOptions.js"

const text = Args.text({ name: "text" }).pipe(
  Args.withDescription("words to find in names and file paths"),
  Args.optional
)
const sort = choiceFlag("sort", ["relevance", "newest", "oldest", "largest", "smallest", "name", "popular"]).pipe(
  Options.withDefault("relevance" as const),
  Options.withDescription("result order")
)
const limit = integerFlag("limit", { min: 1, max: 500 }).pipe(
  Options.withDefault(20),
  Options.withDescription("results per page (1–500)")
)
const page = integerFlag("page", { min: 1, max: 1_000_000 }).pipe(
  Options.withDefault(1),
  Options.withDescription("page number, from 1")
)

export const search = Command.make(
  "search",
  { text, sort, limit, page, json: jsonOption, db: dbOption, ...filterOptions },
  (flags) =>
    Effect.gen(function*() {
      const repo = yield* Repository
      const limitN = flags.limit
      const result = yield* repo.search({
        ...filtersOf(flags),
        text: flags.text._tag === "Some" ? flags.text.value : undefined,
        sort: flags.sort,
        limit: limitN,
        offset: (flags.page - 1) * limitN
      })
      if (flags.json) {
        return yield* Console.log(JSON.stringify({
          total: result.total,
          total_capped: result.capped,
          items: result.items.map(summaryJson)
        }))
      }
      yield* Console.log(
        result.capped
          ? `more than ${result.total.toLocaleString("en-US")} torrents found`
          : `${result.total} torrent${result.total === 1 ? "" : "s"} found`
      )
      for (const t of result.items) {
        yield* Console.log(
          `${toHex(t.infoHash)}  ${humanSize(t.totalLength).padStart(10)}  ${String(t.fileCount).padStart(5)} files  ${
            printable(t.name)
          }`
        )
      }
    }).pipe(Effect.provide(existingRepository(flags.db)))
).pipe(Command.withDescription("Search stored torrents by name and file paths, with filters and sorting"))
