import { createHash } from "node:crypto"
import { encode } from "../wire/bencode.js"

// Generated torrents for the offline demo: realistic names and file trees (Linux images, open movies,
// music albums, data sets, book collections), with real bencoded info dictionaries whose SHA-1 is the infohash.
// Deterministic for a given seed, so a demo database is reproducible.

export interface DemoTorrent {
  readonly infoHash: Uint8Array
  readonly name: string
  readonly info: Uint8Array
  readonly totalLength: number
  readonly fileCount: number
}

const MB = 1_000_000
const GB = 1_000_000_000

const rng = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed / 0x7fffffff
}

const DISTROS = [
  ["debian", ["12.5.0", "12.6.0", "12.7.0"], ["amd64-netinst", "amd64-DVD-1", "arm64-netinst"]],
  ["ubuntu", ["22.04.4", "24.04", "24.04.1"], ["desktop-amd64", "live-server-amd64"]],
  ["Fedora-Workstation-Live", ["39-1.5", "40-1.14"], ["x86_64"]],
  ["archlinux", ["2024.05.01", "2024.06.01"], ["x86_64"]],
  ["linuxmint", ["21.3", "22"], ["cinnamon-64bit", "xfce-64bit"]],
  ["alpine-standard", ["3.19.1", "3.20.0"], ["x86_64"]]
] as const
const MOVIES = [
  ["Big Buck Bunny", 2008],
  ["Sintel", 2010],
  ["Tears of Steel", 2012],
  ["Elephants Dream", 2006],
  ["Cosmos Laundromat", 2015],
  ["Spring", 2019],
  ["Caminandes - Llamigos", 2016],
  ["Agent 327 - Operation Barbershop", 2017],
  ["Sprite Fright", 2021],
  ["Charge", 2022]
] as const
const ARTISTS = ["Kevin MacLeod", "Chris Zabriskie", "Podington Bear", "Lee Rosevere", "Komiku", "Broke For Free"]
const WORDS = [
  "Morning",
  "Light",
  "River",
  "Echoes",
  "Static",
  "Drift",
  "Harbor",
  "Night",
  "Signal",
  "Garden",
  "Cascade",
  "Ember",
  "Northern",
  "Quiet",
  "Paper",
  "Tides",
  "Glass",
  "Orbit",
  "Lantern",
  "Meadow"
]
const DATASETS = [
  "enwiki-20240601-pages-articles-multistream",
  "osm-europe-latest",
  "commoncrawl-sample-2024-22",
  "librispeech-clean-100",
  "imagenet-mini-val",
  "gutenberg-corpus-2024"
]

const pick = <A>(r: () => number, xs: ReadonlyArray<A>): A => xs[Math.floor(r() * xs.length)]!

const infoDict = (name: string, files: ReadonlyArray<{ path: Array<string>; length: number }>, r: () => number) => {
  const total = files.reduce((n, f) => n + f.length, 0)
  // Piece length chosen so the piece list stays modest (≤ ~1,500 pieces), as real creators do.
  let pieceLength = 262_144
  while (total / pieceLength > 1500) pieceLength *= 2
  const pieces = Buffer.alloc(20 * Math.max(1, Math.ceil(total / pieceLength)))
  for (let i = 0; i < pieces.length; i++) pieces[i] = Math.floor(r() * 256)
  const single = files.length === 1 && files[0]!.path.length === 1 && files[0]!.path[0] === name
  return encode(
    single
      ? { name, "piece length": pieceLength, pieces, length: files[0]!.length }
      : { name, "piece length": pieceLength, pieces, files: files.map((f) => ({ length: f.length, path: f.path })) }
  )
}

const make = (r: () => number, i: number): { name: string; files: Array<{ path: Array<string>; length: number }> } => {
  switch (i % 5) {
    case 0: {
      const [distro, versions, flavours] = pick(r, DISTROS)
      const name = `${distro}-${pick(r, versions)}-${pick(r, flavours)}.iso`
      return { name, files: [{ path: [name], length: Math.floor((0.4 + r() * 4) * GB) }] }
    }
    case 1: {
      const [title, year] = pick(r, MOVIES)
      const res = pick(r, ["720p", "1080p", "2160p"])
      const name = `${title} (${year}) [${res}]`
      return {
        name,
        files: [
          {
            path: [`${title}.${res}.mkv`],
            length: Math.floor((res === "2160p" ? 6 : res === "1080p" ? 2 : 0.9) * GB * (0.7 + r() * 0.6))
          },
          { path: ["Subs", "English.srt"], length: 40_000 + Math.floor(r() * 20_000) },
          { path: ["Subs", "Deutsch.srt"], length: 40_000 + Math.floor(r() * 20_000) },
          { path: ["poster.jpg"], length: 200_000 + Math.floor(r() * 300_000) }
        ]
      }
    }
    case 2: {
      const artist = pick(r, ARTISTS)
      const album = `${pick(r, WORDS)} ${pick(r, WORDS)}`
      const format = pick(r, ["FLAC", "MP3 320"])
      const tracks = 6 + Math.floor(r() * 9)
      const ext = format === "FLAC" ? "flac" : "mp3"
      return {
        name: `${artist} - ${album} (${2010 + Math.floor(r() * 14)}) [${format}]`,
        files: [
          ...Array.from({ length: tracks }, (_, t) => ({
            path: [`${String(t + 1).padStart(2, "0")} - ${pick(r, WORDS)} ${pick(r, WORDS)}.${ext}`],
            length: Math.floor((ext === "flac" ? 30 : 9) * MB * (0.6 + r() * 0.8))
          })),
          { path: ["cover.jpg"], length: 500_000 + Math.floor(r() * 500_000) }
        ]
      }
    }
    case 3: {
      const name = pick(r, DATASETS)
      const parts = 2 + Math.floor(r() * 6)
      return {
        name,
        files: [
          ...Array.from({ length: parts }, (_, p) => ({
            path: ["data", `part-${String(p).padStart(5, "0")}.parquet`],
            length: Math.floor((0.2 + r()) * GB)
          })),
          { path: ["README.md"], length: 4_000 + Math.floor(r() * 4_000) },
          { path: ["LICENSE"], length: 1_000 + Math.floor(r() * 1_000) }
        ]
      }
    }
    default: {
      const volume = 1 + Math.floor(r() * 40)
      const books = 20 + Math.floor(r() * 60)
      return {
        name: `Project Gutenberg Collection Vol ${volume}`,
        files: Array.from({ length: books }, (_, b) => ({
          path: [pick(r, ["Fiction", "History", "Science", "Poetry"]), `pg${10_000 + volume * 100 + b}.epub`],
          length: 200_000 + Math.floor(r() * 800_000)
        }))
      }
    }
  }
}

/** `count` distinct generated torrents. */
export const demoCatalog = (count: number, seed = 42): Array<DemoTorrent> => {
  const r = rng(seed)
  const seen = new Set<string>()
  const out: Array<DemoTorrent> = []
  for (let i = 0; out.length < count && i < count * 10; i++) {
    const { files, name } = make(r, i)
    const info = infoDict(name, files, r)
    const key = createHash("sha1").update(info).digest("hex")
    if (seen.has(key)) continue
    seen.add(key)
    out.push({
      infoHash: Buffer.from(key, "hex"),
      name,
      info,
      totalLength: files.reduce((n, f) => n + f.length, 0),
      fileCount: files.length
    })
  }
  return out
}
