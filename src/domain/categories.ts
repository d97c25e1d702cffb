// Content categories of torrents, from their files (pure; the rules are documented in docs/analysis.md).
//
// Each file's extension (the text after the last "." of its last path component, lowercased, 1–8 letters or
// digits) maps to a category by the table below. A torrent's category is the one with the most bytes; files
// with an unknown or missing extension weigh for "other". A torrent whose files are all empty is weighed by
// file count instead. Ties go to the earlier category in CATEGORIES.

/** The categories, in tie-break order. */
export const CATEGORIES = ["video", "audio", "software", "archive", "document", "image", "other"] as const

/** A torrent's content category. */
export type Category = typeof CATEGORIES[number]

const table: Record<Exclude<Category, "other">, string> = {
  video: "mkv mp4 m4v avi mov wmv flv webm mpg mpeg mpe m2ts mts ts vob ogv 3gp rmvb rm divx asf f4v",
  audio: "mp3 flac wav aac m4a m4b ogg oga opus wma ape alac aiff aif dsf dff mka mid midi wv ac3 dts",
  software: "exe msi dmg pkg apk deb rpm appimage iso img bin cue nrg mdf mds xapk ipa app jar bat sh run",
  archive: "zip rar 7z tar gz tgz bz2 tbz xz txz zst lz lzma cab arj r00 r01 r02 r03 r04 r05 z01 z02 001 002",
  document: "pdf epub mobi azw azw3 djvu doc docx odt rtf txt md tex xls xlsx ods ppt pptx odp cbz cbr fb2 chm",
  image: "jpg jpeg png gif bmp tif tiff webp heic heif raw cr2 nef arw dng svg psd ico"
}

const byExtension = new Map<string, Category>(
  Object.entries(table).flatMap(([category, list]) => list.split(" ").map((ext) => [ext, category as Category]))
)

/** Every known extension with its category (for the documentation and tests). */
export const knownExtensions: ReadonlyMap<string, Category> = byExtension

/** A file's extension: lowercased text after the last "." of its last component, or "" when it has none. */
export const extensionOf = (path: string): string => {
  const name = path.slice(path.lastIndexOf("/") + 1)
  const dot = name.lastIndexOf(".")
  if (dot <= 0 || dot === name.length - 1) return ""
  const ext = name.slice(dot + 1)
  return /^[A-Za-z0-9]{1,8}$/.test(ext) ? ext.toLowerCase() : ""
}

/** The category of one file by its extension ("other" when unknown). */
export const fileCategory = (path: string): Category => byExtension.get(extensionOf(path)) ?? "other"

/** The category of a torrent from its files (see the rules above). */
export const categoryOf = (files: ReadonlyArray<{ readonly path: string; readonly length: number }>): Category => {
  const weights = new Map<Category, number>()
  const byBytes = files.some((f) => f.length > 0)
  for (const f of files) {
    const c = fileCategory(f.path)
    weights.set(c, (weights.get(c) ?? 0) + (byBytes ? f.length : 1))
  }
  let best: Category = "other"
  let most = 0
  for (const c of CATEGORIES) {
    const w = weights.get(c) ?? 0
    if (w > most) {
      best = c
      most = w
    }
  }
  return best
}

/** True for the name of a category. */
export const isCategory = (s: string): s is Category => (CATEGORIES as ReadonlyArray<string>).includes(s)
