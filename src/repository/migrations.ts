import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

// Versioned schema migrations (run by @effect/sql's Migrator from a record, so the npm package needs no
// migrations folder on disk). One record per dialect; the two describe the same data model.
// Times are Unix milliseconds (INTEGER / BIGINT); hashes and raw bytes are BLOB / BYTEA.

const statements = (sql: SqlClient.SqlClient, list: ReadonlyArray<string>) =>
  Effect.forEach(list, (s) => sql.unsafe(s), { discard: true })

export const sqliteMigrations = {
  "0001_init": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    statements(sql, [
      `CREATE TABLE nodes (
        id BLOB NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL,
        first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, last_response INTEGER,
        times_seen INTEGER NOT NULL DEFAULT 0, bep42 INTEGER, version BLOB, read_only INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (id, host, port)
      ) WITHOUT ROWID`,
      `CREATE INDEX nodes_last_response ON nodes (last_response)`,
      `CREATE TABLE infohashes (
        hash BLOB PRIMARY KEY NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
        seen_sample INTEGER NOT NULL DEFAULT 0, seen_get_peers INTEGER NOT NULL DEFAULT 0,
        seen_announce INTEGER NOT NULL DEFAULT 0, seen_lookup INTEGER NOT NULL DEFAULT 0,
        peers_seen INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0, last_attempt INTEGER, last_error TEXT
      ) WITHOUT ROWID`,
      `CREATE INDEX infohashes_status ON infohashes (status, peers_seen)`,
      `CREATE TABLE infohash_peers (
        hash BLOB NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL,
        first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, PRIMARY KEY (hash, host, port)
      ) WITHOUT ROWID`,
      `CREATE TABLE torrents (
        id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, hash_v2 BLOB, name TEXT NOT NULL, name_raw BLOB NOT NULL,
        total_length INTEGER NOT NULL, piece_length INTEGER, private INTEGER NOT NULL, version TEXT NOT NULL,
        file_count INTEGER NOT NULL, info BLOB NOT NULL, discovered_at INTEGER NOT NULL, fetched_at INTEGER NOT NULL,
        source_host TEXT, source_port INTEGER, source_client TEXT
      )`,
      `CREATE INDEX torrents_discovered ON torrents (discovered_at)`,
      `CREATE INDEX torrents_length ON torrents (total_length)`,
      `CREATE TABLE files (
        torrent_id INTEGER NOT NULL, idx INTEGER NOT NULL, path TEXT NOT NULL, path_raw BLOB, length INTEGER NOT NULL,
        PRIMARY KEY (torrent_id, idx)
      ) WITHOUT ROWID`,
      // Contentless FTS5 index over names and paths; rowid = torrents.id.
      `CREATE VIRTUAL TABLE torrents_fts USING fts5(name, paths, content='', tokenize='unicode61 remove_diacritics 2')`,
      `CREATE TABLE sessions (
        id INTEGER PRIMARY KEY, started_at INTEGER NOT NULL, ended_at INTEGER, settings TEXT, totals TEXT
      )`
    ])),
  // No query used it (pendingMetadata sorts by an expression), and every new infohash paid a second random
  // page write for it: dropping it nearly doubled raw upsert throughput (docs/benchmarks.md).
  "0002_drop_infohashes_status": Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => statements(sql, ["DROP INDEX IF EXISTS infohashes_status"])
  ),
  // Hosts a crawl banned (they answered with garbage), honoured by the next crawl until `until`.
  "0003_bans": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    statements(sql, [
      `CREATE TABLE bans (host TEXT PRIMARY KEY NOT NULL, at INTEGER NOT NULL, until INTEGER NOT NULL, reason TEXT)`
    ])),
  // Issue 16 (long-running crawls): a crawl session's state and liveness (host, pid, heartbeat), so the next
  // start can tell a crawl killed with -9 from one still running; and the blocklist.
  "0004_long_running": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    statements(sql, [
      `ALTER TABLE sessions ADD COLUMN state TEXT`,
      `ALTER TABLE sessions ADD COLUMN host TEXT`,
      `ALTER TABLE sessions ADD COLUMN pid INTEGER`,
      `ALTER TABLE sessions ADD COLUMN alive_at INTEGER`,
      // kind 'infohash' (hash set) or 'name' (a glob in value, as a LIKE pattern in pattern); via: the name
      // pattern that blocked this infohash when a stored torrent matched it.
      `CREATE TABLE blocklist (
        id INTEGER PRIMARY KEY, kind TEXT NOT NULL, value TEXT NOT NULL, hash BLOB, pattern TEXT,
        added_at INTEGER NOT NULL, reason TEXT, via TEXT, UNIQUE (kind, value)
      )`,
      `CREATE INDEX blocklist_hash ON blocklist (hash)`,
      `CREATE INDEX blocklist_via ON blocklist (via)`
    ]))
}

export const pgMigrations = {
  "0001_init": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    statements(sql, [
      `CREATE TABLE nodes (
        id BYTEA NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL,
        first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, last_response BIGINT,
        times_seen BIGINT NOT NULL DEFAULT 0, bep42 SMALLINT, version BYTEA, read_only SMALLINT NOT NULL DEFAULT 0,
        PRIMARY KEY (id, host, port)
      )`,
      `CREATE INDEX nodes_last_response ON nodes (last_response)`,
      `CREATE TABLE infohashes (
        hash BYTEA PRIMARY KEY, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,
        seen_sample BIGINT NOT NULL DEFAULT 0, seen_get_peers BIGINT NOT NULL DEFAULT 0,
        seen_announce BIGINT NOT NULL DEFAULT 0, seen_lookup BIGINT NOT NULL DEFAULT 0,
        peers_seen BIGINT NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'pending',
        attempts BIGINT NOT NULL DEFAULT 0, last_attempt BIGINT, last_error TEXT
      )`,
      `CREATE INDEX infohashes_status ON infohashes (status, peers_seen)`,
      `CREATE TABLE infohash_peers (
        hash BYTEA NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL,
        first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, PRIMARY KEY (hash, host, port)
      )`,
      `CREATE TABLE torrents (
        id BIGSERIAL PRIMARY KEY, hash BYTEA NOT NULL UNIQUE, hash_v2 BYTEA, name TEXT NOT NULL, name_raw BYTEA NOT NULL,
        total_length BIGINT NOT NULL, piece_length BIGINT, private SMALLINT NOT NULL, version TEXT NOT NULL,
        file_count INTEGER NOT NULL, info BYTEA NOT NULL, discovered_at BIGINT NOT NULL, fetched_at BIGINT NOT NULL,
        source_host TEXT, source_port INTEGER, source_client TEXT, search TSVECTOR NOT NULL
      )`,
      `CREATE INDEX torrents_discovered ON torrents (discovered_at)`,
      `CREATE INDEX torrents_length ON torrents (total_length)`,
      `CREATE INDEX torrents_search ON torrents USING GIN (search)`,
      `CREATE TABLE files (
        torrent_id BIGINT NOT NULL, idx INTEGER NOT NULL, path TEXT NOT NULL, path_raw BYTEA, length BIGINT NOT NULL,
        PRIMARY KEY (torrent_id, idx)
      )`,
      `CREATE TABLE sessions (
        id BIGSERIAL PRIMARY KEY, started_at BIGINT NOT NULL, ended_at BIGINT, settings TEXT, totals TEXT
      )`
    ])),
  "0002_drop_infohashes_status": Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => statements(sql, ["DROP INDEX IF EXISTS infohashes_status"])
  ),
  "0003_bans": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    statements(sql, [
      `CREATE TABLE bans (host TEXT PRIMARY KEY, at BIGINT NOT NULL, until BIGINT NOT NULL, reason TEXT)`
    ])),
  // Issue 16 (long-running crawls): a crawl session's state and liveness (host, pid, heartbeat), so the next
  // start can tell a crawl killed with -9 from one still running; and the blocklist.
  "0004_long_running": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    statements(sql, [
      `ALTER TABLE sessions ADD COLUMN state TEXT`,
      `ALTER TABLE sessions ADD COLUMN host TEXT`,
      `ALTER TABLE sessions ADD COLUMN pid INTEGER`,
      `ALTER TABLE sessions ADD COLUMN alive_at BIGINT`,
      `CREATE TABLE blocklist (
        id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, value TEXT NOT NULL, hash BYTEA, pattern TEXT,
        added_at BIGINT NOT NULL, reason TEXT, via TEXT, UNIQUE (kind, value)
      )`,
      `CREATE INDEX blocklist_hash ON blocklist (hash)`,
      `CREATE INDEX blocklist_via ON blocklist (via)`
    ]))
}
