/**
 * Native histograms end to end, in a real Prometheus 2.42 started with
 * --enable-feature=native-histograms: the built agent with
 * `http.native_histograms: true`, scraped (Prometheus then asks for the
 * protobuf exposition), and with a remote-write sink with `histograms:
 * native`. Both ways a timer must arrive as one native histogram series,
 * with no classic bucket series, and read back p50 and p99 close to the
 * exact ones, and B slower than A; counters and the agent's own metrics
 * must arrive through the protobuf exposition as they do through the text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath, freeTcpPort, startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { samplesWithQuantile, sendCheckoutTimings } from '../support/latency-samples.js';
import { promQuery, startPrometheus, type MetricsBackend, type PromSeries } from '../support/metrics-backends.js';
import { exactQuantile } from '../support/quantiles.js';

const prometheusBin = findOnPath('prometheus');
const TRUE_P99 = { '1.4': 0.283, '1.5': 0.423 } as const;
const SAMPLES = Object.fromEntries(
  Object.entries(TRUE_P99).map(([version, p99], i) => [version, samplesWithQuantile('lognormal', 0.5, 21 + i, 2000, 0.99, p99)]),
) as Record<keyof typeof TRUE_P99, number[]>;
const SCRAPED = 'job="tally"';
const PUSHED = 'job="tally-agent"';

describe.skipIf(!prometheusBin)('native histograms in a real Prometheus 2.42, scraped and remote-written', () => {
  let agent: AgentHandle | undefined;
  let prom: MetricsBackend | undefined;

  const query = async (expr: string): Promise<PromSeries[]> => (await promQuery(prom!.url, 'instant', { query: expr })).result;

  beforeAll(async () => {
    const promPort = await freeTcpPort();
    agent = await startAgent({
      config: {
        http: { native_histograms: true },
        aggregation: { flush_interval: '1s' },
        sinks: [
          {
            name: 'prom',
            type: 'prometheus_remote_write',
            endpoint: `http://127.0.0.1:${promPort}/api/v1/write`,
            histograms: 'native',
            retry: { initial_backoff: '200ms' },
          },
        ],
      },
    });
    prom = await startPrometheus({
      bin: prometheusBin!,
      port: promPort,
      scrapeIntervalS: 1,
      remoteWriteReceiver: true,
      features: ['native-histograms'],
      jobs: [{ job: 'tally', targets: [`127.0.0.1:${agent.httpPort}`] }],
    });
    await waitFor(async () => (await query(`up{${SCRAPED}} == 1`)).length === 1, 20_000, 250);
    await sendCheckoutTimings((lines) => agent!.sendUdp(lines), SAMPLES);
    await agent.sendUdp('logins:3|c');
    for (const job of [SCRAPED, PUSHED]) {
      await waitFor(
        async () => {
          const counts = await query(`histogram_count(checkout_time_seconds{${job}})`);
          const logins = await query(`logins_total{${job}}`);
          return counts.length === 2 && counts.every((r) => r.value![1] === '2000') && logins.length === 1 && logins[0]!.value![1] === '3';
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
    it(`stores a timer as one native histogram series a version, and no classic bucket series (${how})`, async () => {
      const series = await query(`checkout_time_seconds{${job}}`);
      expect(series.map((r) => r.metric.version).sort()).toEqual(['1.4', '1.5']);
      for (const r of series) {
        expect(r.value).toBeUndefined();
        expect(Number(r.histogram![1].count)).toBe(2000);
        const version = r.metric.version as keyof typeof SAMPLES;
        expect(Number(r.histogram![1].sum)).toBeCloseTo(SAMPLES[version].reduce((a, v) => a + Number((v * 1000).toFixed(3)) / 1000, 0), 6);
      }
      expect(await query(`{__name__=~"checkout_time_seconds_(bucket|count|sum)", ${job}}`)).toEqual([]);
    });

    it(`reads each version's p99 and p50 within 5 %, so B is slower than A (${how})`, async () => {
      const read = async (q: number) =>
        Object.fromEntries((await query(`histogram_quantile(${q}, checkout_time_seconds{${job}})`)).map((r) => [r.metric.version!, Number(r.value![1])]));
      const p99 = await read(0.99);
      const p50 = await read(0.5);
      for (const version of ['1.4', '1.5'] as const) {
        expect(Math.abs(p99[version]! / exactQuantile(SAMPLES[version], 0.99) - 1), `p99 ${version}: ${p99[version]}`).toBeLessThan(0.05);
        expect(Math.abs(p50[version]! / exactQuantile(SAMPLES[version], 0.5) - 1), `p50 ${version}: ${p50[version]}`).toBeLessThan(0.05);
      }
      expect(p99['1.5']! / p99['1.4']!).toBeGreaterThan(1.3);
    });
  }

  it("serves the agent's own metrics in the protobuf exposition, as in the text", async () => {
    const scraped = await query(`tally_metrics_received_total{${SCRAPED}}`);
    expect(scraped.length).toBeGreaterThan(0);
    expect(scraped.reduce((n, r) => n + Number(r.value![1]), 0)).toBeGreaterThanOrEqual(4001);
    expect(await query(`target_info{${SCRAPED}}`)).toHaveLength(1);
  });
});
