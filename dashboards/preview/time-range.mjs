// Time ranges and intervals the way Grafana's time picker and query
// intervals express them ("now-15m", "15m", "$__interval" steps).

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** "90s", "15m", "1h30m", "2d" → milliseconds; throws on anything else. */
export function parseDuration(text) {
  const s = String(text).trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g;
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    if (m.index !== consumed) break;
    total += Number(m[1]) * UNIT_MS[m[2]];
    consumed += m[0].length;
  }
  if (s.length === 0 || consumed !== s.length) {
    throw new Error(`not a duration: ${JSON.stringify(text)} (expected e.g. 30s, 15m, 1h, 2d)`);
  }
  return total;
}

/** "now", "now-15m", an ISO date, or epoch seconds/milliseconds → epoch ms. */
export function parseTimePoint(text, nowMs) {
  const s = String(text).trim();
  if (s === 'now') return nowMs;
  const rel = /^now-(.+)$/.exec(s);
  if (rel) return nowMs - parseDuration(rel[1]);
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    // Ten digits are seconds until the year 2286; more are milliseconds.
    return n < 1e11 ? n * 1000 : n;
  }
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`not a time: ${JSON.stringify(text)} (expected now, now-15m, an ISO date or epoch seconds)`);
  return t;
}

/** Duration in the shortest form Prometheus accepts for a range selector. */
export function promDuration(ms) {
  const whole = Math.max(1, Math.round(ms));
  if (whole % 1000 !== 0) return `${whole}ms`;
  return `${whole / 1000}s`;
}

// Grafana's rangeUtil.roundInterval: [below this many ms, use this interval].
const ROUNDING = [
  [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500], [1500, 1000], [3500, 2000], [7500, 5000],
  [12500, 10000], [17500, 15000], [25000, 20000], [45000, 30000], [90000, 60000], [210000, 120000],
  [450000, 300000], [750000, 600000], [1050000, 900000], [1500000, 1200000], [2700000, 1800000],
  [5400000, 3600000], [9000000, 7200000], [16200000, 10800000], [32400000, 21600000], [86400000, 43200000],
  [604800000, 86400000], [1814400000, 604800000], [3628800000, 2592000000],
];

export function roundInterval(ms) {
  for (const [below, value] of ROUNDING) if (ms < below) return value;
  return 31536000000;
}

/**
 * Grafana's $__rate_interval: max($__interval + scrape interval, 4 × scrape
 * interval), so a rate() window always holds at least four samples and never
 * less than one step plus one sample.
 */
export function rateIntervalMs(intervalMs, scrapeIntervalMs) {
  return Math.max(intervalMs + scrapeIntervalMs, 4 * scrapeIntervalMs);
}

/**
 * How Grafana times a Prometheus query: $__interval (also the range query's
 * step) from the range over the panel's width in points, rounded, never below
 * the min interval (the target's own, else the scrape interval), and coarse
 * enough to stay under 11,000 points (the datasource's adjustInterval); the
 * range bounds in whole seconds aligned to the step; instant queries at the
 * range's end. The result carries the context too, so builtinMacros() takes
 * it as it is.
 */
export function queryTiming({ fromMs, toMs, scrapeIntervalMs, maxDataPoints = 1000, minIntervalMs = scrapeIntervalMs }) {
  const rangeMs = toMs - fromMs;
  if (!(rangeMs > 0)) throw new Error(`empty time range ${fromMs}..${toMs}`);
  const panelMs = Math.max(roundInterval(rangeMs / Math.max(1, maxDataPoints)), minIntervalMs);
  let safeS = rangeMs / 1000 / 11000;
  if (safeS > 1) safeS = Math.ceil(safeS);
  const intervalMs = Math.max(panelMs, safeS * 1000);
  // getPrometheusTime: from rounds down, to rounds up, to whole seconds; alignRange floors both to the step.
  const startS = Math.floor(fromMs / 1000);
  const endS = Math.ceil(toMs / 1000);
  const stepS = intervalMs / 1000;
  return {
    fromMs,
    toMs,
    scrapeIntervalMs,
    rangeMs,
    intervalMs,
    rateIntervalMs: rateIntervalMs(intervalMs, scrapeIntervalMs),
    startMs: Math.floor(startS / stepS) * stepS * 1000,
    endMs: Math.floor(endS / stepS) * stepS * 1000,
    instantMs: endS * 1000,
  };
}
