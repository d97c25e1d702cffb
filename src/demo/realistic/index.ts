/**
 * The realistic network model (issue 14): a loopback Mainline DHT with the real network's failure modes, for
 * benchmarks, tests and `bitscrape demo --profile realistic`. See docs/model.md.
 */
export type { IpInbound } from "./ipStats.js"
export { DEFAULTS, type RealisticNetworkOptions, type ResolvedOptions } from "./options.js"
export type { HostilePeerInfo, LiveTorrent, StalePeerInfo } from "./peers.js"
export {
  makeRealisticNetwork,
  type RealisticNetwork,
  RealisticNetworkError,
  type RealisticNetworkInfo,
  type RealisticNetworkStats,
  type SimNodeInfo,
  startRealisticNetwork
} from "./RealisticNetwork.js"
export { dropRuleInstalled } from "./stalePeers.js"
