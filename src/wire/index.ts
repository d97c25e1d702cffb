/**
 * `bitscrape/wire`: the peer-wire codec for metadata exchange (BEP 3 handshake, BEP 10, BEP 9) and a small
 * bounded bencode reader/writer. Pure: no I/O.
 *
 * @module bitscrape/wire
 */
export * from "./bencode.js"
export * from "./messages.js"
export * from "./torrentInfo.js"
