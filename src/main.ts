#!/usr/bin/env node
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { ConfigProvider, Effect, Layer } from "effect"
import { exitCodeOf } from "./cli/errors.js"
import { cliProgram } from "./cli/program.js"
import { NO_SEQUENCES } from "./config/configFile.js"

// BITSCRAPE_* environment variables back every setting: `Config.integer("maxPps")` reads BITSCRAPE_MAX_PPS.
// CLI flags are layered on top by each command, and `--config FILE` below (cli/program.ts).
const env = ConfigProvider.fromEnv({ seqDelim: NO_SEQUENCES }).pipe(
  ConfigProvider.nested("bitscrape"),
  ConfigProvider.constantCase
)

// cliProgram handles every failure by its tag, prints it as one line and returns the exit code
// (docs/configuration.md: 0 ok or interrupted, 1 runtime failure, 2 usage error).
const program = cliProgram(process.argv).pipe(
  Effect.provide(Layer.mergeAll(NodeContext.layer, Layer.setConfigProvider(env)))
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  // cliProgram installs the one logger (stderr); the runtime's pretty logger would print each line again.
  disablePrettyLogger: true,
  teardown: (exit, onExit) => onExit(exitCodeOf(exit))
})
