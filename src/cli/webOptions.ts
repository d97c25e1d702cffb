import { HelpDoc, Options, ValidationError } from "@effect/cli"
import { Console, Effect, Layer, Option, Redacted } from "effect"
import { ipProblem } from "../config/settings.js"
import { WebConfig, webConfigFromEnv, type WebSettings } from "../config/WebConfig.js"
import { version } from "../domain/version.js"
import type { LiveStats } from "../web/LiveStats.js"
import { tokenProblem } from "../web/security.js"
import { WebInfo, WebServer } from "../web/services.js"
import { usage } from "./errors.js"
import { portFlag } from "./flags.js"
import { redactDb } from "./repositoryOptions.js"

/** `--ui-host`: where the web UI listens. */
export const uiHostOption = Options.text("ui-host").pipe(
  Options.withPseudoName("address"),
  Options.mapEffect((text) =>
    text === "localhost" || ipProblem(text) === undefined
      ? Effect.succeed(text)
      : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--ui-host: "${text}" is not an IP address (or localhost)`)))
  ),
  Options.withDescription(
    "web UI address (env BITSCRAPE_UI_HOST; default 127.0.0.1; any other address needs BITSCRAPE_UI_TOKEN)"
  ),
  Options.optional
)

/** `--ui-port`: the web UI's port. */
export const uiPortOption = portFlag("ui-port").pipe(
  Options.withDescription("web UI port, 0 for any free one (env BITSCRAPE_UI_PORT; default 8881)"),
  Options.optional
)

/** The web settings in force: flags over BITSCRAPE_UI_* over the defaults. */
export const resolveWebSettings = (flags: {
  readonly noUi?: boolean
  readonly uiHost: Option.Option<string>
  readonly uiPort: Option.Option<number>
}) =>
  Effect.gen(function*() {
    const env = yield* webConfigFromEnv
    // Checked here too (WebServerLive refuses it as well), so it is reported before the database is opened.
    const tokenText = Option.map(env.token, Redacted.value)
    const tooShort = Option.flatMap(tokenText, (t) => Option.fromNullable(tokenProblem(t)))
    const starts = flags.noUi === undefined || (!flags.noUi && env.enabled) // serve always starts it
    if (Option.isSome(tooShort) && starts) return yield* usage(tooShort.value)
    return {
      ...env,
      enabled: flags.noUi !== true && env.enabled,
      host: Option.getOrElse(flags.uiHost, () => env.host),
      port: Option.getOrElse(flags.uiPort, () => env.port)
    } satisfies WebSettings
  })

/**
 * The web server for `settings`, over the given live feed; the Repository comes from the caller, so a crawl's
 * dashboard shares the crawl's database layer. The HTTP stack (web/WebServer.ts and what it imports: ~15 MiB of
 * RSS) is loaded when the layer is built, so a command that does not start the dashboard never loads it.
 */
export const webServerLayer = (web: WebSettings, db: string, live: Layer.Layer<LiveStats>) =>
  Layer.unwrapEffect(Effect.map(Effect.promise(() => import("../web/WebServer.js")), (m) => m.WebServerLive)).pipe(
    Layer.provide(Layer.mergeAll(
      Layer.succeed(WebConfig, web),
      Layer.succeed(WebInfo, {
        version,
        database: redactDb(db),
        host: web.host,
        port: web.port,
        token: Option.isSome(web.token)
      }),
      live
    ))
  )

/** Prints where the dashboard is (with the token, so the printed link opens it); a JSON line with `--json`. */
export const announceDashboard = (web: WebSettings, json = false) =>
  Effect.flatMap(Effect.serviceOption(WebServer), (server) => {
    if (Option.isNone(server)) return Effect.void
    const url = `${server.value.url}${
      Option.match(web.token, { onNone: () => "", onSome: (t) => `?token=${encodeURIComponent(Redacted.value(t))}` })
    }`
    return Console.log(json ? JSON.stringify({ dashboard: url }) : `dashboard: ${url}`)
  })
