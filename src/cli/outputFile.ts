import { Effect } from "effect"
import { closeSync, existsSync, mkdirSync, openSync, realpathSync, statSync, writeSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { isPostgresUrl } from "../repository/layers.js"
import { CommandError, UsageError } from "./errors.js"

// Where `export --out` may write: never onto the database being read (nor its -wal/-shm), never over an existing
// file without --force, never into a missing directory; every refusal is one line (errors.ts).

const errnoText = (e: unknown) => {
  const err = e as NodeJS.ErrnoException
  switch (err.code) {
    case "ENOENT":
      return "the directory does not exist"
    case "EACCES":
    case "EPERM":
      return "permission denied"
    case "EISDIR":
      return "it is a directory"
    case "ENOTDIR":
      return "a part of the path is not a directory"
    case "EROFS":
      return "the file system is read-only"
    case "ENOSPC":
      return "no space left on the device"
    default:
      return err.message ?? String(e)
  }
}

/** The canonical form of a path that may not exist yet (its directory resolved through symlinks). */
const canonical = (path: string) => {
  try {
    return realpathSync(path)
  } catch {
    try {
      return resolve(realpathSync(dirname(path)), resolve(path).slice(resolve(dirname(path)).length + 1))
    } catch {
      return resolve(path)
    }
  }
}

/** Whether `out` is the SQLite database `db` or one of its side files (same path, or the same inode). */
const isDatabaseFile = (out: string, db: string) => {
  if (isPostgresUrl(db) || db === ":memory:") return false
  const o = canonical(out)
  if ([db, `${db}-wal`, `${db}-shm`, `${db}-journal`].some((f) => canonical(f) === o)) return true
  try {
    const a = statSync(out)
    const b = statSync(db)
    return a.ino === b.ino && a.dev === b.dev
  } catch {
    return false
  }
}

/** Opens `out` for writing (a new file, or overwritten with `force`): a file descriptor, or a one-line error. */
export const openOutputFile = (out: string, db: string, force: boolean) =>
  Effect.suspend((): Effect.Effect<number, UsageError | CommandError> => {
    if (out.trim() === "") return Effect.fail(new UsageError({ message: "--out: the file name is empty" }))
    if (isDatabaseFile(out, db)) {
      return Effect.fail(
        new UsageError({ message: `--out: ${out} is the database being exported; choose another file` })
      )
    }
    if (existsSync(out)) {
      if (statSync(out).isDirectory()) {
        return Effect.fail(new UsageError({ message: `--out: ${out} is a directory; give a file name` }))
      }
      if (!force) {
        return Effect.fail(new UsageError({ message: `--out: ${out} exists; pass --force to overwrite it` }))
      }
    }
    try {
      return Effect.succeed(openSync(out, force ? "w" : "wx", 0o644))
    } catch (e) {
      return Effect.fail(new CommandError({ message: `cannot write ${out}: ${errnoText(e)}` }))
    }
  })

/** Prepares the directory for `--format torrent`: an existing directory, or a new one in an existing parent. */
export const prepareOutputDirectory = (dir: string, db: string) =>
  Effect.suspend((): Effect.Effect<void, UsageError | CommandError> => {
    if (dir.trim() === "") return Effect.fail(new UsageError({ message: "--out: the directory name is empty" }))
    if (isDatabaseFile(dir, db)) {
      return Effect.fail(new UsageError({ message: `--out: ${dir} is the database being exported` }))
    }
    if (existsSync(dir)) {
      return statSync(dir).isDirectory()
        ? Effect.void
        : Effect.fail(
          new UsageError({
            message: `--out: ${dir} exists and is not a directory (--format torrent writes a directory)`
          })
        )
    }
    try {
      // Not recursive: Node's recursive mkdir loops forever on some paths (/proc/…); the parent must exist.
      mkdirSync(dir)
      return Effect.void
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === "ENOENT"
        ? "its parent directory does not exist (or allows no directories)"
        : errnoText(e)
      return Effect.fail(new CommandError({ message: `cannot create the directory ${dir}: ${why}` }))
    }
  })

/** Writes one file of a torrent export: new, or overwritten with `force`. */
export const writeNewFile = (path: string, data: Uint8Array, force: boolean) =>
  Effect.try({
    try: () => {
      const fd = openSync(path, force ? "w" : "wx", 0o644)
      try {
        let off = 0
        while (off < data.length) off += writeSync(fd, data, off, data.length - off)
      } finally {
        closeSync(fd)
      }
    },
    catch: (e) =>
      (e as NodeJS.ErrnoException).code === "EEXIST"
        ? new UsageError({ message: `--out: ${path} exists; pass --force to overwrite it` })
        : new CommandError({ message: `cannot write ${path}: ${errnoText(e)}` })
  })

/** The message for a failed write to an output stream. */
export const writeError = (out: string, e: unknown) =>
  new CommandError({ message: `cannot write ${out}: ${errnoText(e)}` })
