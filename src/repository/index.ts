/**
 * `bitscrape/repository`: durable storage of nodes, infohashes, torrents and sessions — SQLite (default),
 * PostgreSQL, or memory — behind one `Repository` tag, with the batched stream writer.
 *
 * @module bitscrape/repository
 */
export * from "./layers.js"
export * from "./memory.js"
export * from "./Repository.js"
