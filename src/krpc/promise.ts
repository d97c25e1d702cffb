import { Either } from "effect"
import { decodeMessage } from "./codec.js"
import type { KrpcMessage } from "./messages.js"

// Conveniences for callers who do not use Effect: the same decoder as `decodeMessage`, with its `Either`
// turned into a thrown or rejected `KrpcDecodeError` (an `Error` with `reason` and, when there is one, `key`).

/**
 * Decodes one KRPC datagram; returns the typed message or throws `KrpcDecodeError` when the bytes are not a
 * well-formed KRPC message. Never throws anything else.
 */
export const decodeMessageOrThrow = (datagram: Uint8Array): KrpcMessage => {
  const result = decodeMessage(datagram)
  if (Either.isLeft(result)) throw result.left
  return result.right
}

/** Decodes one KRPC datagram; resolves with the typed message, rejects with `KrpcDecodeError` on malformed input. */
export const decodeMessagePromise = (datagram: Uint8Array): Promise<KrpcMessage> => {
  const result = decodeMessage(datagram)
  return Either.isLeft(result) ? Promise.reject(result.left) : Promise.resolve(result.right)
}
