import { Console, Effect, Logger } from "effect"
import { redactText } from "../config/redact.js"
import { run } from "./Cli.js"
import { outcomeOf, wantsDebug } from "./errors.js"
import { cleanHelp, commandPath } from "./help.js"

/**
 * Runs the CLI on `argv` (as `process.argv`) and returns its exit code, having printed every failure as one line
 * on stderr (errors.ts). @effect/cli prints its parse errors itself, in its own words and without the flag or the
 * `bitscrape:` prefix; that printing is silenced (its `Console.error`) and the error it fails with is printed
 * instead, so parse errors and errors raised by the commands look alike. Commands write their stderr notes with
 * `note` (errors.ts), not `Console.error`.
 */
export const cliProgram = (argv: ReadonlyArray<string>) =>
  Effect.consoleWith((console) =>
    Effect.gen(function*() {
      const asksHelp = argv.slice(2).some((a) => a === "--help" || a === "-h")
      const exit = yield* Effect.exit(
        run(argv).pipe(
          Effect.withConsole({
            ...console,
            error: () => Effect.void,
            // --help: @effect/cli's text, made BitScrape's (help.ts).
            log: (...args) =>
              asksHelp
                ? console.log(cleanHelp(args.map(String).join(" "), commandPath(argv.slice(2))))
                : console.log(...args)
          }),
          Effect.provide(Logger.replace(Logger.defaultLogger, redactingLogger))
        )
      )
      const outcome = outcomeOf(exit, wantsDebug(argv))
      for (const line of outcome.lines) yield* Console.error(line)
      return outcome.code
    })
  )

/**
 * The one logger (main.ts turns off the runtime's own pretty logger, which printed every line a second time): on
 * stderr, since stdout carries the commands' output (`--json` lines, tables); pretty on a terminal, logfmt
 * otherwise; database credentials removed from every message (redact.ts).
 */
const baseLogger = process.stderr.isTTY === true
  ? Logger.prettyLogger({ stderr: true })
  : Logger.withConsoleError(Logger.logfmtLogger)
const redactingLogger = Logger.mapInputOptions(baseLogger, (options) => ({
  ...options,
  message: Array.isArray(options.message)
    ? options.message.map((m: unknown) => typeof m === "string" ? redactText(m) : m)
    : typeof options.message === "string"
    ? redactText(options.message)
    : options.message
}))
