// RSS 2.0 and Atom feeds of any search: /api/feed.rss and /api/feed.atom take the parameters of /search and
// /api/search (the search page links its feed), newest first unless the search names another sort. Feed
// readers keep no cookies: the token may be given as `?token=` here (no redirect).
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Either } from "effect"
import { magnet } from "../domain/format.js"
import { toHex } from "../domain/ids.js"
import { parseSearchParams, searchQueryOf } from "../domain/search.js"
import type { Repository, TorrentSummary } from "../repository/Repository.js"
import { element, XML_DECLARATION } from "./xml.js"

export const FEED_RSS_PATH = "/api/feed.rss"
export const FEED_ATOM_PATH = "/api/feed.atom"
/** Items per feed unless the search's `limit` says otherwise. */
export const FEED_ITEMS = 50

const rfc822 = (ms: number) => new Date(ms).toUTCString().replace(/GMT$/, "+0000")
const iso = (ms: number) => new Date(ms).toISOString()

const titleOf = (query: URLSearchParams) => {
  const q = query.get("q")?.trim()
  return q === undefined || q === "" ? "BitScrape: newest torrents" : `BitScrape: ${q}`
}

const description = (t: TorrentSummary) =>
  `${t.fileCount} file${t.fileCount === 1 ? "" : "s"}, ${t.totalLength} bytes; infohash ${toHex(t.infoHash)}`

/** An RSS 2.0 document of search hits. `base` is the server's address ending in "/", `search` the query string. */
export const rssXml = (items: ReadonlyArray<TorrentSummary>, base: string, search: URLSearchParams): string => {
  const page = `${base}search${search.size > 0 ? `?${search}` : ""}`
  const entries = items.map((t) => {
    const hex = toHex(t.infoHash)
    const link = magnet(t.infoHash, t.name)
    return [
      "<item>",
      element("title", {}, t.name),
      element("link", {}, `${base}torrent/${hex}`),
      element("guid", { isPermaLink: "false" }, hex),
      element("pubDate", {}, rfc822(t.discoveredAt)),
      element("description", {}, description(t)),
      element("enclosure", {
        url: link,
        length: t.totalLength,
        type: "application/x-bittorrent;x-scheme-handler/magnet"
      }),
      "</item>"
    ].join("\n")
  })
  return `${XML_DECLARATION}<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
${element("title", {}, titleOf(search))}
${element("link", {}, page)}
${
    element("atom:link", {
      href: `${base}api/feed.rss${search.size > 0 ? `?${search}` : ""}`,
      rel: "self",
      type: "application/rss+xml"
    })
  }
${element("description", {}, "Torrents found on the BitTorrent DHT matching a BitScrape search")}
${element("lastBuildDate", {}, rfc822(Date.now()))}
${entries.join("\n")}
</channel>
</rss>
`
}

/** An Atom (RFC 4287) document of search hits. */
export const atomXml = (items: ReadonlyArray<TorrentSummary>, base: string, search: URLSearchParams): string => {
  const suffix = search.size > 0 ? `?${search}` : ""
  const updated = items.reduce((m, t) => Math.max(m, t.fetchedAt), 0)
  const entries = items.map((t) => {
    const hex = toHex(t.infoHash)
    return [
      "<entry>",
      element("id", {}, `urn:btih:${hex}`),
      element("title", {}, t.name),
      element("updated", {}, iso(t.fetchedAt)),
      element("published", {}, iso(t.discoveredAt)),
      element("link", { rel: "alternate", type: "text/html", href: `${base}torrent/${hex}` }),
      element("link", {
        rel: "enclosure",
        type: "application/x-bittorrent;x-scheme-handler/magnet",
        length: t.totalLength,
        href: magnet(t.infoHash, t.name)
      }),
      element("summary", {}, description(t)),
      "</entry>"
    ].join("\n")
  })
  return `${XML_DECLARATION}<feed xmlns="http://www.w3.org/2005/Atom">
${element("id", {}, `${base}api/feed.atom${suffix}`)}
${element("title", {}, titleOf(search))}
${element("updated", {}, iso(updated === 0 ? Date.now() : updated))}
${element("link", { rel: "self", type: "application/atom+xml", href: `${base}api/feed.atom${suffix}` })}
${element("link", { rel: "alternate", type: "text/html", href: `${base}search${suffix}` })}
<author><name>BitScrape</name></author>
${entries.join("\n")}
</feed>
`
}

/** Answers /api/feed.rss or /api/feed.atom: the search's hits, or 400 naming a bad parameter. */
export const feedResponse = (repo: Repository["Type"], format: "rss" | "atom") =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const url = new URL(request.url, "http://localhost")
    url.searchParams.delete("token")
    const parsed = parseSearchParams(url.searchParams)
    if (Either.isLeft(parsed)) return HttpServerResponse.text(`${parsed.left}\n`, { status: 400 })
    const p = parsed.right
    // A feed lists the newest hits unless the search names a sort.
    const query = { ...searchQueryOf(p, FEED_ITEMS), sort: p.sort ?? "newest" as const }
    const base = `http://${request.headers["host"] ?? "localhost"}/`
    return yield* repo.search(query).pipe(
      Effect.map((page) =>
        format === "rss"
          ? HttpServerResponse.text(rssXml(page.items, base, url.searchParams), {
            contentType: "application/rss+xml; charset=utf-8"
          })
          : HttpServerResponse.text(atomXml(page.items, base, url.searchParams), {
            contentType: "application/atom+xml; charset=utf-8"
          })
      ),
      Effect.catchTag("RepositoryError", (e) =>
        Effect.succeed(HttpServerResponse.text(`${e.message}\n`, { status: 500 })))
    )
  })
