import { type Context, Effect, Either } from "effect"
import type { InfoHash } from "../domain/ids.js"
import { BLOOM_BYTES, estimateBloomSize, unionBlooms } from "../krpc/bep33.js"
import type { Dht } from "./Dht.js"
import type { KrpcNode, Target } from "./KrpcNode.js"

// BEP 33 scrapes: `get_peers` with `scrape=1` to the nodes that store an infohash (the closest ones a lookup
// finds), their seed (BFsd) and peer (BFpe) Bloom filters merged by OR, and the number of distinct seeds and
// peers estimated from the merged filters. Each node counts a seed once however many nodes store it.

/** A swarm-size estimate for one infohash. */
export interface ScrapeResult {
  /** Estimated distinct seeds (IP addresses) over the nodes that answered with filters. */
  readonly seeds: number
  /** Estimated distinct peers that are not seeds. */
  readonly peers: number
  /** Nodes asked. */
  readonly asked: number
  /** Nodes whose reply carried both filters (256 bytes each); others (no BEP 33, silent) count for nothing. */
  readonly answered: number
}

/** Asks each node in `nodes` for BEP 33 filters of `infoHash` (all at once) and merges the answers. */
export const scrapeNodes = (
  node: Context.Tag.Service<KrpcNode>,
  infoHash: InfoHash,
  nodes: ReadonlyArray<Target>
): Effect.Effect<ScrapeResult> =>
  Effect.map(
    Effect.forEach(nodes, (to) =>
      Effect.async<{ readonly seeds: Uint8Array; readonly peers: Uint8Array } | undefined>((resume) => {
        const cancel = node.request(to, { method: "get_peers", infoHash, scrape: true }, (result) => {
          const r = Either.getOrUndefined(result)
          resume(Effect.succeed(
            r?.BFsd?.length === BLOOM_BYTES && r.BFpe?.length === BLOOM_BYTES
              ? { seeds: r.BFsd, peers: r.BFpe }
              : undefined
          ))
        })
        return Effect.sync(cancel)
      }), { concurrency: "unbounded" }),
    (replies) => {
      const filters = replies.filter((r) =>
        r !== undefined
      )
      return {
        seeds: estimateBloomSize(unionBlooms(filters.map((f) =>
          f.seeds
        ))),
        peers: estimateBloomSize(unionBlooms(filters.map((f) => f.peers))),
        asked: nodes.length,
        answered: filters.length
      }
    }
  )

/** A get_peers lookup for `infoHash`, then a BEP 33 scrape of the closest nodes that answered it. */
export const scrape = (
  dht: Context.Tag.Service<Dht>,
  node: Context.Tag.Service<KrpcNode>,
  infoHash: InfoHash
): Effect.Effect<ScrapeResult> =>
  Effect.flatMap(dht.getPeers(infoHash), (lookup) => scrapeNodes(node, infoHash, lookup.closest.map((r) => r.contact)))
