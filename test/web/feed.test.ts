// RSS and Atom feeds of a search, read as a feed reader does: strict XML, the RSS 2.0 / Atom elements, the same
// hits as /api/search, the token as a URL parameter (feed readers keep no cookies) and bad parameters refused.
import { assert, describe, it } from "@effect/vitest"
import { DOMParser, type Element } from "@xmldom/xmldom"
import { Effect, Schema } from "effect"
import { SearchResponse } from "../../src/web/api.js"
import { webFixture } from "../support/web.js"

const ATOM = "http://www.w3.org/2005/Atom"

const parseXml = (text: string) =>
  new DOMParser({
    onError: (level, message) => {
      throw new Error(`XML ${level}: ${message}`)
    }
  }).parseFromString(text, "text/xml").documentElement!

const kids = (parent: Element, name: string): Array<Element> =>
  Array.from(parent.childNodes).filter((n): n is Element => n.nodeType === 1 && (n as Element).localName === name)
const textOf = (parent: Element, name: string) => kids(parent, name)[0]?.textContent ?? ""

const get = (url: string) =>
  Effect.promise(async () => {
    const r = await fetch(url, { redirect: "manual" })
    return { status: r.status, type: r.headers.get("content-type") ?? "", body: await r.text() }
  })

describe("search feeds", () => {
  it.scopedLive("RSS: the search's hits, newest first, with links, dates and magnet enclosures", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      const api = Schema.decodeUnknownSync(SearchResponse)(
        JSON.parse((yield* get(`${web.url}api/search?sort=newest&limit=50`)).body)
      )
      const r = yield* get(`${web.url}api/feed.rss`)
      assert.strictEqual(r.status, 200)
      assert.match(r.type, /^application\/rss\+xml/)
      const rss = parseXml(r.body)
      assert.strictEqual(rss.tagName, "rss")
      const channel = kids(rss, "channel")[0]!
      assert.strictEqual(textOf(channel, "title"), "BitScrape: newest torrents")
      const items = kids(channel, "item")
      assert.deepStrictEqual(items.map((i) => textOf(i, "title")), api.items.map((i) => i.name))
      for (const [i, item] of items.entries()) {
        const hit = api.items[i]!
        assert.strictEqual(textOf(item, "guid"), hit.infohash)
        assert.strictEqual(textOf(item, "link"), `${web.url}torrent/${hit.infohash}`)
        // RFC 822 dates carry whole seconds.
        assert.strictEqual(Date.parse(textOf(item, "pubDate")), Math.floor(Date.parse(hit.discovered_at) / 1000) * 1000)
        const enclosure = kids(item, "enclosure")[0]!
        assert.match(enclosure.getAttribute("url")!, new RegExp(`^magnet:\\?xt=urn:btih:${hit.infohash}`))
        assert.strictEqual(Number(enclosure.getAttribute("length")), hit.length)
      }

      const ubuntu = parseXml((yield* get(`${web.url}api/feed.rss?q=ubuntu&min_size=1GB`)).body)
      const channel2 = kids(ubuntu, "channel")[0]!
      assert.strictEqual(textOf(channel2, "title"), "BitScrape: ubuntu")
      assert.strictEqual(textOf(channel2, "link"), `${web.url}search?q=ubuntu&min_size=1GB`)
      assert.deepStrictEqual(kids(channel2, "item").map((i) => textOf(i, "title")), ["Ubuntu 24.04 desktop amd64"])
    }))

  it.scopedLive("Atom: entries with ids, dates and links; any search's sort and filters", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      const r = yield* get(`${web.url}api/feed.atom?sort=largest&limit=2`)
      assert.strictEqual(r.status, 200)
      assert.match(r.type, /^application\/atom\+xml/)
      const feed = parseXml(r.body)
      assert.strictEqual(feed.namespaceURI, ATOM)
      assert.strictEqual(feed.localName, "feed")
      assert.isFalse(Number.isNaN(Date.parse(textOf(feed, "updated"))))
      const entries = kids(feed, "entry")
      assert.deepStrictEqual(entries.map((e) => textOf(e, "title")), [
        "Ubuntu 24.04 desktop amd64",
        "debian-12.8.0-amd64-netinst.iso"
      ])
      const first = entries[0]!
      assert.strictEqual(textOf(first, "id"), `urn:btih:${web.hashes[0]}`)
      const links = kids(first, "link")
      assert.strictEqual(
        links.find((l) => l.getAttribute("rel") === "alternate")!.getAttribute("href"),
        `${web.url}torrent/${web.hashes[0]}`
      )
      assert.match(links.find((l) => l.getAttribute("rel") === "enclosure")!.getAttribute("href")!, /^magnet:/)
      // Hostile names are escaped: the XSS-named torrents parse as their text.
      const all = parseXml((yield* get(`${web.url}api/feed.atom`)).body)
      assert.include(kids(all, "entry").map((e) => textOf(e, "title")), "<script>alert(1)</script>")
    }))

  it.scopedLive("bad parameters are refused naming the parameter; the token may be a URL parameter", () =>
    Effect.gen(function*() {
      const web = yield* webFixture()
      const bad = yield* get(`${web.url}api/feed.rss?min_size=huge`)
      assert.strictEqual(bad.status, 400)
      assert.include(bad.body, "min_size")

      const token = "feed-token-0123456789abcdef"
      const secured = yield* webFixture({ token })
      assert.strictEqual((yield* get(`${secured.url}api/feed.rss`)).status, 401)
      assert.strictEqual((yield* get(`${secured.url}api/feed.atom?token=wrong-token-0123456789`)).status, 401)
      const ok = yield* get(`${secured.url}api/feed.rss?q=debian&token=${token}`)
      assert.strictEqual(ok.status, 200) // answered, not redirected to a cookie
      assert.notInclude(ok.body, token)
      const channel = kids(parseXml(ok.body), "channel")[0]!
      assert.deepStrictEqual(kids(channel, "item").map((i) => textOf(i, "title")), ["debian-12.8.0-amd64-netinst.iso"])
    }))
})
