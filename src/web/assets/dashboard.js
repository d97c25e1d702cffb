// The dashboard: live counters and charts of the crawl running in this process (server-sent events at
// /api/live), and the database's totals (GET /api/stats every 5 s).
import { byId, count, duration, fill, getJson, h, humanSize, localTime, rate } from "./app.js"
import { LineChart } from "./chart.js"

/** Snapshots kept for the charts (15 minutes at one a second). */
const KEEP = 900
/** Intervals averaged for the rates shown in the counters. */
const RATE_WINDOW = 5
const DB_REFRESH_MS = 5000

const SOURCES = [
  ["sample", "sample_infohashes"],
  ["get_peers", "get_peers"],
  ["announce", "announce_peer"],
  ["lookup", "lookups"]
]
const METHODS = ["find_node", "sample_infohashes", "get_peers"]
const QUEUES = [
  ["discoveries", "discoveries"],
  ["nodes", "nodes"],
  ["candidates", "metadata candidates"],
  ["lookups", "lookups"]
]

const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : 0)
const sum = (o) => Object.values(o ?? {}).reduce((a, b) => a + num(b), 0)

const state = {
  /** LiveSnapshots, oldest first. */
  snaps: [],
  stopped: false,
  /** null: not yet known; true/false: whether /api/stats said a crawl runs in this process. */
  liveInProcess: null,
  /** Whether /api/about shows a crawl configured in this process (it may not have published yet). */
  crawlConfigured: false,
  source: null,
  retry: null,
  lost: false
}

// === Building blocks ===

/** A counter card; its value element carries data-testid and data-value (the raw number) for tests. */
const card = (testid, label, sub = true) => {
  const value = h("div", { class: "value", dataset: { testid, value: "" } }, "—")
  const subEl = sub ? h("div", { class: "sub", dataset: { testid: `${testid}-sub` } }) : null
  const el = h("div", { class: "card" }, h("div", { class: "label" }, label), value, subEl)
  return { el, set: (n, text) => setValue(value, n, text), sub: subEl }
}

const setValue = (el, n, text) => {
  el.dataset.value = String(n)
  el.textContent = text ?? count(n)
}

/** A small table of named numbers; rows are created as keys appear. */
const panel = (testid, title, columns) => {
  const body = h("tbody")
  const el = h(
    "section",
    { class: "panel", dataset: { testid } },
    h("h3", {}, title),
    h(
      "table",
      { class: "kv" },
      columns ? h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))) : null,
      body
    ),
    h("p", { class: "muted small empty-note" })
  )
  const note = el.querySelector(".empty-note")
  return {
    el,
    /** rows: [[key, label, ...cells]] — cells are text. */
    set: (rows, empty = "none") => {
      body.replaceChildren(
        ...rows.map(([key, label, ...cells]) =>
          h(
            "tr",
            { dataset: { key } },
            h("th", { scope: "row" }, label),
            cells.map((c) => h("td", { class: "num" }, c))
          )
        )
      )
      note.textContent = rows.length === 0 ? empty : ""
    }
  }
}

// === Layout ===

const statusEl = byId("status")
const liveEl = byId("live")
const elapsedEl = byId("elapsed")

/** What each address-filter verdict means (other nodes often hand us our own address back). */
const FILTER_LABELS = {
  self: "our own address",
  "port-zero": "port 0",
  banned: "banned (misbehaved)",
  denied: "in --deny",
  "not-allowed": "outside --allow",
  bogon: "bogon (private, multicast, …)",
  "not-an-ip": "not an IP address"
}

const cards = {
  known: card("known-nodes", "Known nodes"),
  responsive: card("responsive-nodes", "Responsive nodes"),
  unique: card("unique-infohashes", "Unique infohashes"),
  fetched: card("torrents-fetched", "Metadata fetched"),
  failed: card("torrents-failed", "Metadata failed"),
  qps: card("queries-per-second", "Queries / s"),
  size: card("network-size", "DHT size (est.)"),
  backoff: card("backoff", "Back-off")
}
fill(byId("cards"), Object.values(cards).map((c) => c.el))

/** Why infohashes did not give metadata (the funnel's losses). */
const LOST_LABELS = {
  "never-peers": "no peer seen (yet)",
  "no-peers": "no usable peer",
  dead: "all peers dead (time-outs)",
  refused: "all peers refused",
  hostile: "hostile peer (lied, flooded)",
  "gave-up": "gave up (slow, stalled)"
}

const panels = {
  funnel: panel("yield-funnel", "Yield funnel", ["step", "infohashes", "share"]),
  lost: panel("yield-lost", "Why the rest gave no metadata"),
  budget: panel("query-budget", "Queries by stage", ["stage", "share"]),
  sources: panel("infohashes-by-source", "Infohashes by source", ["source", "total", "/ s"]),
  queries: panel("queries-by-method", "Queries by method", ["method", "sent", "/ s"]),
  queues: panel("queue-depths", "Queue depths"),
  drops: panel("drops", "Dropped datagrams by reason"),
  filtered: panel("filtered", "Addresses filtered by reason"),
  written: panel("written", "Written to the database")
}
fill(byId("panels"), Object.values(panels).map((p) => p.el))

const charts = {
  nodes: new LineChart({
    id: "nodes",
    title: "Nodes",
    series: [{ key: "known", label: "known" }, { key: "responsive", label: "responsive" }]
  }),
  infohashes: new LineChart({
    id: "infohashes",
    title: "Infohashes by source",
    series: [{ key: "unique", label: "unique" }, ...SOURCES.map(([k, label]) => ({ key: k, label }))]
  }),
  metadata: new LineChart({
    id: "metadata",
    title: "Metadata",
    series: [{ key: "fetched", label: "fetched" }, { key: "failed", label: "failed" }]
  }),
  queries: new LineChart({
    id: "queries",
    title: "Queries per second",
    fractional: true,
    series: [{ key: "total", label: "total" }, ...METHODS.map((m) => ({ key: m, label: m }))]
  }),
  queues: new LineChart({
    id: "queues",
    title: "Queue depths",
    series: QUEUES.map(([k, label]) => ({ key: k, label }))
  }),
  drops: new LineChart({ id: "drops", title: "Dropped datagrams (total, by reason)", dynamic: true })
}
fill(byId("charts"), Object.values(charts).map((c) => c.element))

// === Rendering ===

const setStatus = (kind, ...text) => {
  statusEl.dataset.state = kind
  fill(statusEl, h("span", { class: "dot", "aria-hidden": "true" }), ...text)
}

const updateStatus = () => {
  const last = state.snaps.at(-1)
  if (state.stopped && last) {
    setStatus(
      "stopped",
      h("strong", {}, "Crawl stopped"),
      ` after ${duration(last.elapsed)} — the charts are paused at its last snapshot (${localTime(last.at)}).`
    )
  } else if (state.lost) {
    setStatus("lost", h("strong", {}, "Connection lost"), " — reconnecting to the crawl…")
  } else if (last) {
    setStatus(
      "running",
      h("strong", {}, "Crawl running"),
      ` for ${duration(last.elapsed)} · updated ${localTime(last.at)}`
    )
  } else if (state.liveInProcess === false) {
    setStatus(
      "idle",
      h("strong", {}, "No crawl running in this process"),
      " — showing the database's totals (start one with bitscrape crawl)."
    )
  } else if (state.crawlConfigured) {
    setStatus("connecting", h("strong", {}, "Crawl starting"), " — waiting for its first snapshot…")
  } else {
    setStatus("connecting", "Connecting to the crawl…")
  }
}

/** Per-second rate of `pick(snapshot)` over the last `window` intervals. */
const rateOf = (pick, window = RATE_WINDOW) => {
  const n = state.snaps.length
  if (n < 2) return undefined
  const a = state.snaps[Math.max(0, n - 1 - window)]
  const b = state.snaps[n - 1]
  const dt = (b.at - a.at) / 1000
  return dt > 0 ? Math.max(0, (pick(b) - pick(a)) / dt) : undefined
}

const perSecond = (v) => (v === undefined ? "—" : rate(v))

const renderCounters = () => {
  const s = state.snaps.at(-1)
  if (!s) return
  elapsedEl.textContent = `· ${duration(s.elapsed)}`
  cards.known.set(num(s.knownNodes))
  cards.responsive.set(num(s.responsiveNodes))
  cards.responsive.sub.textContent = s.knownNodes > 0
    ? `${Math.round((100 * num(s.responsiveNodes)) / s.knownNodes)} % of known`
    : ""
  cards.known.sub.textContent = `${perSecond(rateOf((x) => num(x.knownNodes)))} / s` +
    (s.families ? ` · IPv4 ${count(num(s.families.known.ipv4))}, IPv6 ${count(num(s.families.known.ipv6))}` : "")
  if (s.networkSize) {
    cards.size.set(Math.round(s.networkSize.nodes))
    cards.size.sub.textContent = `95 %: ${count(Math.round(s.networkSize.low))}–${
      count(Math.round(s.networkSize.high))
    } · ${count(s.networkSize.lookups)} lookups`
  }
  cards.unique.set(num(s.uniqueInfohashes))
  cards.unique.sub.textContent = `${perSecond(rateOf((x) => num(x.uniqueInfohashes)))} / s`
  cards.fetched.set(num(s.written?.torrents))
  cards.fetched.sub.textContent = `${perSecond(rateOf((x) => num(x.written?.torrents)))} / s`
  cards.failed.set(num(s.written?.failures))
  const fetched = num(s.written?.torrents)
  const tried = fetched + num(s.written?.failures)
  cards.failed.sub.textContent = tried > 0 ? `${Math.round((100 * fetched) / tried)} % succeeded` : ""
  const qps = rateOf((x) => sum(x.queries))
  cards.qps.set(qps ?? 0, perSecond(qps))
  cards.qps.sub.textContent = `${count(sum(s.queries))} sent`
  if (num(s.backoffMillis) > 0) {
    cards.backoff.set(num(s.backoffMillis), `${rate(num(s.backoffMillis) / 1000)} s`)
    cards.backoff.sub.textContent = s.backoffReason ?? ""
  } else {
    cards.backoff.set(0, "none")
    cards.backoff.sub.textContent = s.backoffReason ?? "discovery at full speed"
  }

  panels.sources.set(SOURCES.map(([k, label]) => [
    k,
    label,
    count(num(s.discoveries?.[k])),
    perSecond(rateOf((x) => num(x.discoveries?.[k])))
  ]))
  panels.queries.set([
    ...METHODS.map((m) => [m, m, count(num(s.queries?.[m])), perSecond(rateOf((x) => num(x.queries?.[m])))]),
    ["total", "total", count(sum(s.queries)), perSecond(qps)]
  ])
  panels.queues.set(QUEUES.map(([k, label]) => [k, label, count(num(s.queueDepths?.[k]))]))
  const byValue = (o) => Object.entries(o ?? {}).sort((a, b) => num(b[1]) - num(a[1]) || a[0].localeCompare(b[0]))
  panels.drops.set(byValue(s.drops).map(([k, v]) => [k, k, count(num(v))]), "no datagram dropped")
  panels.filtered.set(
    byValue(s.filtered).map(([k, v]) => [k, FILTER_LABELS[k] ?? k, count(num(v))]),
    "no address filtered"
  )
  const f = s.funnel
  if (f) {
    const pct = (n) => (f.seen > 0 ? `${Math.round((100 * num(n)) / f.seen)} %` : "—")
    panels.funnel.set([
      ["seen", "seen", count(num(f.seen)), pct(f.seen)],
      ["with-peers", "with peers", count(num(f.withPeers)), pct(f.withPeers)],
      ["connected", "connected", count(num(f.connected)), pct(f.connected)],
      ["fetched", "fetched", count(num(f.fetched)), pct(f.fetched)],
      [
        "per-torrent",
        "packets per torrent",
        f.packetsPerTorrent === null ? "—" : count(Math.round(f.packetsPerTorrent)),
        ""
      ]
    ])
    panels.lost.set(
      byValue(f.lost).filter(([, v]) => num(v) > 0).map(([k, v]) => [k, LOST_LABELS[k] ?? k, count(num(v))]),
      "nothing lost yet"
    )
    panels.budget.set(
      byValue(f.budget).filter(([, v]) => num(v) > 0).map(([k, v]) => [k, k, `${Math.round(100 * num(v))} %`]),
      "no query sent yet"
    )
  } else {
    panels.funnel.set([], "not reported by this crawl")
    panels.lost.set([], "—")
    panels.budget.set([], "—")
  }
  panels.written.set([
    ["discoveries", "discoveries", count(num(s.written?.discoveries))],
    ["nodes", "nodes", count(num(s.written?.nodes))],
    ["torrents", "torrents", count(num(s.written?.torrents))],
    ["failures", "failed fetches", count(num(s.written?.failures))],
    ...(s.database === undefined ? [] : [
      ...(s.database.unreachable ? [["unreachable", "DATABASE UNREACHABLE", "writes wait and are retried"]] : []),
      [
        "database",
        "database size",
        s.database.budget === null
          ? humanSize(num(s.database.bytes))
          : `${humanSize(num(s.database.bytes))} of ${humanSize(num(s.database.budget))} budget`
      ],
      [
        "evicted",
        "rows deleted (retention + budget)",
        count(
          Object.values(s.database.expired ?? {}).reduce((a, b) => a + num(b), 0) +
            Object.values(s.database.evicted ?? {}).reduce((a, b) => a + num(b), 0)
        )
      ]
    ])
  ])
}

const renderCharts = () => {
  const snaps = state.snaps
  const point = (s, values) => ({ t: s.at, values })
  charts.nodes.update(snaps.map((s) => point(s, { known: num(s.knownNodes), responsive: num(s.responsiveNodes) })))
  charts.infohashes.update(snaps.map((s) =>
    point(s, {
      unique: num(s.uniqueInfohashes),
      ...Object.fromEntries(SOURCES.map(([k]) => [k, num(s.discoveries?.[k])]))
    })
  ))
  charts.metadata.update(
    snaps.map((s) => point(s, { fetched: num(s.written?.torrents), failed: num(s.written?.failures) }))
  )
  const rates = []
  for (let i = 1; i < snaps.length; i++) {
    const a = snaps[i - 1]
    const b = snaps[i]
    const dt = (b.at - a.at) / 1000
    if (!(dt > 0)) continue
    const r = (pick) => Math.max(0, (pick(b) - pick(a)) / dt)
    rates.push(point(b, {
      total: r((x) => sum(x.queries)),
      ...Object.fromEntries(METHODS.map((m) => [m, r((x) => num(x.queries?.[m]))]))
    }))
  }
  charts.queries.update(rates)
  charts.queues.update(
    snaps.map((s) => point(s, Object.fromEntries(QUEUES.map(([k]) => [k, num(s.queueDepths?.[k])]))))
  )
  charts.drops.update(
    snaps.map((s) => point(s, Object.fromEntries(Object.entries(s.drops ?? {}).map(([k, v]) => [k, num(v)]))))
  )
}

const render = () => {
  liveEl.hidden = state.snaps.length === 0
  updateStatus()
  renderCounters()
  renderCharts()
}

const isSnapshot = (s) => s !== null && typeof s === "object" && typeof s.at === "number"

const add = (snapshot) => {
  if (!isSnapshot(snapshot)) return
  const last = state.snaps.at(-1)
  // A new crawl in this process (or the same snapshot twice after a reconnection).
  if (last && snapshot.at < last.at) state.snaps = []
  if (last && snapshot.at === last.at) state.snaps.pop()
  state.snaps.push(snapshot)
  if (state.snaps.length > KEEP) state.snaps.splice(0, state.snaps.length - KEEP)
}

// === Live events ===

const parse = (event) => {
  try {
    return JSON.parse(event.data)
  } catch {
    return undefined
  }
}

const stop = () => {
  state.stopped = true
  state.source?.close()
  state.source = null
}

const connect = () => {
  clearTimeout(state.retry)
  const source = new EventSource("/api/live")
  state.source = source
  source.addEventListener("history", (e) => {
    const history = parse(e)
    if (!Array.isArray(history)) return
    state.snaps = history.filter(isSnapshot).slice(-KEEP)
    state.lost = false
    const last = state.snaps.at(-1)
    if (last && last.running === false) stop()
    else if (last) state.stopped = false
    render()
  })
  source.addEventListener("stats", (e) => {
    state.lost = false
    state.stopped = false
    add(parse(e))
    render()
  })
  source.addEventListener("stopped", (e) => {
    state.lost = false
    add(parse(e))
    stop()
    render()
  })
  source.addEventListener("error", () => {
    if (state.stopped || state.source !== source) return
    state.lost = state.snaps.length > 0
    updateStatus()
    // The browser reconnects by itself unless the server refused the stream (e.g. 429): then retry later.
    if (source.readyState === EventSource.CLOSED) {
      state.source = null
      state.retry = setTimeout(connect, 5000)
    }
  })
}

// === Database totals ===

const dbCards = {
  torrents: card("db-torrents", "Torrents", false),
  files: card("db-files", "Files", false),
  infohashes: card("db-infohashes", "Infohashes", false),
  nodes: card("db-nodes", "Nodes", true),
  failed: card("db-failed", "Failed fetches", false),
  sessions: card("db-sessions", "Crawl sessions", false)
}
const dbSources = h("ul", { class: "inline-list" })
const dbFamilies = h("ul", { class: "inline-list" })
fill(byId("db-cards"), Object.values(dbCards).map((c) => c.el))
byId("db-cards").after(
  h(
    "div",
    { class: "panel db-sources", dataset: { testid: "db-by-family" } },
    h("h3", {}, "Nodes and peers by address family"),
    dbFamilies
  )
)
byId("db-cards").after(
  h(
    "div",
    { class: "panel db-sources", dataset: { testid: "db-by-source" } },
    h("h3", {}, "Infohash sightings by source"),
    dbSources
  )
)

const refreshDb = async () => {
  try {
    const stats = await getJson("/api/stats")
    const db = stats.database
    for (const k of Object.keys(dbCards)) dbCards[k].set(num(db[k]))
    fill(
      dbSources,
      SOURCES.map(([k, label]) =>
        h("li", { dataset: { key: k } }, h("span", { class: "muted" }, `${label} `), count(num(db.by_source?.[k])))
      )
    )
    if (db.by_family) {
      dbCards.nodes.sub.textContent = `IPv4 ${count(num(db.by_family.nodes.ipv4))}, IPv6 ${
        count(num(db.by_family.nodes.ipv6))
      }`
      fill(dbFamilies, [
        h("li", {}, h("span", { class: "muted" }, "peers IPv4 "), count(num(db.by_family.peers.ipv4))),
        h("li", {}, h("span", { class: "muted" }, "peers IPv6 "), count(num(db.by_family.peers.ipv6))),
        h("li", {}, h("span", { class: "muted" }, "nodes IPv4 "), count(num(db.by_family.nodes.ipv4))),
        h("li", {}, h("span", { class: "muted" }, "nodes IPv6 "), count(num(db.by_family.nodes.ipv6)))
      ])
    }
    byId("db-backend").textContent = `· ${db.backend}`
    byId("db-updated").textContent = `Updated ${localTime(Date.now())}.`
    const inProcess = stats.live !== null || state.crawlConfigured
    if (state.liveInProcess !== inProcess) {
      state.liveInProcess = inProcess
      if (inProcess && !state.source && !state.stopped) connect()
      updateStatus()
    }
  } catch (e) {
    byId("db-updated").textContent = `Could not refresh the totals: ${e.message}`
  }
}

const start = async () => {
  try {
    const about = await getJson("/api/about")
    state.crawlConfigured = about.crawl !== null && about.crawl !== undefined
  } catch {
    // The totals' refresh reports a server that cannot be reached.
  }
  await refreshDb()
  setInterval(refreshDb, DB_REFRESH_MS)
}

connect()
render()
void start()
