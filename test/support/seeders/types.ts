// What the metadata seeders report about the torrents they serve.
import type { HostPort } from "../interop/BittorrentDhtSwarm.js"

export type { HostPort }

export interface SeededFile {
  /** Path inside the torrent (components joined with "/"; a single-file torrent's one file is its name). Raw bytes
   * that are not UTF-8 show as U+FFFD here: see `pathHex`. */
  readonly path: string
  readonly length: number
  /** The raw path bytes, hex (libtorrent seeder only). */
  readonly pathHex?: string
  /** A BEP 47 pad file. */
  readonly pad?: boolean
}

export interface SeededTorrent {
  /** The v1 infohash (SHA-1 of the info dict), hex. */
  readonly infoHashHex: string
  readonly name: string
  readonly files: ReadonlyArray<SeededFile>
  /** The bencoded info dictionary the seeder serves, byte-exact, hex. */
  readonly infoHex: string
  readonly infoSize: number
  /** Number of 16 KiB BEP 9 pieces. */
  readonly metadataPieces: number
  /** Where to connect for it. */
  readonly peer: HostPort
}

/** The info dict bytes of a seeded torrent. */
export const infoBytes = (torrent: { readonly infoHex: string }): Uint8Array =>
  new Uint8Array(Buffer.from(torrent.infoHex, "hex"))

export const hexBytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, "hex"))
