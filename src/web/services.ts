import { Context, Data, Effect, Layer } from "effect"
import { Repository } from "../repository/Repository.js"

// The web server's service tags and its error, apart from the server itself (WebServer.ts, handlers.ts): a
// command that may start the dashboard names them without loading the HTTP stack, which it imports only when
// the dashboard starts (cli/webOptions.ts). `crawl --no-ui` never loads it.

/** The server refused to start (a non-loopback address without a token, a port in use, …). */
export class WebServerError extends Data.TaggedError("WebServerError")<{
  readonly reason: "TokenRequired" | "TokenTooShort" | "Listen"
  readonly message: string
}> {}

/** The running web server. */
export class WebServer extends Context.Tag("bitscrape/WebServer")<WebServer, {
  /** The address it listens on, e.g. http://127.0.0.1:8881/ */
  readonly url: string
}>() {}

/** Facts about this server for the "about" page. */
export class WebInfo extends Context.Tag("bitscrape/WebInfo")<WebInfo, {
  readonly version: string
  /** The database in use, with any password removed. */
  readonly database: string
  readonly host: string
  readonly port: number
  readonly token: boolean
}>() {}

/**
 * Where the web UI's blocklist changes go. Absent: the server's Repository (a crawl's, which writes). `serve`
 * reads through a read-only repository and provides a writable one here.
 */
export class BlocklistStore extends Context.Tag("bitscrape/BlocklistStore")<
  BlocklistStore,
  Pick<Context.Tag.Service<Repository>, "block" | "unblock">
>() {}

/** A BlocklistStore writing through the Repository in context. */
export const BlocklistStoreFromRepository = Layer.effect(
  BlocklistStore,
  Effect.map(Repository, (repo) => ({ block: repo.block, unblock: repo.unblock }))
)
