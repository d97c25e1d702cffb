import type { Redacted } from "effect"
import { Config, Context, Layer, Option } from "effect"

/** Settings of the web UI / JSON API server. */
export interface WebSettings {
  /** Serve the web UI alongside a crawl (`--no-ui` / BITSCRAPE_UI=false turn it off). */
  readonly enabled: boolean
  /** Address to listen on (loopback by default). */
  readonly host: string
  /** TCP port (0: any free port). */
  readonly port: number
  /** Access token; required when `host` is not a loopback address. */
  readonly token: Option.Option<Redacted.Redacted<string>>
  /** API requests per second per client address (bursts of four times as many). */
  readonly rateLimit: number
}

export const webDefaults: WebSettings = {
  enabled: true,
  host: "127.0.0.1",
  port: 8881,
  token: Option.none(),
  rateLimit: 50
}

export class WebConfig extends Context.Tag("bitscrape/WebConfig")<WebConfig, WebSettings>() {}

/** BITSCRAPE_UI, BITSCRAPE_UI_HOST, BITSCRAPE_UI_PORT, BITSCRAPE_UI_TOKEN, BITSCRAPE_UI_RATE_LIMIT. */
export const webConfigFromEnv: Config.Config<WebSettings> = Config.all({
  enabled: Config.boolean("ui").pipe(Config.withDefault(webDefaults.enabled)),
  host: Config.string("uiHost").pipe(Config.withDefault(webDefaults.host)),
  port: Config.integer("uiPort").pipe(
    Config.validate({ message: "a TCP port is 0–65535", validation: (n) => n >= 0 && n <= 65535 }),
    Config.withDefault(webDefaults.port)
  ),
  token: Config.option(Config.redacted("uiToken")),
  rateLimit: Config.integer("uiRateLimit").pipe(
    Config.validate({ message: "a positive number of requests per second", validation: (n) => n > 0 }),
    Config.withDefault(webDefaults.rateLimit)
  )
})

export const WebConfigLive = Layer.effect(WebConfig, webConfigFromEnv)

/** Explicit settings over the defaults (tests, library users). */
export const webConfig = (settings: Partial<WebSettings> = {}) =>
  Layer.succeed(WebConfig, { ...webDefaults, ...settings })
