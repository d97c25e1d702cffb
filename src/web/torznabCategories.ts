// Newznab/Torznab categories of a torrent, guessed from its file types (video, audio, books, software) and, for
// video, whether its name reads like a TV episode or season. This is the one place that decides a torrent's
// Torznab category: when content categories are stored with torrents, map those here instead.

/** The standard Newznab categories BitScrape can assign (ids and names as Sonarr/Radarr/Prowlarr know them). */
export const TORZNAB_CATEGORIES: ReadonlyArray<{
  readonly id: number
  readonly name: string
  readonly subcats: ReadonlyArray<{ readonly id: number; readonly name: string }>
}> = [
  {
    id: 2000,
    name: "Movies",
    subcats: [{ id: 2030, name: "Movies/SD" }, { id: 2040, name: "Movies/HD" }, { id: 2045, name: "Movies/UHD" }]
  },
  { id: 3000, name: "Audio", subcats: [{ id: 3010, name: "Audio/MP3" }, { id: 3040, name: "Audio/Lossless" }] },
  { id: 4000, name: "PC", subcats: [] },
  {
    id: 5000,
    name: "TV",
    subcats: [{ id: 5030, name: "TV/SD" }, { id: 5040, name: "TV/HD" }, { id: 5045, name: "TV/UHD" }]
  },
  { id: 7000, name: "Books", subcats: [{ id: 7020, name: "Books/EBook" }, { id: 7030, name: "Books/Comics" }] },
  { id: 8000, name: "Other", subcats: [] }
]

const KIND_BY_EXTENSION: Record<string, "video" | "lossy" | "lossless" | "ebook" | "comic" | "software"> = {}
const kinds: Record<string, ReadonlyArray<string>> = {
  video: ["mkv", "mp4", "m4v", "avi", "mov", "wmv", "ts", "m2ts", "webm", "mpg", "mpeg", "flv", "vob", "divx"],
  lossy: ["mp3", "m4a", "aac", "ogg", "opus", "wma", "m4b"],
  lossless: ["flac", "ape", "alac", "wav", "wv", "aiff", "dsf"],
  ebook: ["epub", "mobi", "azw", "azw3", "pdf", "djvu", "fb2", "lit"],
  comic: ["cbz", "cbr", "cb7"],
  software: ["exe", "msi", "dmg", "iso", "img", "apk", "deb", "rpm", "appimage", "pkg"]
}
for (const [kind, exts] of Object.entries(kinds)) {
  for (const ext of exts) KIND_BY_EXTENSION[ext] = kind as (typeof KIND_BY_EXTENSION)[string]
}

const EPISODE = /\bS\d{1,2}(?:E\d{1,3})?\b|\b\d{1,2}x\d{2}\b|\bseason\b|\bcomplete series\b/i

/**
 * The categories of a torrent (its parent category first, then a subcategory when one fits): the kind of file
 * that holds most of its bytes decides; video is TV when the name reads like an episode or season (S01E02,
 * 1x02, "Season"), else Movies; its resolution picks SD, HD or UHD. Anything else is 8000 Other.
 */
export const torznabCategories = (torrent: {
  readonly name: string
  readonly files: ReadonlyArray<{ readonly path: string; readonly length: number }>
}): ReadonlyArray<number> => {
  const bytes = new Map<string, number>()
  for (const f of torrent.files) {
    const dot = f.path.lastIndexOf(".")
    const kind = dot < 0 ? undefined : KIND_BY_EXTENSION[f.path.slice(dot + 1).toLowerCase()]
    if (kind !== undefined) bytes.set(kind, (bytes.get(kind) ?? 0) + f.length)
  }
  const total = torrent.files.reduce((n, f) => n + f.length, 0)
  let top: string | undefined
  for (const [kind, n] of bytes) if (top === undefined || n > bytes.get(top)!) top = kind
  // A kind that holds under a tenth of the bytes (a sample clip, a cover scan) does not decide.
  if (top === undefined || bytes.get(top)! * 10 < total) return [8000]
  const name = torrent.name.replace(/[._]/g, " ")
  switch (top) {
    case "video": {
      const parent = EPISODE.test(name) ? 5000 : 2000
      const quality = /\b(2160p|4k|uhd)\b/i.test(name)
        ? 45
        : /\b(720p|1080p|1080i|bluray|blu ray)\b/i.test(name)
        ? 40
        : 30
      return [parent, parent + quality]
    }
    case "lossy":
      return [3000, 3010]
    case "lossless":
      return [3000, 3040]
    case "ebook":
      return [7000, 7020]
    case "comic":
      return [7000, 7030]
    default:
      return [4000]
  }
}

/** Whether a torrent with `categories` answers a request for `wanted` (a parent category includes its subcategories). */
export const matchesCategories = (categories: ReadonlyArray<number>, wanted: ReadonlyArray<number>): boolean =>
  wanted.length === 0 ||
  wanted.some((w) =>
    categories.includes(w) || (w % 1000 === 0 && categories.some((c) => Math.floor(c / 1000) * 1000 === w))
  )
