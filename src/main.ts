#!/usr/bin/env node
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { ConfigProvider, Effect, Layer } from "effect"
import { run } from "./cli/Cli.js"

// BITSCRAPE_* environment variables back every setting: `Config.integer("maxPps")` nested under
// "crawler" reads BITSCRAPE_CRAWLER_MAX_PPS. CLI flags are layered on top by each command.
const EnvConfig = Layer.setConfigProvider(
  ConfigProvider.fromEnv().pipe(ConfigProvider.nested("bitscrape"), ConfigProvider.constantCase)
)

run(process.argv).pipe(
  Effect.provide(Layer.mergeAll(NodeContext.layer, EnvConfig)),
  NodeRuntime.runMain
)
