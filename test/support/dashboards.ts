/**
 * The shipped dashboard JSON files and a walk over their panels and targets,
 * shared by the static proofs, the end-to-end runs and the preview tests so
 * they all see the same list of files and the same panels; and the variable
 * values those tests expand the queries with (the expansion itself is the
 * preview's, dashboards/preview/macros.mjs).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { interpolate, type VariableSelection } from '../../dashboards/preview/macros.mjs';
import { customOptions } from '../../dashboards/preview/variables.mjs';
import { ROOT } from './agent-process.js';

export const DASHBOARDS_DIR = join(ROOT, 'dashboards');

/** Absolute paths of the four generated dashboards, in a fixed order. */
export const DASHBOARD_FILES: string[] = [
  'tally-agent.json',
  'app-overview.json',
  'version-compare.json',
  'feature-usage.json',
].map((name) => join(DASHBOARDS_DIR, name));

/** Parses every shipped dashboard; a missing or malformed file throws naming it. */
export function loadDashboards(): Array<{ file: string; json: any }> {
  return DASHBOARD_FILES.map((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`dashboard ${file} cannot be read (run npm run dashboards): ${(err as Error).message}`);
    }
    try {
      return { file, json: JSON.parse(text) };
    } catch (err) {
      throw new Error(`dashboard ${file} is not JSON: ${(err as Error).message}`);
    }
  });
}

/** Every panel, including the panels nested in rows (collapsed or not). */
export function allPanels(json: any): any[] {
  const out: any[] = [];
  for (const panel of json?.panels ?? []) {
    if (panel?.type === 'row') {
      out.push(panel);
      for (const nested of panel.panels ?? []) out.push(nested);
    } else {
      out.push(panel);
    }
  }
  return out;
}

/**
 * Every panel (rows' nested panels included, rows themselves excluded since
 * they carry no queries) paired with each of its targets. A panel without
 * targets yields no pair; use allPanels to see it.
 */
export function panelTargets(json: any): Array<{ panel: any; target: any }> {
  const out: Array<{ panel: any; target: any }> = [];
  for (const panel of allPanels(json)) {
    if (panel?.type === 'row') continue;
    for (const target of panel.targets ?? []) out.push({ panel, target });
  }
  return out;
}

/**
 * Values Grafana's macros stand for when a query is only parsed, not run.
 * Each is a distinct duration so a parsed range selector still tells which
 * macro it was written with.
 */
export const MACRO_PLACEHOLDERS: Record<string, string> = {
  __rate_interval: '1111s',
  __range: '2222s',
  __interval: '3333s',
};

export const MACRO_OF_DURATION: Record<string, string> = Object.fromEntries(
  Object.entries(MACRO_PLACEHOLDERS).map(([macro, duration]) => [duration, `$${macro}`]),
);

/** Variables Grafana defines itself (https://grafana.com/docs/grafana/latest/dashboards/variables/add-template-variables/#global-variables). */
export const GRAFANA_BUILTINS = new Set([
  '__rate_interval',
  '__rate_interval_ms',
  '__range',
  '__range_s',
  '__range_ms',
  '__interval',
  '__interval_ms',
  '__from',
  '__to',
  '__all',
  '__dashboard',
  '__name',
  '__org',
  '__user',
  '__timezone',
]);

/**
 * A query ready to be parsed: macros as their placeholder durations and
 * variables as given, expanded as Grafana expands them; a variable without a
 * value throws, naming it.
 */
export function expandForParsing(text: string, variables: Record<string, VariableSelection>): string {
  return interpolate(text, { variables, macros: MACRO_PLACEHOLDERS, strict: true });
}

/**
 * A value for every variable of a dashboard, for parsing its queries: the
 * given names for the metric-name variables (so the expanded query names real
 * series), the selected or first option of custom variables, and an
 * identifier-shaped placeholder for label filters (they sit inside strings).
 */
export function variableValues(json: any, metricNames: Record<string, string>): Record<string, VariableSelection> {
  const out: Record<string, VariableSelection> = {};
  for (const v of json?.templating?.list ?? []) {
    let value: string;
    if (metricNames[v.name] !== undefined) value = metricNames[v.name]!;
    else if (v.type === 'custom') value = String(v.current?.value ?? customOptions(v)[0]).trim();
    else value = `placeholder_${v.name}`;
    out[v.name] = { values: [value], multi: Boolean(v.multi), includeAll: Boolean(v.includeAll) };
  }
  return out;
}

/**
 * The variables of a dashboard's `templating.list` as a run of its queries
 * selects them: the override given (a value, a list, or 'All'), or else All
 * where the variable offers it, or else its current value. All without an
 * allValue stands for every option, so it needs options to expand.
 */
export function dashboardVariables(
  dashboard: { templating?: { list?: Array<Record<string, any>> } },
  overrides: Record<string, string | string[]>,
): Record<string, VariableSelection> {
  const out: Record<string, VariableSelection> = {};
  for (const v of dashboard.templating?.list ?? []) {
    const name = String(v.name);
    const options = v.type === 'custom' ? customOptions(v) : Array.isArray(v.options) ? v.options.map((o: any) => String(o.value)) : [];
    const base = { multi: Boolean(v.multi), includeAll: Boolean(v.includeAll), allValue: v.allValue ?? undefined };
    const all = (): VariableSelection => {
      if (!v.includeAll) throw new Error(`variable ${name} offers no All`);
      if ((base.allValue === undefined || base.allValue === '') && options.length === 0)
        throw new Error(`variable ${name}: All is selected but the variable has neither allValue nor options`);
      return { ...base, values: options, isAll: true };
    };
    const over = overrides[name];
    if (over !== undefined) {
      out[name] = over === 'All' ? all() : { ...base, values: Array.isArray(over) ? over : [over] };
      continue;
    }
    if (v.type === 'datasource') {
      // Only ever used as a target's datasource, never inside an expr; the harness picks the backend itself.
      out[name] = { ...base, values: [String(v.current?.value ?? v.query ?? 'prometheus')] };
      continue;
    }
    if (v.includeAll) {
      out[name] = all();
      continue;
    }
    const current = v.current?.value;
    const values = Array.isArray(current) ? current.map(String) : current !== undefined ? [String(current)] : [];
    if (values.length === 0 || values.includes('$__all')) {
      throw new Error(`variable ${name} has no current value and no override`);
    }
    out[name] = { ...base, values };
  }
  return out;
}
