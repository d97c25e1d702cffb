import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { parseSearchParams, searchQueryOf } from "../../src/domain/search.js"

// One reading of a search's URL parameters for the API, the feeds, Torznab and saved searches.
describe("searchQueryOf", () => {
  it("keeps every filter, the category included, and turns page and limit into offset and limit", () => {
    const p = Either.getOrThrow(
      parseSearchParams("q=ubuntu&category=video&min_size=1GB&max_files=3&since=2026-11-01&page=3&limit=10")
    )
    expect(searchQueryOf(p)).toEqual({
      text: "ubuntu",
      sort: "relevance",
      minSize: 1e9,
      maxSize: undefined,
      minFiles: undefined,
      maxFiles: 3,
      since: Date.parse("2026-11-01"),
      until: undefined,
      category: "video",
      limit: 10,
      offset: 20
    })
    expect(searchQueryOf(Either.getOrThrow(parseSearchParams("category=audio")), 50)).toMatchObject({
      sort: "newest",
      category: "audio",
      limit: 50,
      offset: 0
    })
  })
})
