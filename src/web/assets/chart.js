// Small SVG line charts for the dashboard (built with createElementNS; labels are text nodes).
import { clockTime, count, h, rate, svg } from "./app.js"

const W = 420
const H = 170
const M = { left: 46, right: 10, top: 10, bottom: 22 }
const PLOT_W = W - M.left - M.right
const PLOT_H = H - M.top - M.bottom
/** Colours available to series (CSS classes s0…s7). */
const PALETTE = 8

/** A "nice" upper bound for an axis: 1, 2, 2.5 or 5 × 10^k, at least `max`. */
const niceMax = (max) => {
  if (!(max > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(max))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p
  return 10 * p
}

const tickFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 })

/** An axis label: 12.5k, 3.4M… */
const short = (n) => {
  if (n >= 1e9) return `${+(n / 1e9).toFixed(1)}G`
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`
  if (n >= 1e4) return `${+(n / 1e3).toFixed(1)}k`
  return tickFormat.format(n)
}

/**
 * A line chart of several series over time. `series`: [{ key, label }] (fixed), or `dynamic: true` to take
 * the keys from the data (at most 8, largest last values first). `fractional`: values are rates.
 */
export class LineChart {
  constructor({ id, title, series = [], dynamic = false, fractional = false, unit = "" }) {
    this.series = series
    this.dynamic = dynamic
    this.fractional = fractional
    this.unit = unit
    this.svg = svg("svg", {
      viewBox: `0 0 ${W} ${H}`,
      class: "chart-svg",
      role: "img",
      "aria-label": title,
      preserveAspectRatio: "xMidYMid meet"
    })
    this.legend = h("ul", { class: "legend" })
    this.empty = h("p", { class: "chart-empty muted" }, "waiting for data…")
    this.element = h(
      "figure",
      { class: "chart", dataset: { testid: `chart-${id}`, points: 0 } },
      h("figcaption", {}, title, unit ? h("span", { class: "unit" }, ` (${unit})`) : null),
      this.svg,
      this.empty,
      this.legend
    )
  }

  /** Redraws from `points`: [{ t: unix ms, values: { key: number } }], oldest first. */
  update(points) {
    const series = this.dynamic ? this.keysOf(points) : this.series
    this.svg.replaceChildren()
    this.legend.replaceChildren()
    this.element.dataset.points = String(points.length)
    this.empty.hidden = points.length > 0
    if (points.length === 0) return
    const t0 = points[0].t
    const t1 = points[points.length - 1].t
    const span = Math.max(t1 - t0, 1)
    let max = 0
    for (const p of points) for (const s of series) max = Math.max(max, p.values[s.key] ?? 0)
    // Counts: at least 0…4, so the ticks of a flat or tiny series are whole numbers.
    let top = this.fractional ? niceMax(max) : Math.max(4, niceMax(max))
    if (!this.fractional && top < 40 && top % 4 !== 0) top = Math.ceil(top / 4) * 4
    const x = (t) => M.left + (points.length === 1 ? PLOT_W : ((t - t0) / span) * PLOT_W)
    const y = (v) => M.top + PLOT_H - (Math.max(0, v) / top) * PLOT_H

    const grid = svg("g", { class: "grid" })
    for (let i = 0; i <= 4; i++) {
      const v = (top / 4) * i
      const yy = y(v)
      grid.appendChild(svg("line", { x1: M.left, x2: W - M.right, y1: yy, y2: yy }))
      grid.appendChild(svg("text", { x: M.left - 6, y: yy + 4, class: "tick y" }, short(v)))
    }
    grid.appendChild(svg("text", { x: M.left, y: H - 6, class: "tick x start" }, clockTime(t0)))
    if (points.length > 1) {
      grid.appendChild(svg("text", { x: W - M.right, y: H - 6, class: "tick x end" }, clockTime(t1)))
    }
    this.svg.appendChild(grid)

    series.forEach((s, i) => {
      const cls = `s${i % PALETTE}`
      const coords = []
      for (const p of points) {
        const v = p.values[s.key]
        if (typeof v === "number" && Number.isFinite(v)) coords.push(`${x(p.t).toFixed(1)},${y(v).toFixed(1)}`)
      }
      if (coords.length === 1) {
        const [cx, cy] = coords[0].split(",")
        this.svg.appendChild(svg("circle", { cx, cy, r: 3, class: `dot ${cls}` }))
      } else if (coords.length > 1) {
        this.svg.appendChild(
          svg("polyline", { points: coords.join(" "), class: `line ${cls}`, dataset: { key: s.key } })
        )
      }
      const last = points[points.length - 1].values[s.key]
      this.legend.appendChild(
        h(
          "li",
          {},
          h("span", { class: `sw ${cls}`, "aria-hidden": "true" }),
          h("span", { class: "name" }, s.label),
          h("span", { class: "val" }, this.fractional ? rate(last) : count(last))
        )
      )
    })
    if (series.length === 0) this.legend.appendChild(h("li", { class: "muted" }, "none so far"))
  }

  keysOf(points) {
    const last = points.length > 0 ? points[points.length - 1].values : {}
    const keys = new Set()
    for (const p of points) for (const k of Object.keys(p.values)) keys.add(k)
    return [...keys]
      .sort((a, b) => (last[b] ?? 0) - (last[a] ?? 0) || a.localeCompare(b))
      .slice(0, PALETTE)
      .map((key) => ({ key, label: key }))
  }
}
