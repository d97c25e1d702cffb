import { ConfigProvider, Data, Effect, Either } from "effect"
import { readFileSync } from "node:fs"

// The optional config file (`--config bitscrape.json`): a flat JSON object of settings by their camelCase
// names (`db`, `bootstrap`, `maxPps`, …). It sits below the environment: flag > env > file > default.

/** `--config` is wrong: no path after it, a file that cannot be read, or a setting it may not hold. */
export class ConfigFileError extends Data.TaggedError("ConfigFileError")<{ readonly message: string }> {}

const fileError = (message: string) => new ConfigFileError({ message })

/** Takes `--config PATH` (or `--config=PATH`) out of argv; returns the path and the remaining arguments. */
export const extractConfigFlag = (
  argv: ReadonlyArray<string>
): Either.Either<{ readonly path: string | undefined; readonly argv: ReadonlyArray<string> }, ConfigFileError> => {
  const rest: Array<string> = []
  let path: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === "--config") {
      path = argv[i + 1]
      if (path === undefined) return Either.left(fileError("--config needs a file path"))
      i++
    } else if (a.startsWith("--config=")) path = a.slice("--config=".length)
    else rest.push(a)
  }
  return Either.right({ path, argv: rest })
}

const settingsOf = (
  path: string,
  json: unknown,
  known: ReadonlySet<string>
): Either.Either<ConfigProvider.ConfigProvider, ConfigFileError> => {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return Either.left(fileError(`config file ${path} must hold a JSON object of settings`))
  }
  const map = new Map<string, string>()
  for (const [key, value] of Object.entries(json)) {
    if (!known.has(key)) {
      return Either.left(fileError(`config file ${path}: unknown setting "${key}" (see docs/configuration.md)`))
    }
    const text = Array.isArray(value) ? value.join(",") : typeof value === "object" ? undefined : String(value)
    if (text === undefined) {
      return Either.left(fileError(`config file ${path}: "${key}" must be a string, number, boolean or list`))
    }
    map.set(key, text)
  }
  return Either.right(ConfigProvider.fromMap(map, { seqDelim: NO_SEQUENCES }))
}

/** Reads the file into a ConfigProvider; arrays become comma-separated lists. */
export const configFileProvider = (
  path: string,
  known: ReadonlySet<string>
): Effect.Effect<ConfigProvider.ConfigProvider, ConfigFileError> =>
  Effect.try({
    try: (): unknown => JSON.parse(readFileSync(path, "utf8")),
    catch: (e) => fileError(`cannot read config file ${path}: ${e instanceof Error ? e.message : String(e)}`)
  }).pipe(Effect.flatMap((json) => settingsOf(path, json, known)))

/**
 * The providers' sequence delimiter: a character no setting holds. Our lists (bootstrap, allow, bind…) are read
 * as one string and parsed by us; with Effect's default "," a flat provider splits "a,b" and `Config.string`
 * reads only "a" (or a record of settings fails with MissingData).
 */
export const NO_SEQUENCES = "\u001f"

/** Every setting name the file may hold (the env names are these in CONSTANT_CASE with a BITSCRAPE_ prefix). */
export const KNOWN_SETTINGS: ReadonlySet<string> = new Set([
  "db",
  "bind",
  "port",
  "nodeId",
  "maxPps",
  "burst",
  "inboundBuffer",
  "maxDatagram",
  "queryTimeout",
  "maxInflight",
  "alpha",
  "k",
  "admitUnverifiedIds",
  "readOnly",
  "neighbourIds",
  "peerTtl",
  "maxStoredInfohashes",
  "maxPeersPerInfohash",
  "sampleInterval",
  "bootstrap",
  "allow",
  "deny",
  "target",
  "maxKnownNodes",
  "maxQueuedInfohashes",
  "perIpIntervalMillis",
  "identities",
  "askSampler",
  "retryLookups",
  "evidencePriority",
  "shiftBudget",
  "giveUpTtl",
  "adaptiveConnectTimeout",
  "minConnectTimeoutMillis",
  "joinProbeMillis",
  "adaptiveTimeout",
  "minQueryTimeoutMillis",
  "maxPaceWaitMillis",
  "sampleProbeTimeoutMillis",
  "lookupConcurrency",
  "minSampleInterval",
  "seenCapacity",
  "discoveryBuffer",
  "lookups",
  "metadata",
  "maxConnections",
  "peersPerInfohash",
  "parallelPeers",
  "connectTimeout",
  "peerTimeout",
  "infohashDeadline",
  "maxMetadataSize",
  "maxAttempts",
  "retryBackoff",
  "deadPeers",
  "deadPeerTtl",
  "progressInterval",
  "duration",
  "ui",
  "uiHost",
  "uiPort",
  "uiToken",
  "uiRateLimit",
  "blocklist",
  "maxDbSize",
  "keepPeers",
  "keepInfohashes",
  "keepNodes",
  "keepTorrents",
  "housekeepingInterval"
])
