import { Data } from "effect"

/** Why a datagram is not a well-formed KRPC message. */
export type KrpcDecodeReason =
  | "NotBencode"
  | "NotADictionary"
  | "MissingKey"
  | "WrongType"
  | "BadCompactLength"
  | "LengthPrefixTooLarge"
  | "IntegerOutOfRange"
  | "TooDeep"
  | "TrailingBytes"
  | "UnknownMessageType"

/** A datagram that is not a well-formed KRPC message. Counted and dropped by the socket edge; never fatal. */
export class KrpcDecodeError extends Data.TaggedError("KrpcDecodeError")<{
  readonly reason: KrpcDecodeReason
  /** The dictionary key involved, when there is one ("t", "y", "nodes", …). */
  readonly key?: string
  /** Byte offset in the datagram where decoding stopped. */
  readonly offset?: number
}> {}
