// Fetches one torrent's metadata from peers with `bitscrape/metadata` and prints its files (Effect style).
//
//   npx tsx examples/fetch-metadata.ts <infohash> --peer <host:port> [--peer <host:port> …]
//
// Peers may also come from BITSCRAPE_PEERS (comma-separated); examples/dht-lookup.ts finds them in the DHT.
// `npm run example -- fetch-metadata` runs it against a loopback seeder. Exit code 1 when no peer gave
// verified metadata. Without Effect, `fetchMetadataPromise(infoHash, peers)` does the same.
import { infoHashFromHex, parseHostPort, type SocketAddress } from "bitscrape/krpc"
import { fetchMetadata } from "bitscrape/metadata"
import { Console, Duration, Effect } from "effect"
import { parseArgs } from "node:util"

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { peer: { type: "string", multiple: true, default: [] } }
})
const infoHash = infoHashFromHex(positionals[0] ?? "")
const peerTexts = values.peer.length > 0
  ? values.peer
  : (process.env["BITSCRAPE_PEERS"] ?? "").split(",").filter((p) => p !== "")
const peers = peerTexts.map(parseHostPort).filter((p): p is SocketAddress => p !== undefined)
if (infoHash === undefined || peers.length === 0) {
  console.error("usage: fetch-metadata <infohash (40 hex digits)> --peer <host:port> [--peer <host:port> …]")
  process.exit(2)
}

const program = Effect.gen(function*() {
  // Tries the peers (3 at a time), verifies the metadata against the infohash, parses v1, v2 or hybrid.
  const torrent = yield* fetchMetadata(infoHash, peers, { infohashDeadline: Duration.seconds(30) })
  yield* Console.log(`${torrent.name}`)
  yield* Console.log(
    `  ${torrent.version}, ${torrent.files.length} files, ${torrent.totalLength} bytes, from ${
      torrent.sourcePeer?.host ?? "?"
    }:${torrent.sourcePeer?.port ?? "?"}`
  )
  for (const file of torrent.files) yield* Console.log(`  ${file.path}  ${file.length}`)
}).pipe(
  // The one typed failure: no peer gave verified metadata (each peer's PeerFetchError is in `attempts`).
  Effect.catchTag(
    "MetadataUnavailable",
    (e) => Effect.andThen(Console.error(e.message), Effect.sync(() => (process.exitCode = 1)))
  )
)

await Effect.runPromise(program)
