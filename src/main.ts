#!/usr/bin/env node
import { ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigProvider, Console, Effect, Exit, Layer } from "effect"
import { run } from "./cli/Cli.js"

// BITSCRAPE_* environment variables back every setting: `Config.integer("maxPps")` reads BITSCRAPE_MAX_PPS.
// CLI flags are layered on top by each command.
const EnvConfig = Layer.setConfigProvider(
  ConfigProvider.fromEnv().pipe(ConfigProvider.nested("bitscrape"), ConfigProvider.constantCase)
)

/** Exit codes (docs/configuration.md): 0 ok or interrupted, 1 runtime failure, 2 usage error. */
const EXIT_USAGE = 2

const program = run(process.argv).pipe(
  Effect.as(0),
  Effect.catchAll((error) => {
    // @effect/cli has already printed what was wrong with the command line.
    if (ValidationError.isValidationError(error)) return Effect.succeed(EXIT_USAGE)
    const tag = (error as { _tag?: string })._tag
    if (tag === "ConfigError") {
      return Effect.as(Console.error(`bitscrape: invalid setting: ${String(error)}`), EXIT_USAGE)
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
