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

/** Why an infohash's metadata could not be had, for the yield funnel. */
export type FailureKind = "no-peers" | "dead" | "refused" | "hostile" | "gave-up"

const HOSTILE: ReadonlySet<PeerFailureReason> = new Set([
  "WrongInfohash",
  "MetadataTooLarge",
  "SizeMismatch",
  "BadPiece",
  "HashMismatch",
  "InvalidInfo",
  "ProtocolError",
  "Flood"
])

/**
 * Classifies a failed attempt: no peer at all; every peer dead (connects timed out, or a mix of time-outs and
 * refusals); every peer refused; a peer lied or misbehaved (hostile); otherwise gave up (slow, stalled,
 * rejected, no metadata support, deadline).
 */
export const failureKind = (e: MetadataUnavailable): FailureKind => {
  if (e.reason === "NoPeers" || (e.attempts.length === 0 && e.reason !== "Deadline")) return "no-peers"
  if (e.attempts.some((a) => HOSTILE.has(a.reason))) return "hostile"
  const unreachable = e.attempts.every((a) => a.reason === "ConnectTimeout" || a.reason === "ConnectFailed")
  if (unreachable && e.attempts.length > 0) {
    return e.attempts.every((a) => a.reason === "ConnectFailed") ? "refused" : "dead"
  }
  return "gave-up"
}

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
