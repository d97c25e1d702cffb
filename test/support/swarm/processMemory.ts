// Resident memory of harness child processes, read from /proc (Linux). Elsewhere every answer is None.
import { Effect, Option } from "effect"
import { readdirSync, readFileSync } from "node:fs"

/** Resident set size of process `pid` in bytes (VmRSS), if it can be read. */
export const residentBytes = (pid: number): Effect.Effect<Option.Option<number>> =>
  Effect.sync(() => {
    try {
      const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
      return match === null ? Option.none() : Option.some(Number(match[1]) * 1024)
    } catch {
      return Option.none()
    }
  })

/** The first child process of this process whose command line contains every one of `markers`. */
export const findChildPid = (markers: ReadonlyArray<string>): Effect.Effect<Option.Option<number>> =>
  Effect.sync(() => {
    let entries: Array<string>
    try {
      entries = readdirSync("/proc").filter((name) => /^\d+$/.test(name))
    } catch {
      return Option.none()
    }
    for (const name of entries) {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, "utf8")
        // Field 4 (ppid) follows the command name, which is in parentheses and may itself contain spaces.
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
        if (ppid !== process.pid) continue
        const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8")
        if (markers.every((m) => cmdline.includes(m))) return Option.some(Number(name))
      } catch {
        // The process ended meanwhile.
      }
    }
    return Option.none()
  })
