#!/usr/bin/env node
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, ConfigProvider, Effect, Exit, Layer } from "effect"
import { EXIT_USAGE } from "./cli/errors.js"
import { cliProgram } from "./cli/program.js"
import { configFileProvider, extractConfigFlag, KNOWN_SETTINGS, NO_SEQUENCES } from "./config/configFile.js"

// BITSCRAPE_* environment variables back every setting: `Config.integer("maxPps")` reads BITSCRAPE_MAX_PPS.
// CLI flags are layered on top by each command.
const env = ConfigProvider.fromEnv({ seqDelim: NO_SEQUENCES }).pipe(
  ConfigProvider.nested("bitscrape"),
  ConfigProvider.constantCase
)

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
  process.exit(EXIT_USAGE)
}
const EnvConfig = Layer.setConfigProvider(provider)

// Exit codes (docs/configuration.md): 0 ok or interrupted, 1 runtime failure, 2 usage error; cliProgram prints
// every failure as one line.
const program = cliProgram(argv).pipe(Effect.provide(Layer.mergeAll(NodeContext.layer, EnvConfig)))

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  // cliProgram installs the one logger (stderr); the runtime's pretty logger would print each line again.
  disablePrettyLogger: true,
  teardown: (exit, onExit) =>
    onExit(Exit.isSuccess(exit) ? Number(exit.value) : Cause.isInterruptedOnly(exit.cause) ? 0 : 1)
})
