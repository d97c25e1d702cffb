#!/usr/bin/env node
import { ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigProvider, Console, Effect, Exit, Layer } from "effect"
import { run } from "./cli/Cli.js"
import { configFileProvider, extractConfigFlag, KNOWN_SETTINGS } from "./config/configFile.js"

// BITSCRAPE_* environment variables back every setting: `Config.integer("maxPps")` reads BITSCRAPE_MAX_PPS.
// CLI flags are layered on top by each command.
const env = ConfigProvider.fromEnv().pipe(ConfigProvider.nested("bitscrape"), ConfigProvider.constantCase)

// `--config FILE` is global: taken out of argv here, its settings sit below the environment.
let argv: ReadonlyArray<string> = process.argv
let provider = env
try {
  const extracted = extractConfigFlag(process.argv)
  argv = extracted.argv
  if (extracted.path !== undefined) {
    const file = configFileProvider(extracted.path, KNOWN_SETTINGS)
    provider = ConfigProvider.orElse(env, () => file)
  }
} catch (e) {
  process.stderr.write(`bitscrape: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exit(2)
}
const EnvConfig = Layer.setConfigProvider(provider)

/** Exit codes (docs/configuration.md): 0 ok or interrupted, 1 runtime failure, 2 usage error. */
const EXIT_USAGE = 2

const program = run(argv).pipe(
  Effect.as(0),
  Effect.catchAll((error) => {
    // @effect/cli has already printed what was wrong with the command line.
    if (ValidationError.isValidationError(error)) return Effect.succeed(EXIT_USAGE)
    const tag = (error as { _tag?: string })._tag
    if (tag === "ConfigError") {
      // Name environment variables as the user writes them (BITSCRAPE_MAX_PPS, not BITSCRAPE.MAX_PPS).
      const text = String(error).replace(/BITSCRAPE\.([A-Z0-9_]+)/g, "BITSCRAPE_$1")
      return Effect.as(Console.error(`bitscrape: invalid setting: ${text}`), EXIT_USAGE)
    }
    if (tag === "WebServerError" && (error as { reason?: string }).reason === "TokenRequired") {
      return Effect.as(Console.error(`bitscrape: ${(error as { message: string }).message}`), EXIT_USAGE)
    }
    const message = error instanceof Error ? error.message : String(error)
    return Effect.as(Console.error(`bitscrape: ${message}`), 1)
  }),
  Effect.provide(Layer.mergeAll(NodeContext.layer, EnvConfig))
)

NodeRuntime.runMain(program, {
  teardown: (exit, onExit) =>
    onExit(
      Exit.isSuccess(exit) ? Number(exit.value) : Cause.isInterruptedOnly(exit.cause) ? 0 : 1
    )
})
