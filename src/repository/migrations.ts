import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Schema } from "effect"
import { categoryOf, extensionOf } from "../domain/categories.js"
import { pgAggregatesMigration, sqliteAggregatesMigration } from "./analysisAggregates.js"
import { type Dialect, postgres, sqlite } from "./dialect.js"
import { decodeRows, IdRow, SqlNumber, SqlText } from "./sqlRows.js"

// Versioned schema migrations (run by @effect/sql's Migrator from a record, so the npm package needs no
// migrations folder on disk). One record per dialect; the two describe the same data model.
// Times are Unix milliseconds (INTEGER / BIGINT); hashes and raw bytes are BLOB / BYTEA.

const statements = (sql: SqlClient.SqlClient, list: ReadonlyArray<string>) =>
  Effect.forEach(list, (s) => sql.unsafe(s), { discard: true })

/**
 * Sets the content category (categories.ts) of every stored torrent, 500 at a time, and counts the files and bytes
 * of every extension into `file_extensions`.
 */
const BackfillFile = Schema.Struct({ torrent_id: SqlNumber, path: SqlText, length: SqlNumber })

const backfillCategories = (sql: SqlClient.SqlClient, dialect: Dialect) =>
  Effect.gen(function*() {
    const p = dialect.placeholder
    const extensions = new Map<string, { files: number; bytes: number }>()
    let after = 0
    for (;;) {
      const ids = (yield* Effect.flatMap(
        sql.unsafe(`SELECT id FROM torrents WHERE id > ${p(1)} ORDER BY id LIMIT 500`, [after]),
        (rows) => decodeRows(IdRow, rows)
      )).map((r) => r.id)
      if (ids.length === 0) break
      const files = yield* Effect.flatMap(
        sql.unsafe(
          `SELECT torrent_id, path, length FROM files WHERE torrent_id >= ${p(1)} AND torrent_id <= ${p(2)}`,
          [ids[0], ids[ids.length - 1]]
        ),
        (rows) => decodeRows(BackfillFile, rows)
      )
      const byId = new Map<number, Array<{ path: string; length: number }>>()
      for (const f of files) {
        const list = byId.get(f.torrent_id) ?? []
        list.push({ path: f.path, length: f.length })
        byId.set(f.torrent_id, list)
        const e = extensions.get(extensionOf(f.path)) ?? { files: 0, bytes: 0 }
        e.files++
        e.bytes += f.length
        extensions.set(extensionOf(f.path), e)
      }
      for (const id of ids) {
        yield* sql.unsafe(`UPDATE torrents SET category = ${p(1)} WHERE id = ${p(2)}`, [
          categoryOf(byId.get(id) ?? []),
          id
        ])
      }
      after = ids[ids.length - 1]!
    }
    for (const [ext, e] of extensions) {
      yield* sql.unsafe(`INSERT INTO file_extensions (ext, files, bytes) VALUES (${p(1)}, ${p(2)}, ${p(3)})`, [
        ext,
        e.files,
        e.bytes
      ])
    }
  })

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
    ])),
  // Insights (docs/analysis.md): each torrent's content category, stored and indexed for search; whether a
  // node answered BEP 51 sample_infohashes (1), refused or ignored it (0), or was never asked (NULL).
  "0005_insights": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.zipRight(
      statements(sql, [
        `ALTER TABLE torrents ADD COLUMN category TEXT`,
        `CREATE INDEX torrents_category ON torrents (category, discovered_at)`,
        `ALTER TABLE nodes ADD COLUMN bep51 INTEGER`,
        // Files and bytes per extension, kept as torrents are stored: the top-extensions answer without a scan.
        `CREATE TABLE file_extensions (ext TEXT PRIMARY KEY NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL)
         WITHOUT ROWID`
      ]),
      backfillCategories(sql, sqlite)
    )),
  // Saved searches whose new matches are POSTed to a webhook; torrents by fetch time for "new since the cursor";
  // infohashes imported without metadata (`bitscrape import`), for the next crawl to find peers for.
  "0006_saved_searches_imports": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    statements(sql, [
      `CREATE TABLE saved_searches (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, query TEXT NOT NULL, webhook TEXT NOT NULL,
        created_at INTEGER NOT NULL, cursor_at INTEGER NOT NULL, cursor_hash BLOB, delivered INTEGER NOT NULL DEFAULT 0,
        last_attempt_at INTEGER, last_error TEXT
      )`,
      `CREATE INDEX torrents_fetched ON torrents (fetched_at)`,
      `CREATE TABLE import_queue (hash BLOB PRIMARY KEY NOT NULL, queued_at INTEGER NOT NULL) WITHOUT ROWID`
    ])),
  // Popularity (docs/analysis.md): each infohash's latest BEP 33 swarm estimate, and sightings per hour (start,
  // ms), infohash and source, kept for POPULARITY_RETENTION_MS (bounded; the top-N of a window sums its hours).
  // Churn: our queries sent, answered and timed out per minute (start, ms), kept RESPONSE_RATE_RETENTION_MS.
  "0008_popularity_response_rates": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    statements(sql, [
      `ALTER TABLE infohashes ADD COLUMN seeders INTEGER`,
      `ALTER TABLE infohashes ADD COLUMN leechers INTEGER`,
      `ALTER TABLE infohashes ADD COLUMN scraped_at INTEGER`,
      `CREATE INDEX infohashes_swarm ON infohashes ((seeders + leechers))`,
      `CREATE TABLE infohash_hours (
        hour INTEGER NOT NULL, hash BLOB NOT NULL, source TEXT NOT NULL, sightings INTEGER NOT NULL,
        PRIMARY KEY (hour, hash, source)
      ) WITHOUT ROWID`,
      `CREATE TABLE response_rates (
        minute INTEGER PRIMARY KEY NOT NULL, queries INTEGER NOT NULL, responses INTEGER NOT NULL,
        timeouts INTEGER NOT NULL
      )`
    ])),
  // An infohash's hourly sightings are deleted with it (blocklist, eviction): find them by hash.
  "0009_infohash_hours_hash": Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => statements(sql, [`CREATE INDEX infohash_hours_hash ON infohash_hours (hash)`])
  ),
  // What the analyses keep as rows are written (analysisAggregates.ts, docs/analysis.md).
  "0011_analysis_aggregates": sqliteAggregatesMigration,
  // Search with filters looks every text match up in `torrents` for its size, files, date or category: this index
  // holds just those (~40 bytes an entry against the row's hundreds), so the lookups of a filtered search touch a
  // tenth of the pages (docs/benchmarks.md, "Search at scale, fourth pass").
  // (Without `category` on a database that lacks the column: one built before migration 0005 existed and migrated
  // past its number since, which the Migrator does not go back for.)
  "0012_search_cover": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.flatMap(
      sql.unsafe("SELECT 1 AS x FROM pragma_table_info('torrents') WHERE name = 'category'"),
      (category) =>
        statements(sql, [
          `CREATE INDEX torrents_cover ON torrents (id, total_length, discovered_at, file_count${
            category.length > 0 ? ", category" : ""
          })`
        ])
    )),
  // PostgreSQL's index change (below); SQLite's hourly rows are already clustered by (hash, hour) since 0011.
  "0013_infohash_hours_hash_hour": Effect.void
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
    ])),
  "0005_insights": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.zipRight(
      statements(sql, [
        `ALTER TABLE torrents ADD COLUMN category TEXT`,
        `CREATE INDEX torrents_category ON torrents (category, discovered_at)`,
        `ALTER TABLE nodes ADD COLUMN bep51 SMALLINT`,
        `CREATE TABLE file_extensions (ext TEXT PRIMARY KEY, files BIGINT NOT NULL, bytes BIGINT NOT NULL)`
      ]),
      backfillCategories(sql, postgres)
    )),
  "0006_saved_searches_imports": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    statements(sql, [
      `CREATE TABLE saved_searches (
        id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, query TEXT NOT NULL, webhook TEXT NOT NULL,
        created_at BIGINT NOT NULL, cursor_at BIGINT NOT NULL, cursor_hash BYTEA, delivered BIGINT NOT NULL DEFAULT 0,
        last_attempt_at BIGINT, last_error TEXT
      )`,
      `CREATE INDEX torrents_fetched ON torrents (fetched_at)`,
      `CREATE TABLE import_queue (hash BYTEA PRIMARY KEY, queued_at BIGINT NOT NULL)`
    ])),
  "0008_popularity_response_rates": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    statements(sql, [
      `ALTER TABLE infohashes ADD COLUMN seeders BIGINT`,
      `ALTER TABLE infohashes ADD COLUMN leechers BIGINT`,
      `ALTER TABLE infohashes ADD COLUMN scraped_at BIGINT`,
      `CREATE INDEX infohashes_swarm ON infohashes ((seeders + leechers))`,
      `CREATE TABLE infohash_hours (
        hour BIGINT NOT NULL, hash BYTEA NOT NULL, source TEXT NOT NULL, sightings BIGINT NOT NULL,
        PRIMARY KEY (hour, hash, source)
      )`,
      `CREATE TABLE response_rates (
        minute BIGINT PRIMARY KEY, queries BIGINT NOT NULL, responses BIGINT NOT NULL, timeouts BIGINT NOT NULL
      )`
    ])),
  "0009_infohash_hours_hash": Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => statements(sql, [`CREATE INDEX infohash_hours_hash ON infohash_hours (hash)`])
  ),
  "0011_analysis_aggregates": pgAggregatesMigration,
  // Search (docs/architecture.md, "Search"): each torrent's words move to a table of their own, so the GIN index's
  // matches are counted, listed newest first and ranked on rows a quarter the size of a torrent's; a filter is
  // applied per match through a covering index (index-only) instead of as a bitmap of a non-selective range.
  "0012_search_words": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    statements(sql, [
      `CREATE TABLE torrent_words (
        id BIGINT PRIMARY KEY REFERENCES torrents (id) ON DELETE CASCADE, search TSVECTOR NOT NULL
      )`,
      `INSERT INTO torrent_words (id, search) SELECT id, search FROM torrents ORDER BY id`,
      `CREATE INDEX torrent_words_search ON torrent_words USING GIN (search)`,
      `DROP INDEX torrents_search`,
      `ALTER TABLE torrents DROP COLUMN search`
    ]).pipe(
      Effect.zipRight(sql.unsafe(
        `SELECT 1 AS x FROM information_schema.columns WHERE table_schema = current_schema()
         AND table_name = 'torrents' AND column_name = 'category'`
      )),
      Effect.flatMap((category) =>
        sql.unsafe(
          `CREATE INDEX torrents_cover ON torrents (id) INCLUDE (total_length, discovered_at, file_count${
            category.length > 0 ? ", category" : ""
          })`
        )
      )
    )),
  // A popularity window sums each infohash's hours by walking this index in (hash, hour) order, reading the
  // sightings from the index itself (docs/benchmarks.md: the week window 8–12 s as a hash aggregate, 0.9–1.7 s
  // this way). It replaces 0009's index by hash, which found an infohash's hours for the deletes; an upsert that
  // adds sightings updates the same two indexes as before (few of them were HOT updates: the pages are full).
  "0013_infohash_hours_hash_hour": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    statements(sql, [
      `CREATE INDEX infohash_hours_hash_hour ON infohash_hours (hash, hour) INCLUDE (sightings)`,
      `DROP INDEX infohash_hours_hash`
    ]))
}
