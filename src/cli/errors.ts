import { HelpDoc, ValidationError } from "@effect/cli"
import { Cause, Data, Effect, Option } from "effect"
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

/** How the run ended: the exit code and the lines for stderr. */
export interface Outcome {
  readonly code: number
  readonly lines: ReadonlyArray<string>
}

// ANSI colour codes (HelpDoc.toAnsiText); built from a string so the pattern holds no control character.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g")

const oneLine = (text: string) => text.replace(ANSI, "").replace(/\s*\n\s*/g, " ").trim()

const validationText = (error: ValidationError.ValidationError): string => {
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

const USAGE_TAGS = new Set(["UsageError", "ConfigError"])

/** The one-line message and exit code of a failure value. */
export const describeError = (error: unknown): Outcome => {
  if (ValidationError.isValidationError(error)) {
    return { code: EXIT_USAGE, lines: [`bitscrape: ${validationText(error)}`] }
  }
  const tag = (error as { _tag?: string } | null)?._tag
  if (tag === "ConfigError") {
    // Name environment variables as the user writes them (BITSCRAPE_MAX_PPS, not BITSCRAPE.MAX_PPS).
    const text = String(error)
      .replace(/BITSCRAPE\.([A-Z0-9_]+)/g, "BITSCRAPE_$1")
      .replace(
        /^\(?(?:Invalid|Missing) data at ([A-Za-z0-9_.]+): "(.*)"\)?$/s,
        (_w, path: string, what: string) => `${envName(path)}: ${what.replace(/\\"/g, "\"")}`
      )
    return { code: EXIT_USAGE, lines: [`bitscrape: invalid setting: ${redactText(oneLine(text))}`] }
  }
  const reason = (error as { reason?: string } | null)?.reason
  const usageError = USAGE_TAGS.has(tag ?? "") ||
    (tag === "WebServerError" && (reason === "TokenRequired" || reason === "TokenTooShort"))
  return { code: usageError ? EXIT_USAGE : EXIT_FAILURE, lines: [`bitscrape: ${messageOf(error)}`] }
}

/** A readable one-line message for any error value (never a JSON dump or a stack). */
export const messageOf = (error: unknown): string => {
  const message = (error as { message?: unknown } | null)?.message
  const tag = (error as { _tag?: unknown } | null)?._tag
  const text = typeof message === "string" && message.trim() !== "" && !message.trim().startsWith("{")
    ? message
    : typeof tag === "string"
    ? tag
    : String(error)
  return redactText(oneLine(text))
}

/** The outcome of a finished run: success, interruption (Ctrl-C: exit 0), a failure, or a defect. */
export const outcomeOf = <A>(
  exit: { readonly _tag: "Success"; readonly value: A } | {
    readonly _tag: "Failure"
    readonly cause: Cause.Cause<unknown>
  },
  debug: boolean
): Outcome => {
  if (exit._tag === "Success") return { code: EXIT_OK, lines: [] }
  const cause = exit.cause
  if (Cause.isInterruptedOnly(cause)) return { code: EXIT_OK, lines: [] }
  const trace = debug && !Option.exists(Cause.failureOption(cause), ValidationError.isValidationError)
    ? [redactText(Cause.pretty(cause))]
    : []
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const d = describeError(failure.value)
    return { code: d.code, lines: [...d.lines, ...trace] }
  }
  const defect = Cause.dieOption(cause)
  const text = Option.match(defect, { onNone: () => "interrupted", onSome: messageOf })
  return {
    code: EXIT_FAILURE,
    lines: [`bitscrape: internal error: ${text} (run with --log-level debug for details)`, ...trace]
  }
}

/** Whether argv asks for debug logging (`--log-level debug|trace|all`): then failures print their stack. */
export const wantsDebug = (argv: ReadonlyArray<string>) =>
  argv.some((a, i) =>
    /^--log-level=(debug|trace|all)$/i.test(a) ||
    (a === "--log-level" && /^(debug|trace|all)$/i.test(argv[i + 1] ?? ""))
  )

/** A line for stderr from a command (notes such as "wrote 3 file(s)"); stdout stays for results. */
export const note = (line: string) => Effect.sync(() => void process.stderr.write(`${line}\n`))
