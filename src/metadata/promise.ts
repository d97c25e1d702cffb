import { Cause, Effect, Exit } from "effect"
import { fetcherConfig, type FetcherSettings } from "../config/FetcherConfig.js"
import { parseHostPort, type SocketAddress } from "../domain/address.js"
import { infoHashOf } from "../domain/ids.js"
import type { Torrent } from "../domain/model.js"
import { MetadataFetcher, MetadataFetcherLive } from "./MetadataFetcher.js"

// The promise twin of `fetchMetadata` for callers who do not use Effect: the same MetadataFetcher service, with
// a failure rejected as the typed error itself (`MetadataUnavailable`), not a wrapper.

/**
 * Fetches and verifies one torrent's metadata (BEP 9/10) from `peers` ({host, port} or "host:port"), with
 * default or given fetcher settings. Resolves with the parsed torrent (name, files, sizes, raw info dictionary);
 * rejects with `MetadataUnavailable` (`reason` "NoPeers", "AllPeersFailed" or "Deadline", and each peer's
 * `PeerFetchError`) when no peer gives verified metadata, or `TypeError` for a malformed infohash or address.
 */
export const fetchMetadataPromise = async (
  infoHash: Uint8Array | string,
  peers: ReadonlyArray<SocketAddress | string>,
  settings: Partial<FetcherSettings> = {}
): Promise<Torrent> => {
  const id = infoHashOf(infoHash)
  if (id === undefined) throw new TypeError("an infohash is 20 bytes or 40 hexadecimal digits")
  const addresses = peers.map((p) => {
    const a = typeof p === "string" ? parseHostPort(p) : p
    if (a === undefined) throw new TypeError(`not a host:port peer address: ${String(p)}`)
    return a
  })
  const exit = await Effect.flatMap(MetadataFetcher, (f) => f.fetch(id, addresses)).pipe(
    Effect.provide(MetadataFetcherLive),
    Effect.provide(fetcherConfig(settings)),
    Effect.runPromiseExit
  )
  if (Exit.isSuccess(exit)) return exit.value
  throw Cause.squash(exit.cause)
}
