import { infoHashFromHex } from "../domain/ids.js"

// The blocklist: infohashes and torrent-name patterns the user never wants stored, fetched or shown. Entries
// live in the database (table `blocklist`, with when and why each was added). Pure helpers here: parsing what
// the user typed or wrote in a `--blocklist` file, and matching names.
//
// A name pattern is a case-insensitive glob over the whole torrent name: `*` any run of characters, `?` one
// character; everything else is literal. "*sample*" blocks every name containing "sample".

/** What a blocklist entry blocks. */
export type BlockKind = "infohash" | "name"

/** An entry as the user gives it (`value`: 40 lower-case hex digits, or a glob). */
export interface BlockEntry {
  readonly kind: BlockKind
  readonly value: string
  readonly reason?: string | undefined
}

/** A stored entry. */
export interface BlockRecord extends BlockEntry {
  readonly id: number
  /** When it was added (ms). */
  readonly addedAt: number
  /** For an infohash blocked because its stored torrent's name matched a pattern: that pattern. */
  readonly via?: string | undefined
}

/** What adding entries removed from the database. */
export interface Purged {
  readonly torrents: number
  readonly infohashes: number
}

/** Longest name pattern accepted (a glob is matched against every stored name at query time). */
export const MAX_PATTERN_LENGTH = 200

/**
 * One entry from text: an infohash (40 hex digits or a magnet link) blocks that infohash; `name:GLOB` (or any
 * other text) blocks torrent names matching the glob; an error says why text is neither.
 */
export const parseBlockEntry = (
  text: string
): { readonly ok: true; readonly entry: BlockEntry } | { readonly ok: false; readonly error: string } => {
  const t = text.trim()
  if (t === "") return { ok: false, error: "an empty entry" }
  if (t.startsWith("magnet:?")) {
    const hex = /urn:btih:([0-9a-fA-F]{40})(?:&|$)/.exec(t)?.[1] ?? /urn:btmh:1220([0-9a-fA-F]{40})/.exec(t)?.[1]
    return hex === undefined
      ? { ok: false, error: `"${t.slice(0, 80)}" is a magnet link without a hex infohash` }
      : { ok: true, entry: { kind: "infohash", value: hex.toLowerCase() } }
  }
  if (/^infohash:/i.test(t) || /^[0-9a-fA-F]{40}$/.test(t)) {
    const hex = t.replace(/^infohash:/i, "").trim()
    return infoHashFromHex(hex) === undefined
      ? { ok: false, error: `"${hex}" is not an infohash (40 hex digits)` }
      : { ok: true, entry: { kind: "infohash", value: hex.toLowerCase() } }
  }
  const glob = t.replace(/^name:/i, "").trim()
  if (glob === "") return { ok: false, error: "an empty name pattern" }
  if (glob.length > MAX_PATTERN_LENGTH) {
    return { ok: false, error: `a name pattern longer than ${MAX_PATTERN_LENGTH} characters` }
  }
  if (/^\**$/.test(glob)) return { ok: false, error: `"${glob}" would block every torrent` }
  return { ok: true, entry: { kind: "name", value: glob } }
}

/**
 * A `--blocklist` file: one entry per line (as `parseBlockEntry`), optionally followed by ` # reason`; blank
 * lines and lines starting with `#` are skipped. Errors name their line.
 */
export const parseBlocklistFile = (
  text: string
): { readonly entries: ReadonlyArray<BlockEntry>; readonly errors: ReadonlyArray<string> } => {
  const entries: Array<BlockEntry> = []
  const errors: Array<string> = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) return
    const hash = line.indexOf(" #")
    const body = hash < 0 ? line : line.slice(0, hash)
    const reason = hash < 0 ? undefined : line.slice(hash + 2).trim() || undefined
    const r = parseBlockEntry(body)
    if (r.ok) entries.push({ ...r.entry, reason })
    else errors.push(`line ${i + 1}: ${r.error}`)
  })
  return { entries, errors }
}

/** The glob as a RegExp over the whole name, case-insensitive. */
export const globToRegExp = (glob: string): RegExp =>
  new RegExp(
    `^${
      [...glob].map((c) =>
        c === "*" ? "[\\s\\S]*" : c === "?" ? "[\\s\\S]" : c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")
      )
        .join("")
    }$`,
    "iu"
  )

/** The glob as a SQL LIKE pattern with `\` as its escape character (`LIKE ? ESCAPE '\'`). */
export const globToLike = (glob: string): string =>
  [...glob].map((c) => c === "*" ? "%" : c === "?" ? "_" : c === "%" || c === "_" || c === "\\" ? `\\${c}` : c)
    .join("")

/** A matcher over a set of name globs (one RegExp for them all). */
export const nameMatcher = (globs: ReadonlyArray<string>): (name: string) => string | undefined => {
  if (globs.length === 0) return () => undefined
  const compiled = globs.map((g) => ({ g, re: globToRegExp(g) }))
  return (name) => compiled.find((c) => c.re.test(name))?.g
}
