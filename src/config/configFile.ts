import { ConfigProvider } from "effect"
import { readFileSync } from "node:fs"

// The optional config file (`--config bitscrape.json`): a flat JSON object of settings by their camelCase
// names (`db`, `bootstrap`, `maxPps`, …). It sits below the environment: flag > env > file > default.

export class ConfigFileError extends Error {}

/** Takes `--config PATH` (or `--config=PATH`) out of argv; returns the path and the remaining arguments. */
export const extractConfigFlag = (argv: ReadonlyArray<string>) => {
  const rest: Array<string> = []
  let path: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === "--config") {
      path = argv[i + 1]
      if (path === undefined) throw new ConfigFileError("--config needs a file path")
      i++
    } else if (a.startsWith("--config=")) path = a.slice("--config=".length)
    else rest.push(a)
  }
  return { path, argv: rest }
}

/** Reads the file into a ConfigProvider; arrays become comma-separated lists. */
export const configFileProvider = (path: string, known: ReadonlySet<string>): ConfigProvider.ConfigProvider => {
  let json: unknown
  try {
    json = JSON.parse(readFileSync(path, "utf8"))
  } catch (e) {
    throw new ConfigFileError(`cannot read config file ${path}: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ConfigFileError(`config file ${path} must hold a JSON object of settings`)
  }
  const map = new Map<string, string>()
  for (const [key, value] of Object.entries(json)) {
    if (!known.has(key)) {
      throw new ConfigFileError(`config file ${path}: unknown setting "${key}" (see docs/configuration.md)`)
    }
    const text = Array.isArray(value) ? value.join(",") : typeof value === "object" ? undefined : String(value)
    if (text === undefined) {
      throw new ConfigFileError(`config file ${path}: "${key}" must be a string, number, boolean or list`)
    }
    map.set(key, text)
  }
  return ConfigProvider.fromMap(map, { seqDelim: NO_SEQUENCES })
}

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
