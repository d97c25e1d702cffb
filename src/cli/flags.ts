import { HelpDoc, Options, ValidationError } from "@effect/cli"
import { Effect } from "effect"
import { parseBinds } from "../config/DhtConfig.js"
import { ipProblem, parseHostPortList } from "../config/settings.js"
import { parseHostPort } from "../domain/address.js"

// Flags whose parse errors name the flag. @effect/cli's own integer and choice options report a bad value as
// "'abc' is not a integer" with no flag, so these parse the text themselves: `--max-pps: "abc" is not an integer`.

const invalid = (name: string, text: string) => ValidationError.invalidValue(HelpDoc.p(`--${name}: ${text}`))

/** An integer flag within [min, max] (each bound optional); the error names the flag, the value and the range. */
export const integerFlag = (
  name: string,
  range: { readonly min?: number; readonly max?: number } = {}
) =>
  Options.text(name).pipe(
    Options.withPseudoName("integer"),
    Options.mapEffect((text) => {
      const t = text.trim()
      if (!/^[+-]?\d+$/.test(t)) return Effect.fail(invalid(name, `"${text}" is not an integer`))
      const n = Number(t)
      const { max, min } = range
      if (!Number.isSafeInteger(n)) return Effect.fail(invalid(name, `${t} is too large`))
      if (min !== undefined && n < min) {
        return Effect.fail(invalid(name, `must be ${boundText(range)}, got ${n}`))
      }
      if (max !== undefined && n > max) {
        return Effect.fail(invalid(name, `must be ${boundText(range)}, got ${n}`))
      }
      return Effect.succeed(n)
    })
  )

const boundText = ({ max, min }: { readonly min?: number; readonly max?: number }) =>
  min !== undefined && max !== undefined
    ? `${min}–${max}`
    : min === 1
    ? "a positive integer"
    : min !== undefined
    ? `at least ${min}`
    : `at most ${max}`

/** A positive integer flag (1 or more). */
export const positiveFlag = (name: string) => integerFlag(name, { min: 1 })

/** A TCP/UDP port flag (0–65535; 0 picks a free port). */
export const portFlag = (name: string) => integerFlag(name, { min: 0, max: 65535 })

/** One of `choices`; the error names the flag and lists the choices. */
export const choiceFlag = <const C extends ReadonlyArray<string>>(name: string, choices: C) =>
  Options.text(name).pipe(
    Options.withPseudoName(choices.join("|")),
    Options.mapEffect((text) =>
      choices.includes(text)
        ? Effect.succeed(text as C[number])
        : Effect.fail(invalid(name, `"${text}" is not one of ${choices.join(", ")}`))
    )
  )

/** An IP address flag (v4 or v6): a host name or a malformed address is refused, never looked up. */
export const ipFlag = (name: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("address"),
    Options.mapEffect((text) => {
      const problem = ipProblem(text.trim())
      return problem === undefined ? Effect.succeed(text.trim()) : Effect.fail(invalid(name, problem))
    })
  )

/** `--bind address[,address]`: one IP address, or one per family for a dual-stack crawl ("0.0.0.0,::"). */
export const bindsFlag = (name: string) =>
  Options.text(name).pipe(
    Options.withPseudoName("address[,address]"),
    Options.mapEffect((text) => {
      const r = parseBinds(text.trim())
      return r.ok ? Effect.succeed(r.value) : Effect.fail(invalid(name, r.problem))
    })
  )

/** `--peer host:port`, repeatable: each one checked. */
export const peerFlag = (description: string) =>
  Options.text("peer").pipe(
    Options.withPseudoName("host:port"),
    Options.withDescription(description),
    Options.repeated,
    Options.mapEffect((list) => {
      const bad = list.find((p) => parseHostPort(p) === undefined)
      return bad === undefined
        ? Effect.succeed(list.map((p) => parseHostPort(p)!))
        : Effect.fail(invalid("peer", `"${bad}" is not host:port`))
    })
  )

/** `--bootstrap host:port[,…]`: every entry checked (port 1–65535, an IP literal or a host name). */
export const bootstrapFlag = Options.text("bootstrap").pipe(
  Options.withPseudoName("host:port[,…]"),
  Options.mapEffect((text) => {
    const r = parseHostPortList(text)
    return r.ok ? Effect.succeed(r.value) : Effect.fail(invalid("bootstrap", r.problem))
  })
)
