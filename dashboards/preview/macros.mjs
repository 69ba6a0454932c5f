// Grafana's template interpolation for Prometheus queries: built-in macros
// ($__range, $__interval, $__rate_interval, ...) and dashboard variables in
// every syntax Grafana accepts ($var, ${var}, ${var:format}, [[var]]), with
// the Prometheus datasource's escaping of multi-value and All selections
// (public/app/plugins/datasource/prometheus: createQuery, adjustInterval,
// getRateIntervalScopedVariable, getRangeScopedVars, interpolateQueryExpr).
// The preview, the end-to-end harness and the static dashboard tests all
// expand through here, so they run what a Grafana user's browser would run.

import { promDuration, rateIntervalMs } from './time-range.mjs';

// Grafana's variableRegex: $var, [[var]] / [[var:fmt]], ${var} / ${var.field} / ${var:fmt}.
const VARIABLE_RE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

/** prometheusRegularEscape: a value placed inside a PromQL string literal keeps its meaning. */
export function promRegularEscape(value) {
  return value.replace(/\\/g, '\\\\').replace(/'/g, "\\\\'");
}

/** prometheusSpecialRegexEscape: a value inside `=~"..."` matches itself only. */
export function promRegexEscape(value) {
  return value.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');
}

/** Grafana's `:regex` format (escapeRegex). */
function escapeRegex(value) {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/**
 * The built-in macro values for one query, in the forms Grafana provides.
 * Times and intervals are in milliseconds; a queryTiming() result fits as it is.
 */
export function builtinMacros({ fromMs, toMs, intervalMs, scrapeIntervalMs }) {
  const rangeMs = toMs - fromMs;
  const rateMs = rateIntervalMs(intervalMs, scrapeIntervalMs);
  const rangeS = Math.round(rangeMs / 1000);
  return {
    __interval: promDuration(intervalMs),
    __interval_ms: String(intervalMs),
    __rate_interval: promDuration(rateMs),
    __rate_interval_ms: String(rateMs),
    __range: `${rangeS}s`,
    __range_s: String(rangeS),
    __range_ms: String(rangeMs),
    __from: String(fromMs),
    __to: String(toMs),
  };
}

function formatSelection(variable, format) {
  const { values, isAll } = variable;
  // Titles and legends show "All", as Grafana's text format does.
  if (format === 'text') return isAll ? 'All' : values.join(' + ');
  if (isAll && variable.allValue !== undefined && variable.allValue !== null && variable.allValue !== '') {
    // Grafana passes a custom all value through untouched, whatever the format.
    return variable.allValue;
  }
  const list = values;
  switch (format) {
    case undefined:
    case null:
    case '':
      // A single-value variable is only string-escaped (a list of several is joined, as templateSrv joins it).
      if (!variable.multi && !variable.includeAll) return list.map(promRegularEscape).join(',');
      if (list.length === 1) return promRegexEscape(list[0]);
      return '(' + list.map(promRegexEscape).join('|') + ')';
    case 'raw':
    case 'csv':
      return list.join(',');
    case 'pipe':
      return list.join('|');
    case 'regex': {
      const esc = list.map(escapeRegex);
      return esc.length === 1 ? esc[0] : '(' + esc.join('|') + ')';
    }
    case 'glob':
      return list.length === 1 ? list[0] : '{' + list.join(',') + '}';
    case 'json':
      return JSON.stringify(variable.multi || variable.includeAll ? list : list[0]);
    case 'doublequote':
      return list.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',');
    case 'singlequote':
      return list.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
    case 'percentencode':
      return encodeURIComponent(list.length === 1 ? list[0] : `{${list.join(',')}}`);
    default:
      throw new Error(`variable format ":${format}" is not one the preview knows`);
  }
}

function formatMacro(name, value, format) {
  if (format && /^date/.test(format) && (name === '__from' || name === '__to')) {
    const ms = Number(value);
    if (format === 'date:seconds') return String(Math.floor(ms / 1000));
    if (format === 'date' || format === 'date:iso') return new Date(ms).toISOString();
  }
  return value;
}

/**
 * Replaces macros and variables in text. `variables` maps a name to
 * `{ values: string[], isAll, allValue, multi, includeAll }` (All selected:
 * isAll, with values every option); `macros` maps a built-in name (without
 * `$`) to its text. Unknown names are left as written, as Grafana does, so
 * Prometheus reports them; with `strict` they throw instead (a test must not
 * run a query Prometheus could match literally), as do `${var.field}` and a
 * format on a macro other than raw or a date format on $__from/$__to.
 */
export function interpolate(text, { variables = {}, macros = {}, strict = false } = {}) {
  if (typeof text !== 'string') return text;
  return text.replace(VARIABLE_RE, (match, plain, bracket, bracketFmt, braced, fieldPath, fmt) => {
    const name = plain ?? bracket ?? braced;
    const format = bracketFmt ?? fmt;
    if (Object.hasOwn(macros, name)) {
      if (strict && format !== undefined && format !== 'raw' && !(/^date/.test(format) && (name === '__from' || name === '__to'))) {
        throw new Error(`${match} in ${JSON.stringify(text)}: format ":${format}" on a built-in macro`);
      }
      return formatMacro(name, macros[name], format);
    }
    const variable = Object.hasOwn(variables, name) ? variables[name] : undefined;
    if (!variable || fieldPath !== undefined) {
      if (strict) throw new Error(`no value for ${match} in ${JSON.stringify(text)}`);
      return match;
    }
    return formatSelection(variable, format);
  });
}

/** Text for people (panel titles, descriptions): variables in Grafana's text format. */
export function interpolateText(text, scope) {
  if (typeof text !== 'string') return text;
  return text.replace(VARIABLE_RE, (match, plain, bracket, bracketFmt, braced) => {
    const name = plain ?? bracket ?? braced;
    if (scope.macros && name in scope.macros) return scope.macros[name];
    const variable = scope.variables?.[name];
    return variable ? formatSelection(variable, 'text') : match;
  });
}

/** Names of the variables a text refers to (macros included). */
export function referencedNames(text) {
  const names = new Set();
  if (typeof text !== 'string') return names;
  for (const m of text.matchAll(VARIABLE_RE)) names.add(m[1] ?? m[2] ?? m[4]);
  return names;
}

/** Grafana's legend format: {{label}} from the series' labels, variables interpolated. */
export function renderLegend(format, labels, scope) {
  if (!format || format === '__auto') return defaultSeriesName(labels);
  const withVars = interpolate(format, scope);
  return withVars.replace(/\{\{\s*(.+?)\s*\}\}/g, (_m, key) => labels[key] ?? '');
}

/** metric{a="b", c="d"}, as Grafana names a series without a legend format. */
export function defaultSeriesName(labels) {
  const { __name__: name, ...rest } = labels;
  const pairs = Object.keys(rest)
    .sort()
    .map((k) => `${k}="${rest[k]}"`);
  if (pairs.length === 0) return name ?? '{}';
  return `${name ?? ''}{${pairs.join(', ')}}`;
}
