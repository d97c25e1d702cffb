// A search as URL parameters (`q=ubuntu&min_size=1GB&sort=largest`, those of /search and /api/search) to the
// Repository's SearchQuery: shared by the JSON API, the feeds, Torznab and saved searches, so a search means
// the same everywhere.
import { Either, ParseResult, Schema } from "effect"
import { CATEGORIES } from "./categories.js"
import { parseDate, parseSize } from "./format.js"
import type { SearchQuery } from "./model.js"

const textParam = <A>(parse: (s: string) => A | undefined, form: string) =>
  Schema.transformOrFail(Schema.String, Schema.Number, {
    strict: true,
    decode: (s, _, ast) => {
      const v = parse(s)
      return typeof v === "number" ? ParseResult.succeed(v) : ParseResult.fail(
        new ParseResult.Type(ast, s, `"${s}" is not ${form}`)
      )
    },
    encode: (n) => ParseResult.succeed(String(n))
  })

/** "700MB", "1.5GiB", "42" as bytes. */
const Size = textParam(parseSize, "a size such as 700MB or 1.5GiB")
/** A date ("2026-11-25") or ISO date-time as Unix ms. */
const DateParam = textParam(parseDate, "a date such as 2026-11-25")
const Count = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())

export const SortOrder = Schema.Literal("relevance", "newest", "oldest", "largest", "smallest", "name", "popular")

/** The search filters of `bitscrape search`, as URL parameters. */
export const SearchParams = Schema.Struct({
  /** Words to find in names and file paths. */
  q: Schema.optional(Schema.String.pipe(Schema.maxLength(200))),
  sort: Schema.optional(SortOrder),
  /** Page number, from 1. */
  page: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 10_000))),
  /** Results per page, 1–100. */
  limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 100))),
  min_size: Schema.optional(Size),
  max_size: Schema.optional(Size),
  min_files: Schema.optional(Count),
  max_files: Schema.optional(Count),
  since: Schema.optional(DateParam),
  until: Schema.optional(DateParam),
  /** Content category (docs/analysis.md). */
  category: Schema.optional(Schema.Literal(...CATEGORIES))
})

export type SearchParamsType = Schema.Schema.Type<typeof SearchParams>

/** The Repository query for decoded search parameters (page and limit become offset and limit). */
export const searchQueryOf = (p: SearchParamsType, defaultLimit = 20): SearchQuery => {
  const limit = p.limit ?? defaultLimit
  return {
    text: p.q,
    sort: p.sort ?? (p.q === undefined || p.q.trim() === "" ? "newest" : "relevance"),
    minSize: p.min_size,
    maxSize: p.max_size,
    minFiles: p.min_files,
    maxFiles: p.max_files,
    since: p.since,
    until: p.until,
    category: p.category,
    limit,
    offset: ((p.page ?? 1) - 1) * limit
  }
}

const decode = Schema.decodeUnknownEither(SearchParams, { onExcessProperty: "ignore" })

/**
 * Decodes search parameters from a query string or URL parameters; the error names each bad parameter
 * (`min_size: "huge" is not a size such as 700MB or 1.5GiB`). Parameters other than the search's are ignored.
 */
export const parseSearchParams = (params: URLSearchParams | string): Either.Either<SearchParamsType, string> => {
  const p = typeof params === "string" ? new URLSearchParams(params.replace(/^[^?]*\?/, "")) : params
  const record: Record<string, string> = {}
  for (const [k, v] of p) if (v.trim() !== "") record[k] = v.trim()
  return Either.mapLeft(
    decode(record),
    (e) => ParseResult.ArrayFormatter.formatErrorSync(e).map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")
  )
}

const FIELDS = ["q", "sort", "page", "limit", "min_size", "max_size", "min_files", "max_files", "since", "until"]

/**
 * A search given as a query string, a whole search URL (`http://…/search?q=ubuntu`) or bare words, checked, as the query
 * string of its search parameters only (as written, in a fixed order): what a saved search stores.
 */
export const canonicalSearch = (text: string): Either.Either<string, string> => {
  const trimmed = text.trim()
  // Bare words ("ubuntu 24.04") are the words to find.
  const p = trimmed.includes("=")
    ? new URLSearchParams(trimmed.replace(/^[^?]*\?/, ""))
    : new URLSearchParams({ q: trimmed })
  const out = new URLSearchParams()
  for (const f of FIELDS) {
    const v = p.get(f)
    if (v !== null && v.trim() !== "" && f !== "page") out.set(f, v.trim())
  }
  return Either.map(parseSearchParams(out), () => out.toString())
}
