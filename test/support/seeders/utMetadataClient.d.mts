/** The metadata fetched by npm bittorrent-protocol + ut_metadata. */
export interface UtMetadataResult {
  /** The info dict exactly as assembled from the peer's pieces. */
  readonly info: Uint8Array
  /** What ut_metadata emits: a re-encoded `{ info }` dictionary. */
  readonly torrent: Uint8Array
  /** The infohash in the peer's handshake (what ut_metadata verified against). */
  readonly remoteInfoHashHex: string
  /** `v` from the peer's extended handshake. */
  readonly remoteClient: string | undefined
}

/** Fetches the info dict for `infoHashHex` (v1 SHA-1 only) from host:port; rejects on timeout or a closed peer. */
export declare const fetchWithUtMetadata: (options: {
  readonly host: string
  readonly port: number
  readonly infoHashHex: string
  readonly timeoutMs?: number
}) => Promise<UtMetadataResult>
