// Saved searches: a database row to the model (shared by the SQL backends).
import type { InfoHash } from "../domain/ids.js"
import type { SavedSearch } from "../domain/model.js"

const optNum = (x: unknown): number | undefined => x === null || x === undefined ? undefined : Number(x)

/** A `saved_searches` row as a SavedSearch. */
export const savedSearchOf = (r: Record<string, unknown>): SavedSearch => ({
  id: Number(r.id),
  name: String(r.name),
  query: String(r.query),
  webhook: String(r.webhook),
  createdAt: Number(r.created_at),
  cursor: {
    fetchedAt: Number(r.cursor_at),
    infoHash: r.cursor_hash instanceof Uint8Array ? new Uint8Array(r.cursor_hash) as InfoHash : undefined
  },
  delivered: Number(r.delivered),
  lastAttemptAt: optNum(r.last_attempt_at),
  lastError: r.last_error === null || r.last_error === undefined ? undefined : String(r.last_error)
})
