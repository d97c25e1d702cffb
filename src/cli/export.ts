import { Command, Options } from "@effect/cli"
import { Effect, Option, Stream } from "effect"
import { closeSync, createWriteStream, rmSync } from "node:fs"
import { join } from "node:path"
import { formatHostPort } from "../domain/address.js"
import { csvField, isoTime, magnet } from "../domain/format.js"
import { toHex } from "../domain/ids.js"
import type { ExportItem } from "../domain/model.js"
import { Repository } from "../repository/Repository.js"
import { torrentFile } from "../wire/torrentInfo.js"
import { type CommandError, note, usage } from "./errors.js"
import { filterOptions, filtersOf } from "./filters.js"
import { choiceFlag } from "./flags.js"
import { openOutputFile, prepareOutputDirectory, writeError, writeNewFile } from "./outputFile.js"
import { dbOption, existingRepository, resolveDb } from "./repositoryOptions.js"

const format = choiceFlag("format", ["jsonl", "csv", "torrent"]).pipe(
  Options.withDefault("jsonl" as const),
  Options.withDescription("jsonl: one JSON object per line; csv; torrent: one byte-exact .torrent file per torrent")
)
const out = Options.text("out").pipe(
  Options.withPseudoName("path"),
  Options.withDescription("output file (jsonl, csv; default standard output) or directory (torrent)"),
  Options.optional
)
const query = Options.text("query").pipe(
  Options.withPseudoName("words"),
  Options.withDescription("only torrents matching these words"),
  Options.optional
)
const hasMetadata = choiceFlag("has-metadata", ["yes", "no"]).pipe(
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
    // The peer the metadata came from, "host:port" or "[v6]:port" (RFC 3986 brackets for IPv6).
    ...(t?.sourcePeer ? { source: formatHostPort(t.sourcePeer.host, t.sourcePeer.port) } : {}),
    magnet: magnet(item.infoHash, t?.name, t?.infoHashV2)
  }
}

const CSV_HEADER = "infohash,infohash_v2,name,length,files,discovered_at,fetched_at,magnet,source"
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
    magnet(item.infoHash, t?.name, t?.infoHashV2),
    t?.sourcePeer ? formatHostPort(t.sourcePeer.host, t.sourcePeer.port) : undefined
  ].map(csvField).join(",")
}

const force = Options.boolean("force").pipe(
  Options.withDescription("overwrite an existing --out file (or .torrent files in the --out directory)")
)

export const exportCommand = Command.make(
  "export",
  { format, out, force, query, hasMetadata, db: dbOption, ...filterOptions },
  (flags) =>
    Effect.gen(function*() {
      // The output is checked (and a file opened) before the database: a bad --out never reads, and the
      // database in use is never written over (outputFile.ts).
      const db = yield* resolveDb(flags.db)
      if (flags.format === "torrent") {
        if (Option.isNone(flags.out)) return yield* usage("--format torrent needs --out DIRECTORY")
        yield* prepareOutputDirectory(flags.out.value, db)
      }
      const fd = flags.format !== "torrent" && Option.isSome(flags.out)
        ? Option.some(yield* openOutputFile(flags.out.value, db, flags.force))
        : Option.none<number>()
      return yield* Effect.gen(function*() {
        const repo = yield* Repository
        const items = repo.export({
          ...filtersOf(flags),
          text: Option.getOrUndefined(flags.query),
          hasMetadata: Option.match(flags.hasMetadata, { onNone: () => undefined, onSome: (v) => v === "yes" })
        })
        if (flags.format === "torrent") {
          const dir = Option.getOrThrow(flags.out)
          const n = yield* items.pipe(
            Stream.filter((i) => i.torrent !== undefined),
            Stream.mapEffect((i) =>
              writeNewFile(join(dir, `${toHex(i.infoHash)}.torrent`), torrentFile(i.torrent!.info), flags.force)
            ),
            Stream.runCount
          )
          return yield* note(`wrote ${n} .torrent file(s) to ${dir}`)
        }
        const target = Option.getOrElse(flags.out, () => "standard output")
        const sink = Option.isSome(fd) ? createWriteStream("", { fd: fd.value }) : process.stdout
        // A failed write (a full disk, a closed pipe) ends the export with its message, not an unhandled 'error'.
        let failure: unknown
        sink.on("error", (e) => (failure = e))
        const write = (line: string) =>
          Effect.async<void, CommandError>((resume) => {
            if (failure !== undefined) return resume(Effect.fail(writeError(target, failure)))
            const onError = (e: unknown) => resume(Effect.fail(writeError(target, e)))
            sink.once("error", onError)
            const drained = () => {
              sink.off("error", onError)
              resume(Effect.void)
            }
            if (sink.write(`${line}\n`)) drained()
            else sink.once("drain", drained)
          })
        if (flags.format === "csv") yield* write(CSV_HEADER)
        const n = yield* items.pipe(
          Stream.mapEffect((i) => write(flags.format === "csv" ? csvLine(i) : JSON.stringify(jsonRecord(i)))),
          Stream.runCount
        )
        if (sink !== process.stdout) {
          yield* Effect.async<void, CommandError>((resume) =>
            void sink.end(() => resume(failure === undefined ? Effect.void : Effect.fail(writeError(target, failure))))
          )
          yield* note(`exported ${n} record(s) to ${target}`)
        }
      }).pipe(
        Effect.provide(existingRepository(Option.some(db))),
        Effect.ensuring(Effect.sync(() => Option.isSome(fd) && closeQuietly(fd.value))),
        // A new --out file left by a failed export (the database could not be read) is removed again.
        Effect.onError(() =>
          Effect.sync(() => Option.isSome(fd) && !flags.force && Option.isSome(flags.out) && rmSync(flags.out.value))
        )
      )
    })
).pipe(Command.withDescription("Export infohashes and torrents as JSON lines, CSV or .torrent files"))

const closeQuietly = (fd: number) => {
  try {
    closeSync(fd)
  } catch {
    // already closed by the stream
  }
  return true
}
