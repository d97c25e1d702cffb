// What `bitscrape import` reads: .torrent files (verified, then stored as they are), infohash lists (one infohash or
// magnet link a line; `#` comments), directories (every .torrent file below them), and infohashes or magnet links
// given on the command line. Pure but for reading files; every problem is reported with where it was.
import { Either } from "effect"
import { createHash } from "node:crypto"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import type { SocketAddress } from "../domain/address.js"
import type { InfoHash } from "../domain/ids.js"
import { decodeAt } from "../wire/bencode.js"
import { parseInfo, type TorrentInfo } from "../wire/torrentInfo.js"
import { parseTarget } from "./fetch.js"

/** Largest .torrent file read (the fetcher's metadata cap plus room for the rest of the file). */
export const MAX_TORRENT_FILE = 16 * 1024 * 1024
/** Most files one directory import walks through. */
export const MAX_DIRECTORY_FILES = 1_000_000

export interface ImportProblem {
  /** The file (with line), or the argument. */
  readonly where: string
  readonly message: string
}

export interface ImportInputs {
  readonly torrents: Array<{ readonly where: string; readonly info: TorrentInfo }>
  readonly hashes: Array<{ readonly infoHash: InfoHash; readonly peers: ReadonlyArray<SocketAddress> }>
  readonly problems: Array<ImportProblem>
}

const sha1 = (b: Uint8Array) => createHash("sha1").update(b).digest()
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest()

/**
 * A .torrent file's info dictionary, verified: well-formed bencode, an `info` dictionary that parses (v1, v2 or
 * hybrid), piece hashes that fit the content's length; its infohash is computed from the bytes (SHA-1, or the
 * truncated SHA-256 of a v2-only torrent).
 */
export const verifyTorrentFile = (bytes: Uint8Array): Either.Either<TorrentInfo, string> => {
  let info: Uint8Array | undefined
  try {
    if (bytes[0] !== 0x64) return Either.left("not a .torrent file (not a bencoded dictionary)")
    let pos = 1
    while (pos < bytes.length && bytes[pos] !== 0x65) {
      const key = decodeAt(bytes, pos)
      const value = decodeAt(bytes, key.end)
      if (key.value instanceof Uint8Array && Buffer.from(key.value).toString("latin1") === "info") {
        info = bytes.subarray(key.end, value.end)
      }
      pos = value.end
    }
    if (pos >= bytes.length) return Either.left("not a .torrent file (the dictionary does not end)")
  } catch (e) {
    return Either.left(`not a .torrent file (${e instanceof Error ? e.message : String(e)})`)
  }
  if (info === undefined) return Either.left("a .torrent file without an info dictionary")
  const v1 = parseInfo(info, sha1(info))
  if (Either.isLeft(v1)) return Either.left(`invalid info dictionary: ${v1.left.detail}`)
  const parsed = v1.right.version === "v2" ? parseInfo(info, sha256(info).subarray(0, 20)) : v1
  if (Either.isLeft(parsed)) return Either.left(`invalid info dictionary: ${parsed.left.detail}`)
  const t = parsed.right
  if (t.version !== "v2" && t.pieceLength !== undefined && t.pieceLength > 0) {
    const pieces = piecesLength(info)
    const expected = 20 * Math.ceil(t.totalLength / t.pieceLength)
    // Pad files (BEP 47) are left out of totalLength: with them the count may be a little higher.
    if (pieces !== undefined && (pieces % 20 !== 0 || pieces < expected)) {
      return Either.left(`piece hashes do not fit the content (${pieces / 20} for ${t.totalLength} bytes)`)
    }
  }
  return Either.right(t)
}

/** The byte length of an info dictionary's `pieces`. */
const piecesLength = (info: Uint8Array): number | undefined => {
  let pos = 1
  while (pos < info.length && info[pos] !== 0x65) {
    const key = decodeAt(info, pos)
    const value = decodeAt(info, key.end)
    if (key.value instanceof Uint8Array && Buffer.from(key.value).toString("latin1") === "pieces") {
      return value.value instanceof Uint8Array ? value.value.length : undefined
    }
    pos = value.end
  }
  return undefined
}

/** Reads an infohash list: one infohash (hex or base32) or magnet link a line; blank lines and `#` comments skipped. */
export const readList = (text: string, where: string, into: ImportInputs) => {
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) continue
    const target = parseTarget(line)
    if (target === undefined) {
      into.problems.push({
        where: `${where}:${i + 1}`,
        message: `"${line.slice(0, 80)}" is not an infohash or magnet link`
      })
    } else {
      into.hashes.push(target)
    }
  }
}

const readTorrent = (path: string, into: ImportInputs) => {
  try {
    readTorrentFile(path, into)
  } catch (e) {
    into.problems.push({ where: path, message: e instanceof Error ? e.message : String(e) })
  }
}

const readTorrentFile = (path: string, into: ImportInputs) => {
  const size = statSync(path).size
  if (size > MAX_TORRENT_FILE) {
    into.problems.push({
      where: path,
      message: `larger than ${MAX_TORRENT_FILE / 1024 / 1024} MiB: not a .torrent file`
    })
    return
  }
  const result = verifyTorrentFile(readFileSync(path))
  if (Either.isLeft(result)) into.problems.push({ where: path, message: result.left })
  else into.torrents.push({ where: path, info: result.right })
}

const walk = (dir: string, into: ImportInputs, budget: { files: number }) => {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name < b.name ? -1 : 1)) {
    if (budget.files-- <= 0) {
      into.problems.push({ where: dir, message: `more than ${MAX_DIRECTORY_FILES} files: the rest was not read` })
      return
    }
    const path = join(dir, entry.name)
    if (entry.isDirectory()) walk(path, into, budget)
    else if (entry.isFile() && /\.torrent$/i.test(entry.name)) readTorrent(path, into)
  }
}

/**
 * Everything the arguments name: an infohash or magnet link as such, a directory's .torrent files, a .torrent file,
 * any other file as an infohash list; `-` reads a list from `stdin`.
 */
export const readInputs = (args: ReadonlyArray<string>, stdin: () => string): ImportInputs => {
  const into: ImportInputs = { torrents: [], hashes: [], problems: [] }
  for (const arg of args) {
    if (arg === "-") {
      readList(stdin(), "(stdin)", into)
      continue
    }
    if (arg.startsWith("--")) {
      // The command line parser reads everything after "-" as inputs.
      into.problems.push({
        where: arg,
        message: "an option after - is read as an input: put options before the inputs"
      })
      continue
    }
    const target = parseTarget(arg)
    if (target !== undefined) {
      into.hashes.push(target)
      continue
    }
    let kind: "dir" | "file" | undefined
    try {
      const st = statSync(arg)
      kind = st.isDirectory() ? "dir" : st.isFile() ? "file" : undefined
    } catch {
      kind = undefined
    }
    try {
      if (kind === "dir") walk(arg, into, { files: MAX_DIRECTORY_FILES })
      else if (kind === "file" && /\.torrent$/i.test(arg)) readTorrent(arg, into)
      else if (kind === "file") readList(readFileSync(arg, "utf8"), arg, into)
      else {into.problems.push({
          where: arg,
          message: "not an infohash, a magnet link, or a file or directory that exists"
        })}
    } catch (e) {
      into.problems.push({ where: arg, message: e instanceof Error ? e.message : String(e) })
    }
  }
  return into
}
