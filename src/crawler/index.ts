/**
 * `bitscrape/crawler`: the Crawler layer (join, keyspace walk, BEP 51 sampling, passive harvest, get_peers
 * lookups) with its configuration, address filter and keyspace areas.
 *
 * @module bitscrape/crawler
 */
export * from "../config/CrawlerConfig.js"
export * from "../domain/cidr.js"
export * from "../domain/keyspace.js"
export * from "./Crawler.js"
export {
  Identities,
  IdentitiesFromNode,
  IdentitiesLive,
  type Identity,
  nearestIdentity,
  spreadIds
} from "./identities.js"
export { STAGES } from "./state.js"
