import { Data } from "effect"

/** How a metadata download from one peer ended badly. */
export type PeerFailureReason =
  | "ConnectTimeout"
  | "ConnectFailed"
  | "HandshakeFailed"
  | "WrongInfohash"
  | "NoExtensionProtocol"
  | "NoMetadataSupport"
  | "MetadataTooLarge"
  | "SizeMismatch"
  | "Rejected"
  | "BadPiece"
  | "HashMismatch"
  | "InvalidInfo"
  | "ProtocolError"
  | "Flood"
  | "Timeout"
  | "Closed"

/** One peer could not give us verified metadata. Counted per reason; the peer may be remembered as dead. */
export class PeerFetchError extends Data.TaggedError("PeerFetchError")<{
  readonly reason: PeerFailureReason
  readonly peer: string
  readonly detail: string
}> {}

/** No peer gave us verified metadata for an infohash. */
export class MetadataUnavailable extends Data.TaggedError("MetadataUnavailable")<{
  readonly infoHash: string
  readonly reason: "NoPeers" | "AllPeersFailed" | "Deadline"
  readonly attempts: ReadonlyArray<PeerFetchError>
}> {
  /** The infohash, the reason and the first few peers' failures, for logs and the CLI. */
  override get message() {
    const why = this.attempts.map((a) => `${a.peer}: ${a.reason}`).slice(0, 5).join("; ")
    return `no metadata for ${this.infoHash} (${this.reason}${why ? `: ${why}` : ""})`
  }
}
