// The OpenAPI description served at /api/openapi.json: generated from the JSON API's HttpApi (every parameter and
// response Schema), versioned with the package, plus the routes served beside it — the live event stream, the
// .torrent download, the feeds, Torznab and /metrics — so the description covers every route a client can call.
import * as OpenApi from "@effect/platform/OpenApi"
import { version } from "../domain/version.js"
import { BitscrapeApi } from "./api.js"

type Operation = Record<string, unknown>

const text = (description: string, type: string, example?: string) => ({
  description,
  content: { [type]: { schema: { type: "string", ...(example === undefined ? {} : { example }) } } }
})

const problem = (description: string) => text(description, "text/plain")

/** The search parameters of /api/search, as query parameters (shared by the feeds). */
const searchParameters = (spec: OpenApi.OpenAPISpec): Array<unknown> => {
  const search = (spec.paths["/api/search"] as { get?: { parameters?: Array<unknown> } } | undefined)?.get
  return search?.parameters ?? []
}

const infohashParameter = {
  name: "infohash",
  in: "path",
  required: true,
  description: "40 hexadecimal digits",
  schema: { type: "string", pattern: "^[0-9a-fA-F]{40}$" }
}

/** The routes served beside the HttpApi. */
const extraPaths = (spec: OpenApi.OpenAPISpec): Record<string, { get: Operation }> => ({
  "/api/live": {
    get: {
      tags: ["crawl"],
      operationId: "live",
      summary: "Live statistics as server-sent events",
      description:
        "Server-sent events: `history` (the last 300 snapshots, a JSON array), then `stats` (a JSON snapshot) about once a second, and `stopped` when the crawl ends; a comment line every 15 s keeps the stream open. At most 8 streams per client address.",
      responses: {
        "200": text("An event stream", "text/event-stream", "event: stats\ndata: {…}\n\n"),
        "429": problem("Too many live streams from this address, or open in all")
      }
    }
  },
  "/api/torrents/{infohash}/file": {
    get: {
      tags: ["torrents"],
      operationId: "torrentFile",
      summary: "The .torrent file",
      description: "Rebuilt byte-exact from the stored info dictionary, so its infohash is the torrent's.",
      parameters: [infohashParameter],
      responses: {
        "200": {
          description: "The .torrent file",
          content: { "application/x-bittorrent": { schema: { type: "string", format: "binary" } } }
        },
        "400": problem("Not an infohash"),
        "404": problem("No such torrent")
      }
    }
  },
  "/api/feed.rss": {
    get: {
      tags: ["feeds"],
      operationId: "feedRss",
      summary: "RSS 2.0 feed of a search",
      description:
        "The hits of the search the parameters describe (those of /api/search), newest first unless `sort` says otherwise. The token may be given as `token`.",
      parameters: searchParameters(spec),
      responses: {
        "200": text("An RSS 2.0 document", "application/rss+xml"),
        "400": problem("A parameter is invalid (the message names it)")
      }
    }
  },
  "/api/feed.atom": {
    get: {
      tags: ["feeds"],
      operationId: "feedAtom",
      summary: "Atom feed of a search",
      description: "As /api/feed.rss, as an Atom (RFC 4287) document.",
      parameters: searchParameters(spec),
      responses: {
        "200": text("An Atom document", "application/atom+xml"),
        "400": problem("A parameter is invalid (the message names it)")
      }
    }
  },
  "/api/torznab": {
    get: {
      tags: ["feeds"],
      operationId: "torznab",
      summary: "Torznab (for Sonarr, Radarr, Prowlarr, Jackett)",
      description:
        "`t=caps` describes the searches and categories; `t=search`, `t=tvsearch` and `t=movie` answer RSS 2.0 with torznab:attr elements. Errors are Newznab `<error code=… description=…/>` documents.",
      parameters: [
        {
          name: "t",
          in: "query",
          required: true,
          schema: { type: "string", enum: ["caps", "search", "tvsearch", "movie"] }
        },
        {
          name: "apikey",
          in: "query",
          description: "the UI token, when the server has one",
          schema: { type: "string" }
        },
        { name: "q", in: "query", schema: { type: "string", maxLength: 200 } },
        { name: "cat", in: "query", description: "category ids, comma-separated", schema: { type: "string" } },
        { name: "season", in: "query", schema: { type: "string" } },
        { name: "ep", in: "query", schema: { type: "string" } },
        { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 100 } },
        { name: "offset", in: "query", schema: { type: "integer", minimum: 0 } }
      ],
      responses: {
        "200": {
          description: "The capabilities (t=caps) or the results (an RSS 2.0 document)",
          content: {
            "application/xml": { schema: { type: "string" } },
            "application/rss+xml": { schema: { type: "string" } }
          }
        },
        "400": text("A Newznab error document", "application/xml"),
        "401": text("A Newznab error document (code 100): the API key is wrong", "application/xml")
      }
    }
  },
  "/api/session": {
    get: {
      tags: ["saved"],
      operationId: "session",
      summary: "The CSRF value for changes made from a page",
      description:
        "`{ csrf, header }`: a page of this server sends `csrf` in the `header` request header with every change (creating or deleting a saved search); other sites cannot read it. API clients may send `Authorization: Bearer <token>` instead.",
      responses: {
        "200": {
          description: "The CSRF value and the header that carries it",
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["csrf", "header"],
                properties: { csrf: { type: "string" }, header: { type: "string" } }
              }
            }
          }
        }
      }
    }
  },
  "/metrics": {
    get: {
      tags: ["metrics"],
      operationId: "metrics",
      summary: "Prometheus metrics",
      description: "Every metric in the Prometheus text exposition format 0.0.4.",
      responses: { "200": text("Prometheus text", "text/plain") }
    }
  }
})

/**
 * Effect writes `Schema.Unknown` as `{"$id": "/schemas/unknown", …}` wherever it occurs, and an `$id` must name one
 * schema only: the copies lose it (they still mean "any value").
 */
const withoutRepeatedIds = (value: unknown, seen = new Set<string>()): unknown => {
  if (Array.isArray(value)) return value.map((v) => withoutRepeatedIds(v, seen))
  if (value === null || typeof value !== "object") return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    if (k === "$id" && typeof v === "string") {
      if (seen.has(v)) continue
      seen.add(v)
    }
    out[k] = withoutRepeatedIds(v, seen)
  }
  return out
}

/** The complete OpenAPI document. */
export const openApiDocument = (): OpenApi.OpenAPISpec => {
  const spec = OpenApi.fromApi(BitscrapeApi.annotate(OpenApi.Version, version))
  return withoutRepeatedIds({ ...spec, paths: { ...spec.paths, ...extraPaths(spec) } }) as OpenApi.OpenAPISpec
}
