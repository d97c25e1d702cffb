import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

// Migration 0011: what the analyses keep as rows are written, so that each answers within seconds on millions of
// rows (docs/analysis.md "Kept as rows are written"; docs/benchmarks.md). Triggers keep the aggregates, so every
// writer — discoveries, fetches, failures, imports, the blocklist, eviction and retention deletes — keeps them
// without knowing: they agree with the rows they summarise after any write (test/repository/aggregates.test.ts).
//
// - `source_groups`: infohashes counted by which sources reported them (s0…s3 in DISCOVERY_SOURCES' order),
//   whether peers were seen (wp) and the status (st: 0 pending, 1 fetched, 2 failed), with the sightings per source
//   (c0…c3) — the rows of the `sources` analysis' scan. A group whose rows all left stays with n = 0.
// - `source_days`: infohashes per day of first sighting, with peers and fetched — its funnel by day (n = 0 kept).
// - `torrents.popularity`: the "popular" sort key (the larger of distinct peers seen and the BEP 33 swarm estimate
//   of the torrent's infohash row), indexed, instead of a lookup of each torrent's infohash row.
// - SQLite only: `infohash_hours` clustered by infohash (primary key hash, hour, source; the hour in an index), so
//   a day or week window sums each infohash's hours in one pass in key order rather than sorting the window's rows;
//   partial indexes for the all-time tops by peers and by sightings. PostgreSQL: the partial index by peers (one on
//   the sightings would make every sighting's upsert a non-HOT update); its windows walk an index (hash, hour)
//   instead (migration 0013, dialect.ts analysisSettings).

/** Infohashes with at least this many sightings are in SQLite's index of the all-time top by sightings. */
export const SIGHTINGS_INDEXED_FROM = 8

const DAY = 86_400_000
const statements = (sql: SqlClient.SqlClient, list: ReadonlyArray<string>) =>
  Effect.forEach(list, (s) => sql.unsafe(s), { discard: true })

const summaryTables = (int: string) => [
  `CREATE TABLE source_groups (
    s0 ${int} NOT NULL, s1 ${int} NOT NULL, s2 ${int} NOT NULL, s3 ${int} NOT NULL, wp ${int} NOT NULL,
    st ${int} NOT NULL, n ${int} NOT NULL, c0 ${int} NOT NULL, c1 ${int} NOT NULL, c2 ${int} NOT NULL,
    c3 ${int} NOT NULL, PRIMARY KEY (s0, s1, s2, s3, wp, st)
  )${int === "INTEGER" ? " WITHOUT ROWID" : ""}`,
  `CREATE TABLE source_days (
    day ${int} PRIMARY KEY NOT NULL, n ${int} NOT NULL, with_peers ${int} NOT NULL, fetched ${int} NOT NULL
  )`
]

/** The group key of an infohash row (`r`: NEW, OLD or an alias), as SQL expressions giving 0 or 1 (st: 0–2). */
const groupKey = (r: string, bool: (cond: string) => string) => [
  bool(`${r}.seen_sample > 0`),
  bool(`${r}.seen_get_peers > 0`),
  bool(`${r}.seen_announce > 0`),
  bool(`${r}.seen_lookup > 0`),
  bool(`${r}.peers_seen > 0`),
  `CASE ${r}.status WHEN 'fetched' THEN 1 WHEN 'failed' THEN 2 ELSE 0 END`
]
const KEY = ["s0", "s1", "s2", "s3", "wp", "st"]
const SEEN = ["seen_sample", "seen_get_peers", "seen_announce", "seen_lookup"]

const sqliteBool = (cond: string) => `(${cond})`

/** SQLite: row triggers (measured: about 3 % of the upsert's CPU, docs/benchmarks.md). */
const sqliteStatements = [
  // The hourly sightings by infohash first (same rows; the write path touches the same two b-trees).
  `CREATE TABLE infohash_hours_by_hash (
    hash BLOB NOT NULL, hour INTEGER NOT NULL, source TEXT NOT NULL, sightings INTEGER NOT NULL,
    PRIMARY KEY (hash, hour, source)
  ) WITHOUT ROWID`,
  `INSERT INTO infohash_hours_by_hash (hash, hour, source, sightings)
   SELECT hash, hour, source, sightings FROM infohash_hours ORDER BY hash, hour, source`,
  `DROP TABLE infohash_hours`,
  `ALTER TABLE infohash_hours_by_hash RENAME TO infohash_hours`,
  `CREATE INDEX infohash_hours_hour ON infohash_hours (hour)`,
  // The all-time tops (analysisSql.ts): in key order, so a LIMIT reads only the top rows.
  `CREATE INDEX infohashes_peers ON infohashes (peers_seen DESC) WHERE peers_seen > 0`,
  `CREATE INDEX infohashes_sightings ON infohashes ((seen_sample + seen_get_peers + seen_announce + seen_lookup) DESC)
   WHERE seen_sample + seen_get_peers + seen_announce + seen_lookup >= ${SIGHTINGS_INDEXED_FROM}`,
  ...summaryTables("INTEGER"),
  `INSERT INTO source_groups (${KEY.join(", ")}, n, c0, c1, c2, c3)
   SELECT ${groupKey("i", sqliteBool).join(", ")}, count(*), ${SEEN.map((s) => `sum(i.${s})`).join(", ")}
   FROM infohashes i GROUP BY 1, 2, 3, 4, 5, 6`,
  `INSERT INTO source_days (day, n, with_peers, fetched)
   SELECT first_seen / ${DAY}, count(*), sum(peers_seen > 0), sum(status = 'fetched') FROM infohashes GROUP BY 1`,
  `ALTER TABLE torrents ADD COLUMN popularity INTEGER`,
  `UPDATE torrents SET popularity =
     (SELECT max(i.peers_seen, COALESCE(i.seeders + i.leechers, 0)) FROM infohashes i WHERE i.hash = torrents.hash)`,
  `CREATE INDEX torrents_popular ON torrents (popularity DESC)`,
  ...(() => {
    const add = (r: string) =>
      `INSERT INTO source_groups (${KEY.join(", ")}, n, c0, c1, c2, c3)
       VALUES (${groupKey(r, sqliteBool).join(", ")}, 1, ${SEEN.map((s) => `${r}.${s}`).join(", ")})
       ON CONFLICT (${KEY.join(", ")}) DO UPDATE SET n = n + 1, ${
        [0, 1, 2, 3].map((i) => `c${i} = c${i} + excluded.c${i}`).join(", ")
      };`
    const remove = (r: string) =>
      `UPDATE source_groups SET n = n - 1, ${[0, 1, 2, 3].map((i) => `c${i} = c${i} - ${r}.${SEEN[i]}`).join(", ")}
       WHERE ${KEY.map((k, i) => `${k} = ${groupKey(r, sqliteBool)[i]}`).join(" AND ")};`
    const addDay = (r: string) =>
      `INSERT INTO source_days (day, n, with_peers, fetched)
       VALUES (${r}.first_seen / ${DAY}, 1, ${r}.peers_seen > 0, ${r}.status = 'fetched')
       ON CONFLICT (day) DO UPDATE SET n = n + 1, with_peers = with_peers + excluded.with_peers,
         fetched = fetched + excluded.fetched;`
    const removeDay = (r: string) =>
      `UPDATE source_days SET n = n - 1, with_peers = with_peers - (${r}.peers_seen > 0),
         fetched = fetched - (${r}.status = 'fetched') WHERE day = ${r}.first_seen / ${DAY};`
    const sameKey = groupKey("OLD", sqliteBool).map((o, i) => `${o} = ${groupKey("NEW", sqliteBool)[i]}`).join(
      " AND "
    )
    const dayKey = (r: string) => [`${r}.first_seen / ${DAY}`, `(${r}.peers_seen > 0)`, `(${r}.status = 'fetched')`]
    const sameDay = dayKey("OLD").map((o, i) => `${o} = ${dayKey("NEW")[i]}`).join(" AND ")
    const popularity = (r: string) => `max(${r}.peers_seen, COALESCE(${r}.seeders + ${r}.leechers, 0))`
    return [
      `CREATE TRIGGER infohashes_inserted AFTER INSERT ON infohashes BEGIN
         ${add("NEW")}
         ${addDay("NEW")}
         UPDATE torrents SET popularity = ${popularity("NEW")} WHERE hash = NEW.hash;
       END`,
      `CREATE TRIGGER infohashes_deleted AFTER DELETE ON infohashes BEGIN
         ${remove("OLD")}
         ${removeDay("OLD")}
         UPDATE torrents SET popularity = NULL WHERE hash = OLD.hash;
       END`,
      // Most updates are sightings added to a row whose group stays: one UPDATE of its sums.
      `CREATE TRIGGER infohashes_counted AFTER UPDATE OF ${SEEN.join(", ")} ON infohashes WHEN ${sameKey} BEGIN
         UPDATE source_groups SET ${
        [0, 1, 2, 3].map((i) => `c${i} = c${i} + NEW.${SEEN[i]} - OLD.${SEEN[i]}`).join(", ")
      }
         WHERE ${KEY.map((k, i) => `${k} = ${groupKey("NEW", sqliteBool)[i]}`).join(" AND ")};
       END`,
      `CREATE TRIGGER infohashes_regrouped AFTER UPDATE OF ${
        [...SEEN, "peers_seen", "status"].join(", ")
      } ON infohashes WHEN NOT (${sameKey}) BEGIN
         ${remove("OLD")}
         ${add("NEW")}
       END`,
      `CREATE TRIGGER infohashes_redated AFTER UPDATE OF first_seen, peers_seen, status ON infohashes
       WHEN NOT (${sameDay}) BEGIN
         ${removeDay("OLD")}
         ${addDay("NEW")}
       END`,
      `CREATE TRIGGER infohashes_popularity AFTER UPDATE OF peers_seen, seeders, leechers ON infohashes
       WHEN NEW.peers_seen IS NOT OLD.peers_seen OR NEW.seeders IS NOT OLD.seeders OR NEW.leechers IS NOT OLD.leechers
       BEGIN
         UPDATE torrents SET popularity = ${popularity("NEW")} WHERE hash = NEW.hash;
       END`,
      `CREATE TRIGGER torrents_popularity AFTER INSERT ON torrents BEGIN
         UPDATE torrents SET popularity =
           (SELECT ${popularity("i")} FROM infohashes i WHERE i.hash = NEW.hash) WHERE id = NEW.id;
       END`
    ]
  })()
]

const pgBool = (cond: string) => `(${cond})::int`

/**
 * PostgreSQL: statement triggers over the transition tables (one aggregate per statement, not one per row: a batch
 * of 500 upserts updates each summary row once).
 */
const pgStatements = (() => {
  // The signed rows of a statement: -1 for each old row, +1 for each new one.
  const signed = (r: string, sign: number) =>
    `SELECT ${groupKey(r, pgBool).map((e, i) => `${e} AS ${KEY[i]}`).join(", ")}, ${
      SEEN.map((s) => `${r}.${s}`).join(", ")
    },
       ${r}.first_seen / ${DAY} AS day, ${pgBool(`${r}.peers_seen > 0`)} AS wp1, ${
      pgBool(`${r}.status = 'fetched'`)
    } AS f1, ${sign} AS sg
     FROM ${r === "o" ? "old_rows" : "new_rows"} ${r}`
  const apply = (delta: string) =>
    `INSERT INTO source_groups (${KEY.join(", ")}, n, c0, c1, c2, c3)
       SELECT ${KEY.join(", ")}, sum(sg), ${SEEN.map((s) => `sum(sg * ${s})`).join(", ")} FROM (${delta}) d
       GROUP BY ${KEY.join(", ")}
       HAVING sum(sg) <> 0 OR ${SEEN.map((s) => `sum(sg * ${s}) <> 0`).join(" OR ")}
       ON CONFLICT (${KEY.join(", ")}) DO UPDATE SET n = source_groups.n + excluded.n, ${
      [0, 1, 2, 3].map((i) => `c${i} = source_groups.c${i} + excluded.c${i}`).join(", ")
    };
     INSERT INTO source_days (day, n, with_peers, fetched)
       SELECT day, sum(sg), sum(sg * wp1), sum(sg * f1) FROM (${delta}) d GROUP BY day
       HAVING sum(sg) <> 0 OR sum(sg * wp1) <> 0 OR sum(sg * f1) <> 0
       ON CONFLICT (day) DO UPDATE SET n = source_days.n + excluded.n,
         with_peers = source_days.with_peers + excluded.with_peers, fetched = source_days.fetched + excluded.fetched;`
  const popularity = (r: string) => `COALESCE(GREATEST(${r}.peers_seen, ${r}.seeders + ${r}.leechers), 0)`
  const fn = (name: string, body: string) =>
    `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $body$
     BEGIN
       ${body}
       RETURN NULL;
     END
     $body$`
  return [
    ...summaryTables("BIGINT"),
    `INSERT INTO source_groups (${KEY.join(", ")}, n, c0, c1, c2, c3)
     SELECT ${groupKey("i", pgBool).join(", ")}, count(*), ${SEEN.map((s) => `sum(i.${s})`).join(", ")}
     FROM infohashes i GROUP BY 1, 2, 3, 4, 5, 6`,
    `INSERT INTO source_days (day, n, with_peers, fetched)
     SELECT first_seen / ${DAY}, count(*), sum(${pgBool("peers_seen > 0")}), sum(${pgBool("status = 'fetched'")})
     FROM infohashes GROUP BY 1`,
    // 0 without an infohash row, as the join it replaces ordered it.
    `ALTER TABLE torrents ADD COLUMN popularity BIGINT NOT NULL DEFAULT 0`,
    `UPDATE torrents t SET popularity = ${popularity("i")} FROM infohashes i WHERE i.hash = t.hash`,
    `CREATE INDEX torrents_popular ON torrents (popularity DESC, id)`,
    // The all-time top by peers: only rows with peers, changed only when their peers are counted again (the
    // sightings' upserts stay HOT updates; an index on the sightings would not be, so that top is a parallel scan).
    `CREATE INDEX infohashes_peers ON infohashes (peers_seen DESC, hash) WHERE peers_seen > 0`,
    fn(
      "infohashes_inserted",
      `${apply(signed("n", 1))}
       UPDATE torrents t SET popularity = ${popularity("n")} FROM new_rows n WHERE t.hash = n.hash;`
    ),
    fn(
      "infohashes_deleted",
      `${apply(signed("o", -1))}
       UPDATE torrents t SET popularity = 0 FROM old_rows o WHERE t.hash = o.hash;`
    ),
    fn(
      "infohashes_updated",
      `${apply(`${signed("o", -1)} UNION ALL ${signed("n", 1)}`)}
       UPDATE torrents t SET popularity = ${popularity("n")} FROM new_rows n JOIN old_rows o ON o.hash = n.hash
       WHERE t.hash = n.hash AND (n.peers_seen IS DISTINCT FROM o.peers_seen OR n.seeders IS DISTINCT FROM o.seeders
         OR n.leechers IS DISTINCT FROM o.leechers);`
    ),
    `CREATE TRIGGER infohashes_inserted AFTER INSERT ON infohashes REFERENCING NEW TABLE AS new_rows
     FOR EACH STATEMENT EXECUTE FUNCTION infohashes_inserted()`,
    `CREATE TRIGGER infohashes_deleted AFTER DELETE ON infohashes REFERENCING OLD TABLE AS old_rows
     FOR EACH STATEMENT EXECUTE FUNCTION infohashes_deleted()`,
    `CREATE TRIGGER infohashes_updated AFTER UPDATE ON infohashes REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
     FOR EACH STATEMENT EXECUTE FUNCTION infohashes_updated()`,
    `CREATE FUNCTION torrents_popularity() RETURNS trigger LANGUAGE plpgsql AS $body$
     BEGIN
       NEW.popularity := COALESCE((SELECT ${popularity("i")} FROM infohashes i WHERE i.hash = NEW.hash), 0);
       RETURN NEW;
     END
     $body$`,
    `CREATE TRIGGER torrents_popularity BEFORE INSERT ON torrents FOR EACH ROW EXECUTE FUNCTION torrents_popularity()`
  ]
})()

export const sqliteAggregatesMigration = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => statements(sql, sqliteStatements)
)
export const pgAggregatesMigration = Effect.flatMap(SqlClient.SqlClient, (sql) => statements(sql, pgStatements))
