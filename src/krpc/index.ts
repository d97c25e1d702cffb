/**
 * `bitscrape/krpc`: the pure KRPC layer. Bencoded DHT messages (BEP 5, 32, 42, 43, 51) as typed values,
 * node ids and infohashes, the XOR metric, compact node and peer info, and BEP 42 secure ids. No I/O.
 * Without Effect: `decodeMessageOrThrow` and `decodeMessagePromise`.
 *
 * @module bitscrape/krpc
 */
export * from "../domain/address.js"
export * from "../domain/ids.js"
export * from "./bep33.js"
export * from "./bep42.js"
export { decodeMessage, encodeMessage, MAX_DEPTH, peekTransactionId } from "./codec.js"
export * from "./compact.js"
export * from "./KrpcDecodeError.js"
export * from "./messages.js"
export * from "./promise.js"
