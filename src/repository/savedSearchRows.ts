// Saved searches: a database row (decoded through sqlRows.ts SavedSearchRow) to the model.
import type { InfoHash } from "../domain/ids.js"
import type { SavedSearch } from "../domain/model.js"
import type { SavedSearchRow } from "./sqlRows.js"

/** A `saved_searches` row as a SavedSearch. */
export const savedSearchOf = (r: typeof SavedSearchRow.Type): SavedSearch => ({
  id: r.id,
  name: r.name,
  query: r.query,
  webhook: r.webhook,
  createdAt: r.created_at,
  cursor: { fetchedAt: r.cursor_at, infoHash: r.cursor_hash as InfoHash | undefined },
  delivered: r.delivered,
  lastAttemptAt: r.last_attempt_at,
  lastError: r.last_error
})
