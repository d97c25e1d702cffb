import { Config, ConfigError, Either } from "effect"

// Bounded disk for long-running crawls (docs/configuration.md "Disk budget and retention"): how long each growing
// table keeps its rows, and the size the database may reach before the oldest rows are evicted.

/** Retention and the disk budget. Ages are milliseconds; `undefined` keeps rows forever. */
export interface StorageSettings {
  /** Database size to stay within (bytes), or no budget. */
  readonly maxDbSize: number | undefined
  /** Peer sightings (`infohash_peers`) not seen for this long are deleted. */
  readonly keepPeers: number | undefined
  /** Infohashes never fetched and not seen for this long are deleted (with their peers). */
  readonly keepInfohashes: number | undefined
  /** Nodes not seen for this long are deleted. */
  readonly keepNodes: number | undefined
  /** Fetched torrents older than this are deleted; only when asked (default: kept forever, never evicted). */
  readonly keepTorrents: number | undefined
  /** How often retention and the budget are applied (ms). */
  readonly housekeepingMillis: number
}

const DAY = 24 * 3600_000

/** Defaults that bound growth: peers a week, unfetched infohashes 30 days, nodes 14 days; torrents forever. */
export const storageDefaults: StorageSettings = {
  maxDbSize: undefined,
  keepPeers: 7 * DAY,
  keepInfohashes: 30 * DAY,
  keepNodes: 14 * DAY,
  keepTorrents: undefined,
  housekeepingMillis: 60_000
}

const AGE_UNITS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3600_000,
  d: DAY,
  w: 7 * DAY,
  sec: 1000,
  min: 60_000,
  hour: 3600_000,
  hours: 3600_000,
  day: DAY,
  days: DAY,
  week: 7 * DAY,
  weeks: 7 * DAY
}

/** "7d", "12h", "2w", "90 days" → ms; "forever" (or "never") → undefined (kept forever); else an error text. */
export const parseAge = (text: string): Either.Either<number | undefined, string> => {
  const t = text.trim().toLowerCase()
  if (t === "forever" || t === "never" || t === "off") return Either.right(undefined)
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/.exec(t)
  const unit = m === null ? undefined : AGE_UNITS[m[2]!]
  if (m === null || unit === undefined || Number(m[1]) <= 0) {
    return Either.left(`"${text}" is not an age such as 7d, 12h, 2w or forever`)
  }
  return Either.right(Math.round(Number(m[1]) * unit))
}

/** An age as the user would write it ("7d", "36h", "forever"). */
export const formatAge = (ms: number | undefined): string =>
  ms === undefined
    ? "forever"
    : ms % DAY === 0
    ? `${ms / DAY}d`
    : ms % 3600_000 === 0
    ? `${ms / 3600_000}h`
    : `${Math.round(ms / 1000)}s`

const age = (name: string, fallback: number | undefined) =>
  Config.string(name).pipe(
    Config.mapOrFail((text) => Either.mapLeft(parseAge(text), (message) => ConfigError.InvalidData([], message))),
    Config.withDefault(fallback)
  )

/** BITSCRAPE_MAX_DB_SIZE (parsed by the caller: it shares the size syntax of the CLI), BITSCRAPE_KEEP_*, … */
export const storageConfigFromEnv = (parseSize: (text: string) => number | undefined) =>
  Config.all({
    maxDbSize: Config.option(Config.string("maxDbSize")).pipe(
      Config.mapOrFail((o) => {
        if (o._tag === "None") return Either.right(undefined)
        const n = parseSize(o.value)
        return n === undefined || n <= 0
          ? Either.left(ConfigError.InvalidData([], `"${o.value}" is not a size such as 500MB or 20GB`))
          : Either.right(n as number | undefined)
      })
    ),
    keepPeers: age("keepPeers", storageDefaults.keepPeers),
    keepInfohashes: age("keepInfohashes", storageDefaults.keepInfohashes),
    keepNodes: age("keepNodes", storageDefaults.keepNodes),
    keepTorrents: age("keepTorrents", storageDefaults.keepTorrents),
    housekeepingMillis: Config.integer("housekeepingInterval").pipe(
      Config.validate({
        message: "housekeepingInterval must be a positive number of seconds",
        validation: (n) => n > 0
      }),
      Config.map((s) => s * 1000),
      Config.withDefault(storageDefaults.housekeepingMillis)
    )
  })
