/**
 * Grafana dashboard-linter's rules, and a few of Tally's own, as tests over
 * every shipped dashboard. Each rule is a function returning its violations,
 * run on the dashboards (none expected) and on a broken example (some
 * expected), so a rule that cannot fail would show.
 *
 * Range rule, exactly: every range selector's duration is a Grafana macro,
 * never a literal. Inside rate() and irate() it is $__rate_interval. Inside
 * increase() it is $__rate_interval, or $__range when the target is instant
 * or the selector is pinned with `@ end()` (a total over the dashboard
 * range). Inside *_over_time() it is $__range, $__rate_interval or
 * $__interval. No subqueries.
 */
import * as units from '@grafana/grafana-foundation-sdk/units';
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { referencedNames } from '../../dashboards/preview/macros.mjs';
import {
  GRAFANA_BUILTINS,
  MACRO_OF_DURATION,
  allPanels,
  expandForParsing,
  loadDashboards,
  panelTargets,
  variableValues,
} from '../support/dashboards.js';

/** lezer's syntax node, named through the parser so no transitive package is imported. */
type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

const PANEL_TYPES = new Set(['timeseries', 'stat', 'table', 'bargauge']);
const INSTANT_TYPES = new Set(['stat', 'table', 'bargauge']);
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const COUNTER_SUFFIX = /_(total|bucket|count|sum)$/;
const UIDS: Record<string, string> = {
  'tally-agent.json': 'tally-agent',
  'app-overview.json': 'tally-app-overview',
  'version-compare.json': 'tally-version-compare',
  'feature-usage.json': 'tally-feature-usage',
};
const KNOWN_UNITS = new Set<string>(Object.values(units as Record<string, unknown>).filter((v): v is string => typeof v === 'string'));
/** Names for the metric-name variables when a query is only parsed. */
const PARSE_NAMES = {
  counter: 'app_counter',
  histogram: 'app_histogram_seconds',
  metric: 'app_histogram_seconds',
  event: 'app_event',
  memory_metric: 'app_memory_bytes',
};

type Violation = string;
const text = (expr: string, n: SyntaxNode): string => expr.slice(n.from, n.to);

function nodes(root: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  const cursor = root.cursor();
  do out.push(cursor.node);
  while (cursor.next());
  return out;
}

/** The function a range selector is the argument of (through `@`/offset wrappers), or null. */
function enclosingFunction(expr: string, matrix: SyntaxNode): string | null {
  let p = matrix.parent;
  while (p && (p.name === 'StepInvariantExpr' || p.name === 'OffsetExpr')) p = p.parent;
  if (p?.name !== 'FunctionCallBody') return null;
  const call = p.parent;
  const id = call?.getChild('FunctionIdentifier');
  return id ? text(expr, id) : null;
}

function parseExpanded(expr: string, json: any): { expr: string; root: SyntaxNode; errors: string[] } {
  const expanded = expandForParsing(expr, variableValues(json, PARSE_NAMES));
  const root = parser.parse(expanded).topNode;
  const errors = nodes(root)
    .filter((n) => n.type.isError)
    .map((n) => `parse error at ${n.from}: ${JSON.stringify(expanded.slice(Math.max(0, n.from - 20), n.to + 20))}`);
  return { expr: expanded, root, errors };
}

// ---- the rules ---------------------------------------------------------------

function uniqueIds(json: any): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<number>();
  for (const p of allPanels(json)) {
    if (typeof p.id !== 'number') out.push(`panel "${p.title}" has no numeric id`);
    else if (seen.has(p.id)) out.push(`panel id ${p.id} used twice`);
    seen.add(p.id);
    const refIds = (p.targets ?? []).map((t: any) => t.refId);
    if (new Set(refIds).size !== refIds.length || refIds.some((r: unknown) => typeof r !== 'string' || r === ''))
      out.push(`panel ${p.id}: refIds not unique and set: ${JSON.stringify(refIds)}`);
  }
  return out;
}

function variablesDefined(json: any): Violation[] {
  const defined = new Set<string>((json.templating?.list ?? []).map((v: any) => v.name));
  const out: Violation[] = [];
  const check = (where: string, s: unknown) => {
    if (typeof s !== 'string') return;
    for (const name of referencedNames(s)) if (!defined.has(name) && !GRAFANA_BUILTINS.has(name)) out.push(`${where}: $${name} is not defined`);
  };
  for (const v of json.templating?.list ?? []) {
    check(`variable ${v.name} query`, typeof v.query === 'string' ? v.query : v.query?.query);
    check(`variable ${v.name} definition`, v.definition);
  }
  for (const p of allPanels(json)) {
    check(`panel ${p.id} title`, p.title);
    check(`panel ${p.id} description`, p.description);
    for (const t of p.targets ?? []) {
      check(`panel ${p.id} ${t.refId} expr`, t.expr);
      check(`panel ${p.id} ${t.refId} legend`, t.legendFormat);
    }
  }
  return out;
}

function onDatasourceVariable(json: any): Violation[] {
  const out: Violation[] = [];
  const ds = (json.templating?.list ?? []).find((v: any) => v.name === 'datasource');
  if (ds?.type !== 'datasource' || ds?.query !== 'prometheus') out.push('no datasource variable of type prometheus');
  for (const v of json.templating?.list ?? []) {
    if (v.type === 'query' && JSON.stringify(v.datasource) !== JSON.stringify(DATASOURCE)) out.push(`variable ${v.name} is not on \${datasource}`);
  }
  for (const p of allPanels(json)) {
    if (p.type === 'row') continue;
    if (JSON.stringify(p.datasource) !== JSON.stringify(DATASOURCE)) out.push(`panel ${p.id} is not on \${datasource}`);
    for (const t of p.targets ?? [])
      if (JSON.stringify(t.datasource) !== JSON.stringify(DATASOURCE)) out.push(`panel ${p.id} target ${t.refId} is not on \${datasource}`);
  }
  return out;
}

function multiValueVariables(json: any): Violation[] {
  const out: Violation[] = [];
  const multi = (json.templating?.list ?? []).filter((v: any) => v.multi || v.includeAll);
  for (const v of multi) if (v.allValue !== '.*') out.push(`variable ${v.name}: multi-value/All without allValue ".*"`);
  const exprs: Array<[string, string]> = [];
  for (const { panel, target } of panelTargets(json)) exprs.push([`panel ${panel.id} ${target.refId}`, target.expr]);
  for (const v of json.templating?.list ?? []) if (typeof v.query === 'string') exprs.push([`variable ${v.name}`, v.query]);
  for (const [where, expr] of exprs) {
    for (const v of multi) {
      const use = new RegExp(`(\\w+)\\s*(=~|!~|=|!=)\\s*"[^"]*\\$(\\{${v.name}\\}|${v.name}\\b)`, 'g');
      for (const m of expr.matchAll(use)) if (m[2] !== '=~') out.push(`${where}: multi-value $${v.name} used with ${m[2]} (needs =~)`);
    }
  }
  return out;
}

function rangesUseMacros(json: any): Violation[] {
  const out: Violation[] = [];
  for (const { panel, target } of panelTargets(json)) {
    const where = `panel ${panel.id} "${panel.title}" ${target.refId}`;
    const { expr, root } = parseExpanded(target.expr, json);
    for (const n of nodes(root)) {
      if (n.name === 'SubqueryExpr') out.push(`${where}: subquery ${text(expr, n)}`);
      if (n.name !== 'MatrixSelector') continue;
      const durationNode = n.getChild('DurationExpr');
      const duration = durationNode ? text(expr, durationNode) : '';
      const macro = MACRO_OF_DURATION[duration];
      const fn = enclosingFunction(expr, n);
      const pinned = n.parent?.name === 'StepInvariantExpr' && /@\s*end\(\)/.test(text(expr, n.parent));
      if (!macro) {
        out.push(`${where}: range [${duration}] is a literal, not a Grafana macro`);
        continue;
      }
      if (fn === 'rate' || fn === 'irate') {
        if (macro !== '$__rate_interval') out.push(`${where}: ${fn} over ${macro}, not $__rate_interval`);
      } else if (fn === 'increase') {
        if (macro === '$__range' ? !(target.instant === true || pinned) : macro !== '$__rate_interval')
          out.push(`${where}: increase over ${macro} (only $__rate_interval, or $__range in an instant query or with @ end())`);
      } else if (fn !== null && fn.endsWith('_over_time')) {
        if (!['$__range', '$__rate_interval', '$__interval'].includes(macro)) out.push(`${where}: ${fn} over ${macro}`);
      } else {
        out.push(`${where}: range selector inside ${fn ?? 'no function'}`);
      }
    }
  }
  return out;
}

function histogramQuantileKeepsLe(json: any): Violation[] {
  const out: Violation[] = [];
  for (const { panel, target } of panelTargets(json)) {
    const where = `panel ${panel.id} ${target.refId}`;
    const { expr, root } = parseExpanded(target.expr, json);
    for (const n of nodes(root)) {
      if (n.name !== 'FunctionCall' || text(expr, n.getChild('FunctionIdentifier')!) !== 'histogram_quantile') continue;
      const args = n.getChild('FunctionCallBody')!;
      const inner = args.getChildren('AggregateExpr')[0] ?? args.lastChild;
      const modifier = inner?.name === 'AggregateExpr' ? inner.getChild('AggregateModifier') : null;
      const by = modifier?.getChild('By') ? modifier.getChild('GroupingLabels')!.getChildren('LabelName').map((l) => text(expr, l)) : null;
      if (!by) out.push(`${where}: histogram_quantile over ${text(expr, inner ?? args)} has no aggregation "by (le, ...)"`);
      else if (!by.includes('le')) out.push(`${where}: histogram_quantile aggregates by (${by.join(', ')}) without le`);
    }
  }
  return out;
}

function countersOnlyInRate(json: any): Violation[] {
  const out: Violation[] = [];
  for (const { panel, target } of panelTargets(json)) {
    const where = `panel ${panel.id} ${target.refId}`;
    const { expr, root } = parseExpanded(target.expr, json);
    for (const n of nodes(root)) {
      if (n.name !== 'VectorSelector') continue;
      const id = n.getChild('Identifier');
      const name = id ? text(expr, id) : '';
      if (!COUNTER_SUFFIX.test(name)) continue;
      const fn = n.parent?.name === 'MatrixSelector' ? enclosingFunction(expr, n.parent) : null;
      if (fn !== 'rate' && fn !== 'irate' && fn !== 'increase') out.push(`${where}: counter ${name} used outside rate/irate/increase`);
    }
  }
  return out;
}

function instantWhereNeeded(json: any): Violation[] {
  const out: Violation[] = [];
  for (const { panel, target } of panelTargets(json)) {
    const instant = INSTANT_TYPES.has(panel.type);
    if (target.instant !== instant || target.range !== !instant)
      out.push(`panel ${panel.id} (${panel.type}) ${target.refId}: instant=${target.instant} range=${target.range}`);
  }
  return out;
}

function panelBasics(json: any): Violation[] {
  const out: Violation[] = [];
  for (const p of allPanels(json)) {
    if (p.type === 'row') {
      if (p.targets?.length) out.push(`row ${p.id} has targets`);
      continue;
    }
    if (!PANEL_TYPES.has(p.type)) out.push(`panel ${p.id} "${p.title}": type ${p.type} is not one of ${[...PANEL_TYPES].join(', ')}`);
    if (!p.title?.trim()) out.push(`panel ${p.id} has no title`);
    if (!p.description?.trim()) out.push(`panel ${p.id} "${p.title}" has no description`);
    const unit = p.fieldConfig?.defaults?.unit;
    if (!unit) out.push(`panel ${p.id} "${p.title}" has no unit`);
    else if (!KNOWN_UNITS.has(unit)) out.push(`panel ${p.id} "${p.title}": unit ${unit} is not a Grafana unit`);
    if (!p.targets?.length) out.push(`panel ${p.id} "${p.title}" has no targets`);
    for (const t of p.targets ?? []) if (!t.expr?.trim()) out.push(`panel ${p.id} ${t.refId} has no expr`);
  }
  return out;
}

/**
 * dashboard-linter's template-job/instance and target-job/instance rules (and
 * service/env on the application dashboards): the filter variables exist as
 * multi-value query variables refreshed on time range change, and every
 * selector of every target applies them.
 */
function filtersApplied(json: any): Violation[] {
  const out: Violation[] = [];
  const vars = new Map<string, any>((json.templating?.list ?? []).map((v: any) => [v.name, v]));
  const filters = ['job', 'instance', ...(json.uid === 'tally-agent' ? [] : ['service', 'env'])];
  for (const name of filters) {
    const v = vars.get(name);
    if (!v) out.push(`no $${name} variable`);
    else if (v.type !== 'query' || !v.multi || !v.includeAll) out.push(`$${name} is not a multi-value query variable with All`);
  }
  for (const v of vars.values())
    if (v.type === 'query' && v.refresh !== 2) out.push(`variable ${v.name} is not refreshed on time range change`);
  for (const { panel, target } of panelTargets(json)) {
    const { expr, root } = parseExpanded(target.expr, json);
    for (const n of nodes(root)) {
      if (n.name !== 'VectorSelector') continue;
      const matchers = n.getChild('LabelMatchers');
      const have = matchers ? text(expr, matchers) : '';
      for (const name of filters)
        if (!have.includes(`${name}=~"placeholder_${name}"`)) out.push(`panel ${panel.id} ${target.refId}: ${text(expr, n)} lacks ${name}=~"$${name}"`);
    }
  }
  return out;
}

function layout(json: any): Violation[] {
  const out: Violation[] = [];
  const cells = new Map<string, number>();
  for (const p of allPanels(json)) {
    const g = p.gridPos;
    if (!g || ![g.x, g.y, g.w, g.h].every((v) => Number.isInteger(v) && v >= 0) || g.w === 0 || g.h === 0) {
      out.push(`panel ${p.id}: bad gridPos ${JSON.stringify(g)}`);
      continue;
    }
    if (g.x + g.w > 24) out.push(`panel ${p.id}: wider than the grid`);
    for (let x = g.x; x < g.x + g.w; x++)
      for (let y = g.y; y < g.y + g.h; y++) {
        const other = cells.get(`${x},${y}`);
        if (other !== undefined) out.push(`panel ${p.id} overlaps panel ${other} at ${x},${y}`);
        cells.set(`${x},${y}`, p.id);
      }
  }
  return [...new Set(out)];
}

const RULES: Record<string, (json: any) => Violation[]> = {
  'unique panel ids and refIds': uniqueIds,
  'every variable defined': variablesDefined,
  'every panel, target and query variable on ${datasource}': onDatasourceVariable,
  'multi-value variables have allValue .* and are matched with =~': multiValueVariables,
  'range selectors use Grafana macros ($__rate_interval for rate/irate)': rangesUseMacros,
  'histogram_quantile keeps le in by': histogramQuantileKeepsLe,
  'counters only inside rate/irate/increase': countersOnlyInRate,
  'stat/table/bargauge targets instant, timeseries targets range': instantWhereNeeded,
  'known panel types, titles, descriptions, units, targets': panelBasics,
  'gridPos inside the grid, no overlaps': layout,
  'job/instance (and service/env) variables applied to every selector': filtersApplied,
};

// ---- a dashboard that breaks every rule ----------------------------------------

function brokenDashboard(): any {
  const ds = DATASOURCE;
  return {
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus' },
        { name: 'job', type: 'query', multi: true, includeAll: true, datasource: { uid: 'prom' }, query: 'label_values(job)' },
      ],
    },
    panels: [
      {
        id: 1,
        type: 'timeseries',
        title: 'Broken $nope',
        datasource: ds,
        gridPos: { x: 0, y: 0, w: 12, h: 8 },
        fieldConfig: { defaults: {} },
        targets: [
          { refId: 'A', datasource: ds, instant: true, range: false, expr: 'rate(a_total{job="$job"}[5m])' },
          { refId: 'A', datasource: { uid: 'prom' }, range: true, instant: false, expr: 'irate(b_total[$__range]) + c_total' },
          { refId: 'C', datasource: ds, range: true, instant: false, expr: 'histogram_quantile(0.9, sum by (job) (rate(d_bucket[$__rate_interval])))' },
          { refId: 'D', datasource: ds, range: true, instant: false, expr: 'increase(e_total[$__range]) + max_over_time(f[10m:1m])' },
        ],
      },
      {
        id: 1,
        type: 'stat',
        title: 'Overlaps',
        description: 'x',
        datasource: { uid: 'other' },
        gridPos: { x: 6, y: 4, w: 20, h: 4 },
        fieldConfig: { defaults: { unit: 'furlongs' } },
        targets: [{ refId: 'A', datasource: ds, range: true, instant: false, expr: 'sum(g)' }],
      },
      {
        id: 3,
        type: 'piechart',
        title: 'Pie',
        description: 'x',
        datasource: ds,
        gridPos: { x: 0, y: 20, w: 6, h: 4 },
        fieldConfig: { defaults: { unit: 'short' } },
        targets: [{ refId: 'A', datasource: ds, range: true, instant: false, expr: 'histogram_quantile(0.5, rate(h_bucket[$__rate_interval]))' }],
      },
    ],
  };
}

describe('dashboard lint', () => {
  const dashboards = loadDashboards();

  it('ships the four dashboards with their fixed uids', () => {
    expect(dashboards.map((d) => d.file.slice(d.file.lastIndexOf('/') + 1))).toEqual(Object.keys(UIDS));
    for (const { file, json } of dashboards) expect(json.uid).toBe(UIDS[file.slice(file.lastIndexOf('/') + 1)]);
  });

  for (const [rule, check] of Object.entries(RULES)) {
    for (const { file, json } of dashboards) {
      it(`${file.slice(file.lastIndexOf('/') + 1)}: ${rule}`, () => {
        expect(check(json)).toEqual([]);
      });
    }
    it(`${rule}: catches the broken example`, () => {
      expect(check(brokenDashboard()).length).toBeGreaterThan(0);
    });
  }

  it('the broken example is caught for the reasons it was broken', () => {
    const all = Object.values(RULES).flatMap((check) => check(brokenDashboard()));
    const expected = [
      /panel id 1 used twice/,
      /refIds not unique/,
      /\$nope is not defined/,
      /variable job is not on/,
      /multi-value \$job used with =/,
      /range \[5m\] is a literal/,
      /irate over \$__range/,
      /increase over \$__range/,
      /subquery/,
      /aggregates by \(job\) without le/,
      /histogram_quantile over .* has no aggregation/,
      /counter c_total used outside/,
      /instant=true range=false/,
      /\(stat\) A: instant=false/,
      /type piechart is not one of/,
      /unit furlongs is not a Grafana unit/,
      /panel 1 "Broken \$nope" has no unit/,
      /has no description/,
      /wider than the grid/,
      /overlaps panel 1/,
      /no \$instance variable/,
      /variable job is not refreshed/,
      /g lacks job/,
    ];
    for (const re of expected) expect(all.some((v) => re.test(v)), `${re} among\n${all.join('\n')}`).toBe(true);
  });

  it('every panel lives in a row, and rows are in order', () => {
    for (const { json } of dashboards) {
      expect(json.panels[0].type).toBe('row');
      const ys = json.panels.map((p: any) => p.gridPos.y);
      expect([...ys].sort((a, b) => a - b)).toEqual(ys);
    }
  });
});
