import { Data, Either, ParseResult, Schema } from "effect"
import { createHash } from "node:crypto"
import { type BValue, decode, isDict, isList } from "./bencode.js"

// Torrent info dictionaries: verification against the infohash (v1 SHA-1; v2 SHA-256, truncated to 20 bytes
// when used as a DHT infohash, BEP 52) and parsing of v1, v2 and hybrid layouts with Schema. Names and paths
// are decoded sensibly — `name.utf-8` first, then UTF-8, then Windows-1252 — and their raw bytes are kept.

/** Why an info dictionary was refused. */
export class InfoError extends Data.TaggedError("InfoError")<{
  readonly reason: "HashMismatch" | "NotBencode" | "Invalid" | "TooManyFiles"
  readonly detail: string
}> {}

/** One file of a torrent: path, raw path bytes when not UTF-8, and length in bytes. */
export interface InfoFile {
  /** Path components joined with "/". */
  readonly path: string
  /** The raw path bytes (components joined with "/"), when they were not valid UTF-8. */
  readonly pathRaw?: Uint8Array | undefined
  readonly length: number
}

/** A verified, parsed info dictionary (v1, v2 or hybrid): name, files and sizes, with the raw bytes kept. */
export interface TorrentInfo {
  /** The 20-byte infohash the DHT knows this torrent by (SHA-1, or truncated SHA-256 for v2-only). */
  readonly infoHash: Uint8Array
  /** BEP 52 SHA-256 of the info dictionary, for v2 and hybrid torrents. */
  readonly infoHashV2: Uint8Array | undefined
  readonly name: string
  readonly nameRaw: Uint8Array
  readonly totalLength: number
  readonly pieceLength: number | undefined
  readonly private: boolean
  readonly version: "v1" | "v2" | "hybrid"
  /** Files, BEP 47 pad files excluded. */
  readonly files: ReadonlyArray<InfoFile>
  /** The bencoded info dictionary, byte-exact. */
  readonly info: Uint8Array
}

/** Most files accepted in one torrent (bounded work and memory for hostile dictionaries). */
export const MAX_FILES = 200_000

const utf8 = new TextDecoder("utf-8", { fatal: true })
const cp1252 = new TextDecoder("windows-1252")

/** Text for bytes: UTF-8 when valid, else Windows-1252 (which maps every byte); `raw` true in the latter case. */
export const decodeText = (bytes: Uint8Array): { readonly text: string; readonly raw: boolean } => {
  try {
    return { text: utf8.decode(bytes), raw: false }
  } catch {
    return { text: cp1252.decode(bytes), raw: true }
  }
}

const Bytes = Schema.Uint8ArrayFromSelf
const Length = Schema.Int.pipe(Schema.between(0, Number.MAX_SAFE_INTEGER))

const FileV1 = Schema.Struct({
  length: Length,
  path: Schema.Array(Bytes),
  "path.utf-8": Schema.optional(Schema.Array(Bytes)),
  attr: Schema.optional(Bytes)
})

const InfoSchema = Schema.Struct({
  name: Bytes,
  "name.utf-8": Schema.optional(Bytes),
  "piece length": Schema.optional(Schema.Int.pipe(Schema.positive())),
  pieces: Schema.optional(Bytes),
  length: Schema.optional(Length),
  files: Schema.optional(Schema.Array(FileV1)),
  private: Schema.optional(Schema.Int),
  "meta version": Schema.optional(Schema.Int),
  "file tree": Schema.optional(Schema.Unknown)
})

/** A bencode value as plain JS (dictionaries as objects, byte strings as Uint8Array) for Schema decoding. */
const plain = (v: BValue, budget: { n: number }): unknown => {
  if (--budget.n < 0) throw new InfoError({ reason: "TooManyFiles", detail: "info dictionary too large to parse" })
  if (isDict(v)) {
    const out: Record<string, unknown> = {}
    for (const [k, x] of v.values) out[k] = k === "file tree" ? x : plain(x, budget)
    return out
  }
  if (isList(v)) return v.map((x) => plain(x, budget))
  return v
}

const joinBytes = (parts: ReadonlyArray<Uint8Array>) => {
  const slash = Buffer.from("/")
  return Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [Buffer.from(p)] : [slash, Buffer.from(p)])))
}

/** BEP 52 `file tree`: nested dictionaries whose leaves are `"": { length, pieces root }`. */
const walkFileTree = (tree: BValue, prefix: ReadonlyArray<Uint8Array>, out: Array<InfoFile>, depth: number) => {
  if (!isDict(tree)) throw new InfoError({ reason: "Invalid", detail: "file tree entry is not a dictionary" })
  if (depth > 64) throw new InfoError({ reason: "Invalid", detail: "file tree nested too deeply" })
  for (const [key, value] of tree.values) {
    if (key === "") {
      if (!isDict(value)) throw new InfoError({ reason: "Invalid", detail: "file tree leaf is not a dictionary" })
      const length = value.values.get("length")
      if (typeof length !== "number" || length < 0) {
        throw new InfoError({ reason: "Invalid", detail: "file tree leaf without a length" })
      }
      const raw = joinBytes(prefix)
      const { raw: notUtf8, text } = decodeText(raw)
      out.push({ path: text, pathRaw: notUtf8 ? raw : undefined, length })
      if (out.length > MAX_FILES) {
        throw new InfoError({ reason: "TooManyFiles", detail: `more than ${MAX_FILES} files` })
      }
    } else {
      walkFileTree(value, [...prefix, Buffer.from(key, "latin1")], out, depth + 1)
    }
  }
}

const sha1 = (b: Uint8Array) => createHash("sha1").update(b).digest()
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest()

/**
 * Verifies `info` against `infoHash` (SHA-1 for v1/hybrid, truncated SHA-256 for v2) and parses it.
 * Never throws: every problem is an `InfoError`.
 */
export const parseInfo = (info: Uint8Array, infoHash: Uint8Array): Either.Either<TorrentInfo, InfoError> => {
  const v1 = sha1(info)
  const v2 = sha256(info)
  const matchesV1 = Buffer.compare(v1, Buffer.from(infoHash)) === 0
  const matchesV2 = Buffer.compare(v2.subarray(0, 20), Buffer.from(infoHash)) === 0
  if (!matchesV1 && !matchesV2) {
    return Either.left(
      new InfoError({ reason: "HashMismatch", detail: "neither SHA-1 nor SHA-256 matches the infohash" })
    )
  }
  try {
    const root = decode(info)
    if (!isDict(root)) return Either.left(new InfoError({ reason: "Invalid", detail: "info is not a dictionary" }))
    const parsed = Schema.decodeUnknownEither(InfoSchema)(plain(root, { n: 4 * MAX_FILES + 100 }))
    if (Either.isLeft(parsed)) {
      return Either.left(
        new InfoError({ reason: "Invalid", detail: ParseResult.TreeFormatter.formatErrorSync(parsed.left) })
      )
    }
    const d = parsed.right
    const isV2 = d["meta version"] === 2 && d["file tree"] !== undefined
    const isV1 = d.pieces !== undefined && (d.length !== undefined || d.files !== undefined)
    if (!isV1 && !isV2) return Either.left(new InfoError({ reason: "Invalid", detail: "neither a v1 nor a v2 layout" }))
    const nameBytes = d["name.utf-8"] ?? d.name
    const name = decodeText(nameBytes).text
    let files: Array<InfoFile> = []
    if (isV1) {
      if (d.files !== undefined) {
        if (d.files.length > MAX_FILES) {
          return Either.left(new InfoError({ reason: "TooManyFiles", detail: `more than ${MAX_FILES} files` }))
        }
        for (const f of d.files) {
          const isPad = f.attr !== undefined && Buffer.from(f.attr).includes("p")
          if (isPad) continue // BEP 47 pad file: alignment only, not content.
          const raw = joinBytes(f["path.utf-8"] ?? f.path)
          const { raw: notUtf8, text } = decodeText(raw)
          files.push({ path: text, pathRaw: notUtf8 ? joinBytes(f.path) : undefined, length: f.length })
        }
      } else {
        files = [{ path: name, length: d.length ?? 0 }]
      }
    } else {
      const tree = root.values.get("file tree")!
      walkFileTree(tree, [], files, 0)
      // A single-file v2 torrent's tree is { name: { "": {...} } }: its path is the name.
    }
    const version = isV1 && isV2 ? "hybrid" : isV2 ? "v2" : "v1"
    return Either.right({
      infoHash: matchesV1 ? v1 : v2.subarray(0, 20),
      infoHashV2: isV2 ? v2 : undefined,
      name,
      nameRaw: d.name,
      totalLength: files.reduce((n, f) => n + f.length, 0),
      pieceLength: d["piece length"],
      private: d.private === 1,
      version,
      files,
      info
    })
  } catch (e) {
    if (e instanceof InfoError) return Either.left(e)
    return Either.left(new InfoError({ reason: "NotBencode", detail: e instanceof Error ? e.message : String(e) }))
  }
}

/** A .torrent file rebuilt from a stored info dictionary: `d4:info<bytes>e`, so its infohash is unchanged. */
export const torrentFile = (info: Uint8Array): Buffer =>
  Buffer.concat([Buffer.from("d4:info"), Buffer.from(info), Buffer.from("e")])
