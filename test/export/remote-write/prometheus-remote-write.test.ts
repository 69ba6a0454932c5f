/**
 * The remote-write sink against a real Prometheus 2.42 started as a
 * receiver: the agent's own stages, in process (StatsdParser → Aggregator →
 * AggregateProducer), cut batches the way the agent does; the sink encodes
 * and pushes them; and PromQL over what Prometheus stored must give exactly
 * the series and values the agent's /metrics text shows for the same
 * ResourceMetrics (the OpenTelemetry PrometheusSerializer with the agent's
 * settings). Needs the `prometheus` binary; CI installs it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteWriteSink } from '../../../agent/export/remote-write/remote-write-sink.js';
import type { EncodedRequest, Sink } from '../../../agent/export/sink.js';
import { DEFAULT_TIMER_BUCKETS } from '../../../agent/aggregate/aggregation-config.js';
import { Mapper } from '../../../agent/mapping/mapper.js';
import { parseMappingText } from '../../../agent/mapping/mapping-config.js';
import { findOnPath, startAgent, waitFor } from '../../support/agent-process.js';
import { parsePromText } from '../../support/prom-text.js';
import { FIXTURES, exposedValues, exposition, seriesId, statsdPipeline, type StatsdPipeline } from './helpers.js';
import { startPrometheusReceiver, type PrometheusReceiver } from './prometheus-receiver.js';

const prometheusBin = findOnPath('prometheus');
const inCI = process.env.CI === 'true';

if (!prometheusBin && !inCI) {
  console.warn(
    '\n' +
      '*************************************************************************\n' +
      '*  `prometheus` is not on PATH: SKIPPING the remote-write receiver test. *\n' +
      '*  Install it (apt-get install prometheus) to run it; CI does.           *\n' +
      '*************************************************************************\n',
  );
}

const never = new AbortController().signal;
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

/** Prometheus' own bucketQuantile (promql/quantile.go, 2.42) over cumulative buckets sorted by bound. */
function bucketQuantile(q: number, buckets: Array<{ le: number; count: number }>): number {
  const total = buckets[buckets.length - 1]!.count;
  if (total === 0) return NaN;
  let rank = q * total;
  let b = buckets.findIndex((x) => x.count >= rank);
  if (b === buckets.length - 1) return buckets[buckets.length - 2]!.le;
  if (b === 0 && buckets[0]!.le <= 0) return buckets[0]!.le;
  let start = 0;
  const end = buckets[b]!.le;
  let count = buckets[b]!.count;
  if (b > 0) {
    start = buckets[b - 1]!.le;
    count -= buckets[b - 1]!.count;
    rank -= buckets[b - 1]!.count;
  }
  return start + (end - start) * (rank / count);
}

/** The `_bucket` samples of one histogram series in an exposition, by bound. */
function bucketsOf(text: string, name: string, labels: Record<string, string>): Array<{ le: number; count: number }> {
  return parsePromText(text)
    .samples.filter((s) => s.name === `${name}_bucket` && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .map((s) => ({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), count: s.value }))
    .sort((a, b) => a.le - b.le);
}

function promValue(v: string): number {
  return v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v);
}

describe('the test environment', () => {
  it.runIf(!prometheusBin && inCI)('has prometheus on PATH in CI', () => {
    throw new Error('`prometheus` is not on PATH, and CI=true requires it: .ci/run installs the prometheus package');
  });
});

describe.skipIf(!prometheusBin)('remote write into a real Prometheus 2.42', () => {
  let prom: PrometheusReceiver;
  let sink: Sink;
  let pipeline: StatsdPipeline;
  let clock = 0;
  // Well inside what a fresh TSDB head accepts, and in the past so every query time is settled.
  const t1 = Math.floor(Date.now() / 1000) * 1000 - 120_000;
  const t2 = t1 + 15_000;
  const t3 = t2 + 30_000;
  const texts = new Map<number, string>();
  const sent = new Map<number, EncodedRequest[]>();

  /** Every series Prometheus returns at `timeMs`, by identity (labels sorted, __name__ included). */
  async function stored(timeMs: number): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const v of await prom.query('{__name__=~".+"}', timeMs)) out.set(seriesId(Object.entries(v.metric)), promValue(v.value[1]));
    return out;
  }

  async function scalar(promql: string, timeMs: number): Promise<number> {
    const result = await prom.query(promql, timeMs);
    if (result.length !== 1) throw new Error(`${promql} returned ${result.length} series: ${JSON.stringify(result)}`);
    return promValue(result[0]!.value[1]);
  }

  /** Feeds a batch's statsd lines, cuts the batch at `timeMs` as the agent's flush does, pushes it, and keeps its /metrics text. */
  async function pushBatch(timeMs: number, lines: string): Promise<ResourceMetrics> {
    clock = timeMs;
    pipeline.send(lines);
    pipeline.aggregator.flush();
    const batch = await pipeline.batch(timeMs);
    const metrics = batch.metrics;
    texts.set(timeMs, exposition(metrics));
    const requests = await sink.encode(batch);
    expect(requests.length).toBeGreaterThan(0);
    for (const r of requests) {
      const outcome = await sink.send(r, never);
      if (outcome.kind !== 'delivered') throw new Error(`push of batch ${timeMs} failed: ${JSON.stringify(outcome)}\n${prom.output()}`);
    }
    sent.set(timeMs, requests);
    return metrics;
  }

  beforeAll(async () => {
    prom = await startPrometheusReceiver(prometheusBin!);
    sink = createRemoteWriteSink({ name: 'prom', url: prom.writeUrl, timeoutMs: 5_000, version: 'test', maxSeriesPerRequest: 20 });
    pipeline = statsdPipeline({
      resource: resourceFromAttributes({ 'service.name': 'tally-agent', 'service.version': 'test', 'host.name': 'rw-test' }),
      now: () => clock,
      timerBuckets: DEFAULT_TIMER_BUCKETS,
      histogramBuckets: [256, 1024, 4096],
      mapper: new Mapper(parseMappingText(fixture('prometheus-mapping.yaml'), 'prometheus-mapping.yaml')),
    });
  }, 30_000);

  afterAll(async () => {
    await sink?.close?.();
    await prom?.stop();
  });

  it('stores exactly the series and values /metrics shows, batch after batch', async () => {
    await pushBatch(t1, fixture('prometheus-batch-1.statsd'));
    const shown1 = exposedValues(texts.get(t1)!);
    expect(shown1.size).toBeGreaterThan(30);
    expect(await stored(t1)).toEqual(shown1);

    await pushBatch(t2, fixture('prometheus-batch-2.statsd'));
    expect(await stored(t2)).toEqual(exposedValues(texts.get(t2)!));
    // Earlier samples stay where they were written: a query at t1 still sees batch 1.
    expect(await stored(t1)).toEqual(shown1);
  });

  it("builds the same exposition in process as the built agent serves on /metrics for the same lines", async () => {
    // The in-process stages stand in for the agent: the agent itself, fed the same batch, must show the same series.
    const agent = await startAgent({
      config: { aggregation: { flush_interval: '1s', histogram_buckets: [256, 1024, 4096] }, mappings_file: join(FIXTURES, 'prometheus-mapping.yaml') },
    });
    try {
      await agent.sendUdp(fixture('prometheus-batch-1.statsd'));
      // Sets show the last complete interval's count, which depends on the agent's own flush timing: left out.
      const ours = (text: string) => new Map([...exposedValues(text)].filter(([id]) => id.includes('"it_') && !id.includes('"it_users"')));
      const expected = ours(texts.get(t1)!);
      expect(expected.size).toBeGreaterThan(25);
      await waitFor(async () => expect(ours(await agent.metricsText())).toEqual(expected), 10_000, 200);
    } finally {
      await agent.stop();
    }
  });

  it('answers PromQL over counters, gauges and histograms as the two expositions do', async () => {
    const [text1, text2] = [texts.get(t1)!, texts.get(t2)!];
    const shown1 = exposedValues(text1);
    const shown2 = exposedValues(text2);
    const checkout = seriesId([['__name__', 'it_requests_total'], ['method', 'POST'], ['route', '/checkout']]);
    expect(await scalar('it_requests_total{route="/checkout"}', t2)).toBe(shown2.get(checkout));
    expect(await scalar('it_requests_total{route="/checkout"} - it_requests_total{route="/checkout"} offset 15s', t2)).toBe(80);
    expect(await scalar('it_requests_total{route="/cart"}', t1)).toBe(80); // 30 + 5 at a 0.1 sample rate
    expect(await scalar('it_queue_depth', t1)).toBe(42);
    expect(await scalar('it_queue_depth', t2)).toBe(40);
    expect(await scalar('it_users', t2)).toBe(1);
    expect(await scalar('it_weird{note="say \\"hi\\" \\\\ bye", Zone="eu"}', t2)).toBe(1);
    expect(await scalar('it_latency_seconds_count{route="/checkout"}', t2)).toBe(shown2.get(seriesId([['__name__', 'it_latency_seconds_count'], ['route', '/checkout']])));
    expect(await scalar('it_latency_seconds_sum{route="/checkout"}', t2)).toBe(shown2.get(seriesId([['__name__', 'it_latency_seconds_sum'], ['route', '/checkout']])));
    expect(shown1.get(seriesId([['__name__', 'it_latency_seconds_count'], ['route', '/checkout']]))).toBe(10);

    // Quantiles over the cumulative buckets, and over the observations of batch 2 alone.
    for (const q of [0.5, 0.9, 0.99]) {
      const all = bucketQuantile(q, bucketsOf(text2, 'it_latency_seconds', { route: '/checkout' }));
      expect(await scalar(`histogram_quantile(${q}, it_latency_seconds_bucket{route="/checkout"})`, t2)).toBeCloseTo(all, 12);
      const before = bucketsOf(text1, 'it_latency_seconds', { route: '/checkout' });
      const batch2 = bucketsOf(text2, 'it_latency_seconds', { route: '/checkout' }).map((b, i) => ({ le: b.le, count: b.count - before[i]!.count }));
      const promql = `histogram_quantile(${q}, it_latency_seconds_bucket{route="/checkout"} - it_latency_seconds_bucket{route="/checkout"} offset 15s)`;
      expect(await scalar(promql, t2)).toBeCloseTo(bucketQuantile(q, batch2), 12);
    }
    // Ten observations in batch 2, one per bucket from 5 ms up: the median lies in (0.05, 0.1].
    expect(await scalar('histogram_quantile(0.5, it_latency_seconds_bucket{route="/checkout"} - it_latency_seconds_bucket{route="/checkout"} offset 15s)', t2)).toBeGreaterThan(0.05);
    // The resource as target_info, as /metrics shows it.
    expect(await prom.query('target_info', t2)).toEqual([
      { metric: { __name__: 'target_info', host_name: 'rw-test', service_name: 'tally-agent', service_version: 'test' }, value: [t2 / 1000, '1'] },
    ]);
  });

  it('marks a series gone when it expires, so PromQL stops returning it at once, as after a scrape', async () => {
    const expiring = seriesId([['__name__', 'it_expiring'], ['ttl', 'short']]);
    expect((await stored(t2)).get(expiring)).toBe(7);
    await pushBatch(t3, fixture('prometheus-batch-3.statsd'));
    const shown3 = exposedValues(texts.get(t3)!);
    expect(shown3.has(expiring)).toBe(false);
    // Without the stale marker, the 5-minute lookback would still return it here.
    expect(await stored(t3)).toEqual(shown3);
    expect(await prom.query('it_expiring', t3 + 1_000)).toEqual([]);
  });

  it('accepts a replayed batch as the same samples, and refuses for good what it cannot store', async () => {
    const before = await stored(t3);
    for (const r of sent.get(t3)!) expect(await sink.send(r, never)).toMatchObject({ kind: 'delivered' });
    expect(await stored(t3)).toEqual(before);

    // Older than what is stored for the same series: Prometheus answers 400, which must not be retried.
    const old = await sink.send(sent.get(t1)![0]!, never);
    expect(old).toMatchObject({ kind: 'permanent', status: 400 });
    expect(old.kind === 'permanent' && old.responseBody).toMatch(/out of order|out of bounds/i);

    const garbage = { ...sent.get(t3)![0]!, body: new TextEncoder().encode('not a snappy block') };
    const refused = await sink.send(garbage, never);
    expect(refused).toMatchObject({ kind: 'permanent', status: 400 });
    expect(refused.kind === 'permanent' && refused.responseBody).toMatch(/snappy|corrupt/i);
  });
});
