// Generated data with known answers for the Insights (analysis) tests.
import type { Torrent } from "../../src/repository/Repository.js"
import { makeTorrent, randomInfoHash } from "./torrents.js"

const MiB = 2 ** 20
const GiB = 2 ** 30

const files = (prefix: string, ext: string, count: number, length: number) =>
  Array.from({ length: count }, (_, i) => ({ path: `${prefix}/${String(i).padStart(3, "0")}.${ext}`, length }))

/** Nine torrents, one per rule of docs/analysis.md. */
export const contentFixture = (): ReadonlyArray<Torrent> => [
  {
    ...makeTorrent("Movie", [
      { path: "Movie/movie.MKV", length: 700 * MiB },
      { path: "Movie/movie.srt", length: 50 * 1024 },
      { path: "Movie/sample.nfo", length: 1024 }
    ]),
    version: "hybrid",
    infoHashV2: randomInfoHash()
  },
  {
    ...makeTorrent("Album", [...files("Album", "flac", 10, 30 * MiB), { path: "Album/cover.jpg", length: MiB }]),
    version: "v2",
    infoHashV2: randomInfoHash()
  },
  { ...makeTorrent("ubuntu.iso", [{ path: "ubuntu.iso", length: 4.5 * GiB }]), private: true },
  makeTorrent("Backup", [{ path: "Backup/a.zip", length: 2 * MiB }, { path: "Backup/b.7z", length: 3 * MiB }]),
  makeTorrent("Books", [...files("Books", "pdf", 3, MiB), { path: "Books/x.epub", length: MiB / 2 }]),
  makeTorrent("Photos", files("Photos", "jpg", 120, 100 * 1024)),
  makeTorrent("Misc", [{ path: "Misc/README", length: 10 }, { path: "Misc/x.dat", length: 100 }]),
  {
    ...makeTorrent("Empty", [{ path: "Empty/a.mp3", length: 0 }, { path: "Empty/b.mp3", length: 0 }, {
      path: "Empty/c.pdf",
      length: 0
    }]),
    sourceClient: undefined
  },
  makeTorrent("Tie", [{ path: "Tie/x.mkv", length: 100 }, { path: "Tie/y.mp3", length: 100 }])
]
