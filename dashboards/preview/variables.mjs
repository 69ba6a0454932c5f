// Concrete values for a dashboard's template variables: from the command
// line, else the saved current value, else what the variable's query finds
// in Prometheus (the first value, or All where the variable offers it).

import { interpolate, referencedNames } from './macros.mjs';

const ALL = '$__all';

function asList(v) {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

function queryText(variable) {
  const q = variable.query;
  if (typeof q === 'string') return q;
  if (q && typeof q === 'object' && typeof q.query === 'string') return q.query;
  return typeof variable.definition === 'string' ? variable.definition : '';
}

/** A custom variable's option values: its saved options, else its query in Grafana's syntax ("a,b" or "Label : value" entries). */
export function customOptions(variable) {
  if (Array.isArray(variable.options) && variable.options.length > 0) {
    return variable.options.map((o) => String(o.value)).filter((v) => v !== ALL);
  }
  return queryText(variable)
    .split(/(?<!\\),/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^(.*?)\s+:\s+(.*)$/.exec(s);
      return (m ? m[2] : s).replace(/\\,/g, ',');
    });
}

function applyRegex(values, regex) {
  if (!regex) return values;
  const m = /^\/(.*)\/([gimsuy]*)$/.exec(regex);
  const re = m ? new RegExp(m[1], m[2].replace('g', '')) : new RegExp(regex);
  const out = [];
  for (const v of values) {
    const hit = re.exec(v);
    if (!hit) continue;
    out.push(hit.groups?.value ?? hit[1] ?? v);
  }
  return out;
}

function sortValues(values, sort) {
  const out = [...new Set(values)];
  switch (sort) {
    case 1:
      return out.sort();
    case 2:
      return out.sort().reverse();
    case 3:
      return out.sort((a, b) => parseFloat(a) - parseFloat(b));
    case 4:
      return out.sort((a, b) => parseFloat(b) - parseFloat(a));
    case 5:
      return out.sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
    case 6:
      return out.sort((a, b) => b.toLowerCase().localeCompare(a.toLowerCase()));
    case 7:
      return out.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    case 8:
      return out.sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
    default:
      return out;
  }
}

/** Runs a Prometheus variable query (label_values, label_names, metrics, query_result). */
async function runVariableQuery(prom, text, range) {
  const { fromMs, toMs } = range;
  let m;
  if ((m = /^\s*label_names\(\s*(.*?)\s*\)\s*$/s.exec(text))) {
    return labelNames(prom, m[1], fromMs, toMs);
  }
  if ((m = /^\s*label_values\(\s*(?:(.*)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s.exec(text))) {
    const selector = m[1]?.trim();
    return prom.labelValues(m[2], selector ? [selector] : [], fromMs, toMs);
  }
  if ((m = /^\s*metrics\(\s*(.*?)\s*\)\s*$/s.exec(text))) {
    const names = await prom.labelValues('__name__', [], fromMs, toMs);
    const re = new RegExp(m[1] || '.*');
    return names.filter((n) => re.test(n));
  }
  if ((m = /^\s*query_result\(\s*(.*)\s*\)\s*$/s.exec(text))) {
    const { data } = await prom.query(m[1], toMs);
    const rows = data.resultType === 'vector' ? data.result : [];
    return rows.map((r) => {
      const { __name__: name, ...labels } = r.metric;
      const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
      return `${name ?? ''}{${pairs.join(',')}} ${r.value[1]} ${r.value[0] * 1000}`;
    });
  }
  throw new Error(`variable query ${JSON.stringify(text)} is not one the preview knows (label_values, label_names, metrics, query_result)`);
}

async function labelNames(prom, selector, fromMs, toMs) {
  if (!selector) {
    const series = await prom.series(['{__name__=~".+"}'], fromMs, toMs);
    return [...new Set(series.flatMap((s) => Object.keys(s)))].filter((k) => k !== '__name__');
  }
  const series = await prom.series([selector], fromMs, toMs);
  return [...new Set(series.flatMap((s) => Object.keys(s)))].filter((k) => k !== '__name__');
}

function selectionFrom(variable, values, note) {
  // "All" on the command line means the All option unless some real value is called that.
  const isAll = values.includes(ALL) || (values.includes('All') && variable.includeAll && !variable.__options?.includes('All'));
  return {
    name: variable.name,
    multi: Boolean(variable.multi),
    includeAll: Boolean(variable.includeAll),
    allValue: variable.allValue ?? undefined,
    isAll,
    values: isAll ? (variable.__options ?? []) : values,
    note,
  };
}

/**
 * Resolves every variable in `templating.list`. `overrides` maps a name to the
 * values given on the command line. Returns `{ variables, problems }`:
 * variables keyed by name for interpolate(), problems as readable sentences.
 */
export async function resolveVariables(dashboard, { prom, range, overrides = {}, macros = {} }) {
  const list = (dashboard.templating?.list ?? []).filter((v) => v && typeof v.name === 'string');
  const variables = {};
  const problems = [];
  const pending = new Map(list.map((v) => [v.name, v]));
  // A query may name variables defined after it; resolve in dependency order.
  while (pending.size > 0) {
    const ready = [...pending.values()].find((v) =>
      [...referencedNames(queryText(v))].every((n) => !pending.has(n) || n === v.name),
    );
    const variable = ready ?? pending.values().next().value;
    pending.delete(variable.name);
    try {
      variables[variable.name] = await resolveOne(variable, { prom, range, overrides, variables, macros });
    } catch (err) {
      problems.push(`variable ${variable.name}: ${err.message}`);
      variables[variable.name] = selectionFrom(variable, [], 'no value');
    }
    const note = variables[variable.name].note;
    if (note && /^no /.test(note)) problems.push(`variable ${variable.name}: ${note}`);
  }
  return { variables, problems };
}

async function resolveOne(variable, { prom, range, overrides, variables, macros }) {
  const type = variable.type ?? 'query';
  let options;
  if (type === 'query') {
    const text = interpolate(queryText(variable), { variables, macros });
    options = sortValues(applyRegex(await runVariableQuery(prom, text, range), variable.regex), variable.sort);
  } else if (type === 'custom' || type === 'interval') {
    options = customOptions(variable);
  } else if (type === 'constant' || type === 'textbox') {
    options = asList(queryText(variable) || variable.current?.value);
  } else if (type === 'datasource') {
    options = asList(variable.current?.value ?? 'prometheus');
  } else {
    options = [];
  }
  const withOptions = { ...variable, __options: options };

  if (Object.hasOwn(overrides, variable.name)) {
    return selectionFrom(withOptions, overrides[variable.name], 'from --var');
  }
  const current = asList(variable.current?.value).filter((v) => v !== '');
  if (current.length > 0) {
    const known = current.includes(ALL) || type !== 'query' || current.every((v) => options.includes(v));
    if (known) return selectionFrom(withOptions, current, 'saved value');
  }
  if (variable.includeAll) return selectionFrom(withOptions, [ALL], 'All');
  if (options.length > 0) return selectionFrom(withOptions, [options[0]], 'first value found');
  if (current.length > 0) return selectionFrom(withOptions, current, 'saved value (query found none)');
  return selectionFrom(withOptions, [], 'no value: its query found nothing');
}
