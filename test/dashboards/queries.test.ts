/**
 * Every query of every shipped dashboard (panel targets and query variables)
 * parses with Prometheus' own PromQL grammar (@prometheus-io/lezer-promql),
 * and every metric name a panel query uses is one the agent exports: the
 * names are read from a real agent's /metrics after a workload that makes
 * every family appear, never from a hand-written list.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath, freeTcpPort, startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import type { VariableSelection } from '../../dashboards/preview/macros.mjs';
import { expandForParsing, loadDashboards, panelTargets, variableValues } from '../support/dashboards.js';
import { parsePromText, sumSamples } from '../support/prom-text.js';

/** lezer's syntax node, named through the parser so no transitive package is imported. */
type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

/** What the workload below sends, by the exported names the variables take. */
const WORKLOAD_NAMES = {
  counter: 'checkout_hits',
  histogram: 'checkout_time_seconds',
  metric: 'checkout_time_seconds',
  event: 'feature_used',
  memory_metric: 'runtime_memory_rss_bytes',
};
const TAGS = 'service:shop,version:1.4.0,env:prod';
const promtool = findOnPath('promtool');
const inCI = process.env.CI === 'true';
if (!promtool && !inCI) console.warn('`promtool` is not on PATH: SKIPPING the check of the dashboard queries with Prometheus 2.42\'s own parser.');

interface Parsed {
  expanded: string;
  errors: string[];
  metricNames: string[];
}

function parseQuery(expr: string, values: Record<string, VariableSelection>): Parsed {
  const expanded = expandForParsing(expr, values);
  const tree = parser.parse(expanded);
  const errors: string[] = [];
  const metricNames = new Set<string>();
  const cursor = tree.cursor();
  do {
    const n: SyntaxNode = cursor.node;
    if (n.type.isError) errors.push(`error node at ${n.from}: …${expanded.slice(Math.max(0, n.from - 25), n.from + 25)}…`);
    if (n.name === 'VectorSelector') {
      const id = n.getChild('Identifier');
      if (id) metricNames.add(expanded.slice(id.from, id.to));
      // {__name__="x"} names a metric as surely as x{} does; a regex names none.
      for (const m of n.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []) {
        const label = m.getChild('LabelName');
        const op = m.getChild('MatchOp');
        const value = m.getChild('StringLiteral');
        if (label && op && value && expanded.slice(label.from, label.to) === '__name__' && expanded.slice(op.from, op.to) === '=')
          metricNames.add(JSON.parse(expanded.slice(value.from, value.to)) as string);
      }
    }
  } while (cursor.next());
  return { expanded, errors, metricNames: [...metricNames] };
}

const dashboards = loadDashboards();

describe('every dashboard query parses as PromQL', () => {
  for (const { file, json } of dashboards) {
    const name = file.slice(file.lastIndexOf('/') + 1);
    const values = variableValues(json, WORKLOAD_NAMES);

    it(`${name}: panel targets`, () => {
      const pairs = panelTargets(json);
      expect(pairs.length).toBeGreaterThan(0);
      for (const { panel, target } of pairs) {
        const p = parseQuery(target.expr, values);
        expect(p.errors, `panel ${panel.id} "${panel.title}" ${target.refId}: ${p.expanded}`).toEqual([]);
        expect(p.metricNames.length, `panel ${panel.id} ${target.refId} names no metric: ${p.expanded}`).toBeGreaterThan(0);
      }
    });

    it(`${name}: the selectors of query variables`, () => {
      for (const v of json.templating.list) {
        if (v.type !== 'query') continue;
        // label_values(selector, label) / label_values(label): the selector is PromQL.
        const m = /^label_values\((?:(.*),\s*)?([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(v.query);
        expect(m, `variable ${v.name}: ${v.query} is not label_values(...)`).not.toBeNull();
        if (m![1] === undefined) continue;
        const p = parseQuery(m![1], values);
        expect(p.errors, `variable ${v.name}: ${p.expanded}`).toEqual([]);
      }
    });
  }

  it('the parser does report broken PromQL (so a pass means something)', () => {
    expect(parseQuery('sum(rate(x_total[1m])', {}).errors.length).toBeGreaterThan(0);
    expect(parseQuery('rate(x_total[$__rate_interval]) by (le)', {}).errors.length).toBeGreaterThan(0);
    expect(() => parseQuery('rate(${nope}_total[1m])', {})).toThrow(/no value for \$\{nope\}/);
    expect(parseQuery('x{__name__="y"} + z', {}).metricNames.sort()).toEqual(['x', 'y', 'z']);
  });
});

describe("every dashboard query parses with Prometheus' own parser (promtool, the version the tests run)", () => {
  it.runIf(!promtool && inCI)('has promtool on PATH in CI', () => {
    throw new Error('`promtool` is not on PATH, and CI=true requires it (the prometheus package)');
  });

  it.skipIf(!promtool)('promtool check rules accepts every target as a recording rule', async () => {
    // The grammar above is newer than the Prometheus 2.42 the end-to-end tests
    // run; promtool parses exactly as that server will (e.g. `@ end()`).
    const rules: string[] = [];
    for (const { json } of dashboards) {
      const values = variableValues(json, WORKLOAD_NAMES);
      for (const { target } of panelTargets(json)) rules.push(expandForParsing(target.expr, values));
    }
    const dir = await mkdtemp(join(tmpdir(), 'tally-dash-promtool-'));
    try {
      const file = join(dir, 'rules.yml');
      const body = rules.map((expr, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(expr)}`).join('\n');
      await writeFile(file, `groups:\n  - name: dashboards\n    rules:\n${body}\n`);
      const r = spawnSync(promtool!, ['check', 'rules', file], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`${rules.length} rules found`);
      // And it does reject what 2.42 cannot read.
      await writeFile(file, 'groups:\n  - name: bad\n    rules:\n      - record: bad\n        expr: "rate(x_total[5m]"\n');
      expect(spawnSync(promtool!, ['check', 'rules', file], { encoding: 'utf8', timeout: 20_000 }).status).not.toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('every metric a dashboard uses is one the agent exports', () => {
  let dir: string;
  let agent: AgentHandle | undefined;
  let exported: Set<string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tally-dash-names-'));
    // Nothing listens there: the sink retries, so its queue and request metrics appear.
    const closedPort = await freeTcpPort();
    agent = await startAgent({
      config: {
        aggregation: { flush_interval: '200ms' },
        spool: { dir: join(dir, 'data') },
        sinks: [
          {
            name: 'collector',
            type: 'otlp',
            endpoint: `http://127.0.0.1:${closedPort}`,
            retry: { initial_backoff: '50ms', max_backoff: '100ms' },
          },
        ],
      },
    });
    await agent.sendUdp(
      [
        `checkout.hits:1|c|#${TAGS}`,
        `checkout.time:120|ms|#${TAGS},outcome:ok`,
        `checkout.time:340|ms|#${TAGS},outcome:error`,
        `runtime.memory.rss_bytes:52428800|g|#${TAGS}`,
        'no value here',
        'checkout.hits:1|zz',
      ].join('\n'),
    );
    const collect = (body: string, type = 'application/json') =>
      fetch(`http://127.0.0.1:${agent!.httpPort}/v1/collect`, { method: 'POST', headers: { 'content-type': type }, body });
    expect(
      (await collect(JSON.stringify([{ name: 'feature-used', value: 'Export PDF', tags: { service: 'shop', version: '1.4.0', env: 'prod' } }])))
        .status,
    ).toBe(202);
    // A rejected item and a refused request, so both outcome families appear.
    expect((await collect(JSON.stringify([{ name: 'feature-used', value: 'Export PDF', tag: {} }]))).status).toBe(400);
    expect((await collect('{"name": ')).status).toBe(400);
    const text = await waitFor(async () => {
      const t = await agent!.metricsText();
      const e = parsePromText(t);
      expect(sumSamples(e, 'tally_sink_retries_total')).toBeGreaterThan(0);
      expect(sumSamples(e, 'tally_flush_duration_seconds_count')).toBeGreaterThan(1);
      expect(sumSamples(e, 'feature_used_total')).toBeGreaterThan(0);
      return t;
    }, 15_000);
    const e = parsePromText(text);
    exported = new Set([...e.samples.map((s) => s.name), ...e.families.keys()]);
  });

  afterAll(async () => {
    await agent?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('names every metric the panels query', () => {
    const missing: string[] = [];
    let checked = 0;
    for (const { file, json } of dashboards) {
      const values = variableValues(json, WORKLOAD_NAMES);
      for (const { panel, target } of panelTargets(json)) {
        for (const metric of parseQuery(target.expr, values).metricNames) {
          checked++;
          if (!exported.has(metric)) missing.push(`${metric} (${file.slice(file.lastIndexOf('/') + 1)} panel ${panel.id} "${panel.title}")`);
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect([...new Set(missing)].sort(), `metrics the dashboards query that the agent does not export:\n${missing.join('\n')}`).toEqual([]);
  });

  it('reads the names from the agent (a name the agent lacks is reported)', () => {
    expect(exported.has('tally_series')).toBe(true);
    expect(exported.has('checkout_time_seconds_bucket')).toBe(true);
    expect(exported.has('tally_no_such_metric_total')).toBe(false);
  });
});
