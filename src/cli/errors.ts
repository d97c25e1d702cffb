import type { ValidationError } from "@effect/cli"
import { HelpDoc } from "@effect/cli"
import { Cause, type ConfigError, Data, Effect, Exit, Option, Predicate } from "effect"
import { redactText } from "../config/redact.js"

// How a failed command ends: one line on stderr naming what is wrong (and the flag, for a flag), exit 2 for a
// usage error (the command line or a setting), 1 for a runtime failure. A stack trace only with
// `--log-level debug` (docs/configuration.md, "Exit codes and errors").

/** The command line or a setting is wrong; found by a command after parsing. Exit 2. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** Fails with a usage error. */
export const usage = (message: string) => Effect.fail(new UsageError({ message }))

/** A runtime failure with a complete one-line message (a missing file, a refused database, …). Exit 1. */
export class CommandError extends Data.TaggedError("CommandError")<{ readonly message: string }> {}

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

/** How the run ended: the exit code and the lines for stderr (cli/program.ts maps every failure to one). */
export interface Outcome {
  readonly code: number
  readonly lines: ReadonlyArray<string>
}

// ANSI colour codes (HelpDoc.toAnsiText); built from a string so the pattern holds no control character.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g")

const oneLine = (text: string) => text.replace(ANSI, "").replace(/\s*\n\s*/g, " ").trim()

export const validationText = (error: ValidationError.ValidationError): string => {
  const text = oneLine(HelpDoc.toAnsiText(error.error))
  const unknown = /^Received unknown argument: '(.*)'$/s.exec(text)
  if (unknown !== null) {
    const arg = unknown[1]!
    return arg.startsWith("-")
      ? `${arg}: not a flag of this command, or its value is missing (see --help)`
      : `unexpected argument "${arg}" (see --help)`
  }
  return text === "" ? "invalid command line (see --help)" : text
}

/** The environment variable of a setting path: `maxPps` → BITSCRAPE_MAX_PPS. */
const envName = (path: string) =>
  path.startsWith("BITSCRAPE_")
    ? path
    : `BITSCRAPE_${path.split(".").pop()!.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}`

/** The one-line text of an invalid setting, naming the environment variable (or the setting) at fault. */
export const configErrorText = (error: ConfigError.ConfigError): string => {
  // Name environment variables as the user writes them (BITSCRAPE_MAX_PPS, not BITSCRAPE.MAX_PPS).
  const text = String(error)
    .replace(/BITSCRAPE\.([A-Z0-9_]+)/g, "BITSCRAPE_$1")
    .replace(
      /^\(?(?:Invalid|Missing) data at ([A-Za-z0-9_.]+): "(.*)"\)?$/s,
      (_w, path: string, what: string) => `${envName(path)}: ${what.replace(/\\"/g, "\"")}`
    )
  return `invalid setting: ${redactText(oneLine(text))}`
}

/** A readable one-line message for any error value (never a JSON dump or a stack). */
export const messageOf = (error: unknown): string => {
  const message = Predicate.hasProperty(error, "message") ? error.message : undefined
  const tag = Predicate.hasProperty(error, "_tag") ? error._tag : undefined
  const text = typeof message === "string" && message.trim() !== "" && !message.trim().startsWith("{")
    ? message
    : typeof tag === "string"
    ? tag
    : String(error)
  return redactText(oneLine(text))
}

/** The run succeeded, or was interrupted (Ctrl-C): exit 0, nothing on stderr. */
export const OK: Outcome = { code: EXIT_OK, lines: [] }

/** A failed run: `code` and the line `bitscrape: <text>`, then `trace` (the stack, with --log-level debug). */
export const failedWith = (code: number, text: string, trace: ReadonlyArray<string> = []): Outcome => ({
  code,
  lines: [`bitscrape: ${text}`, ...trace]
})

/** The stack of a cause for stderr (with --log-level debug), database credentials removed. */
export const traceOf = (cause: Cause.Cause<unknown>): string => redactText(Cause.pretty(cause))

/**
 * The outcome of a cause that holds no typed failure (every typed failure has been handled by its tag): an
 * interruption (Ctrl-C: exit 0), or a defect, our bug (exit 1, with its stack under --log-level debug).
 */
export const unexpectedOutcome = (cause: Cause.Cause<never>, debug: boolean): Outcome => {
  if (Cause.isInterruptedOnly(cause)) return OK
  const text = Option.match(Cause.dieOption(cause), { onNone: () => "interrupted", onSome: messageOf })
  return failedWith(
    EXIT_FAILURE,
    `internal error: ${text} (run with --log-level debug for details)`,
    debug ? [traceOf(cause)] : []
  )
}

/** The process's exit code once the program has ended: the code it returned, 0 if interrupted, 1 otherwise. */
export const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number =>
  Exit.isSuccess(exit) ? Number(exit.value) : Cause.isInterruptedOnly(exit.cause) ? EXIT_OK : EXIT_FAILURE

/** Whether argv asks for debug logging (`--log-level debug|trace|all`): then failures print their stack. */
export const wantsDebug = (argv: ReadonlyArray<string>) =>
  argv.some((a, i) =>
    /^--log-level=(debug|trace|all)$/i.test(a) ||
    (a === "--log-level" && /^(debug|trace|all)$/i.test(argv[i + 1] ?? ""))
  )

/** A line for stderr from a command (notes such as "wrote 3 file(s)"); stdout stays for results. */
export const note = (line: string) => Effect.sync(() => void process.stderr.write(`${line}\n`))
