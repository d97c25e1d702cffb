// Insights: the analyses of the stored crawl (/api/analysis/*) as bar charts and tables, in the dashboard's style.
// Every label that may come from the network (extensions, client names and versions, torrent names) is text.
import { count, facts, getJson, h, humanSize, section, svg, table, torrentHref } from "./app.js"

const W = 420
const ROW = 22
const LABEL = 120
const VALUE = 70

/** Horizontal bars: [{ label, value, text? }]; one SVG, bar widths as SVG attributes (no inline style). */
const bars = (id, title, items, { unit = "", format = count } = {}) => {
  const max = Math.max(0, ...items.map((i) => i.value))
  const plot = W - LABEL - VALUE
  const height = Math.max(1, items.length) * ROW + 4
  const chart = svg("svg", {
    viewBox: `0 0 ${W} ${height}`,
    class: "chart-svg bars",
    role: "img",
    "aria-label": title,
    preserveAspectRatio: "xMidYMid meet"
  })
  items.forEach((item, i) => {
    const y = 2 + i * ROW
    const width = max > 0 ? Math.max(item.value > 0 ? 1 : 0, (item.value / max) * plot) : 0
    chart.appendChild(svg("text", { x: LABEL - 6, y: y + 15, class: "tick y" }, item.label))
    chart.appendChild(
      svg("rect", { x: LABEL, y: y + 3, width: width.toFixed(1), height: ROW - 8, rx: 2, class: `bar s${i % 8}` })
    )
    chart.appendChild(svg("text", { x: LABEL + width + 4, y: y + 15, class: "tick" }, item.text ?? format(item.value)))
  })
  return h(
    "figure",
    { class: "chart", dataset: { testid: `chart-${id}`, bars: items.length } },
    h("figcaption", {}, title, unit ? h("span", { class: "unit" }, ` (${unit})`) : null),
    items.length > 0 ? chart : h("p", { class: "chart-empty muted" }, "nothing stored yet")
  )
}

const pct = (n, of) => (of > 0 ? `${((100 * n) / of).toFixed(1)} %` : "—")
const range = (min, max, f) => (max === null ? `≥ ${f(min)}` : `${f(min)}–${f(max)}`)
const minutes = (ms) =>
  ms < 3_600_000 ? `${ms / 60_000} min` : ms < 86_400_000 ? `${ms / 3_600_000} h` : `${ms / 86_400_000} d`

const content = async () => {
  const r = await getJson("/api/analysis/content?top=12")
  return [
    facts([
      ["Torrents", h("span", { dataset: { testid: "torrents" } }, count(r.torrents))],
      ["Total size", humanSize(r.bytes)],
      ["Files", count(r.files)],
      ["v1 / v2 / hybrid", `${count(r.versions.v1)} / ${count(r.versions.v2)} / ${count(r.versions.hybrid)}`],
      ["Private", `${count(r.private)} (${pct(r.private, r.torrents)})`]
    ]),
    h(
      "div",
      { class: "charts" },
      bars("categories", "Torrents by category", r.categories.map((c) => ({ label: c.category, value: c.torrents }))),
      bars(
        "sizes",
        "Torrents by total size",
        r.sizes.map((b) => ({ label: range(b.min, b.max, humanSize), value: b.torrents }))
      ),
      bars(
        "file-counts",
        "Torrents by number of files",
        r.file_counts.map((b) => ({ label: range(b.min, b.max === null ? null : b.max - 1, count), value: b.torrents }))
      ),
      bars(
        "extensions",
        "Top file extensions",
        r.extensions.map((e) => ({ label: e.extension === "" ? "(none)" : e.extension, value: e.files })),
        { unit: "files" }
      )
    )
  ]
}

const sources = async () => {
  const r = await getJson("/api/analysis/sources?days=30")
  return [
    h(
      "div",
      { class: "charts" },
      bars("funnel", "Yield funnel", [
        { label: "seen", value: r.funnel.seen },
        { label: "with peers", value: r.funnel.with_peers },
        { label: "fetched", value: r.funnel.fetched },
        { label: "given up", value: r.funnel.failed }
      ], { unit: "infohashes" }),
      bars("sources", "Infohashes by source", r.sources.map((s) => ({ label: s.source, value: s.infohashes }))),
      bars("only", "Found by this source only", r.sources.map((s) => ({ label: s.source, value: s.only })))
    ),
    table(
      ["Sources", { label: "Infohashes both found", class: "num" }],
      r.overlap.map((o) => h("tr", {}, h("td", {}, `${o.a} & ${o.b}`), h("td", { class: "num" }, count(o.infohashes)))),
      { dataset: { testid: "overlap" } }
    )
  ]
}

const clients = async () => {
  const r = await getJson("/api/analysis/clients?top=10")
  const asked = r.bep51.yes + r.bep51.no
  return [
    facts([
      ["Nodes", `${count(r.nodes)} (${count(r.responded)} answered us)`],
      ["IPv4 / IPv6", `${count(r.ipv4)} / ${count(r.ipv6)}`],
      ["BEP 42-valid ids", `${count(r.bep42.valid)} valid, ${count(r.bep42.invalid)} invalid`],
      ["BEP 51 (sample_infohashes)", `${pct(r.bep51.yes, asked)} of ${count(asked)} asked`],
      ["Read-only (BEP 43)", count(r.read_only)]
    ]),
    h(
      "div",
      { class: "charts" },
      bars(
        "clients",
        "Nodes by client (KRPC v)",
        r.clients.map((c) => ({ label: c.code === "" ? "none" : `${c.code} ${c.client}`.slice(0, 18), value: c.nodes }))
      ),
      bars(
        "torrent-clients",
        "Torrents by the client that sent them",
        r.torrent_clients.map((c) => ({ label: (c.client ?? "unknown").slice(0, 18), value: c.torrents }))
      )
    )
  ]
}

const churn = async () => {
  const r = await getJson("/api/analysis/churn?days=14")
  return h(
    "div",
    { class: "charts" },
    bars(
      "survival",
      "Sessions lasting at least",
      r.sessions.map((b) => ({ label: minutes(b.min_ms), value: b.surviving, text: pct(b.surviving, 1) })),
      { unit: "share of nodes that answered" }
    ),
    bars(
      "response-rate",
      "Nodes that ever answered, by day first seen",
      r.by_day.map((d) => ({ label: d.day, value: d.response_rate, text: pct(d.response_rate, 1) }))
    ),
    bars(
      "query-rate",
      `Our queries answered, per ${minutes(r.response_rate_interval_ms)} (latest 24)`,
      r.response_rates.slice(-24).map((p) => ({
        label: p.at.slice(5, 16).replace("T", " "),
        value: p.response_rate,
        text: `${pct(p.response_rate, 1)} of ${count(p.queries)}`
      }))
    )
  )
}

const popularity = async () => {
  const r = await getJson("/api/analysis/popularity?top=15")
  if (r.by_peers.length === 0) return h("p", { class: "muted" }, "No peers recorded yet.")
  return table(
    ["Infohash or name", { label: "Peers", class: "num" }, { label: "Sightings", class: "num" }],
    r.by_peers.map((x) =>
      h(
        "tr",
        {},
        h("td", {}, x.name === null ? h("code", {}, x.infohash) : h("a", { href: torrentHref(x.infohash) }, x.name)),
        h("td", { class: "num" }, count(x.peers)),
        h("td", { class: "num" }, count(x.sightings))
      )
    ),
    { dataset: { testid: "popular" } }
  )
}

await Promise.all([
  section("content", content),
  section("sources", sources),
  section("clients", clients),
  section("churn", churn),
  section("popularity", popularity)
])
document.body.dataset.ready = "true"
