// BitScrape web UI: helpers shared by every page (plain ES2022 module, no build step, no framework).
//
// Safety rule of these pages: every string that may come from the network (torrent names, file paths, client
// versions, hosts, reasons…) reaches the DOM only as text (textContent / text nodes) or as the value of a
// harmless attribute through setAttribute. Markup is never built from strings. Links are built only from
// validated infohashes, encodeURIComponent / URLSearchParams, or a magnet URI whose prefix was checked.

/** A same-origin path ("/…" but not "//…"), a query ("?…"), a fragment ("#…") or a checked magnet URI. */
const SAFE_HREF = /^(\/(?!\/)|\?|#|magnet:\?xt=urn:btih:[0-9a-fA-F]{40}(&|$))/

/** Returns `href` if it is safe for an <a href>, otherwise throws (a bug, never data). */
export const safeHref = (href) => {
  const s = String(href)
  if (!SAFE_HREF.test(s)) throw new Error(`refusing an unsafe link: ${s.slice(0, 80)}`)
  return s
}

const append = (parent, children) => {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    if (Array.isArray(c)) append(parent, c)
    else if (c instanceof Node) parent.appendChild(c)
    else parent.appendChild(document.createTextNode(String(c)))
  }
}

/**
 * Creates an element. `props`: `class`, `text` (textContent), `dataset` (data-*), `href` (checked by
 * safeHref) and other attributes set with setAttribute (`true` sets an empty attribute; null/false skip).
 * Children: nodes, or anything else as a text node.
 */
export const h = (tag, props = {}, ...children) => {
  const e = document.createElement(tag)
  setProps(e, props)
  append(e, children)
  return e
}

const SVG_NS = "http://www.w3.org/2000/svg"

/** Creates an SVG element (same props as `h`). */
export const svg = (tag, props = {}, ...children) => {
  const e = document.createElementNS(SVG_NS, tag)
  setProps(e, props)
  append(e, children)
  return e
}

const setProps = (e, props) => {
  for (const [k, v] of Object.entries(props)) {
    if (v === null || v === undefined || v === false) continue
    if (/^on/i.test(k) || k === "style" || k === "srcdoc") throw new Error(`refusing attribute ${k}`)
    if (k === "class") e.setAttribute("class", String(v))
    else if (k === "text") e.textContent = String(v)
    else if (k === "dataset") { for (const [dk, dv] of Object.entries(v)) e.dataset[dk] = String(dv) }
    else if (k === "href") e.setAttribute("href", safeHref(v))
    else e.setAttribute(k, v === true ? "" : String(v))
  }
}

/** Replaces an element's children. */
export const fill = (parent, ...children) => {
  parent.replaceChildren()
  append(parent, children)
  return parent
}

export const byId = (id) => {
  const e = document.getElementById(id)
  if (e === null) throw new Error(`missing #${id}`)
  return e
}

// === Formatting ===

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]

/** 1536 → "1.5 KiB" (the CLI's format). */
export const humanSize = (bytes) => {
  if (typeof bytes !== "number" || !Number.isFinite(bytes)) return "—"
  let n = bytes
  let u = 0
  while (n >= 1024 && u < UNITS.length - 1) {
    n /= 1024
    u++
  }
  return u === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${UNITS[u]}`
}

const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 })
const rateFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, minimumFractionDigits: 1 })

/** 1234567 → "1,234,567" (in the reader's locale). */
export const count = (n) => (typeof n === "number" && Number.isFinite(n) ? numberFormat.format(n) : "—")
/** 12.345 → "12.3". */
export const rate = (n) => (typeof n === "number" && Number.isFinite(n) ? rateFormat.format(n) : "—")

const pad = (n, w = 2) => String(n).padStart(w, "0")

/** An ISO date-time or Unix ms as "2026-11-25 14:03:07" in local time. */
export const localTime = (value) => {
  if (value === null || value === undefined) return "—"
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return String(value)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** Unix ms as "14:03:07" local. */
export const clockTime = (ms) => {
  const d = new Date(ms)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** A <time> element showing local time, with the exact ISO time as its tooltip. */
export const timeEl = (value) => {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "—")
  const d = new Date(value)
  if (Number.isNaN(d.getTime())) return h("span", {}, String(value))
  return h("time", { datetime: d.toISOString(), title: d.toISOString() }, localTime(d))
}

/** 3725 → "1 h 2 min 5 s". */
export const duration = (seconds) => {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "—"
  let s = Math.max(0, Math.round(seconds))
  const d = Math.floor(s / 86400)
  s -= d * 86400
  const hr = Math.floor(s / 3600)
  s -= hr * 3600
  const m = Math.floor(s / 60)
  s -= m * 60
  const parts = []
  if (d) parts.push(`${d} d`)
  if (hr) parts.push(`${hr} h`)
  if (m && !d) parts.push(`${m} min`)
  if (!d && !hr) parts.push(`${s} s`)
  return parts.join(" ")
}

/** 40 hexadecimal digits (lower-cased), or undefined. */
export const infohashOf = (
  text
) => (typeof text === "string" && /^[0-9a-fA-F]{40}$/.test(text) ? text.toLowerCase() : undefined)

/** The torrent page's path for an infohash (validated: a bad one is a bug). */
export const torrentHref = (infohash) => {
  const ih = infohashOf(infohash)
  if (ih === undefined) throw new Error("not an infohash")
  return `/torrent/${ih}`
}

// === The API ===

/** An API failure with the server's messages (400: the parameters' issues). */
export class ApiError extends Error {
  constructor(status, messages) {
    super(messages.join("; "))
    this.status = status
    this.messages = messages
  }
}

const messagesOf = (status, body) => {
  if (body && typeof body === "object") {
    if (Array.isArray(body.issues) && body.issues.length > 0) {
      return body.issues.map((i) => {
        const path = Array.isArray(i.path) && i.path.length > 0 ? `${i.path.join(".")}: ` : ""
        return `${path}${typeof i.message === "string" ? i.message : "invalid"}`
      })
    }
    if (typeof body.message === "string" && body.message !== "") return [body.message]
  }
  if (typeof body === "string" && body.trim() !== "") return [body.trim()]
  return [`the server answered ${status}`]
}

/** GETs JSON from the API; throws ApiError (status, messages) on an error status or a network failure. */
export const getJson = async (path, init = {}) => {
  let response
  try {
    response = await fetch(path, { headers: { accept: "application/json" }, ...init })
  } catch (e) {
    if (e && e.name === "AbortError") throw e
    throw new ApiError(0, ["the server cannot be reached"])
  }
  const type = response.headers.get("content-type") ?? ""
  const body = type.includes("json") ? await response.json().catch(() => null) : await response.text()
  if (!response.ok) throw new ApiError(response.status, messagesOf(response.status, body))
  return body
}

/** An error box (role=alert) listing messages. */
/** Fills the element `id` with what `load` builds, or with an error box saying why it could not. */
export const section = async (id, load) => {
  const el = byId(id)
  try {
    fill(el, await load())
  } catch (e) {
    fill(el, errorBox("Could not load this part:", e instanceof ApiError ? e.messages : [String(e)]))
  }
}

/**
 * Sends a change (POST/DELETE) to the API with the CSRF header whose value GET /api/session gives: the server
 * refuses changes that carry only the cookie. Throws ApiError like getJson.
 */
export const change = async (method, path, body) => {
  const session = await getJson("/api/session")
  const headers = { accept: "application/json", [session.header]: session.csrf }
  if (body !== undefined) headers["content-type"] = "application/json"
  return getJson(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
}

export const errorBox = (title, messages = []) =>
  h(
    "div",
    { class: "error", role: "alert", dataset: { testid: "error" } },
    h("strong", {}, title),
    messages.length > 0 ? h("ul", {}, messages.map((m) => h("li", {}, m))) : null
  )

/** A table in a horizontally scrolling wrapper: `columns` are header labels (or {label, class}). */
export const table = (columns, rows, props = {}) => {
  const head = h(
    "tr",
    {},
    columns.map((c) =>
      typeof c === "string" ? h("th", { scope: "col" }, c) : h("th", { scope: "col", class: c.class }, c.label)
    )
  )
  return h("div", { class: "table-wrap" }, h("table", props, h("thead", {}, head), h("tbody", {}, rows)))
}

/** A definition list from [term, value] pairs (values: nodes or text). */
export const facts = (pairs, props = {}) =>
  h(
    "dl",
    { class: "facts", ...props },
    pairs.filter((p) => p !== null).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])
  )
