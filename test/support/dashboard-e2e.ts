/**
 * The end-to-end proof of the shipped dashboards, shared by the Prometheus and
 * the VictoriaMetrics runs: two real agents (one per version, as sidecars)
 * take the answer workload (scripts/answer-workload.mjs), a real store gets
 * the data (scraped, or pushed by the agents' remote-write sinks), and every
 * target of every panel of every dashboard JSON is run, macros and variables
 * expanded as Grafana expands them, over the store's HTTP API. The answer
 * panels must give the workload's truth.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentTagsEnv, sendAnswerWorkload, VERSION_A, VERSION_B, type WorkloadTruth } from '../../scripts/answer-workload.mjs';
import { findOnPath, freeTcpPort, startAgent, waitFor, type AgentHandle } from './agent-process.js';
import { builtinMacros, interpolate, type VariableSelection } from '../../dashboards/preview/macros.mjs';
import { queryTiming, type QueryTimeContext } from '../../dashboards/preview/time-range.mjs';
import { allPanels, dashboardVariables, loadDashboards, panelTargets } from './dashboards.js';
import {
  promQuery,
  startPrometheus,
  startVictoriaMetrics,
  type MetricsBackend,
  type PromResult,
  type PromSeries,
} from './metrics-backends.js';

/**
 * Whether the workload also puts service/version/env on every line. Off: the
 * agents add them from TALLY_TAGS (global tags, commit 947ef1c), which is
 * what this proves; on is for an agent without global tags.
 */
export const SEND_IDENTITY_ON_LINES = false;

/** Panel types whose targets the harness knows how to run and read. */
const KNOWN_PANEL_TYPES = new Set(['row', 'timeseries', 'stat', 'table', 'bargauge', 'gauge', 'text']);
const SCRAPE_INTERVAL_S = 1;
const SCRAPE_JOB = 'tally';
/** Every histogram quantile read from the default buckets is within this of the truth (issue 9). */
const QUANTILE_TOLERANCE = 0.1;
const SETTLE_AFTER_SENDING_S = 25;

export type BackendKind = 'prometheus' | 'victoriametrics';

interface BackendSpec {
  kind: BackendKind;
  binary: string;
  /** Variable values for this run (the rest take All or their default). */
  overrides: Record<string, string | string[]>;
  /**
   * Whether increase() extrapolates. Prometheus does, to the ends of the
   * range: a series whose first sample is 0 (Tally serves new series at 0)
   * is not stretched backwards, but the last sample is stretched to the
   * range's end, by up to a scrape interval over the series' sampled life,
   * so increase() reads high by at most that share and never low.
   * VictoriaMetrics does not extrapolate, by design, and reads the increase
   * between samples as it is.
   */
  extrapolates: boolean;
}

const BACKENDS: Record<BackendKind, BackendSpec> = {
  prometheus: {
    kind: 'prometheus',
    binary: 'prometheus',
    // The agents remote-write into this Prometheus too (so the sink panels have a working sink), and those
    // copies carry the push identity (job = service), not the scrape job: a user of this setup picks the
    // scrape job, as here, or would count every sample twice.
    overrides: { job: SCRAPE_JOB },
    extrapolates: true,
  },
  victoriametrics: {
    kind: 'victoriametrics',
    binary: 'victoria-metrics',
    // Application series come by remote write only (the scrape keeps the agents' own metrics), so All is right.
    overrides: {},
    extrapolates: false,
  },
};

interface RunContext {
  backend: MetricsBackend;
  truth: WorkloadTruth;
  time: QueryTimeContext;
  /** Failed scrapes of the agents during the run, for failure messages (a lost scrape can lose a first sample). */
  failedScrapes: number;
}

export interface TargetRun {
  expr: string;
  kind: 'instant' | 'range';
  result: PromResult;
}

function legendLabels(legend: unknown): string[] {
  if (typeof legend !== 'string' || legend === '__auto') return [];
  return [...legend.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((m) => m[1]!);
}

function finiteValues(s: PromSeries): number[] {
  const raw = s.values ? s.values.map((v) => v[1]) : s.value ? [s.value[1]] : [];
  return raw.map(Number).filter((v) => Number.isFinite(v));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function relErr(got: number, want: number): number {
  return Math.abs(got - want) / Math.abs(want);
}

/** What each answer panel gave, printed at the end of a run for the report. */
type Figures = Array<{ panel: string; what: string; got: number | string; truth: number | string }>;

export function defineDashboardsEndToEnd(kind: BackendKind): void {
  const spec = BACKENDS[kind];
  const bin = findOnPath(spec.binary);
  const inCI = process.env.CI === 'true';
  if (!bin && !inCI) {
    console.warn(`\n*** \`${spec.binary}\` is not on PATH: SKIPPING the ${kind} dashboard end-to-end tests (CI requires it). ***\n`);
  }
  describe('the test environment', () => {
    it.runIf(!bin && inCI)(`has ${spec.binary} on PATH in CI`, () => {
      throw new Error(`\`${spec.binary}\` is not on PATH, and CI=true requires it`);
    });
  });

  const dashboards = loadDashboards();

  describe.skipIf(!bin)(`every dashboard panel against a real ${kind}`, () => {
    let agents: AgentHandle[] = [];
    let backend: MetricsBackend | undefined;
    let ctx: RunContext | undefined;
    let dir: string | undefined;
    const runs = new Map<string, Promise<TargetRun>>();
    const figures: Figures = [];

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tally-dash-e2e-'));
      const backendPort = await freeTcpPort();
      // Nothing listens here: the "down" sink retries, fills its small queue and drops.
      const downPort = await freeTcpPort();
      const backendUrl = `http://127.0.0.1:${backendPort}`;
      const startedMs = Date.now();
      for (const version of [VERSION_A, VERSION_B]) {
        agents.push(
          await startAgent({
            env: { TALLY_TAGS: agentTagsEnv(version) },
            config: {
              // Flushes as often as the store scrapes, so the test waits seconds, not the default 10 s.
              aggregation: { flush_interval: '1s' },
              spool: { dir: join(dir, `spool-${version}`) },
              // Low enough that the cardinality probe below is refused past it (the "Drops by reason" panel).
              limits: { max_series_per_metric: 50 },
              sinks: [
                { name: kind === 'prometheus' ? 'prometheus' : 'vm', type: 'prometheus_remote_write', endpoint: `${backendUrl}/api/v1/write` },
                // A wrong path: the store refuses it for good, so requests go to the dead-letter folder.
                { name: 'misrouted', type: 'prometheus_remote_write', endpoint: `${backendUrl}/api/v1/no-such-write-path` },
                {
                  name: 'down',
                  type: 'prometheus_remote_write',
                  endpoint: `http://127.0.0.1:${downPort}/api/v1/write`,
                  queue: { max_bytes: 16384, when_full: 'drop_oldest' },
                  retry: { initial_backoff: '200ms', max_backoff: '1s' },
                },
              ],
            },
          }),
        );
      }
      const jobs = [
        {
          job: SCRAPE_JOB,
          targets: agents.map((a) => `127.0.0.1:${a.httpPort}`),
          // VictoriaMetrics gets the application series by remote write; scraping them too would count them twice.
          keepNames: kind === 'victoriametrics' ? '(tally|process|nodejs)_.*' : undefined,
        },
      ];
      backend =
        kind === 'prometheus'
          ? await startPrometheus({ bin: bin!, scrapeIntervalS: SCRAPE_INTERVAL_S, jobs, remoteWriteReceiver: true, port: backendPort })
          : await startVictoriaMetrics({ bin: bin!, scrapeIntervalS: SCRAPE_INTERVAL_S, jobs, port: backendPort });

      // Every agent scraped once before any data, so a series' first sample is the agent's, not a guess.
      await waitFor(
        async () => expect((await promQuery(backend!.url, 'instant', { query: `up{job="${SCRAPE_JOB}"} == 1` })).result).toHaveLength(2),
        20_000,
        250,
      );
      const [a, b] = agents as [AgentHandle, AgentHandle];
      const truth = await sendAnswerWorkload(
        { a: { udpPort: a.udpPort, httpPort: a.httpPort }, b: { udpPort: b.udpPort, httpPort: b.httpPort } },
        { lineTags: SEND_IDENTITY_ON_LINES },
      );
      for (const agent of agents) await sendTroubles(agent);

      const jobMatch = spec.overrides.job ? `job="${spec.overrides.job}"` : '';
      const q = async (promql: string) => (await promQuery(backend!.url, 'instant', { query: promql })).result;
      const featureUses = Object.values(truth.features.counts).reduce((s, n) => s + n, 0);
      await waitFor(
        async () => {
          const count = await q(`sum(${truth.timer.metric}_count{${jobMatch}})`);
          expect(Number(count[0]?.value?.[1])).toBe(2 * truth.timer.perVersion[VERSION_A]!.count);
          const uses = await q(`sum(${truth.features.event}_total{${jobMatch}})`);
          expect(Number(uses[0]?.value?.[1])).toBe(featureUses);
          expect(await q(`${truth.memory.metric}{${jobMatch}}`)).toHaveLength(2);
          expect(await q('sum by (instance) (tally_series_dropped_total) > 0')).toHaveLength(2);
          expect(await q('sum by (instance) (tally_sink_dead_lettered_total) > 0')).toHaveLength(2);
          expect(await q('sum by (instance) (tally_queue_dropped_total) > 0')).toHaveLength(2);
          expect(await q('sum by (instance) (tally_sink_request_duration_seconds_count{outcome=~".+"})')).toHaveLength(2);
          return true;
        },
        40_000,
        500,
      );
      // The range ends well after the sending (as a dashboard looked at later would), so Prometheus'
      // extrapolation to the range's end is a small share of every series' life (see expectIncrease).
      await new Promise((r) => setTimeout(r, Math.max(2_500, (truth.endedAtS + SETTLE_AFTER_SENDING_S) * 1000 - Date.now())));
      const toMs = Date.now();
      const rangeS = Math.ceil((toMs - startedMs) / 1000) + 10;
      const scrapes = await q(`sum(count_over_time(up{job="${SCRAPE_JOB}"}[${rangeS}s])) - sum(sum_over_time(up{job="${SCRAPE_JOB}"}[${rangeS}s]))`);
      ctx = {
        backend,
        truth,
        time: { fromMs: startedMs - 10_000, toMs, scrapeIntervalMs: SCRAPE_INTERVAL_S * 1000 },
        failedScrapes: Number(scrapes[0]?.value?.[1] ?? 0),
      };
    }, 90_000);

    afterAll(async () => {
      if (figures.length) {
        console.log(
          `\nanswer panels on ${kind} (got vs truth; ${ctx?.failedScrapes ?? '?'} failed scrapes of the agents):\n` +
            figures.map((f) => `  ${f.panel} | ${f.what}: ${fmt(f.got)} vs ${fmt(f.truth)}`).join('\n'),
        );
      }
      await backend?.stop();
      for (const agent of agents) await agent.stop();
      agents = [];
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    function variablesFor(json: any): Record<string, VariableSelection> {
      const t = ctx!.truth;
      return dashboardVariables(json, {
        metric: t.timer.metric,
        version_a: t.versionA,
        version_b: t.versionB,
        memory_metric: t.memory.metric,
        event: t.features.event,
        idle_days: '7',
        counter: t.counter.metric.replace(/_total$/, ''),
        histogram: t.timer.metric,
        ...spec.overrides,
      });
    }

    /**
     * An increase() over the range against the count sent: exact up to the
     * extrapolation the backend does by design (see BackendSpec.extrapolates).
     * Every series began by the end of the sending, so its sampled life is at
     * least from then (plus a flush and a scrape) to the last scrape before
     * the range's end.
     */
    function expectIncrease(got: number, want: number, what: string, expr: string): void {
      // A query that rounds (round(...)) may land half a unit either way of the bounds.
      const rounded = /\bround\(/.test(expr);
      const { endedAtS } = ctx!.truth;
      const toS = queryTiming(ctx!.time).instantMs / 1000;
      const lifeS = toS - endedAtS - 2 * SCRAPE_INTERVAL_S - 1.1 * SCRAPE_INTERVAL_S;
      const high = spec.extrapolates ? (1.1 * SCRAPE_INTERVAL_S) / lifeS : 0;
      const note = ctx!.failedScrapes > 0 ? ` (${ctx!.failedScrapes} scrapes of the agents failed during the run)` : '';
      expect(got, `${what}: ${got} vs ${want} sent${note}`).toBeGreaterThanOrEqual(want * (1 - 1e-9) - (rounded ? 0.5 : 0));
      expect(got, `${what}: ${got} vs ${want} sent (up to ${(high * 100).toFixed(1)} % extrapolated)${note}`).toBeLessThanOrEqual(want * (1 + high) + 1e-9 + (rounded ? 0.5 : 0));
    }

    /** Runs a target as Grafana would (instant or range, or both), once per test run. */
    function runTarget(json: any, panel: any, target: any): Promise<TargetRun> {
      const key = `${json.uid}/${panel.id}/${target.refId}`;
      let run = runs.get(key);
      if (!run) {
        run = (async () => {
          const { backend: be, time } = ctx!;
          const timing = queryTiming(time);
          const expr = interpolate(String(target.expr), { variables: variablesFor(json), macros: builtinMacros(timing), strict: true });
          const instant = target.instant === true;
          if (instant && target.range === true) throw new Error(`${key}: both instant and range; the harness runs one`);
          const result = instant
            ? await promQuery(be.url, 'instant', { query: expr, time: timing.instantMs / 1000 })
            : await promQuery(be.url, 'range', { query: expr, start: timing.startMs / 1000, end: timing.endMs / 1000, step: timing.intervalMs / 1000 });
          return { expr, kind: instant ? 'instant' : 'range', result };
        })();
        runs.set(key, run);
      }
      return run;
    }

    for (const { file, json } of dashboards) {
      const name = basename(file);
      describe(name, () => {
        it('has only panel types the harness knows', () => {
          for (const panel of allPanels(json)) {
            expect(KNOWN_PANEL_TYPES.has(panel.type), `panel ${panel.id} "${panel.title}" is of type ${panel.type}`).toBe(true);
          }
        });

        const pairs = panelTargets(json).map(({ panel, target }) => ({
          panel,
          target,
          label: `${panel.type} ${panel.id} "${panel.title}" ${target.refId}`,
        }));
        it.each(pairs)('$label: success, not empty, with its legend labels', async ({ panel, target }) => {
          const run = await runTarget(json, panel, target);
          const series = run.result.result;
          expect(series.length, `no series from ${run.expr}`).toBeGreaterThan(0);
          expect(series.flatMap(finiteValues).length, `no finite value from ${run.expr}`).toBeGreaterThan(0);
          // A label may be absent on some series (items "accepted" have no reason; Grafana prints it empty), but a
          // legend label no series carries is a label lost in the query (aggregated away, or misspelt).
          for (const label of legendLabels(target.legendFormat)) {
            expect(
              series.some((s) => s.metric[label] !== undefined),
              `no series of ${run.expr} carries "${label}" for its legend ${JSON.stringify(target.legendFormat)}: ${JSON.stringify(series.map((s) => s.metric))}`,
            ).toBe(true);
          }
        });
      });
    }

    // The answer panels, found by their fixed titles (notes/dash-shared.md).
    function answerPanel(uid: string, title: string): { json: any; panel: any } {
      const d = dashboards.find((x) => x.json.uid === uid);
      if (!d) throw new Error(`no dashboard with uid ${uid}`);
      const panel = allPanels(d.json).find((p) => p.title === title);
      if (!panel) throw new Error(`dashboard ${uid} has no panel titled ${JSON.stringify(title)}`);
      return { json: d.json, panel };
    }

    function seriesVersion(s: PromSeries, expr: string): string {
      if (s.metric.version) return s.metric.version;
      throw new Error(`a series of ${expr} has no version label: ${JSON.stringify(s.metric)}`);
    }

    /**
     * Values of a range series at the times its rate window lay wholly within
     * the sending, allowing for a flush and a scrape (or remote write) before a
     * sample is stored.
     */
    function duringSending(s: PromSeries): number[] {
      const { startedAtS, endedAtS } = ctx!.truth;
      const rateIntervalS = queryTiming(ctx!.time).rateIntervalMs / 1000;
      const delayS = 2 * SCRAPE_INTERVAL_S;
      return (s.values ?? [])
        .filter(([t]) => t >= startedAtS + rateIntervalS + delayS && t <= endedAtS + delayS / 2)
        .map(([, v]) => Number(v))
        .filter(Number.isFinite);
    }

    const VERSIONS = 'tally-version-compare';
    const FEATURES = 'tally-feature-usage';
    const OVERVIEW = 'tally-app-overview';

    describe('answer panels give the truth', () => {
      it('p99: B over A', async () => {
        const { json, panel } = answerPanel(VERSIONS, 'p99: B over A');
        expect(panel.targets).toHaveLength(1);
        const run = await runTarget(json, panel, panel.targets[0]);
        expect(run.result.result).toHaveLength(1);
        const got = Number(run.result.result[0]!.value![1]);
        figures.push({ panel: panel.title, what: 'ratio', got, truth: ctx!.truth.timer.p99Ratio });
        expect(relErr(got, ctx!.truth.timer.p99Ratio)).toBeLessThanOrEqual(QUANTILE_TOLERANCE);
      });

      it('Whole range by version: p50, p95, p99, mean and count per version', async () => {
        const { json, panel } = answerPanel(VERSIONS, 'Whole range by version');
        const truthKey: Record<string, 'p50' | 'p95' | 'p99'> = { '0.5': 'p50', '0.95': 'p95', '0.99': 'p99' };
        const seen = new Set<string>();
        for (const target of panel.targets) {
          const run = await runTarget(json, panel, target);
          const q = /histogram_quantile\(\s*([0-9.]+)/.exec(String(target.expr))?.[1];
          const what = q ? truthKey[q] : /_sum\b/.test(target.expr) && /_count\b/.test(target.expr) ? 'mean' : /_count\b/.test(target.expr) ? 'count' : undefined;
          if (!what) throw new Error(`cannot tell what ${target.refId} of "${panel.title}" computes: ${target.expr}`);
          seen.add(what);
          expect(run.result.result.map((s) => seriesVersion(s, run.expr)).sort()).toEqual([VERSION_A, VERSION_B]);
          for (const s of run.result.result) {
            const version = seriesVersion(s, run.expr);
            const truth = ctx!.truth.timer.perVersion[version]!;
            const got = Number(s.value![1]);
            const want = what === 'count' ? truth.count : what === 'mean' ? truth.mean : truth[what];
            figures.push({ panel: panel.title, what: `${what} ${version}`, got, truth: want });
            if (what === 'count') {
              expectIncrease(got, want, `count of ${version}`, run.expr);
            } else {
              expect(relErr(got, want), `${what} of ${version}: ${got} vs ${want}`).toBeLessThanOrEqual(what === 'mean' ? 0.01 : QUANTILE_TOLERANCE);
            }
          }
        }
        expect([...seen].sort()).toEqual(['count', 'mean', 'p50', 'p95', 'p99']);
      });

      it('Percentiles by version: each quantile per version over time', async () => {
        const { json, panel } = answerPanel(VERSIONS, 'Percentiles by version');
        const truthKey: Record<string, 'p50' | 'p90' | 'p99' | 'p999'> = { '0.5': 'p50', '0.9': 'p90', '0.99': 'p99', '0.999': 'p999' };
        for (const target of panel.targets) {
          const run = await runTarget(json, panel, target);
          const q = /histogram_quantile\(\s*([0-9.]+)/.exec(String(target.expr))?.[1];
          const what = q ? truthKey[q] : undefined;
          if (!what) throw new Error(`cannot tell which quantile ${target.refId} of "${panel.title}" is: ${target.expr}`);
          expect(run.result.result.map((s) => seriesVersion(s, run.expr)).sort()).toEqual([VERSION_A, VERSION_B]);
          for (const s of run.result.result) {
            const version = seriesVersion(s, run.expr);
            const values = duringSending(s);
            expect(values.length, `no ${what} of ${version} while sending`).toBeGreaterThan(0);
            const got = median(values);
            const want = ctx!.truth.timer.perVersion[version]![what];
            figures.push({ panel: panel.title, what: `median ${what} ${version}`, got, truth: want });
            // p99.9 of a 4-second window holds a few samples: the bucket error plus sampling.
            expect(relErr(got, want), `${what} of ${version}`).toBeLessThanOrEqual(what === 'p999' ? 0.15 : QUANTILE_TOLERANCE);
          }
        }
      });

      it('Rate by version: timings per second while sending', async () => {
        const { json, panel } = answerPanel(VERSIONS, 'Rate by version');
        const run = await runTarget(json, panel, panel.targets[0]);
        const t = ctx!.truth;
        expect(run.result.result.map((s) => seriesVersion(s, run.expr)).sort()).toEqual([VERSION_A, VERSION_B]);
        for (const s of run.result.result) {
          const version = seriesVersion(s, run.expr);
          const want = t.timer.perVersion[version]!.count / t.counter.durationS;
          const values = duringSending(s);
          expect(values.length, `no rate of ${version} while sending`).toBeGreaterThan(0);
          const got = median(values);
          figures.push({ panel: panel.title, what: `median rate ${version}`, got, truth: want });
          // Flush and scrape both tick every second without being in step: a 4 s window holds 3 to 5 flushes' worth.
          expect(relErr(got, want), `rate of ${version} while sending ${JSON.stringify(values)}; sending ${t.startedAtS}..${t.endedAtS}; series ${JSON.stringify(s.values)}`).toBeLessThanOrEqual(0.3);
        }
      });

      it('Outcome share by version', async () => {
        const { json, panel } = answerPanel(VERSIONS, 'Outcome share by version');
        const run = await runTarget(json, panel, panel.targets[0]);
        expect(run.result.result.map((s) => seriesVersion(s, run.expr)).sort()).toEqual([VERSION_A, VERSION_B]);
        for (const s of run.result.result) {
          const version = seriesVersion(s, run.expr);
          const want = ctx!.truth.timer.perVersion[version]!.errorShare;
          const values = duringSending(s);
          expect(values.length, `no share of ${version} while sending`).toBeGreaterThan(0);
          const got = median(values);
          figures.push({ panel: panel.title, what: `median share ${version}`, got, truth: want });
          // Errors are every 50th (A) or 20th (B) timing; a window cuts that pattern at arbitrary points.
          expect(relErr(got, want)).toBeLessThanOrEqual(0.25);
        }
      });

      it('Memory by version', async () => {
        const { json, panel } = answerPanel(VERSIONS, 'Memory by version');
        const run = await runTarget(json, panel, panel.targets[0]);
        expect(run.result.result.map((s) => seriesVersion(s, run.expr)).sort()).toEqual([VERSION_A, VERSION_B]);
        for (const s of run.result.result) {
          const version = seriesVersion(s, run.expr);
          const values = finiteValues(s);
          const got = values[values.length - 1]!;
          const want = ctx!.truth.memory.perVersion[version]!;
          figures.push({ panel: panel.title, what: `last ${version}`, got, truth: want });
          expect(got).toBe(want);
        }
      });

      it('Most used features: the top feature first, in order, with their counts', async () => {
        const { json, panel } = answerPanel(FEATURES, 'Most used features');
        const run = await runTarget(json, panel, panel.targets[0]);
        const t = ctx!.truth.features;
        const shown = run.result.result.map((s) => ({ feature: s.metric.value!, uses: Number(s.value![1]) }));
        figures.push({ panel: panel.title, what: 'order', got: shown.map((s) => s.feature).join(' > '), truth: t.order.join(' > ') });
        // The bar gauge draws the series in the order the API returns them.
        expect(shown.map((s) => s.feature)).toEqual(t.order.slice(0, shown.length));
        expect(shown.length).toBe(Math.min(10, t.order.length));
        for (const s of shown) {
          figures.push({ panel: panel.title, what: s.feature, got: s.uses, truth: t.counts[s.feature]! });
          expectIncrease(s.uses, t.counts[s.feature]!, s.feature, run.expr);
        }
      });

      it('Every feature: uses and last use: counts, the once-used feature at 1, the last use and age of the idle one', async () => {
        const { json, panel } = answerPanel(FEATURES, 'Every feature: uses and last use');
        const t = ctx!.truth.features;
        const seen = new Set<string>();
        for (const target of panel.targets) {
          const run = await runTarget(json, panel, target);
          const byFeature = new Map(run.result.result.map((s) => [s.metric.value!, Number(s.value![1])]));
          expect([...byFeature.keys()].sort()).toEqual(Object.keys(t.counts).sort());
          const expr = String(target.expr);
          const evalS = queryTiming(ctx!.time).instantMs / 1000;
          const legacy = t.lastUsedLongAgo;
          if (/time\(\)/.test(expr)) {
            seen.add('age');
            const got = byFeature.get(legacy.feature)!;
            figures.push({ panel: panel.title, what: `seconds since ${legacy.feature}`, got, truth: evalS - legacy.timestampS });
            // The store may take the query time to the second below.
            expect(Math.abs(got - (evalS - legacy.timestampS))).toBeLessThanOrEqual(2);
            for (const [feature, age] of byFeature) if (feature !== legacy.feature) expect(age, feature).toBeLessThan(120);
          } else if (/_last_seen_timestamp_seconds/.test(expr)) {
            seen.add('last');
            const got = byFeature.get(legacy.feature)!;
            // Grafana's dateTime units take milliseconds.
            const scale = /\*\s*1000\b/.test(expr) ? 1000 : 1;
            figures.push({ panel: panel.title, what: `last used ${legacy.feature}`, got, truth: legacy.timestampS * scale });
            expect(got).toBe(legacy.timestampS * scale);
          } else if (/_total\b/.test(expr)) {
            seen.add('uses');
            for (const [feature, uses] of byFeature) {
              figures.push({ panel: panel.title, what: `uses ${feature}`, got: uses, truth: t.counts[feature]! });
              expectIncrease(uses, t.counts[feature]!, feature, run.expr);
            }
            expect(t.counts[t.onceUsed]).toBe(1);
          } else {
            throw new Error(`cannot tell what ${target.refId} of "${panel.title}" computes: ${expr}`);
          }
        }
        expect([...seen].sort()).toEqual(['age', 'last', 'uses']);
      });

      it('Features unused for ${idle_days} days', async () => {
        const { json, panel } = answerPanel(FEATURES, 'Features unused for ${idle_days} days');
        const run = await runTarget(json, panel, panel.targets[0]);
        expect(run.result.result).toHaveLength(1);
        const got = Number(run.result.result[0]!.value![1]);
        figures.push({ panel: panel.title, what: 'idle_days=7', got, truth: ctx!.truth.features.idleForDays[7]! });
        expect(got).toBe(ctx!.truth.features.idleForDays[7]);
      });

      it('Application overview: the counter\'s rate per version and its total over the range', async () => {
        const t = ctx!.truth.counter;
        const { json, panel } = answerPanel(OVERVIEW, 'Rate of $counter by service and version');
        const run = await runTarget(json, panel, panel.targets[0]);
        expect(run.result.result.map((s) => seriesVersion(s, run.expr)).sort()).toEqual([VERSION_A, VERSION_B]);
        for (const s of run.result.result) {
          const version = seriesVersion(s, run.expr);
          const values = duringSending(s);
          expect(values.length, `no rate of ${version} while sending`).toBeGreaterThan(0);
          const got = median(values);
          figures.push({ panel: panel.title, what: `median rate ${version}`, got, truth: t.perSecondPerVersion });
          expect(relErr(got, t.perSecondPerVersion)).toBeLessThanOrEqual(0.3);
        }
        const total = answerPanel(OVERVIEW, '$counter over the range');
        const totalRun = await runTarget(total.json, total.panel, total.panel.targets[0]);
        expect(totalRun.result.result).toHaveLength(1);
        const got = Number(totalRun.result.result[0]!.value![1]);
        const want = Object.values(t.totalPerVersion).reduce((a, b) => a + b, 0);
        figures.push({ panel: total.panel.title, what: 'total', got, truth: want });
        expectIncrease(got, want, '$counter over the range', totalRun.expr);
      });

      it('Usage over time, top ten: one series per feature used in the range', async () => {
        const { json, panel } = answerPanel(FEATURES, 'Usage over time, top ten');
        const run = await runTarget(json, panel, panel.targets[0]);
        const features = run.result.result.map((s) => s.metric.value!).sort();
        expect(features).toEqual(ctx!.truth.features.order.slice(0, 10).sort());
      });
    });
  });
}

/**
 * What a fleet sees now and then, so every panel of the agent dashboard has
 * something to draw: a line that does not parse, a type conflict, a series
 * past the per-metric limit, an item with a typo and a body that is not JSON.
 */
async function sendTroubles(agent: AgentHandle): Promise<void> {
  await agent.sendUdp('this line has no value\ncheckout.hits:1|g');
  const probe = Array.from({ length: 60 }, (_, i) => `cardinality.probe:1|c|#id:${i}`);
  for (let i = 0; i < probe.length; i += 20) await agent.sendUdp(probe.slice(i, i + 20).join('\n'));
  const post = async (body: string, want: number) => {
    const res = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/collect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(5_000),
    });
    await res.text();
    if (res.status !== want) throw new Error(`POST /v1/collect ${body}: HTTP ${res.status}, expected ${want}`);
  };
  await post('[{"name":"feature-used","value":"Typo","tag":{}}]', 400);
  await post('{"name": ', 400);
}

function fmt(v: number | string): string {
  return typeof v === 'number' ? String(Number(v.toPrecision(6))) : v;
}
