import { ValidationError } from "@effect/cli"
import { ConfigProvider, Console, Effect, Logger, Ref } from "effect"
import { configFileProvider, extractConfigFlag, KNOWN_SETTINGS } from "../config/configFile.js"
import { redactText } from "../config/redact.js"
import { type TracingConfigError, tracingLayer } from "../observability/tracing.js"
import { run, version } from "./Cli.js"
import {
  configErrorText,
  EXIT_FAILURE,
  EXIT_USAGE,
  failedWith,
  messageOf,
  OK,
  type Outcome,
  traceOf,
  unexpectedOutcome,
  validationText,
  wantsDebug
} from "./errors.js"
import { cleanHelp, commandPath } from "./help.js"

/**
 * Runs the CLI on `argv` (as `process.argv`) and returns its exit code, having printed every failure as one line
 * on stderr. The steps, each failing with a typed error: take `--config FILE` out of argv and read the file
 * (`ConfigFileError`), then run the command (its errors, and @effect/cli's `ValidationError`s). Every failure is
 * handled by its tag in `reportFailures`, the one place that maps them to exit codes: 0 ok or interrupted, 1 a
 * runtime failure, 2 a usage error (docs/configuration.md, "Exit codes and errors").
 *
 * @effect/cli prints its parse errors itself, in its own words and without the flag or the `bitscrape:` prefix;
 * that printing is silenced (its `Console.error`) and the error it fails with is printed instead, so parse errors
 * and errors raised by the commands look alike. Commands write their stderr notes with `note` (errors.ts), not
 * `Console.error`.
 */
export const cliProgram = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    // `--config FILE` is global: its settings sit below the environment's (flag > env > file > default).
    const { argv: args, path } = yield* extractConfigFlag(argv)
    const file = path === undefined ? undefined : yield* configFileProvider(path, KNOWN_SETTINGS)
    return yield* command(args).pipe(
      // One trace per run, rooted here; exported only when the OTEL_* variables ask for it (observability/tracing.ts).
      Effect.withSpan(rootSpanName(args)),
      Effect.provide(tracingLayer(version)),
      belowEnvironment(file),
      reportFailures(wantsDebug(argv))
    )
  }).pipe(
    // A bad `--config` stops the run before any command starts: a usage error, never with a stack.
    Effect.catchTag("ConfigFileError", (e) => Effect.succeed(failedWith(EXIT_USAGE, e.message))),
    Effect.tap((outcome) => Effect.forEach(outcome.lines, (line) => Console.error(line), { discard: true })),
    Effect.map((outcome) => outcome.code)
  )

/** The command `args` names, with the one logger, its output made BitScrape's and its own error printing off. */
const command = (args: ReadonlyArray<string>) =>
  Effect.consoleWith((console) => {
    const asksHelp = args.slice(2).some((a) => a === "--help" || a === "-h")
    return run(args).pipe(
      Effect.withConsole({
        ...console,
        error: () => Effect.void,
        // --help: @effect/cli's text, made BitScrape's (help.ts).
        log: (...lines) =>
          asksHelp
            ? console.log(cleanHelp(lines.map(String).join(" "), commandPath(args.slice(2))))
            : console.log(...lines)
      }),
      Effect.provide(Logger.replace(Logger.defaultLogger, redactingLogger))
    )
  })

/** `bitscrape crawl`, `bitscrape block add`, …: the command a run names (global flags skipped), else `bitscrape`. */
const rootSpanName = (args: ReadonlyArray<string>) => {
  const words = args.slice(2).filter((a, i, all) =>
    !a.startsWith("--log-level") && !(all[i - 1] === "--log-level" && !a.startsWith("-"))
  )
  const path = commandPath(words)
  return path === "" ? "bitscrape" : `bitscrape ${path}`
}

/** The config file's settings below those of the current provider (the environment), when a file was given. */
const belowEnvironment = (file: ConfigProvider.ConfigProvider | undefined) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  file === undefined
    ? self
    : Effect.configProviderWith((env) => Effect.withConfigProvider(self, ConfigProvider.orElse(env, () => file)))

/**
 * Every way a command can end, by tag: its exit code and its one line on stderr (then, with `--log-level debug`,
 * the failure's stack; never for a command-line error). A command that gains a new error type does not compile
 * until the error has its line here.
 */
const reportFailures =
  (debug: boolean) => <R>(self: Effect.Effect<void, CommandFailure, R>): Effect.Effect<Outcome, never, R> =>
    Effect.flatMap(Ref.make<ReadonlyArray<string>>([]), (trace) => {
      /** The line for `text` with exit `code`, and the stack kept from the failure. */
      const failed = (code: number, text: string) => Effect.map(Ref.get(trace), (t) => failedWith(code, text, t))
      const usageError = (text: string) => failed(EXIT_USAGE, text)
      const runtimeFailure = (e: { readonly message: string }) => failed(EXIT_FAILURE, messageOf(e))
      return self.pipe(
        Effect.tapErrorCause((cause) => debug ? Ref.set(trace, [traceOf(cause)]) : Effect.void),
        Effect.as(OK),
        // The command line could not be parsed (@effect/cli): its own message, made one line; no stack.
        Effect.catchIf(
          ValidationError.isValidationError,
          (e) => Effect.succeed(failedWith(EXIT_USAGE, validationText(e)))
        ),
        Effect.catchTags({
          ConfigError: (e) => usageError(configErrorText(e)),
          UsageError: (e) => usageError(messageOf(e)),
          // Refusing to serve a reachable UI without a (long enough) token is about the settings; not listening is not.
          WebServerError: (e) => e.reason === "Listen" ? runtimeFailure(e) : usageError(messageOf(e)),
          CommandError: runtimeFailure,
          CrawlStopped: runtimeFailure,
          DhtSocketError: runtimeFailure,
          MetadataUnavailable: runtimeFailure,
          RealisticNetworkError: runtimeFailure,
          RepositoryError: runtimeFailure,
          SeederError: runtimeFailure,
          TracingConfigError: (e) => usageError(e.message)
        }),
        // What is left holds no typed failure: an interruption or a defect.
        Effect.catchAllCause((cause) => Effect.succeed(unexpectedOutcome(cause, debug)))
      )
    })

/** Every error a run can fail with once the command line is read: the commands' own, and the tracer's settings. */
type CommandFailure = Effect.Effect.Error<ReturnType<typeof run>> | TracingConfigError

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
