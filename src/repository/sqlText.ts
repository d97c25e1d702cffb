// Pure helpers that turn user input into safe query text: user words never reach FTS5 or tsquery syntax
// unescaped, and every value travels as a bound parameter.

/** The words of a text (letters, digits and underscore runs); everything else separates words. */
export const searchWords = (text: string): Array<string> => text.normalize("NFKC").match(/[\p{L}\p{N}_]+/gu) ?? []

/** Most words of a search text used (a query stays cheap whatever is pasted into it). */
export const MAX_QUERY_WORDS = 16

/**
 * An FTS5 MATCH expression: every word quoted (so it is a literal), all required, the last as a prefix (unless
 * `whole`: then every word is a whole word).
 */
export const fts5Query = (words: ReadonlyArray<string>, whole = false): string =>
  words.map((w, i) => `"${w.replaceAll("\"", "\"\"")}"${!whole && i === words.length - 1 ? "*" : ""}`).join(" ")

/**
 * A PostgreSQL `to_tsquery('simple', …)` text: words are \p{L}\p{N}_ only, joined by &, the last a prefix (unless
 * `whole`).
 */
export const tsQuery = (words: ReadonlyArray<string>, whole = false): string =>
  words.map((w, i) => `${w.toLowerCase()}${!whole && i === words.length - 1 ? ":*" : ""}`).join(" & ")

/** Splits rows into chunks whose parameter count stays under `maxParams`. */
export const chunkRows = <A>(rows: ReadonlyArray<A>, width: number, maxParams: number): Array<ReadonlyArray<A>> => {
  const per = Math.max(1, Math.floor(maxParams / width))
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < rows.length; i += per) out.push(rows.slice(i, i + per))
  return out
}
