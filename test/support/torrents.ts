// Generated torrents for tests: real bencoded info dictionaries whose SHA-1 is the infohash.
import bencode from "bencode"
import { createHash, randomBytes } from "node:crypto"
import type { InfoHash } from "../../src/krpc/index.js"
import type { Torrent } from "../../src/repository/Repository.js"

export interface FixtureFile {
  readonly path: string
  readonly length: number
}

/** A v1 torrent: single-file when `files` has one entry named like the torrent, multi-file otherwise. */
export const makeTorrent = (
  name: string,
  files: ReadonlyArray<FixtureFile>,
  options: { readonly fetchedAt?: number; readonly pieceLength?: number } = {}
): Torrent => {
  const pieceLength = options.pieceLength ?? 262_144
  const total = files.reduce((n, f) => n + f.length, 0)
  const pieces = randomBytes(20 * Math.max(1, Math.ceil(total / pieceLength)))
  const single = files.length === 1 && files[0]!.path === name
  const info: Record<string, unknown> = single
    ? { name, "piece length": pieceLength, pieces, length: files[0]!.length }
    : {
      name,
      "piece length": pieceLength,
      pieces,
      files: files.map((f) => ({ length: f.length, path: f.path.split("/") }))
    }
  const encoded = Buffer.from(bencode.encode(info))
  return {
    infoHash: createHash("sha1").update(encoded).digest() as Uint8Array as InfoHash,
    infoHashV2: undefined,
    name,
    nameRaw: Buffer.from(name, "utf8"),
    totalLength: total,
    pieceLength,
    private: false,
    version: "v1",
    files: single ? [{ path: name, length: files[0]!.length }] : files.map((f) => ({ ...f })),
    info: encoded,
    fetchedAt: options.fetchedAt ?? 1_700_000_000_000,
    sourcePeer: { host: "127.0.0.1", port: 6881 },
    sourceClient: "-LT2080-"
  }
}

export const randomInfoHash = () => randomBytes(20) as Uint8Array as InfoHash
