import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Effect, type ParseResult } from "effect"
import { toHex } from "../domain/ids.js"
import {
  type BlockEntry,
  type BlockRecord,
  globToLike,
  nameMatcher,
  parseBlockEntry,
  type Purged
} from "./blocklist.js"
import { type Dialect, placeholdersOf } from "./dialect.js"
import {
  BlockEntryRow,
  BlockRow,
  BlockSignatureRow,
  IdRow,
  PathRow,
  type SqlRunner,
  TorrentHashRow,
  TorrentNameRow
} from "./sqlRows.js"
import { chunkRows } from "./sqlText.js"

// The blocklist over SQL (table `blocklist`): entries with when and why; purging what an entry blocks; an
// in-memory copy for the write paths (refreshed from the table at most every few seconds, so entries added by
// another process apply within that time); and the clause that hides blocked torrents from queries.

/** How stale the in-memory copy may get before a write or query checks the table again. */
const REFRESH_MILLIS = 5000

/** `run` and `select` (sqlRows.ts) over the repository's connection, and its dialect. */
export interface SqlContext extends SqlRunner {
  readonly dialect: Dialect
  /** Torrents' `paths` text as it was put into the full-text index (SQLite's contentless index needs it). */
  readonly indexedPaths: (paths: ReadonlyArray<string>) => string
}

/** A table missing from a database opened read-only that predates it. */
const noSuchTable = (e: SqlError | ParseResult.ParseError) =>
  e._tag === "SqlError" &&
  /no such table|does not exist/i.test(String((e.cause as { message?: unknown })?.message ?? e.message))

export const makeSqlBlocklist = (c: SqlContext) => {
  const { dialect, run: query, select } = c
  const maxParams = dialect.maxParams
  const placeholders = (count: number, start = 0) => placeholdersOf(dialect, count, start)
  const LIKE = dialect.ilike
  let cache = {
    checkedAt: -Infinity,
    signature: "",
    size: 0,
    hashes: new Set<string>(),
    name: (_: string): string | undefined => undefined
  }

  /** The in-memory copy, fresh to within REFRESH_MILLIS (or now, with `force`). */
  const current = (force = false) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (!force && now - cache.checkedAt < REFRESH_MILLIS) return cache
      // A database from before the blocklist, opened read-only (serve, search), has no such table: empty list.
      const [sig] = yield* select(BlockSignatureRow, "SELECT count(*) AS n, max(id) AS m FROM blocklist").pipe(
        Effect.catchIf(noSuchTable, () => Effect.succeed([{ n: 0, m: undefined }]))
      )
      const signature = `${sig!.n}|${String(sig!.m)}`
      if (signature !== cache.signature && sig!.n === 0) {
        cache = { checkedAt: now, signature, size: 0, hashes: new Set(), name: () => undefined }
      } else if (signature !== cache.signature) {
        const rows = yield* select(BlockEntryRow, "SELECT kind, value FROM blocklist")
        cache = {
          checkedAt: now,
          signature,
          size: rows.length,
          hashes: new Set(rows.filter((r) => r.kind === "infohash").map((r) => r.value)),
          name: nameMatcher(rows.filter((r) => r.kind === "name").map((r) => r.value))
        }
      }
      cache.checkedAt = now
      return cache
    })

  const inList = (n: number, start = 0) => placeholders(n, start).join(",")

  /** Deletes torrents (their files and full-text entries too) by id. */
  const deleteTorrents = (ids: ReadonlyArray<number>) =>
    Effect.gen(function*() {
      const unindex = dialect.fullText.unindexTorrent
      for (const chunk of chunkRows(ids, 1, maxParams)) {
        if (unindex !== undefined) {
          // The index forgets a row only when given the exact text it indexed.
          const rows = yield* select(
            TorrentNameRow,
            `SELECT id, name FROM torrents WHERE id IN (${inList(chunk.length)})`,
            chunk
          )
          for (const r of rows) {
            const files = yield* select(
              PathRow,
              `SELECT path FROM files WHERE torrent_id = ${placeholders(1)[0]} ORDER BY idx`,
              [r.id]
            )
            const s = unindex(r.id, r.name, c.indexedPaths(files.map((f) => f.path)))
            yield* query(s.text, s.params)
          }
        }
        yield* query(`DELETE FROM files WHERE torrent_id IN (${inList(chunk.length)})`, chunk)
        yield* query(`DELETE FROM torrents WHERE id IN (${inList(chunk.length)})`, chunk)
      }
    })

  /** Deletes infohashes and their peers (hashes as bytes). */
  const deleteInfohashes = (hashes: ReadonlyArray<Buffer>) =>
    Effect.gen(function*() {
      let n = 0
      for (const chunk of chunkRows(hashes, 1, maxParams)) {
        yield* query(`DELETE FROM infohash_peers WHERE hash IN (${inList(chunk.length)})`, chunk)
        // Its sightings over time go with it (blocked: never kept; evicted: the space is wanted).
        yield* query(`DELETE FROM infohash_hours WHERE hash IN (${inList(chunk.length)})`, chunk)
        const gone = yield* query(
          `DELETE FROM infohashes WHERE hash IN (${inList(chunk.length)}) RETURNING hash`,
          chunk
        )
        n += gone.length
      }
      return n
    })

  /** Inserts entries not there yet; returns the ones added. */
  const insert = (entries: ReadonlyArray<BlockEntry & { readonly via?: string }>, at: number) =>
    Effect.gen(function*() {
      const added: Array<BlockRecord> = []
      for (const e of entries) {
        const rows = yield* select(
          IdRow,
          `INSERT INTO blocklist (kind, value, hash, pattern, added_at, reason, via) VALUES (${inList(7)})
           ON CONFLICT (kind, value) DO NOTHING RETURNING id`,
          [
            e.kind,
            e.value,
            e.kind === "infohash" ? Buffer.from(e.value, "hex") : null,
            e.kind === "name" ? globToLike(e.value) : null,
            at,
            e.reason ?? null,
            e.via ?? null
          ]
        )
        if (rows.length === 0) continue
        added.push({ id: rows[0]!.id, kind: e.kind, value: e.value, reason: e.reason, addedAt: at })
        // Applies at once to this process's writes (the next refresh reads the table anyway).
        if (e.kind === "infohash") {
          cache.hashes.add(e.value)
          cache.size++
          cache.signature = "" // (read again at the next refresh, in case this transaction rolls back)
        }
      }
      return added
    })

  /** Blocks the infohashes of torrents whose names match (recorded `via` the pattern) and removes them. */
  const purgeName = (glob: string, at: number) =>
    Effect.gen(function*() {
      const rows = yield* select(
        TorrentHashRow,
        `SELECT id, hash FROM torrents WHERE name ${LIKE} ${placeholders(1)[0]} ESCAPE '\\'`,
        [globToLike(glob)]
      )
      if (rows.length === 0) return { torrents: 0, infohashes: 0 }
      yield* deleteTorrents(rows.map((r) => r.id))
      const hashes = rows.map((r) => Buffer.from(r.hash))
      yield* insert(
        hashes.map((h) => ({
          kind: "infohash",
          value: h.toString("hex"),
          reason: `name matches "${glob}"`,
          via: glob
        })),
        at
      )
      return { torrents: rows.length, infohashes: yield* deleteInfohashes(hashes) }
    })

  /** Adds entries (those already there keep their date and reason) and removes everything they block. */
  const block = (entries: ReadonlyArray<BlockEntry>, at: number) =>
    Effect.gen(function*() {
      const added = yield* insert(entries, at)
      const hashes = entries.filter((e) => e.kind === "infohash").map((e) => Buffer.from(e.value, "hex"))
      let torrents = 0
      let infohashes = 0
      for (const chunk of chunkRows(hashes, 1, maxParams)) {
        const ids = yield* select(IdRow, `SELECT id FROM torrents WHERE hash IN (${inList(chunk.length)})`, chunk)
        yield* deleteTorrents(ids.map((r) => r.id))
        torrents += ids.length
      }
      infohashes += yield* deleteInfohashes(hashes)
      for (const e of entries) {
        if (e.kind !== "name") continue
        const p = yield* purgeName(e.value, at)
        torrents += p.torrents
        infohashes += p.infohashes
      }
      return { added, purged: { torrents, infohashes } as Purged }
    })

  /** Removes an entry by id or by what it blocks (a name pattern also frees the infohashes it blocked). */
  const unblock = (text: string) =>
    Effect.gen(function*() {
      const t = text.trim()
      let rows: ReadonlyArray<typeof BlockEntryRow.Type>
      if (/^\d+$/.test(t)) {
        rows = yield* select(
          BlockEntryRow,
          `DELETE FROM blocklist WHERE id = ${placeholders(1)[0]} RETURNING kind, value`,
          [Number(t)]
        )
      } else {
        const parsed = parseBlockEntry(t)
        if (!parsed.ok) return 0
        const [a, b] = placeholders(2)
        rows = yield* select(
          BlockEntryRow,
          `DELETE FROM blocklist WHERE kind = ${a} AND value = ${b} RETURNING kind, value`,
          [
            parsed.entry.kind,
            parsed.entry.value
          ]
        )
      }
      let n = rows.length
      for (const r of rows) {
        if (r.kind !== "name") continue
        const freed = yield* query(`DELETE FROM blocklist WHERE via = ${placeholders(1)[0]} RETURNING id`, [r.value])
        n += freed.length
      }
      return n
    })

  const list = select(BlockRow, "SELECT id, kind, value, added_at, reason, via FROM blocklist ORDER BY id").pipe(
    Effect.catchIf(noSuchTable, () => Effect.succeed([])),
    Effect.map((rows) =>
      rows.map((r): BlockRecord => ({
        id: r.id,
        kind: r.kind,
        value: r.value,
        addedAt: r.added_at,
        reason: r.reason,
        via: r.via
      }))
    )
  )

  /**
   * A condition that hides blocked rows (their infohash in column `hash`, torrent name in `name`), or "" when the
   * blocklist is empty (as of the in-memory copy, refreshed first).
   */
  const visible = (hash = "t.hash", name = "t.name") =>
    Effect.map(current(), (b) =>
      b.size === 0 ? "" : `NOT EXISTS (SELECT 1 FROM blocklist b WHERE b.hash = ${hash})
       AND NOT EXISTS (SELECT 1 FROM blocklist b WHERE b.kind = 'name' AND ${name} ${LIKE} b.pattern ESCAPE '\\')`)

  /** Of hex infohashes, those blocked (as of the in-memory copy). */
  const blockedHash = (hex: string) => cache.hashes.has(hex)

  return {
    current,
    block,
    unblock,
    list,
    visible,
    blockedHash,
    /** The pattern a torrent name matches, if any. */
    blockedName: (name: string) => cache.name(name),
    purgeName,
    insert,
    deleteInfohashes,
    deleteTorrents,
    toHex
  }
}

export type SqlBlocklist = ReturnType<typeof makeSqlBlocklist>
