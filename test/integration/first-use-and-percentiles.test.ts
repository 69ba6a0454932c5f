/**
 * The two answers a default setup must get right, in a real Prometheus 2.42
 * with no feature flags, both scraped and remote-written:
 * - a feature used exactly once counts 1 use in increase(), which takes
 *   nothing from a series' first sample unless the series starts at 0;
 * - p99s of 0.283 s and 0.423 s read within 10 % each, which the client
 *   libraries' default buckets could not (both fell in (0.25, 0.5]).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath, freeTcpPort, startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { samplesWithQuantile, sendCheckoutTimings } from '../support/latency-samples.js';
import { promQuery, startPrometheus, type MetricsBackend, type PromSeries } from '../support/metrics-backends.js';
import { exactQuantile } from '../support/quantiles.js';

const prometheusBin = findOnPath('prometheus');
const inCI = process.env.CI === 'true';
const TRUE_P99 = { '1.4': 0.283, '1.5': 0.423 } as const;
const SAMPLES = Object.fromEntries(
  Object.entries(TRUE_P99).map(([version, p99], i) => [version, samplesWithQuantile('lognormal', 0.5, 11 + i, 2000, 0.99, p99)]),
) as Record<keyof typeof TRUE_P99, number[]>;
/** The scrape job; what the agent pushes carries its own identity (job tally-agent). */
const SCRAPED = 'job="tally"';
const PUSHED = 'job="tally-agent"';

describe('the test environment', () => {
  it.runIf(!prometheusBin && inCI)('has prometheus on PATH in CI', () => {
    throw new Error('`prometheus` is not on PATH, and CI=true requires it: .ci/run installs the prometheus package');
  });
});

describe.skipIf(!prometheusBin)('answers from a default agent in a real Prometheus, scraped and remote-written', () => {
  let agent: AgentHandle | undefined;
  let prom: MetricsBackend | undefined;

  const query = async (expr: string, timeS?: number): Promise<PromSeries[]> => (await promQuery(prom!.url, 'instant', { query: expr, time: timeS })).result;

  /** The time of the newest sample of a series: a query there sees no range end to extrapolate to. */
  async function lastSampleTime(selector: string): Promise<number> {
    const [series] = await query(`${selector}[5m]`);
    if (series?.values === undefined) throw new Error(`no samples for ${selector}`);
    return series.values.at(-1)![0];
  }

  beforeAll(async () => {
    const promPort = await freeTcpPort();
    agent = await startAgent({
      config: {
        aggregation: { flush_interval: '1s' },
        sinks: [{ name: 'prom', type: 'prometheus_remote_write', endpoint: `http://127.0.0.1:${promPort}/api/v1/write`, retry: { initial_backoff: '200ms' } }],
      },
    });
    prom = await startPrometheus({
      bin: prometheusBin!,
      port: promPort,
      scrapeIntervalS: 1,
      remoteWriteReceiver: true,
      jobs: [{ job: 'tally', targets: [`127.0.0.1:${agent.httpPort}`] }],
    });
    // Scraped before anything is sent, as a long-running setup would be.
    await waitFor(async () => (await query(`up{${SCRAPED}} == 1`)).length === 1, 20_000, 250);

    const res = await agent.get('/healthz');
    expect(res.status).toBe(200);
    const post = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/collect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ name: 'feature-used', value: 'Export PDF' }]),
    });
    expect(post.status).toBe(202);
    await sendCheckoutTimings((lines) => agent!.sendUdp(lines), SAMPLES);
    for (const job of [SCRAPED, PUSHED]) {
      await waitFor(
        async () => {
          const counts = await query(`checkout_time_seconds_count{${job}}`);
          const uses = await query(`feature_used_total{${job}}`);
          return counts.length === 2 && counts.every((r) => r.value![1] === '2000') && uses.length === 1 && uses[0]!.value![1] === '1';
        },
        30_000,
        500,
      );
    }
  }, 90_000);

  afterAll(async () => {
    await prom?.stop();
    await agent?.stop();
  });

  for (const [how, job] of [
    ['scraped', SCRAPED],
    ['remote-written', PUSHED],
  ] as const) {
    it(`counts a feature used exactly once as 1 in increase() (${how})`, async () => {
      const selector = `feature_used_total{${job},value="Export PDF"}`;
      const t = await lastSampleTime(selector);
      const [r] = await query(`increase(${selector}[5m])`, t);
      expect(Number(r!.value![1])).toBeCloseTo(1, 9);
    });

    it(`reads each version's p99 and p50 within 10 %, so B is slower than A (${how})`, async () => {
      const t = await lastSampleTime(`checkout_time_seconds_count{${job},version="1.5"}`);
      const read = async (q: number) =>
        Object.fromEntries(
          (await query(`histogram_quantile(${q}, sum by (le, version) (increase(checkout_time_seconds_bucket{${job}}[5m])))`, t)).map((r) => [
            r.metric.version!,
            Number(r.value![1]),
          ]),
        );
      const p99 = await read(0.99);
      const p50 = await read(0.5);
      for (const version of ['1.4', '1.5'] as const) {
        expect(Math.abs(p99[version]! / exactQuantile(SAMPLES[version], 0.99) - 1), `p99 ${version}: ${p99[version]}`).toBeLessThan(0.1);
        expect(Math.abs(p50[version]! / exactQuantile(SAMPLES[version], 0.5) - 1), `p50 ${version}: ${p50[version]}`).toBeLessThan(0.1);
      }
      expect(p99['1.5']! / p99['1.4']!).toBeGreaterThan(1.3);
    });
  }
});
