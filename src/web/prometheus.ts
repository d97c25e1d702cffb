import { Metric, MetricState } from "effect"
import type { MetricPair } from "effect"
import { getHeapSpaceStatistics } from "node:v8"

// Effect Metrics in the Prometheus text exposition format (version 0.0.4): one HELP and TYPE line per metric
// name, then one sample per tag set. Counters keep their `_total` names; histograms expand to `_bucket`,
// `_sum` and `_count`; frequencies become counters labelled `key`; summaries give quantiles.

/** The content type Prometheus expects for the text format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

const metricName = (name: string) => {
  const s = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(s) ? s : `_${s}`
}
const labelName = (name: string) => {
  const s = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[a-zA-Z_]/.test(s) ? s : `_${s}`
}
const labelValue = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const help = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")
const num = (v: number | bigint) => {
  if (typeof v === "bigint") return v.toString()
  if (Number.isNaN(v)) return "NaN"
  if (v === Infinity) return "+Inf"
  if (v === -Infinity) return "-Inf"
  return String(v)
}
const labels = (pairs: ReadonlyArray<readonly [string, string]>) =>
  pairs.length === 0 ? "" : `{${pairs.map(([k, v]) => `${labelName(k)}="${labelValue(v)}"`).join(",")}}`

interface Family {
  type: "counter" | "gauge" | "histogram" | "summary"
  help: string | undefined
  lines: Array<string>
}

/**
 * Effect's own runtime metrics, as Prometheus conventions want them: `effect_fiber_active` goes up and down (a
 * gauge, though Effect keeps it in a counter), and each gets a HELP line.
 */
const RUNTIME_METRICS: Readonly<Record<string, { readonly gauge?: boolean; readonly help: string }>> = {
  effect_fiber_active: { gauge: true, help: "Effect fibers running now" },
  effect_fiber_started: { help: "Effect fibers started" },
  effect_fiber_successes: { help: "Effect fibers that completed successfully" },
  effect_fiber_failures: { help: "Effect fibers that failed" },
  effect_fiber_lifetimes: { help: "Lifetimes of Effect fibers, in milliseconds" }
}

/** Renders metric pairs (from `Metric.unsafeSnapshot()`) as Prometheus text. */
export const renderPrometheus = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  const family = (name: string, type: Family["type"], description: string | undefined) => {
    let f = families.get(name)
    if (f === undefined) {
      f = { type, help: description, lines: [] }
      families.set(name, f)
    }
    return f
  }
  for (const pair of pairs) {
    const key = pair.metricKey
    const runtime = RUNTIME_METRICS[key.name]
    const base = metricName(key.name)
    const tags = key.tags.map((t) => [t.key, t.value] as const)
    // Every family has a HELP line (promtool checks it): the metric's description, else its name in words.
    const description = key.description._tag === "Some"
      ? key.description.value
      : runtime?.help ?? base.replace(/_/g, " ")
    const state: unknown = pair.metricState
    if (MetricState.isCounterState(state) && runtime?.gauge === true) {
      family(base, "gauge", description).lines.push(`${base}${labels(tags)} ${num(state.count)}`)
    } else if (MetricState.isCounterState(state)) {
      // Counters are named …_total.
      const name = base.endsWith("_total") ? base : `${base}_total`
      family(name, "counter", description).lines.push(`${name}${labels(tags)} ${num(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      const name = base
      family(name, "gauge", description).lines.push(`${name}${labels(tags)} ${num(state.value)}`)
    } else if (MetricState.isFrequencyState(state)) {
      const name = base.endsWith("_total") ? base : `${base}_total`
      const f = family(name, "counter", description)
      for (const [k, n] of state.occurrences) f.lines.push(`${name}${labels([...tags, ["key", k]])} ${n}`)
    } else if (MetricState.isHistogramState(state)) {
      const name = base
      const f = family(name, "histogram", description)
      for (const [bound, n] of state.buckets) {
        f.lines.push(`${name}_bucket${labels([...tags, ["le", num(bound)]])} ${n}`)
      }
      if (!state.buckets.some(([bound]) => bound === Infinity)) {
        f.lines.push(`${name}_bucket${labels([...tags, ["le", "+Inf"]])} ${state.count}`)
      }
      f.lines.push(`${name}_sum${labels(tags)} ${num(state.sum)}`, `${name}_count${labels(tags)} ${state.count}`)
    } else if (MetricState.isSummaryState(state)) {
      const name = base
      const f = family(name, "summary", description)
      for (const [q, v] of state.quantiles) {
        if (v._tag === "Some") f.lines.push(`${name}${labels([...tags, ["quantile", num(q)]])} ${num(v.value)}`)
      }
      f.lines.push(`${name}_sum${labels(tags)} ${num(state.sum)}`, `${name}_count${labels(tags)} ${state.count}`)
    }
  }
  const out: Array<string> = []
  for (const [name, f] of [...families].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    if (f.help !== undefined) out.push(`# HELP ${name} ${help(f.help)}`)
    out.push(`# TYPE ${name} ${f.type}`, ...f.lines.sort())
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`
}

/** Process facts Prometheus users expect next to the application's own metrics. */
const processMetrics = (): string => {
  const m = process.memoryUsage()
  const cpu = process.cpuUsage()
  const spaces = getHeapSpaceStatistics()
  return [
    "# HELP process_cpu_seconds_total User and system CPU time spent, in seconds.",
    "# TYPE process_cpu_seconds_total counter",
    `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
    "# HELP process_resident_memory_bytes Resident memory size in bytes.",
    "# TYPE process_resident_memory_bytes gauge",
    `process_resident_memory_bytes ${m.rss}`,
    "# HELP nodejs_heap_used_bytes V8 heap in use, in bytes.",
    "# TYPE nodejs_heap_used_bytes gauge",
    `nodejs_heap_used_bytes ${m.heapUsed}`,
    "# HELP nodejs_heap_total_bytes V8 heap reserved, in bytes.",
    "# TYPE nodejs_heap_total_bytes gauge",
    `nodejs_heap_total_bytes ${m.heapTotal}`,
    "# HELP nodejs_external_memory_bytes Memory outside the V8 heap held by JavaScript objects (Buffers), in bytes.",
    "# TYPE nodejs_external_memory_bytes gauge",
    `nodejs_external_memory_bytes ${m.external}`,
    // Per V8 heap space (new, old, code, large objects…): which one holds the reserve when heap_total grows.
    "# HELP nodejs_heap_space_size_total_bytes V8 heap reserved, by space, in bytes.",
    "# TYPE nodejs_heap_space_size_total_bytes gauge",
    ...spaces.map((sp) => `nodejs_heap_space_size_total_bytes{space="${sp.space_name}"} ${sp.space_size}`),
    "# HELP nodejs_heap_space_size_used_bytes V8 heap in use, by space, in bytes.",
    "# TYPE nodejs_heap_space_size_used_bytes gauge",
    ...spaces.map((sp) => `nodejs_heap_space_size_used_bytes{space="${sp.space_name}"} ${sp.space_used_size}`),
    ""
  ].join("\n")
}

/** Every Effect Metric of this process, plus process CPU and memory, as Prometheus text. */
export const prometheusText = (): string => renderPrometheus(Metric.unsafeSnapshot()) + processMetrics()

/** Current value of every counter named `name`, summed by the value of `tag` (for live stats). */
export const counterByTag = (name: string, tag: string): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const pair of Metric.unsafeSnapshot()) {
    if (pair.metricKey.name !== name) continue
    const state: unknown = pair.metricState
    if (!MetricState.isCounterState(state)) continue
    const value = pair.metricKey.tags.find((t) => t.key === tag)?.value
    if (value === undefined) continue
    out[value] = (out[value] ?? 0) + Number(state.count)
  }
  return out
}
