// Torznab (the Newznab API for torrents, as Sonarr, Radarr, Prowlarr and Jackett speak it) at /api/torznab:
// `t=caps` describes what can be searched; `t=search`, `t=tvsearch` and `t=movie` answer RSS 2.0 items with the
// torznab:attr extensions those clients read (category, size, infohash, magneturl, peers when known). The API key
// is the UI token (`apikey=`; checked by the server's guard). Parsing and rendering are pure; `torznabResponse`
// runs one request against the Repository.
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Either } from "effect"
import { magnet } from "../domain/format.js"
import { toHex } from "../domain/ids.js"
import type { Repository, TorrentDetail } from "../repository/Repository.js"
import { matchesCategories, TORZNAB_CATEGORIES, torznabCategories } from "./torznabCategories.js"
import { element, escapeXml, XML_DECLARATION } from "./xml.js"

export const TORZNAB_PATH = "/api/torznab"
export const TORZNAB_NS = "http://torznab.com/schemas/2015/feed"
export const NEWZNAB_NS = "http://www.newznab.com/DTD/2010/feeds/attributes/"
const ATOM_NS = "http://www.w3.org/2005/Atom"

/** Results per request: the default and the most a client may ask for. */
export const TORZNAB_LIMIT = 100
/** With a category filter, at most this many search hits are examined per request (categories are per torrent). */
export const TORZNAB_SCAN = 500

/** A refused request, with its Newznab error code (100 credentials, 200/201 parameters, 202/203 functions). */
export class TorznabError {
  readonly _tag = "TorznabError"
  constructor(readonly code: 100 | 200 | 201 | 202 | 203 | 300, readonly description: string) {}
}

export type TorznabRequest =
  | { readonly t: "caps" }
  | {
    readonly t: "search" | "tvsearch" | "movie"
    /** The words to find (the query, plus season/episode words for tvsearch); undefined lists the newest. */
    readonly text: string | undefined
    readonly categories: ReadonlyArray<number>
    readonly limit: number
    readonly offset: number
  }

const intParam = (
  params: URLSearchParams,
  name: string,
  min: number,
  max: number
): number | undefined | TorznabError => {
  const raw = params.get(name)
  if (raw === null || raw.trim() === "") return undefined
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    return new TorznabError(201, `Incorrect parameter: ${name} must be a whole number from ${min} to ${max}`)
  }
  return Number(raw)
}

/** Season/episode words as release names carry them: S01E02, S01 (a prefix: the whole season), or a date. */
const episodeWords = (season: string | null, ep: string | null): string | undefined | TorznabError => {
  if (season === null || season.trim() === "") return undefined
  const s = season.trim()
  if (/^\d{4}$/.test(s) && ep !== null && /^\d{1,2}\/\d{1,2}$/.test(ep.trim())) {
    // Daily shows: season=2024&ep=01/15 → the date's words.
    const [m, d] = ep.trim().split("/")
    return `${s} ${m!.padStart(2, "0")} ${d!.padStart(2, "0")}`
  }
  if (!/^\d{1,4}$/.test(s)) return new TorznabError(201, "Incorrect parameter: season must be a number")
  const pad = (n: string) => n.padStart(2, "0")
  if (ep === null || ep.trim() === "") return `S${pad(s)}`
  if (!/^\d{1,4}$/.test(ep.trim())) return new TorznabError(201, "Incorrect parameter: ep must be a number")
  return `S${pad(s)}E${pad(ep.trim())}`
}

/** The request a Torznab URL's parameters ask for, or the error to answer. */
export const parseTorznab = (params: URLSearchParams): Either.Either<TorznabRequest, TorznabError> => {
  const t = params.get("t")
  if (t === null || t === "") return Either.left(new TorznabError(200, "Missing parameter: t"))
  if (t === "caps") return Either.right({ t: "caps" })
  if (t !== "search" && t !== "tvsearch" && t !== "movie") {
    return Either.left(
      new TorznabError(t === "music" || t === "book" ? 203 : 202, `Function not available: t=${t.slice(0, 40)}`)
    )
  }
  const limit = intParam(params, "limit", 1, 10_000)
  if (limit instanceof TorznabError) return Either.left(limit)
  const offset = intParam(params, "offset", 0, 100_000)
  if (offset instanceof TorznabError) return Either.left(offset)
  const categories: Array<number> = []
  for (const c of (params.get("cat") ?? "").split(",")) {
    if (c.trim() === "") continue
    if (!/^\d{1,6}$/.test(c.trim())) {
      return Either.left(new TorznabError(201, "Incorrect parameter: cat must be category ids"))
    }
    categories.push(Number(c))
  }
  const q = (params.get("q") ?? "").slice(0, 200).trim()
  const episode = t === "tvsearch" ? episodeWords(params.get("season"), params.get("ep")) : undefined
  if (episode instanceof TorznabError) return Either.left(episode)
  const text = [q, episode ?? ""].filter((w) => w !== "").join(" ")
  return Either.right({
    t,
    text: text === "" ? undefined : text,
    categories,
    limit: Math.min(limit ?? TORZNAB_LIMIT, TORZNAB_LIMIT),
    offset: offset ?? 0
  })
}

/** The `t=caps` document. */
export const capsXml = (version: string): string => {
  const cats = TORZNAB_CATEGORIES.map((c) =>
    c.subcats.length === 0
      ? element("category", { id: c.id, name: c.name })
      : `<category id="${c.id}" name="${escapeXml(c.name)}">${
        c.subcats.map((s) => element("subcat", s)).join("")
      }</category>`
  ).join("\n    ")
  return `${XML_DECLARATION}<caps>
  ${element("server", { version, title: "BitScrape", strapline: "torrents found on the BitTorrent DHT" })}
  ${element("limits", { default: TORZNAB_LIMIT, max: TORZNAB_LIMIT })}
  <searching>
    ${element("search", { available: "yes", supportedParams: "q" })}
    ${element("tv-search", { available: "yes", supportedParams: "q,season,ep" })}
    ${element("movie-search", { available: "yes", supportedParams: "q" })}
    ${element("music-search", { available: "no", supportedParams: "q" })}
    ${element("audio-search", { available: "no", supportedParams: "q" })}
    ${element("book-search", { available: "no", supportedParams: "q" })}
  </searching>
  <categories>
    ${cats}
  </categories>
</caps>
`
}

/** RFC 822 date, as RSS wants it. */
const rfc822 = (ms: number) => new Date(ms).toUTCString().replace(/GMT$/, "+0000")

/** One result item (also the RSS feed's items). `base` is the server's address, ending in "/". */
export const itemXml = (t: TorrentDetail, base: string): string => {
  const hex = toHex(t.infoHash)
  const link = magnet(t.infoHash, t.name, t.infoHashV2)
  const categories = torznabCategories(t)
  const attr = (name: string, value: string | number) => element("torznab:attr", { name, value })
  return [
    "<item>",
    element("title", {}, t.name),
    element("guid", { isPermaLink: "false" }, hex),
    element("link", {}, link),
    element("comments", {}, `${base}torrent/${hex}`),
    element("pubDate", {}, rfc822(t.discoveredAt)),
    element("size", {}, String(t.totalLength)),
    element("description", {}, `${t.name} (${t.fileCount} file${t.fileCount === 1 ? "" : "s"})`),
    ...categories.map((c) => element("category", {}, String(c))),
    element("enclosure", {
      url: link,
      length: t.totalLength,
      type: "application/x-bittorrent;x-scheme-handler/magnet"
    }),
    ...categories.map((c) => attr("category", c)),
    attr("size", t.totalLength),
    attr("files", t.fileCount),
    attr("infohash", hex),
    attr("magneturl", link),
    // Distinct peers seen with this infohash on the DHT: how many may be seeding is not known, so no seeders.
    ...(t.peersSeen > 0 ? [attr("peers", t.peersSeen)] : []),
    attr("downloadvolumefactor", 0),
    attr("uploadvolumefactor", 1),
    "</item>"
  ].join("\n")
}

/** A `t=search`/`tvsearch`/`movie` answer: an RSS 2.0 channel with the Newznab paging element. */
export const resultsXml = (
  items: ReadonlyArray<TorrentDetail>,
  page: { readonly offset: number; readonly total: number; readonly base: string; readonly self: string }
): string =>
  `${XML_DECLARATION}<rss version="2.0" xmlns:atom="${ATOM_NS}" xmlns:torznab="${TORZNAB_NS}" xmlns:newznab="${NEWZNAB_NS}">
<channel>
${element("atom:link", { href: page.self, rel: "self", type: "application/rss+xml" })}
<title>BitScrape</title>
<description>Torrents found on the BitTorrent DHT</description>
${element("link", {}, page.base)}
${element("newznab:response", { offset: page.offset, total: page.total })}
${items.map((t) => itemXml(t, page.base)).join("\n")}
</channel>
</rss>
`

/** The error document (with HTTP 401 for credentials, 400 otherwise). */
export const errorResponse = (e: TorznabError) =>
  HttpServerResponse.text(`${XML_DECLARATION}${element("error", { code: e.code, description: e.description })}\n`, {
    status: e.code === 100 ? 401 : e.code === 300 ? 500 : 400,
    contentType: "application/xml; charset=utf-8"
  })

const details = (repo: Repository["Type"], items: ReadonlyArray<{ readonly infoHash: TorrentDetail["infoHash"] }>) =>
  Effect.forEach(
    items,
    (i) =>
      repo.getTorrent(i.infoHash).pipe(
        Effect.map((d) => [d]),
        Effect.catchTag("TorrentNotFound", () => Effect.succeed([]))
      ),
    { concurrency: 8 }
  ).pipe(Effect.map((xs) => xs.flat()))

/** The items and total for one search request. With categories, hits are examined up to TORZNAB_SCAN. */
export const torznabSearch = (repo: Repository["Type"], req: Exclude<TorznabRequest, { readonly t: "caps" }>) =>
  Effect.gen(function*() {
    const sort = req.text === undefined ? "newest" as const : "relevance" as const
    if (req.categories.length === 0) {
      const page = yield* repo.search({ text: req.text, sort, limit: req.limit, offset: req.offset })
      return { items: yield* details(repo, page.items), total: page.total }
    }
    const matched: Array<TorrentDetail> = []
    let scanned = 0
    let total = 0
    while (matched.length < req.offset + req.limit && scanned < TORZNAB_SCAN) {
      const page = yield* repo.search({ text: req.text, sort, limit: 100, offset: scanned })
      total = page.total
      if (page.items.length === 0) break
      for (const d of yield* details(repo, page.items)) {
        if (matchesCategories(torznabCategories(d), req.categories)) matched.push(d)
      }
      scanned += page.items.length
      if (scanned >= page.total) break
    }
    // Every hit examined: the exact count; otherwise the search's total is the (upper) bound a client can page to.
    return {
      items: matched.slice(req.offset, req.offset + req.limit),
      total: scanned >= total ? matched.length : total
    }
  })

/** Answers one /api/torznab request. */
export const torznabResponse = (repo: Repository["Type"], version: string) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const url = new URL(request.url, "http://localhost")
    const parsed = parseTorznab(url.searchParams)
    if (Either.isLeft(parsed)) return errorResponse(parsed.left)
    const req = parsed.right
    if (req.t === "caps") {
      return HttpServerResponse.text(capsXml(version), { contentType: "application/xml; charset=utf-8" })
    }
    const host = request.headers["host"] ?? "localhost"
    const base = `http://${host}/`
    url.searchParams.delete("apikey")
    const self = `${base}api/torznab${url.search}`
    return yield* torznabSearch(repo, req).pipe(
      Effect.map(({ items, total }) =>
        HttpServerResponse.text(resultsXml(items, { offset: req.offset, total, base, self }), {
          contentType: "application/rss+xml; charset=utf-8"
        })
      ),
      Effect.catchTag("RepositoryError", (e) => Effect.succeed(errorResponse(new TorznabError(300, e.message))))
    )
  })
