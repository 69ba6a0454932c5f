// Runs one panel's targets against Prometheus the way Grafana would for this
// panel: macros and variables expanded, an instant or a range query per
// target, the step derived from the panel's width and the scrape interval.

import { builtinMacros, interpolate, renderLegend } from './macros.mjs';
import { parseDuration, queryTiming } from './time-range.mjs';

// Grafana's dashboard grid is 24 columns; a preview page is about this wide.
const PAGE_WIDTH_PX = 1600;

/** Every panel of a dashboard, rows' collapsed panels included, in page order. */
export function flattenPanels(dashboard) {
  const out = [];
  for (const panel of dashboard.panels ?? []) {
    out.push(panel);
    if (panel.type === 'row' && Array.isArray(panel.panels)) out.push(...panel.panels);
  }
  return out;
}

function minIntervalMs(panel, target, scrapeIntervalMs, scope) {
  const own = target.interval || panel.interval;
  if (!own) return scrapeIntervalMs;
  const text = interpolate(String(own), scope).replace(/^>/, '');
  try {
    return parseDuration(text);
  } catch {
    return scrapeIntervalMs;
  }
}

function numeric(v) {
  // Prometheus sends sample values as strings, including "NaN" and "+Inf".
  return Number(v);
}

/**
 * Queries every visible target of the panel. Returns
 * `{ series: [{ refId, labels, name, points: [[ms, value]] }], errors: [{ refId, message, expr }], queries: [...] }`.
 */
export async function queryPanel(panel, { prom, fromMs, toMs, scrapeIntervalMs, variables }) {
  const series = [];
  const errors = [];
  const queries = [];
  const targets = (panel.targets ?? []).filter((t) => t && !t.hide);
  const widthPx = ((panel.gridPos?.w ?? 12) / 24) * PAGE_WIDTH_PX;
  const maxDataPoints = panel.maxDataPoints ?? Math.round(widthPx);
  for (const target of targets) {
    const refId = target.refId ?? 'A';
    const baseScope = { variables, macros: builtinMacros({ fromMs, toMs, intervalMs: scrapeIntervalMs, scrapeIntervalMs }) };
    const timing = queryTiming({ fromMs, toMs, scrapeIntervalMs, maxDataPoints, minIntervalMs: minIntervalMs(panel, target, scrapeIntervalMs, baseScope) });
    const { intervalMs } = timing;
    const scope = { variables, macros: builtinMacros(timing) };
    if (typeof target.expr !== 'string' || target.expr.trim() === '') {
      errors.push({ refId, message: 'target has no PromQL expression (expr)', expr: '' });
      continue;
    }
    const expr = interpolate(target.expr, scope);
    const instant = Boolean(target.instant) && !target.range;
    queries.push({ refId, expr, instant, stepMs: instant ? undefined : intervalMs });
    try {
      const { data, warnings } = instant
        ? await prom.query(expr, timing.instantMs)
        : await prom.queryRange(expr, timing.startMs, timing.endMs, intervalMs);
      for (const w of warnings) errors.push({ refId, message: `warning: ${w}`, expr, warning: true });
      for (const s of toSeries(data)) {
        series.push({ refId, labels: s.labels, name: renderLegend(target.legendFormat, s.labels, scope), points: s.points, instant });
      }
    } catch (err) {
      errors.push({ refId, message: err.message, expr });
    }
  }
  return { series, errors, queries };
}

function toSeries(data) {
  switch (data.resultType) {
    case 'matrix':
      return data.result.map((r) => ({ labels: r.metric, points: r.values.map(([t, v]) => [t * 1000, numeric(v)]) }));
    case 'vector':
      return data.result.map((r) => ({ labels: r.metric, points: [[r.value[0] * 1000, numeric(r.value[1])]] }));
    case 'scalar':
      return [{ labels: {}, points: [[data.result[0] * 1000, numeric(data.result[1])]] }];
    default:
      return [];
  }
}

const REDUCERS = {
  lastNotNull: (vs) => vs.filter(Number.isFinite).at(-1),
  last: (vs) => vs.at(-1),
  firstNotNull: (vs) => vs.find(Number.isFinite),
  first: (vs) => vs[0],
  mean: (vs) => {
    const f = vs.filter(Number.isFinite);
    return f.length ? f.reduce((a, b) => a + b, 0) / f.length : undefined;
  },
  max: (vs) => {
    const f = vs.filter(Number.isFinite);
    return f.length ? Math.max(...f) : undefined;
  },
  min: (vs) => {
    const f = vs.filter(Number.isFinite);
    return f.length ? Math.min(...f) : undefined;
  },
  sum: (vs) => vs.filter(Number.isFinite).reduce((a, b) => a + b, 0),
  count: (vs) => vs.length,
  range: (vs) => {
    const f = vs.filter(Number.isFinite);
    return f.length ? Math.max(...f) - Math.min(...f) : undefined;
  },
  delta: (vs) => {
    const f = vs.filter(Number.isFinite);
    return f.length ? f.at(-1) - f[0] : undefined;
  },
  diff: (vs) => {
    const f = vs.filter(Number.isFinite);
    return f.length ? f.at(-1) - f[0] : undefined;
  },
};

/** One value per series, by the panel's reduceOptions.calcs[0] (Grafana's default: lastNotNull). */
export function reduceSeries(series, reduceOptions) {
  const calc = reduceOptions?.calcs?.[0] ?? 'lastNotNull';
  const reducer = REDUCERS[calc];
  if (!reducer) throw new Error(`reducer "${calc}" is not one the preview knows`);
  return series.map((s) => ({ name: s.name, labels: s.labels, refId: s.refId, value: reducer(s.points.map((p) => p[1])) }));
}
