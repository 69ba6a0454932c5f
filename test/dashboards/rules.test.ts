/**
 * The dashboards' answer queries at their edge cases (a counter reset, a
 * feature idle past the staleness window, a version with no data), as
 * deterministic `promtool test rules` golden files in rules/. The goldens'
 * expressions must be the dashboards' own targets after Grafana's expansion,
 * so a changed dashboard query cannot leave a golden testing an old one.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findOnPath } from '../support/agent-process.js';
import { builtinMacros, interpolate } from '../../dashboards/preview/macros.mjs';
import { queryTiming } from '../../dashboards/preview/time-range.mjs';
import { dashboardVariables, loadDashboards, panelTargets } from '../support/dashboards.js';

const RULES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'rules');
const promtool = findOnPath('promtool');
const inCI = process.env.CI === 'true';

/** What the goldens' header comments state: a 1 h range ending at eval_time, a 1 m scrape interval. */
const RANGE_MS = 3_600_000;
const SCRAPE_INTERVAL_MS = 60_000;
const VARIABLES = {
  metric: 'checkout_time_seconds',
  version_a: '1.4',
  version_b: '1.5',
  memory_metric: 'runtime_memory_rss_bytes',
  event: 'feature_used',
  idle_days: '7',
  // The overview dashboard's pickers; none of its panels has a golden, but every target is expanded.
  counter: 'checkout_hits',
  histogram: 'checkout_time_seconds',
};
/** Answer panels (notes/dash-shared.md) every one of whose targets a golden must exercise. */
const ANSWER_PANELS: Record<string, string[]> = {
  'tally-version-compare': [
    'p99: B over A',
    'Percentiles by version',
    'Whole range by version',
    'Rate by version',
    'Outcome share by version',
    'Memory by version',
  ],
  'tally-feature-usage': [
    'Most used features',
    'Every feature: uses and last use',
    'Features unused for ${idle_days} days',
    'Usage over time, top ten',
  ],
};

interface GoldenExpr {
  file: string;
  expr: string;
  evalTimeMs: number;
}

function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`eval_time ${JSON.stringify(text)}: the check reads only one-unit durations`);
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

async function goldenFiles(): Promise<string[]> {
  return (await readdir(RULES_DIR)).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(RULES_DIR, f));
}

async function goldenExprs(): Promise<GoldenExpr[]> {
  const out: GoldenExpr[] = [];
  for (const file of await goldenFiles()) {
    const doc = parse(await readFile(file, 'utf8')) as { tests?: Array<{ promql_expr_test?: Array<{ expr: string; eval_time: string }> }> };
    for (const t of doc.tests ?? []) {
      for (const e of t.promql_expr_test ?? []) out.push({ file, expr: e.expr, evalTimeMs: durationMs(e.eval_time) });
    }
  }
  return out;
}

/** Every dashboard target expanded for a range ending at the given time, keyed by expression. */
function expandedTargets(evalTimeMs: number): Map<string, string[]> {
  const byExpr = new Map<string, string[]>();
  for (const { json } of loadDashboards()) {
    const variables = dashboardVariables(json, VARIABLES);
    const macros = builtinMacros(queryTiming({ fromMs: evalTimeMs - RANGE_MS, toMs: evalTimeMs, scrapeIntervalMs: SCRAPE_INTERVAL_MS }));
    for (const { panel, target } of panelTargets(json)) {
      const expr = interpolate(String(target.expr), { variables, macros, strict: true });
      const where = `${json.uid} "${panel.title}" ${target.refId}`;
      byExpr.set(expr, [...(byExpr.get(expr) ?? []), where]);
    }
  }
  return byExpr;
}

function runPromtool(file: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(promtool!, ['test', 'rules', file], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

describe('the test environment', () => {
  it.runIf(!promtool && inCI)('has promtool on PATH in CI', () => {
    throw new Error('`promtool` is not on PATH, and CI=true requires it (Debian package prometheus)');
  });
});

if (!promtool && !inCI) console.warn('\n*** `promtool` is not on PATH: SKIPPING the dashboard golden tests (CI requires it). ***\n');

describe('dashboard answer queries: promtool golden tests', () => {
  it('every golden expression is a dashboard target as Grafana expands it', async () => {
    const goldens = await goldenExprs();
    expect(goldens.length).toBeGreaterThan(0);
    for (const g of goldens) {
      const targets = expandedTargets(g.evalTimeMs);
      expect(targets.has(g.expr), `${g.file}: no dashboard target expands to\n  ${g.expr}\nthe dashboards' targets expand to:\n  ${[...targets.keys()].join('\n  ')}`).toBe(true);
    }
  });

  it('every target of every answer panel has a golden', async () => {
    const covered = new Set((await goldenExprs()).flatMap((g) => expandedTargets(g.evalTimeMs).get(g.expr) ?? []));
    for (const { json } of loadDashboards()) {
      for (const title of ANSWER_PANELS[json.uid] ?? []) {
        const pairs = panelTargets(json).filter((p) => p.panel.title === title);
        expect(pairs.length, `${json.uid} has no panel "${title}"`).toBeGreaterThan(0);
        for (const { panel, target } of pairs) {
          expect(covered.has(`${json.uid} "${panel.title}" ${target.refId}`), `${json.uid} "${title}" ${target.refId} has no golden`).toBe(true);
        }
      }
    }
  });

  it.skipIf(!promtool).each(['feature-usage.yaml', 'version-compare.yaml'])('promtool test rules %s passes', async (name) => {
    const files = (await goldenFiles()).map((f) => f.slice(RULES_DIR.length + 1));
    expect(files).toContain(name);
    const { code, output } = await runPromtool(join(RULES_DIR, name));
    expect(code, output).toBe(0);
    expect(output).toMatch(/SUCCESS/);
  });

  it.skipIf(!promtool)('a golden with a wrong answer fails (promtool\'s verdict is read, not assumed)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tally-golden-'));
    try {
      const text = await readFile(join(RULES_DIR, 'version-compare.yaml'), 'utf8');
      // B's p99 over A's claimed to be 2 instead of 1.5.
      const wrong = text.replace('value: 1.4999999999999998', 'value: 2');
      expect(wrong).not.toBe(text);
      const file = join(dir, 'wrong.yaml');
      await writeFile(file, wrong);
      const { code, output } = await runPromtool(file);
      expect(code).not.toBe(0);
      expect(output).toMatch(/FAILED/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
