// Looks up peers for an infohash in the DHT with `bitscrape/dht`'s promise API (no Effect code needed).
//
//   npx tsx examples/dht-lookup.ts <infohash> --bootstrap <ip:port> [--bootstrap <ip:port> …] [--bind <ip>]
//
// Bootstrap addresses may also come from BITSCRAPE_BOOTSTRAP (comma-separated), the bind address from
// BITSCRAPE_BIND (default 0.0.0.0). `npm run example -- dht-lookup` runs it against a loopback swarm.
// Prints one "host:port" line per peer found, after a summary line.
import { lookupPeers } from "bitscrape/dht"
import { parseArgs } from "node:util"

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    bootstrap: { type: "string", multiple: true, default: [] },
    bind: { type: "string", default: process.env["BITSCRAPE_BIND"] ?? "0.0.0.0" }
  }
})
const infoHash = positionals[0]
const bootstrap = values.bootstrap.length > 0
  ? values.bootstrap
  : (process.env["BITSCRAPE_BOOTSTRAP"] ?? "").split(",").filter((a) => a !== "")
if (infoHash === undefined || bootstrap.length === 0) {
  console.error("usage: dht-lookup <infohash> --bootstrap <ip:port> [--bind <ip>]")
  process.exit(2)
}

// Binds a node, joins through `bootstrap`, runs an iterative get_peers lookup, and closes the node.
const result = await lookupPeers(infoHash, { host: values.bind, bootstrap })
console.log(`${result.peers.length} peers found (${result.responded} of ${result.queried} nodes answered)`)
for (const peer of result.peers) console.log(`${peer.host}:${peer.port}`)
