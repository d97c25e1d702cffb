import { HelpDoc, Options, ValidationError } from "@effect/cli"
import { Effect, Option } from "effect"
import { CATEGORIES, type Category } from "../domain/categories.js"
import { parseDate, parseSize } from "../domain/format.js"
import type { SearchQuery } from "../domain/model.js"
import { choiceFlag, integerFlag } from "./flags.js"

const parsed = (name: string, description: string, parse: (s: string) => number | undefined, form: string) =>
  Options.text(name).pipe(
    Options.withPseudoName(name.endsWith("size") ? "size" : "date"),
    Options.withDescription(description),
    Options.mapEffect((text) => {
      const value = parse(text)
      return value === undefined
        ? Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--${name}: "${text}" is not ${form}`)))
        : Effect.succeed(value)
    }),
    Options.optional
  )

const count = (name: string, description: string) =>
  integerFlag(name, { min: 0 }).pipe(Options.withDescription(description), Options.optional)

/** The filters shared by `search` and `export`. */
export const filterOptions = {
  minSize: parsed("min-size", "smallest total size, e.g. 700MB or 1.5GiB", parseSize, "a size such as 700MB or 1.5GiB"),
  maxSize: parsed("max-size", "largest total size", parseSize, "a size such as 700MB or 1.5GiB"),
  minFiles: count("min-files", "fewest files"),
  maxFiles: count("max-files", "most files"),
  since: parsed("since", "discovered on or after (YYYY-MM-DD or ISO date-time)", parseDate, "a date like 2026-01-31"),
  until: parsed("until", "discovered before (YYYY-MM-DD or ISO date-time)", parseDate, "a date like 2026-01-31"),
  category: choiceFlag("category", CATEGORIES).pipe(
    Options.withDescription("content category (docs/analysis.md)"),
    Options.optional
  )
}

type FilterFlags =
  & { readonly [K in Exclude<keyof typeof filterOptions, "category">]: Option.Option<number> }
  & { readonly category: Option.Option<Category> }

/** The search filters from the flags that were given. */
export const filtersOf = (flags: FilterFlags): SearchQuery => ({
  minSize: Option.getOrUndefined(flags.minSize),
  maxSize: Option.getOrUndefined(flags.maxSize),
  minFiles: Option.getOrUndefined(flags.minFiles),
  maxFiles: Option.getOrUndefined(flags.maxFiles),
  since: Option.getOrUndefined(flags.since),
  until: Option.getOrUndefined(flags.until),
  category: Option.getOrUndefined(flags.category)
})
