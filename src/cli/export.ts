import { Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Effect, Option, Stream } from "effect"
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { toHex } from "../krpc/ids.js"
import type { ExportItem } from "../repository/model.js"
import { Repository } from "../repository/Repository.js"
import { torrentFile } from "../wire/torrentInfo.js"
import { filterOptions, filtersOf } from "./filters.js"
import { csvField, isoTime, magnet } from "./format.js"
import { dbOption, existingRepository } from "./repositoryOptions.js"

const format = Options.choice("format", ["jsonl", "csv", "torrent"]).pipe(
  Options.withDefault("jsonl" as const),
  Options.withDescription("jsonl: one JSON object per line; csv; torrent: one byte-exact .torrent file per torrent")
)
const out = Options.text("out").pipe(
  Options.withDescription("output file (jsonl, csv; default standard output) or directory (torrent)"),
  Options.optional
)
const query = Options.text("query").pipe(
  Options.withDescription("only torrents matching these words"),
  Options.optional
)
const hasMetadata = Options.choice("has-metadata", ["yes", "no"]).pipe(
  Options.withDescription("yes: torrents only; no: infohashes without metadata only"),
  Options.optional
)

/** The JSON-lines record of one item (`name`, `length`, `files` only when metadata is known). */
export const jsonRecord = (item: ExportItem) => {
  const t = item.torrent
  return {
    infohash: toHex(item.infoHash),
    ...(t?.infoHashV2 ? { infohash_v2: toHex(t.infoHashV2) } : {}),
    ...(t
      ? {
        name: t.name,
        length: t.totalLength,
        files: t.files.map((f) => ({ path: f.path, length: f.length }))
      }
      : {}),
    discovered_at: isoTime(item.discoveredAt),
    ...(t ? { fetched_at: isoTime(t.fetchedAt) } : {}),
    magnet: magnet(item.infoHash, t?.name, t?.infoHashV2)
  }
}

const CSV_HEADER = "infohash,infohash_v2,name,length,files,discovered_at,fetched_at,magnet"
const csvLine = (item: ExportItem) => {
  const t = item.torrent
  return [
    toHex(item.infoHash),
    t?.infoHashV2 ? toHex(t.infoHashV2) : undefined,
    t?.name,
    t?.totalLength,
    t?.files.length,
    isoTime(item.discoveredAt),
    t ? isoTime(t.fetchedAt) : undefined,
    magnet(item.infoHash, t?.name, t?.infoHashV2)
  ].map(csvField).join(",")
}

export const exportCommand = Command.make(
  "export",
  { format, out, query, hasMetadata, db: dbOption, ...filterOptions },
  (flags) =>
    Effect.gen(function*() {
      const repo = yield* Repository
      const items = repo.export({
        ...filtersOf(flags),
        text: Option.getOrUndefined(flags.query),
        hasMetadata: Option.match(flags.hasMetadata, { onNone: () => undefined, onSome: (v) => v === "yes" })
      })
      if (flags.format === "torrent") {
        if (Option.isNone(flags.out)) {
          return yield* Effect.fail(ValidationError.invalidValue(HelpDoc.p("--format torrent needs --out DIRECTORY")))
        }
        const dir = flags.out.value
        mkdirSync(dir, { recursive: true })
        const n = yield* items.pipe(
          Stream.filter((i) => i.torrent !== undefined),
          Stream.runFold(0, (count, i) => {
            writeFileSync(join(dir, `${toHex(i.infoHash)}.torrent`), torrentFile(i.torrent!.info))
            return count + 1
          })
        )
        process.stderr.write(`wrote ${n} .torrent file(s) to ${dir}\n`)
        return
      }
      const sink = Option.isSome(flags.out) ? createWriteStream(flags.out.value) : process.stdout
      const write = (line: string) =>
        Effect.async<void>((resume) => {
          if (sink.write(`${line}\n`)) resume(Effect.void)
          else sink.once("drain", () => resume(Effect.void))
        })
      if (flags.format === "csv") yield* write(CSV_HEADER)
      const n = yield* items.pipe(
        Stream.mapEffect((i) => write(flags.format === "csv" ? csvLine(i) : JSON.stringify(jsonRecord(i)))),
        Stream.runCount
      )
      if (sink !== process.stdout) {
        yield* Effect.async<void>((resume) => void sink.end(() => resume(Effect.void)))
        process.stderr.write(`exported ${n} record(s) to ${flags.out.pipe(Option.getOrElse(() => ""))}\n`)
      }
    }).pipe(Effect.provide(existingRepository(flags.db)))
).pipe(Command.withDescription("Export infohashes and torrents as JSON lines, CSV or .torrent files"))
