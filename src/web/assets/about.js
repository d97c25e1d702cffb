// "About this crawl": the configuration in force, recent crawl sessions, the blocklist (add and remove entries)
// and a sample of the nodes.
import { ApiError, change, count, duration, facts, getJson, h, section, table, timeEl } from "./app.js"

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v)
const isPrimitive = (v) => v === null || ["string", "number", "boolean"].includes(typeof v)

/** Any JSON value as nested lists (every string as text). */
const value = (v, depth = 0) => {
  if (v === null || v === undefined) return h("span", { class: "muted" }, "—")
  if (typeof v === "boolean") return v ? "yes" : "no"
  if (typeof v === "number" || typeof v === "string") return String(v)
  if (Array.isArray(v)) {
    if (v.length === 0) return h("span", { class: "muted" }, "none")
    if (v.every(isPrimitive)) return h("ul", { class: "inline-list" }, v.map((x) => h("li", {}, value(x))))
    return h("ol", { class: "nested" }, v.map((x) => h("li", {}, value(x, depth + 1))))
  }
  if (isObject(v)) {
    const entries = Object.entries(v)
    if (entries.length === 0) return h("span", { class: "muted" }, "none")
    if (depth > 6) return JSON.stringify(v)
    return facts(entries.map(([k, x]) => [k, value(x, depth + 1)]), { class: depth > 0 ? "facts nested" : "facts" })
  }
  return String(v)
}

const config = async () => {
  const about = await getJson("/api/about")
  document.title = `About · BitScrape ${about.version}`
  return [
    facts([
      ["BitScrape version", h("span", { dataset: { testid: "version" } }, about.version)],
      ["Database", h("code", {}, about.database)],
      ["Web UI", `${about.ui?.host}:${about.ui?.port}`],
      ["Access token", about.ui?.token ? "required" : "not required (loopback only)"]
    ]),
    h("h3", {}, "Crawl settings"),
    about.crawl === null || about.crawl === undefined
      ? h(
        "p",
        { class: "muted", dataset: { testid: "no-crawl" } },
        "No crawl runs in this process: this server only serves the database (bitscrape serve)."
      )
      : h("div", { dataset: { testid: "crawl-settings" } }, value(about.crawl))
  ]
}

const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : undefined)

const sessions = async () => {
  const list = await getJson("/api/sessions?limit=20")
  if (!Array.isArray(list) || list.length === 0) {
    return h("p", { class: "muted" }, "No crawl session recorded in this database yet.")
  }
  return table(
    ["#", "Started", "Ended", "Duration", { label: "Nodes", class: "num" }, { label: "Infohashes", class: "num" }, {
      label: "Torrents",
      class: "num"
    }, "Details"],
    list.map((s) => {
      const totals = isObject(s.totals) ? s.totals : {}
      const written = isObject(totals.written) ? totals.written : {}
      const started = Date.parse(s.started_at)
      const ended = s.ended_at === null ? NaN : Date.parse(s.ended_at)
      const seconds = num(totals.seconds) ?? (Number.isNaN(ended) ? undefined : (ended - started) / 1000)
      return h(
        "tr",
        { dataset: { testid: "session" } },
        h("td", { class: "num" }, String(s.id)),
        h("td", { class: "nowrap" }, timeEl(s.started_at)),
        h(
          "td",
          { class: "nowrap" },
          s.ended_at === null ? h("span", { class: "badge" }, "running or interrupted") : timeEl(s.ended_at)
        ),
        h("td", { class: "nowrap" }, seconds === undefined ? "—" : duration(seconds)),
        h("td", { class: "num" }, count(num(totals.knownNodes))),
        h("td", { class: "num" }, count(num(totals.uniqueInfohashes))),
        h("td", { class: "num" }, count(num(written.torrents))),
        h(
          "td",
          {},
          h(
            "details",
            { class: "session-details" },
            h("summary", {}, "settings and totals"),
            h("h4", {}, "Settings"),
            value(s.settings),
            h("h4", {}, "Totals"),
            value(s.totals)
          )
        )
      )
    }),
    { class: "sessions" }
  )
}

const nodes = async () => {
  const list = await getJson("/api/nodes?limit=50")
  if (!Array.isArray(list) || list.length === 0) {
    return h("p", { class: "muted" }, "No node recorded in this database yet.")
  }
  const bep42 = (v) => (v === true ? "valid" : v === false ? "invalid" : "—")
  return table(
    ["Node id", "Address", "Client", "BEP 42", "First seen", "Last seen", "Last response", {
      label: "Seen",
      class: "num"
    }],
    list.map((n) =>
      h(
        "tr",
        { dataset: { testid: "node" } },
        h("td", { class: "nowrap" }, h("code", { title: n.id }, String(n.id).slice(0, 12) + "…")),
        h("td", { class: "nowrap" }, String(n.host).includes(":") ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`),
        h("td", { class: "client" }, n.client ?? h("span", { class: "muted" }, "—")),
        h("td", {}, bep42(n.bep42)),
        h("td", { class: "nowrap" }, timeEl(n.first_seen)),
        h("td", { class: "nowrap" }, timeEl(n.last_seen)),
        h("td", { class: "nowrap" }, timeEl(n.last_response)),
        h("td", { class: "num" }, count(n.times_seen))
      )
    ),
    { class: "nodes" }
  )
}

// === The blocklist ===

const blockStatus = h("p", { class: "muted", role: "status", dataset: { testid: "block-status" } })
const say = (text, error = false) => {
  blockStatus.className = error ? "error" : "muted"
  blockStatus.textContent = text
}

const blockForm = () => {
  const entry = h("input", {
    name: "entry",
    type: "text",
    required: true,
    maxlength: "2000",
    "aria-label": "Infohash, magnet link or name pattern",
    placeholder: "infohash, magnet link, or a name pattern such as *sample*",
    dataset: { testid: "block-entry" }
  })
  const reason = h("input", {
    name: "reason",
    type: "text",
    maxlength: "500",
    "aria-label": "Why (optional)",
    placeholder: "why (optional)",
    dataset: { testid: "block-reason" }
  })
  const form = h(
    "form",
    { class: "search-form", dataset: { testid: "block-form" } },
    h(
      "div",
      { class: "row" },
      h("label", { class: "grow" }, "Block ", entry),
      h("label", {}, "Reason ", reason),
      h("button", { type: "submit", class: "primary", dataset: { testid: "block-add" } }, "Block")
    )
  )
  form.addEventListener("submit", (event) => {
    event.preventDefault()
    void (async () => {
      try {
        const r = await change("POST", "/api/blocklist", {
          entry: entry.value,
          ...(reason.value.trim() === "" ? {} : { reason: reason.value })
        })
        say(
          r.added.length > 0
            ? `Blocked ${r.added[0].kind} ${
              r.added[0].value
            }; removed ${r.purged.torrents} torrents and ${r.purged.infohashes} infohashes from the database.`
            : "Already on the blocklist (kept as it was)."
        )
        entry.value = ""
        reason.value = ""
        await section("blocklist-list", blockList)
      } catch (e) {
        say(`Not blocked: ${e instanceof ApiError ? e.messages.join("; ") : String(e)}`, true)
      }
    })()
  })
  return form
}

const blockList = async () => {
  const list = await getJson("/api/blocklist")
  if (!Array.isArray(list) || list.length === 0) {
    return h("p", { class: "muted", dataset: { testid: "block-empty" } }, "The blocklist is empty.")
  }
  return table(
    ["#", "Kind", "Blocks", "Added", "Why", ""],
    list.map((b) => {
      const remove = h(
        "button",
        { type: "button", dataset: { testid: "block-remove" }, "aria-label": `Remove ${b.value} from the blocklist` },
        "Remove"
      )
      remove.addEventListener("click", () => {
        remove.disabled = true
        void (async () => {
          try {
            await change("DELETE", `/api/blocklist/${encodeURIComponent(b.id)}`)
            say(`Unblocked ${b.kind} ${b.value}.`)
          } catch (e) {
            say(`Not removed: ${e instanceof ApiError ? e.messages.join("; ") : String(e)}`, true)
          }
          await section("blocklist-list", blockList)
        })()
      })
      return h(
        "tr",
        { dataset: { testid: "block-row" } },
        h("td", { class: "num" }, String(b.id)),
        h("td", {}, b.kind),
        h("td", {}, h("code", {}, b.value)),
        h("td", { class: "nowrap" }, timeEl(b.added_at)),
        h("td", {}, b.reason ?? h("span", { class: "muted" }, "—")),
        h("td", {}, b.via ? h("span", { class: "muted" }, `matched ${b.via}`) : remove)
      )
    }),
    { class: "blocklist" }
  )
}

const blocklist = async () => [
  blockForm(),
  blockStatus,
  h("div", { id: "blocklist-list", dataset: { testid: "blocklist-list" } }, await blockList())
]

void section("config", config)
void section("sessions", sessions)
void section("blocklist", blocklist)
void section("nodes", nodes)
