// Torznab as Sonarr, Radarr and Prowlarr consume it: every response is parsed as strict, namespaced XML (a
// parser warning fails the test, as an XDocument parse would), caps are read for search modes and categories,
// and items are read the way their Torznab parsers do: title, guid, pubDate, size, the enclosure (here a
// magnet), and the torznab:attr values (category, infohash, magneturl, peers).
import { assert, describe, it } from "@effect/vitest"
import { DOMParser, type Element } from "@xmldom/xmldom"
import { Effect, Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { toHex } from "../../src/krpc/index.js"
import { RepositorySqlite } from "../../src/repository/layers.js"
import { RepositoryMemory } from "../../src/repository/memory.js"
import type { Repository } from "../../src/repository/Repository.js"
import { torznabCategories } from "../../src/web/torznabCategories.js"
import { makeTorrent } from "../support/torrents.js"
import { webFixture } from "../support/web.js"

const TORZNAB = "http://torznab.com/schemas/2015/feed"
const NEWZNAB = "http://www.newznab.com/DTD/2010/feeds/attributes/"

/**
 * Strict parse: any error or warning is a failure, like a .NET XDocument.Parse — except xmldom's hint that a
 * U+FFFD may come from a decoding problem: it is a valid character, and the one that replaces what XML cannot carry.
 */
const parseXml = (text: string) =>
  new DOMParser({
    onError: (level, message) => {
      if (level === "warning" && /replacement character/i.test(message)) return
      throw new Error(`XML ${level}: ${message}`)
    }
  }).parseFromString(text, "text/xml")

const children = (parent: Element, name: string): Array<Element> =>
  Array.from(parent.childNodes).filter((n): n is Element => n.nodeType === 1 && (n as Element).tagName === name)
const child = (parent: Element, name: string): Element => {
  const found = children(parent, name)
  assert.strictEqual(found.length, 1, `one <${name}> in <${parent.tagName}>`)
  return found[0]!
}
const text = (parent: Element, name: string) => child(parent, name).textContent ?? ""

interface ParsedItem {
  readonly title: string
  readonly guid: string
  readonly pubDate: number
  readonly size: number
  readonly enclosure: { readonly url: string; readonly length: number; readonly type: string }
  readonly attrs: ReadonlyMap<string, ReadonlyArray<string>>
  readonly comments: string
}

const parseResults = (xml: string) => {
  const doc = parseXml(xml)
  const rss = doc.documentElement!
  assert.strictEqual(rss.tagName, "rss")
  assert.strictEqual(rss.getAttribute("version"), "2.0")
  const channel = child(rss, "channel")
  const response = Array.from(channel.getElementsByTagNameNS(NEWZNAB, "response"))[0]!
  const items: Array<ParsedItem> = children(channel, "item").map((item) => {
    const attrs = new Map<string, Array<string>>()
    for (const a of Array.from(item.getElementsByTagNameNS(TORZNAB, "attr"))) {
      const list = attrs.get(a.getAttribute("name")!) ?? []
      list.push(a.getAttribute("value")!)
      attrs.set(a.getAttribute("name")!, list)
    }
    const enclosure = child(item, "enclosure")
    return {
      title: text(item, "title"),
      guid: text(item, "guid"),
      pubDate: Date.parse(text(item, "pubDate")),
      size: Number(text(item, "size")),
      enclosure: {
        url: enclosure.getAttribute("url")!,
        length: Number(enclosure.getAttribute("length")),
        type: enclosure.getAttribute("type")!
      },
      attrs,
      comments: text(item, "comments")
    }
  })
  return {
    offset: Number(response.getAttribute("offset")),
    total: Number(response.getAttribute("total")),
    items
  }
}

const getText = (url: string) =>
  Effect.promise(async () => {
    const r = await fetch(url)
    return { status: r.status, type: r.headers.get("content-type") ?? "", body: await r.text() }
  })
const search = (url: string) =>
  Effect.map(getText(url), (r) => {
    assert.strictEqual(r.status, 200, r.body)
    assert.match(r.type, /xml/)
    return parseResults(r.body)
  })
const errorCode = (xml: string) => Number(parseXml(xml).documentElement!.getAttribute("code"))

/** Torrents beyond the web fixture's: TV episodes, a UHD movie, a lossless album, and a name with control bytes. */
const extraTorrents = () => [
  makeTorrent("Show.Name.S01E02.1080p.WEB.x264", [{
    path: "Show.Name.S01E02.1080p.WEB.x264.mkv",
    length: 1_500_000_000
  }, {
    path: "Show.Name.S01E02.nfo",
    length: 900
  }], { fetchedAt: 1_764_000_300_000 }),
  makeTorrent("Show.Name.S01E03.480p.HDTV", [{ path: "Show.Name.S01E03.480p.HDTV.mkv", length: 800_000_000 }, {
    path: "sample.txt",
    length: 10
  }], { fetchedAt: 1_764_000_300_001 }),
  makeTorrent("Some Movie 2019 2160p UHD", [{ path: "Some.Movie.2019.2160p.mkv", length: 20_000_000_000 }, {
    path: "cover.jpg",
    length: 100_000
  }], { fetchedAt: 1_764_000_300_002 }),
  makeTorrent("Band - Album (2001) [FLAC]", [
    { path: "01 - One.flac", length: 30_000_000 },
    { path: "02 - Two.flac", length: 31_000_000 },
    { path: "cover.jpg", length: 400_000 }
  ], { fetchedAt: 1_764_000_300_003 }),
  makeTorrent("control\u0001chars\u0008and\uFFFEmore & <tags>", [{ path: "readme.md", length: 10 }, {
    path: "x.bin",
    length: 5
  }], {
    fetchedAt: 1_764_000_300_004
  })
]

const fixture = (token?: string, repository: Layer.Layer<Repository, unknown> = RepositoryMemory) =>
  Effect.gen(function*() {
    const web = yield* webFixture(token === undefined ? {} : { token }, repository)
    const extra = extraTorrents()
    yield* web.repo.recordDiscoveries(extra.map((t, i) => ({
      infoHash: t.infoHash,
      source: "sample" as const,
      at: 1_764_000_300_000 + i,
      ...(i === 0 ? { peer: { host: "127.0.0.20", port: 7000 } } : {})
    })))
    yield* web.repo.saveTorrents(extra)
    return { ...web, extra: extra.map((t) => toHex(t.infoHash)) }
  })

describe("Torznab categories from file types", () => {
  it("video is TV when named like an episode or season, else Movies; audio, books, software, other", () => {
    const files = (...f: Array<[string, number]>) => f.map(([path, length]) => ({ path, length }))
    assert.deepStrictEqual(torznabCategories({ name: "Show S02E05 720p", files: files(["a.mkv", 9e8]) }), [5000, 5040])
    assert.deepStrictEqual(torznabCategories({ name: "Show.Season.2", files: files(["a.mp4", 9e8]) }), [5000, 5030])
    assert.deepStrictEqual(torznabCategories({ name: "Film 2160p", files: files(["a.mkv", 9e9]) }), [2000, 2045])
    assert.deepStrictEqual(torznabCategories({ name: "Album", files: files(["a.mp3", 9e6], ["b.jpg", 1e5]) }), [
      3000,
      3010
    ])
    assert.deepStrictEqual(torznabCategories({ name: "Novel", files: files(["a.epub", 9e5]) }), [7000, 7020])
    assert.deepStrictEqual(torznabCategories({ name: "Distro", files: files(["a.iso", 9e8]) }), [4000])
    assert.deepStrictEqual(torznabCategories({ name: "Stuff", files: files(["a.bin", 9e8], ["s.mkv", 1e6]) }), [8000])
  })
})

describe("Torznab at /api/torznab", () => {
  it.scopedLive("caps: search modes and categories as *arr clients read them", () =>
    Effect.gen(function*() {
      const web = yield* fixture()
      const r = yield* getText(`${web.url}api/torznab?t=caps`)
      assert.strictEqual(r.status, 200)
      const caps = parseXml(r.body).documentElement!
      assert.strictEqual(caps.tagName, "caps")
      assert.strictEqual(child(caps, "server").getAttribute("title"), "BitScrape")
      assert.strictEqual(child(caps, "limits").getAttribute("max"), "100")
      const searching = child(caps, "searching")
      const params = (mode: string) => {
        const m = child(searching, mode)
        return m.getAttribute("available") === "yes" ? m.getAttribute("supportedParams")!.split(",") : []
      }
      assert.deepStrictEqual(params("search"), ["q"])
      assert.deepStrictEqual(params("tv-search"), ["q", "season", "ep"])
      assert.deepStrictEqual(params("movie-search"), ["q"])
      assert.deepStrictEqual(params("music-search"), [])
      const ids = new Set<number>()
      for (const c of children(child(caps, "categories"), "category")) {
        ids.add(Number(c.getAttribute("id")))
        for (const s of children(c, "subcat")) ids.add(Number(s.getAttribute("id")))
      }
      for (const id of [2000, 2040, 3000, 4000, 5000, 5040, 7000, 8000]) assert.isTrue(ids.has(id), `category ${id}`)

      // Every category an item carries is one the caps announce.
      const all = yield* search(`${web.url}api/torznab?t=search`)
      assert.strictEqual(all.items.length, 9)
      for (const item of all.items) for (const c of item.attrs.get("category")!) assert.isTrue(ids.has(Number(c)), c)
    }))

  it.scopedLive("search: items with title, guid, date, size, magnet enclosure, infohash and peers", () =>
    Effect.gen(function*() {
      const web = yield* fixture()
      const r = yield* search(`${web.url}api/torznab?t=search&q=ubuntu`)
      assert.strictEqual(r.total, 1)
      assert.strictEqual(r.offset, 0)
      const [item] = r.items
      assert.strictEqual(item!.title, "Ubuntu 24.04 desktop amd64")
      assert.strictEqual(item!.guid, web.hashes[0])
      assert.strictEqual(item!.pubDate, 1_764_000_000_000) // first seen (the fixture's discovery time)
      assert.strictEqual(item!.size, 6_114_656_256 + 1_210)
      assert.strictEqual(item!.enclosure.length, item!.size)
      assert.match(item!.enclosure.url, new RegExp(`^magnet:\\?xt=urn:btih:${web.hashes[0]}&dn=Ubuntu`))
      assert.match(item!.enclosure.type, /^application\/x-bittorrent/)
      assert.strictEqual(item!.attrs.get("magneturl")![0], item!.enclosure.url)
      assert.strictEqual(item!.attrs.get("infohash")![0], web.hashes[0])
      assert.strictEqual(item!.attrs.get("size")![0], String(item!.size))
      assert.deepStrictEqual(item!.attrs.get("category"), ["4000"])
      assert.deepStrictEqual(item!.attrs.get("peers"), ["1"])
      assert.isUndefined(item!.attrs.get("seeders")) // not known from the DHT
      assert.strictEqual(item!.comments, `${web.url}torrent/${web.hashes[0]}`)

      // A torrent with no peer seen carries no peers attribute.
      const tv3 = yield* search(`${web.url}api/torznab?t=search&q=show%20name%20s01e03`)
      assert.deepStrictEqual(tv3.items.map((i) => i.guid), [web.extra[1]])
      assert.isUndefined(tv3.items[0]!.attrs.get("peers"))

      // Paging.
      const p2 = yield* search(`${web.url}api/torznab?t=search&limit=2&offset=2`)
      assert.strictEqual(p2.total, 9)
      assert.strictEqual(p2.offset, 2)
      assert.strictEqual(p2.items.length, 2)
    }))

  it.scopedLive("hostile names still give well-formed XML, text kept but for characters XML cannot carry", () =>
    Effect.gen(function*() {
      const web = yield* fixture()
      const all = yield* search(`${web.url}api/torznab?t=search&limit=100`)
      const titles = all.items.map((i) => i.title)
      assert.include(titles, "<script>alert(1)</script>")
      assert.include(titles, "\"><img src=x onerror=alert(1)>")
      assert.include(titles, "control\uFFFDchars\uFFFDand\uFFFDmore & <tags>")
    }))

  for (
    const [backend, layer] of [["memory", () => RepositoryMemory], ["SQLite", () => {
      const dir = mkdtempSync(join(tmpdir(), "bitscrape-torznab-"))
      return Layer.merge(
        RepositorySqlite(join(dir, "t.db")),
        Layer.scopedDiscard(Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
      )
    }]] as const
  ) {
    it.scopedLive(`tvsearch (season/episode), movie and category filters (${backend})`, () =>
      Effect.gen(function*() {
        const web = yield* fixture(undefined, layer())
        const ep = yield* search(`${web.url}api/torznab?t=tvsearch&q=Show%20Name&season=1&ep=2&cat=5000,5040`)
        assert.deepStrictEqual(ep.items.map((i) => i.guid), [web.extra[0]])
        assert.deepStrictEqual(ep.items[0]!.attrs.get("category"), ["5000", "5040"])
        const season = yield* search(`${web.url}api/torznab?t=tvsearch&q=Show%20Name&season=1`)
        assert.sameMembers(season.items.map((i) => i.guid), [web.extra[0], web.extra[1]])
        assert.strictEqual(season.total, 2)
        // RSS sync: no query, TV categories only, newest first.
        const rss = yield* search(`${web.url}api/torznab?t=tvsearch&cat=5000`)
        assert.deepStrictEqual(rss.items.map((i) => i.guid), [web.extra[1], web.extra[0]])
        assert.strictEqual(rss.total, 2)
        // A subcategory matches only itself.
        const hd = yield* search(`${web.url}api/torznab?t=tvsearch&cat=5040`)
        assert.deepStrictEqual(hd.items.map((i) => i.guid), [web.extra[0]])
        const movie = yield* search(`${web.url}api/torznab?t=movie&q=some%20movie%202019&cat=2000`)
        assert.deepStrictEqual(movie.items.map((i) => i.guid), [web.extra[2]])
        assert.deepStrictEqual(movie.items[0]!.attrs.get("category"), ["2000", "2045"])
        const audio = yield* search(`${web.url}api/torznab?t=search&cat=3000`)
        assert.deepStrictEqual(audio.items.map((i) => i.title), ["Band - Album (2001) [FLAC]"])
        assert.deepStrictEqual(audio.items[0]!.attrs.get("category"), ["3000", "3040"])
        const none = yield* search(`${web.url}api/torznab?t=movie&q=nothing%20like%20this`)
        assert.strictEqual(none.total, 0)
        assert.strictEqual(none.items.length, 0)
      }))
  }

  it.scopedLive("bad requests get Newznab error documents", () =>
    Effect.gen(function*() {
      const web = yield* fixture()
      for (
        const [query, code] of [
          ["", 200],
          ["t=nope", 202],
          ["t=music", 203],
          ["t=search&limit=abc", 201],
          [
            "t=search&cat=tv",
            201
          ],
          ["t=tvsearch&season=x", 201],
          ["t=search&offset=-1", 201]
        ] as const
      ) {
        const r = yield* getText(`${web.url}api/torznab?${query}`)
        assert.strictEqual(r.status, 400, query)
        assert.strictEqual(errorCode(r.body), code, query)
      }
    }))

  it.scopedLive("the API key is the UI token", () =>
    Effect.gen(function*() {
      const token = "torznab-secret-0123456789"
      const web = yield* fixture(token)
      const missing = yield* getText(`${web.url}api/torznab?t=caps`)
      assert.strictEqual(missing.status, 401)
      assert.strictEqual(errorCode(missing.body), 100)
      const wrong = yield* getText(`${web.url}api/torznab?t=caps&apikey=wrong-key-0123456789`)
      assert.strictEqual(wrong.status, 401)
      assert.strictEqual(errorCode(wrong.body), 100)
      const caps = yield* getText(`${web.url}api/torznab?t=caps&apikey=${token}`)
      assert.strictEqual(caps.status, 200)
      const found = yield* search(`${web.url}api/torznab?t=search&q=debian&apikey=${token}`)
      assert.strictEqual(found.items.length, 1)
      // The key is not echoed into the feed's self link.
      const raw = yield* getText(`${web.url}api/torznab?t=search&q=debian&apikey=${token}`)
      assert.notInclude(raw.body, token)
      // apikey is only the Torznab route's: other routes still want the token their way.
      const stats = yield* getText(`${web.url}api/stats?apikey=${token}`)
      assert.strictEqual(stats.status, 401)
    }))
})
