/**
 * `bitscrape/metadata`: BEP 9/10 metadata download and verification (`MetadataFetcher`), and a one-call
 * `fetchMetadata(infoHash, peers)` effect, and its promise twin `fetchMetadataPromise` for callers without Effect.
 *
 * @module bitscrape/metadata
 */
import { Effect } from "effect"
import { fetcherConfig, type FetcherSettings } from "../config/FetcherConfig.js"
import type { SocketAddress } from "../domain/address.js"
import type { InfoHash } from "../domain/ids.js"
import { MetadataFetcher, MetadataFetcherLive } from "./MetadataFetcher.js"

export * from "../config/FetcherConfig.js"
export type { FetchFailure, Torrent, TorrentFile } from "../domain/model.js"
export * from "./MetadataFetcher.js"
export { fetchFromPeer, type PeerMetadata, type PeerSessionOptions } from "./peerSession.js"
export * from "./promise.js"

/**
 * Fetches and verifies one torrent's metadata from `peers`, with default or given settings; fails with
 * `MetadataUnavailable` (reason and each peer's `PeerFetchError`) when no peer gives verified metadata.
 */
export const fetchMetadata = (
  infoHash: InfoHash,
  peers: ReadonlyArray<SocketAddress>,
  settings: Partial<FetcherSettings> = {}
) =>
  Effect.flatMap(MetadataFetcher, (f) => f.fetch(infoHash, peers)).pipe(
    Effect.provide(MetadataFetcherLive),
    Effect.provide(fetcherConfig(settings))
  )
