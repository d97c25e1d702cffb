// Database credentials never leave the process: every place that shows a `--db` / BITSCRAPE_DB value (console
// output, pages, API responses, log lines, stored session settings, error messages) passes it through here.

/** URL parameters whose values are secrets (libpq's `password`, `sslpassword`, tokens, keys). */
const SECRET_PARAM = /pass|pwd|secret|token|auth|credential|key/i

/**
 * A connection setting as it may be shown: a URL's userinfo (`user:password@`) becomes `…@` and secret
 * parameters (`?password=…`) become `…`. The userinfo ends at the LAST `@` before the query, so a password
 * with a raw `/`, `@`, `%` or `:` is removed whole. Anything that is not a URL (a file path) is returned as is.
 */
export const redactDb = (db: string): string => {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(db)
  if (m === null) return db
  const scheme = m[1]!
  const rest = m[2]!
  const queryAt = rest.search(/[?#]/)
  const beforeQuery = queryAt < 0 ? rest : rest.slice(0, queryAt)
  const query = queryAt < 0 ? "" : rest.slice(queryAt)
  const at = beforeQuery.lastIndexOf("@")
  const authority = at < 0 ? beforeQuery : `…@${beforeQuery.slice(at + 1)}`
  const params = query.replace(
    /([?&;#])([^=&;#]*)=([^&;#]*)/g,
    (whole, sep: string, key: string) => SECRET_PARAM.test(decodeSafe(key)) ? `${sep}${key}=…` : whole
  )
  return `${scheme}${authority}${params}`
}

const decodeSafe = (s: string) => {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** Free text (an error message, a log line) with every URL in it redacted, and any `password=…` pair too. */
export const redactText = (text: string): string =>
  text
    .replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, (url) => redactDb(url))
    .replace(/\b(password|passwd|pwd)(\s*[=:]\s*)([^\s&;,]+)/gi, (_w, k: string, sep: string) => `${k}${sep}…`)
