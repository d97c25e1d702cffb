import { Effect, Stream } from "effect"
import { copyId } from "../domain/ids.js"
import type { CrawlState } from "./state.js"

// Stage "harvest": what other nodes tell us by asking. Incoming get_peers say somebody looks for an infohash
// (evidence that it is live, no peer); incoming announce_peer with a valid token say the sender has it (a peer
// to fetch from). Announces with a token we did not issue never get here (KrpcNode counts them on their own).
// Every identity's queries are harvested.

export const harvest = (s: CrawlState) =>
  Stream.mergeAll(s.identities.map((id) => id.node.harvest), { concurrency: "unbounded" }).pipe(
    Stream.runForEachChunk((chunk) =>
      Effect.forEach(chunk, (h) =>
        s.discovered({
          infoHash: copyId(h.infoHash),
          source: h.kind === "announce_peer" ? "announce" : "get_peers",
          at: s.now(),
          peer: h.peer !== undefined && s.usable(h.peer.host, h.peer.port) ? h.peer : undefined
        }, h.from), { discard: true })
    ),
    Effect.asVoid
  )
