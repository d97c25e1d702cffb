import { Config } from "effect"
import { parseHostPort, parseIP, splitList } from "../domain/address.js"

/** A positive integer setting with a default; the message names the setting when it is not. */
export const positiveInt = (name: string, fallback: number): Config.Config<number> =>
  Config.integer(name).pipe(
    Config.validate({ message: `${name} must be a positive integer`, validation: (n) => n > 0 }),
    Config.withDefault(fallback)
  )

/** A host name (RFC 1123 labels); dotted numbers are not one, so a bad IPv4 literal is never looked up in DNS. */
const HOST_NAME = /^(?=.*[a-z-])[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i

/** Why `text` is not an IP address (v4 or v6), or undefined when it is one. */
export const ipProblem = (text: string): string | undefined =>
  parseIP(text) !== undefined ? undefined : `"${text}" is not an IP address`

/** Why `text` is not `host:port` (an IP literal or a host name, port 1–65535), or undefined when it is. */
export const hostPortProblem = (text: string): string | undefined => {
  // "[v6]:port", "host:port", or a bare IPv6 literal followed by ":port" (as parseHostPort reads it)
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)|([^[\]]*:[^[\]]*)):(\d+)$/.exec(text.trim())
  if (m === null) return `"${text}" is not host:port`
  const host = m[1] ?? m[2] ?? m[3] ?? ""
  const port = Number(m[4])
  if (!(port >= 1 && port <= 65535)) return `"${text}": the port must be 1–65535`
  if (parseIP(host) === undefined && !HOST_NAME.test(host)) {
    return `"${text}": "${host}" is neither an IP address nor a host name`
  }
  return parseHostPort(text) === undefined ? `"${text}" is not host:port` : undefined
}

/** A comma-separated list of host:port entries, each checked: the first problem, or the entries. */
export const parseHostPortList = (
  text: string
): { readonly ok: true; readonly value: Array<string> } | { readonly ok: false; readonly problem: string } => {
  const entries = splitList(text)
  for (const e of entries) {
    const problem = hostPortProblem(e)
    if (problem !== undefined) return { ok: false, problem }
  }
  return { ok: true, value: entries }
}
