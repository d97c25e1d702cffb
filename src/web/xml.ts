// XML text for the Torznab and feed responses. Torrent names come from strangers: every string is escaped, and
// characters XML 1.0 cannot carry at all (C0 controls other than tab/newline/return, lone surrogates, U+FFFE/F)
// are replaced by U+FFFD, so a hostile name can never make a client's parser reject the whole response.

const INVALID =
  // eslint-disable-next-line no-control-regex -- matching the control characters is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** `text` escaped for element content and attribute values (double-quoted). */
export const escapeXml = (text: string): string =>
  text.replace(INVALID, "\uFFFD").replace(
    /[&<>"']/g,
    (c) => c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c === "\"" ? "&quot;" : "&apos;"
  )

/** An element with escaped attributes and escaped text content (or self-closing when `text` is undefined). */
export const element = (
  name: string,
  attributes: Readonly<Record<string, string | number | undefined>> = {},
  text?: string
): string => {
  const attrs = Object.entries(attributes)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join("")
  return text === undefined ? `<${name}${attrs}/>` : `<${name}${attrs}>${escapeXml(text)}</${name}>`
}

export const XML_DECLARATION = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
