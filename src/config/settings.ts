import { Config } from "effect"

/** A positive integer setting with a default; the message names the setting when it is not. */
export const positiveInt = (name: string, fallback: number): Config.Config<number> =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be a positive integer`, validation: (n) => n > 0 }),
    Config.withDefault(fallback)
  )

/** The items of a comma-separated setting ("a, b,,c" → ["a", "b", "c"]): trimmed, empty ones dropped. */
export const splitList = (text: string): Array<string> => text.split(",").map((s) => s.trim()).filter((s) => s !== "")
