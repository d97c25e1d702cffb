// Search: the form's state lives in the URL (?q=…&sort=…&page=…), so reloading, sharing and the back button
// work; results come from GET /api/search with the same parameters.
import {
  ApiError,
  byId,
  change,
  count,
  errorBox,
  fill,
  getJson,
  h,
  humanSize,
  infohashOf,
  table,
  timeEl,
  torrentHref
} from "./app.js"

/** The URL parameters this page understands (those of /api/search). */
const FIELDS = ["q", "sort", "limit", "min_size", "max_size", "min_files", "max_files", "since", "until", "category"]
const FILTERS = FIELDS.filter((f) => f !== "q")
const DEFAULT_LIMIT = 20

const form = byId("search-form")
const errors = byId("errors")
const summary = byId("summary")
const results = byId("results")
const pager = byId("pager")
const filters = byId("filters")
const feeds = byId("feeds")

/** The search's parameters from the URL, without empty ones. */
const paramsFromUrl = () => {
  const url = new URLSearchParams(location.search)
  const p = new URLSearchParams()
  for (const f of [...FIELDS, "page"]) {
    const v = url.get(f)
    if (v !== null && v.trim() !== "") p.set(f, v.trim())
  }
  return p
}

/** The form's values as parameters (a new search starts at page 1). */
const paramsFromForm = () => {
  const p = new URLSearchParams()
  for (const f of FIELDS) {
    const v = form.elements.namedItem(f)?.value ?? ""
    if (v.trim() !== "") p.set(f, v.trim())
  }
  return p
}

const toForm = (p) => {
  for (const f of FIELDS) {
    const input = form.elements.namedItem(f)
    if (input) input.value = p.get(f) ?? ""
  }
  if (FILTERS.some((f) => p.has(f))) filters.open = true
}

const pageUrl = (p, page) => {
  const q = new URLSearchParams(p)
  if (page > 1) q.set("page", String(page))
  else q.delete("page")
  const s = q.toString()
  return s === "" ? "/search" : `/search?${s}`
}

let controller = null

const run = async () => {
  const p = paramsFromUrl()
  toForm(p)
  const q = p.get("q")
  document.title = q ? `${q} · Search · BitScrape` : "Search · BitScrape"
  controller?.abort()
  controller = new AbortController()
  const signal = controller.signal
  errors.replaceChildren()
  results.setAttribute("aria-busy", "true")
  summary.textContent = "Searching…"
  try {
    const body = await getJson(`/api/search?${p.toString()}`, { signal })
    if (signal.aborted) return
    show(p, body)
    void showSaved(p)
  } catch (e) {
    if (signal.aborted || e.name === "AbortError") return
    const messages = e instanceof ApiError ? e.messages : [String(e)]
    fill(errors, errorBox(e.status === 400 ? "Please check the search:" : "The search failed:", messages))
    summary.textContent = ""
    results.replaceChildren()
    pager.replaceChildren()
  } finally {
    if (!signal.aborted) results.removeAttribute("aria-busy")
  }
}

const show = (p, body) => {
  const total = Number(body.total) || 0
  const limit = Number(body.limit) || DEFAULT_LIMIT
  const page = Number(body.page) || 1
  const pages = Math.max(1, Math.ceil(total / limit))
  const items = Array.isArray(body.items) ? body.items : []
  const first = (page - 1) * limit + 1
  summary.textContent = total === 0
    ? "No torrent matches."
    : items.length === 0
    ? `${body.total_capped ? "More than " : ""}${count(total)} torrents match; this page is past the last one.`
    : `${count(first)}–${count(first + items.length - 1)} of ${body.total_capped ? "more than " : ""}${
      count(total)
    } torrent${total === 1 ? "" : "s"}`
  fill(
    results,
    items.length === 0 ? null : table(
      ["Name", { label: "Size", class: "num" }, { label: "Files", class: "num" }, "Discovered"],
      items.map((t) =>
        h(
          "tr",
          { dataset: { testid: "result", infohash: t.infohash } },
          h(
            "td",
            { class: "name" },
            infohashOf(t.infohash) ? h("a", { href: torrentHref(t.infohash) }, t.name) : t.name
          ),
          h("td", { class: "num nowrap" }, humanSize(t.length)),
          h("td", { class: "num" }, count(t.files)),
          h("td", { class: "nowrap" }, timeEl(t.discovered_at))
        )
      ),
      { class: "results", dataset: { testid: "results" } }
    )
  )
  // The same search as a feed (RSS or Atom), newest first unless a sort is chosen; the page number is not part of it.
  const feedQuery = new URLSearchParams(p)
  feedQuery.delete("page")
  const suffix = feedQuery.size > 0 ? `?${feedQuery}` : ""
  fill(
    feeds,
    "Follow this search: ",
    h("a", { href: `/api/feed.rss${suffix}`, type: "application/rss+xml", dataset: { testid: "feed-rss" } }, "RSS"),
    " · ",
    h("a", { href: `/api/feed.atom${suffix}`, type: "application/atom+xml", dataset: { testid: "feed-atom" } }, "Atom")
  )
  pager.replaceChildren()
  if (total > limit || page > 1) {
    const link = (label, target, rel, enabled) =>
      enabled
        ? h(
          "a",
          { href: pageUrl(p, target), rel, class: "button", dataset: { testid: `page-${rel}`, page: target } },
          label
        )
        : h("span", { class: "button disabled", "aria-disabled": "true" }, label)
    fill(
      pager,
      link("← Previous", page - 1, "prev", page > 1),
      h("span", { class: "page-of", dataset: { testid: "page-of" } }, `page ${count(page)} of ${count(pages)}`),
      link("Next →", page + 1, "next", page < pages)
    )
  }
}

// Alerts: the command that saves the search shown, and the saved searches with their delivery state.
const shellQuote = (text) => `'${text.replace(/'/g, "'\\''")}'`

/** The search shown, as a saved search stores it (no page, no page size). */
let savedQuery = ""

byId("save-form").addEventListener("submit", (e) => {
  e.preventDefault()
  const name = byId("save-name").value.trim()
  const webhook = byId("save-webhook").value.trim()
  void (async () => {
    try {
      await change("POST", "/api/saved-searches", { name, search: savedQuery, webhook })
      fill(byId("save-errors"))
      byId("save-name").value = ""
      await showSaved(paramsFromUrl())
    } catch (err) {
      fill(
        byId("save-errors"),
        errorBox("The search was not saved:", err instanceof ApiError ? err.messages : [String(err)])
      )
    }
  })()
})

const deleteSaved = async (name) => {
  try {
    await change("DELETE", `/api/saved-searches/${encodeURIComponent(name)}`)
    fill(byId("save-errors"))
  } catch (err) {
    fill(
      byId("save-errors"),
      errorBox(`"${name}" was not deleted:`, err instanceof ApiError ? err.messages : [String(err)])
    )
  }
  await showSaved(paramsFromUrl())
}

const showSaved = async (p) => {
  const query = new URLSearchParams(p)
  query.delete("page")
  query.delete("limit")
  savedQuery = query.toString()
  byId("save-command").textContent = `bitscrape saved add NAME --search ${
    shellQuote(query.toString() || "q=")
  } --webhook URL`
  let list
  try {
    list = await getJson("/api/saved-searches")
  } catch (e) {
    fill(
      byId("saved-list"),
      errorBox("The saved searches cannot be listed:", e instanceof ApiError ? e.messages : [String(e)])
    )
    return
  }
  fill(
    byId("saved-list"),
    !Array.isArray(list) || list.length === 0 ? h("p", {}, "No saved searches yet.") : table(
      ["Name", "Search", "Webhook", { label: "Delivered", class: "num" }, "State", ""],
      list.map((s) =>
        h(
          "tr",
          { dataset: { testid: "saved-search" } },
          h("td", {}, s.name),
          h(
            "td",
            {},
            h(
              "a",
              { href: s.query === "" ? "/search" : `/search?${s.query}` },
              s.query === "" ? "(everything)" : s.query
            )
          ),
          h("td", { class: "name" }, s.webhook),
          h("td", { class: "num" }, count(s.delivered)),
          h("td", {}, s.last_error === null ? "ok" : `failing (retried): ${s.last_error}`),
          h("td", {}, deleteButton(s.name))
        )
      )
    )
  )
}

const deleteButton = (name) => {
  const b = h("button", { type: "button", class: "link-button", dataset: { testid: "saved-delete" } }, "Delete")
  b.addEventListener("click", () => void deleteSaved(name))
  return b
}

const navigate = (url) => {
  history.pushState(null, "", url)
  void run()
}

form.addEventListener("submit", (e) => {
  e.preventDefault()
  navigate(pageUrl(paramsFromForm(), 1))
})

byId("reset").addEventListener("click", () => {
  for (const f of FILTERS) {
    const input = form.elements.namedItem(f)
    if (input) input.value = ""
  }
})

pager.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-page]")
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return
  e.preventDefault()
  navigate(a.getAttribute("href"))
  window.scrollTo({ top: 0 })
})

window.addEventListener("popstate", () => void run())

void run()
