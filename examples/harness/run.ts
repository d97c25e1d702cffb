// `npm run example -- <name>`: starts a small loopback swarm in this process, runs examples/<name>.ts against it
// in a child process (its output is shown as is), then stops the swarm. Nothing leaves 127.0.0.0/8.
import { Console, Effect } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { exampleArgs, type ExampleName, EXAMPLES, startLoopbackSwarm } from "./loopbackSwarm.js"

const name = process.argv[2]
if (!EXAMPLES.includes(name as ExampleName)) {
  console.error(`usage: npm run example -- <${EXAMPLES.join("|")}>`)
  process.exit(2)
}

const program = Effect.gen(function*() {
  yield* Console.log(`example: starting a loopback swarm…`)
  const swarm = yield* startLoopbackSwarm((line) => Console.log(line))
  const file = fileURLToPath(new URL(`../${name}.ts`, import.meta.url))
  const args = exampleArgs(name as ExampleName, swarm)
  yield* Console.log(`example: npx tsx examples/${name}.ts ${args.join(" ")}\n`)
  return yield* Effect.async<number | null>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", file, ...args], { stdio: "inherit" })
    child.on("close", (code) => resume(Effect.succeed(code)))
  })
})

const code = await Effect.runPromise(Effect.scoped(program))
process.exit(code ?? 1)
