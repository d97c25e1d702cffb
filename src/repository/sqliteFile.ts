import { Effect } from "effect"
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs"
import { dirname } from "node:path"
import { RepositoryError } from "./Repository.js"

// The SQLite file behind `--db`, checked before and diagnosed after opening, so that every way a file can be
// wrong gets its own one-line message (missing, a directory, empty, not SQLite, truncated, corrupt, read-only,
// another application's database) and nothing is created, migrated or switched to WAL by a command that only reads.

/** What a command does with the file: `read` never creates, migrates or changes it. */
export type Access = "read" | "write"

const HEADER = Buffer.from("SQLite format 3\0", "latin1")

const fail = (message: string) => new RepositoryError({ operation: "open", cause: new Error(message) })

/** The first 100 bytes (the SQLite header), or fewer for a shorter file. */
const readHeader = (path: string): Buffer => {
  const fd = openSync(path, "r")
  try {
    const buf = Buffer.alloc(100)
    const n = readSync(fd, buf, 0, 100, 0)
    return buf.subarray(0, n)
  } finally {
    closeSync(fd)
  }
}

/** The size the header promises (page size × page count), when the header is valid; for the "truncated" check. */
const promisedSize = (header: Buffer): number | undefined => {
  if (header.length < 100) return undefined
  const raw = header.readUInt16BE(16)
  const pageSize = raw === 1 ? 65_536 : raw
  const pages = header.readUInt32BE(28)
  // The in-header page count is valid only when the change counter matches "version-valid-for" (offset 92).
  return header.readUInt32BE(24) === header.readUInt32BE(92) && pages > 0 ? pageSize * pages : undefined
}

/** Checks the file before SQLite opens it. */
export const checkSqliteFile = (path: string, access: Access): Effect.Effect<void, RepositoryError> =>
  Effect.suspend(() => {
    if (path === ":memory:") return Effect.void
    if (path.trim() === "") return Effect.fail(fail("--db is empty: give an SQLite file path or a postgres:// URL"))
    if (!existsSync(path)) {
      if (access === "read") {
        return Effect.fail(fail(`no database at ${path} (run \`bitscrape crawl\` first, or pass --db)`))
      }
      const dir = dirname(path)
      if (!existsSync(dir)) return Effect.fail(fail(`cannot create ${path}: the directory ${dir} does not exist`))
      if (!statSync(dir).isDirectory()) return Effect.fail(fail(`cannot create ${path}: ${dir} is not a directory`))
      return Effect.void
    }
    const stat = statSync(path)
    if (stat.isDirectory()) return Effect.fail(fail(`${path} is a directory, not a database file`))
    if (!stat.isFile()) return Effect.fail(fail(`${path} is not a regular file`))
    if (stat.size === 0) {
      return access === "read"
        ? Effect.fail(fail(`${path} is empty, not a BitScrape database (run \`bitscrape crawl --db ${path}\` first)`))
        : Effect.void
    }
    let header: Buffer
    try {
      header = readHeader(path)
    } catch (e) {
      return Effect.fail(fail(`cannot read ${path}: ${(e as Error).message}`))
    }
    if (header.length < HEADER.length || !header.subarray(0, HEADER.length).equals(HEADER)) {
      return Effect.fail(fail(`${path} is not an SQLite database (another kind of file, or damaged): not touching it`))
    }
    return Effect.void
  })

const innermost = (e: unknown): { code?: string; message: string } => {
  let cur = e as { cause?: unknown; code?: unknown; message?: unknown } | undefined
  for (let i = 0; i < 8 && cur?.cause !== undefined && cur.cause !== null; i++) {
    if (typeof cur.code === "string") break
    cur = cur.cause as typeof cur
  }
  return {
    ...(typeof cur?.code === "string" ? { code: cur.code } : {}),
    message: typeof cur?.message === "string" ? cur.message : String(cur)
  }
}

/** The one-line error for a failure while opening (or first reading) the SQLite file at `path`. */
export const diagnoseSqlite = (path: string, access: Access, error: unknown): RepositoryError => {
  if (error instanceof RepositoryError && error.operation === "open") return error
  const { code, message } = innermost(error)
  if (code === "SQLITE_NOTADB") return fail(`${path} is not an SQLite database (${message})`)
  if (code?.startsWith("SQLITE_CORRUPT")) {
    let promised: number | undefined
    let size = 0
    try {
      promised = promisedSize(readHeader(path))
      size = statSync(path).size
    } catch {
      // diagnosis only
    }
    return promised !== undefined && size < promised
      ? fail(`${path} is truncated (${size} of ${promised} bytes): restore it from a backup`)
      : fail(`${path} is corrupt (${message}): restore it from a backup`)
  }
  if (code === "SQLITE_READONLY_DIRECTORY" || (code === "SQLITE_CANTOPEN" && access === "read")) {
    return fail(
      `cannot open ${path}: its directory is read-only, and SQLite must create ${path}-wal and ${path}-shm beside it`
    )
  }
  if (code?.startsWith("SQLITE_READONLY")) return fail(`${path} is read-only: cannot write to it (${message})`)
  if (code === "SQLITE_BUSY" || code === "SQLITE_LOCKED") return fail(`${path} is locked by another process`)
  if (code === "SQLITE_CANTOPEN") return fail(`cannot open ${path} (${message})`)
  return fail(`cannot open ${path}: ${message}`)
}
