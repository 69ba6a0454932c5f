/**
 * `histograms: native` on the remote-write sink against a real Prometheus
 * 2.42 started with --enable-feature=native-histograms: the agent's own
 * stages in process, as in prometheus-remote-write.test.ts, with every
 * histogram family keeping exponential state (as the pipeline keeps it when
 * a sink asks for native histograms). What is sent is checked field by
 * field, and PromQL's native-histogram functions must read back the count,
 * the sum and the quantiles of what was sent. Needs the `prometheus` binary;
 * CI installs it.
 */
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TIMER_BUCKETS } from '../../../agent/aggregate/aggregation-config.js';
import { createRemoteWriteSink } from '../../../agent/export/remote-write/remote-write-sink.js';
import type { EncodedRequest, Sink } from '../../../agent/export/sink.js';
import { findOnPath } from '../../support/agent-process.js';
import { decodeNativeBody, nativeBucketCounts, seriesId, statsdPipeline, type DecodedNativeSeries, type StatsdPipeline } from './helpers.js';
import { startPrometheusReceiver, type PrometheusReceiver } from './prometheus-receiver.js';

const prometheusBin = findOnPath('prometheus');
const never = new AbortController().signal;

// Batch 1: ten timings from 5 ms to 900 ms; batch 2: ten more, slower.
const BATCH1_MS = [5, 12, 30, 47, 80, 120, 200, 350, 600, 900];
const BATCH2_MS = [40, 60, 75, 90, 110, 130, 180, 260, 420, 700];

/** The exact q-quantile of a sample, as the rank Prometheus looks for (q × count, the first value reaching it). */
function rankValue(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

describe.skipIf(!prometheusBin)('native histograms over remote write into a real Prometheus 2.42', () => {
  let prom: PrometheusReceiver;
  let sink: Sink;
  let pipeline: StatsdPipeline;
  let clock = 0;
  const t1 = Math.floor(Date.now() / 1000) * 1000 - 120_000;
  const t2 = t1 + 15_000;
  const t3 = t2 + 30_000;
  const sent = new Map<number, DecodedNativeSeries[]>();

  async function pushBatch(timeMs: number, lines: string): Promise<void> {
    // The lines arrive during the interval, so a new series starts before the batch's time.
    clock = timeMs - 5_000;
    pipeline.send(lines);
    clock = timeMs;
    pipeline.aggregator.flush();
    const requests: EncodedRequest[] = await sink.encode(await pipeline.batch(timeMs));
    for (const r of requests) {
      const outcome = await sink.send(r, never);
      if (outcome.kind !== 'delivered') throw new Error(`push of batch ${timeMs} failed: ${JSON.stringify(outcome)}\n${prom.output()}`);
    }
    sent.set(timeMs, requests.flatMap((r) => decodeNativeBody(r.body)));
  }

  async function scalar(promql: string, timeMs: number): Promise<number> {
    const result = await prom.query(promql, timeMs);
    if (result.length !== 1) throw new Error(`${promql} returned ${result.length} series: ${JSON.stringify(result)}\n${prom.output()}`);
    return Number(result[0]!.value[1]);
  }

  const timers = (ms: number[]) => ms.map((v) => `it.latency:${v}|ms|#route:/checkout`).join('\n');

  beforeAll(async () => {
    prom = await startPrometheusReceiver(prometheusBin!, ['native-histograms']);
    sink = createRemoteWriteSink({ name: 'prom', url: prom.writeUrl, timeoutMs: 5_000, version: 'test', maxSeriesPerRequest: 20, nativeHistograms: true });
    pipeline = statsdPipeline({
      resource: resourceFromAttributes({ 'service.name': 'tally-agent', 'host.name': 'rw-native' }),
      now: () => clock,
      timerBuckets: DEFAULT_TIMER_BUCKETS,
      exponential: 'all',
      seriesTtlMs: 20_000,
    });
    await pushBatch(t1, `${timers(BATCH1_MS)}\nit.requests:3|c`);
    await pushBatch(t2, `${timers(BATCH2_MS)}\nit.requests:2|c`);
    // No timings in batch 3: past its ttl the series expires at this flush.
    await pushBatch(t3, 'it.requests:1|c');
  }, 30_000);

  afterAll(async () => {
    await sink?.close?.();
    await prom?.stop();
  });

  it('sends a timer as one series of native histogram samples, beside ordinary samples for the rest', () => {
    const batch1 = sent.get(t1)!;
    const latency = batch1.filter((s) => s.labels.some(([n, v]) => n === '__name__' && v.startsWith('it_latency')));
    expect(latency).toHaveLength(1);
    const series = latency[0]!;
    expect(seriesId(series.labels)).toBe(seriesId([['__name__', 'it_latency_seconds'], ['route', '/checkout']]));
    expect(series.samples).toEqual([]);
    // New to the sink: an empty histogram at the series' start, then the batch's.
    const [start, h] = series.histograms as [DecodedNativeSeries['histograms'][0], DecodedNativeSeries['histograms'][0]];
    expect(series.histograms).toHaveLength(2);
    expect(start).toMatchObject({ countInt: 0, sum: 0, zeroCountInt: 0, positiveSpans: [], positiveDeltas: [] });
    expect(start.timestamp).toBe(t1 - 5_000);
    expect(h.timestamp).toBe(t1);
    expect(h.countInt).toBe(10);
    expect(h.sum).toBeCloseTo(BATCH1_MS.reduce((a, v) => a + v, 0) / 1000, 12);
    expect(h.countFloat).toBeUndefined();
    expect(h.positiveCounts).toEqual([]);
    expect(h.schema).toBe(start.schema);
    // Each timing in its bucket at the schema sent.
    const buckets = nativeBucketCounts(h.positiveSpans, h.positiveDeltas);
    const want = new Map<number, number>();
    for (const v of BATCH1_MS) {
      const k = Math.ceil(Math.log2(v / 1000) * 2 ** h.schema);
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    expect(buckets).toEqual(want);
    // No classic series of the family, and the counter as ever.
    expect(batch1.some((s) => s.labels.some(([n, v]) => n === '__name__' && /^it_latency_seconds_(bucket|count|sum)$/.test(v)))).toBe(false);
    const requests = batch1.find((s) => s.labels.some(([n, v]) => n === '__name__' && v === 'it_requests_total'))!;
    expect(requests.histograms).toEqual([]);
    expect(requests.samples.at(-1)!.value).toBe(3);
    // Batch 2: the series is known, one histogram holding both batches.
    const h2 = sent.get(t2)!.find((s) => s.labels.some(([n, v]) => n === '__name__' && v === 'it_latency_seconds'))!.histograms;
    expect(h2).toHaveLength(1);
    expect(h2[0]!.countInt).toBe(20);
  });

  it('answers histogram_count, histogram_sum and histogram_quantile with what was sent', async () => {
    expect(await scalar('histogram_count(it_latency_seconds{route="/checkout"})', t1)).toBe(10);
    expect(await scalar('histogram_count(it_latency_seconds{route="/checkout"})', t2)).toBe(20);
    const all = [...BATCH1_MS, ...BATCH2_MS];
    expect(await scalar('histogram_sum(it_latency_seconds{route="/checkout"})', t2)).toBeCloseTo(all.reduce((a, v) => a + v, 0) / 1000, 9);
    const schema = sent.get(t2)!.find((s) => s.histograms.length > 0)!.histograms[0]!.schema;
    const base = 2 ** (2 ** -schema);
    for (const q of [0.5, 0.9, 0.99]) {
      const got = await scalar(`histogram_quantile(${q}, it_latency_seconds{route="/checkout"})`, t2);
      // Within the bucket of the exact quantile: (base^(k-1), base^k].
      const exact = rankValue(all, q) / 1000;
      const k = Math.ceil(Math.log2(exact) * 2 ** schema);
      expect(got).toBeGreaterThan(base ** (k - 1) * (1 - 1e-12));
      expect(got).toBeLessThanOrEqual(base ** k * (1 + 1e-12));
    }
    expect(await scalar('it_requests_total', t2)).toBe(5);
  });

  it('marks the series stale when it expires, so PromQL stops returning it at once', async () => {
    const gone = sent.get(t3)!.find((s) => s.labels.some(([n, v]) => n === '__name__' && v === 'it_latency_seconds'))!;
    expect(gone.histograms).toEqual([]);
    expect(gone.samples).toHaveLength(1);
    expect(gone.samples[0]!.timestamp).toBe(t3);
    expect(Number.isNaN(gone.samples[0]!.value)).toBe(true);
    expect(await prom.query('histogram_count(it_latency_seconds)', t3 - 1_000)).toHaveLength(1);
    expect(await prom.query('histogram_count(it_latency_seconds)', t3 + 1_000)).toEqual([]);
    expect(await scalar('it_requests_total', t3)).toBe(6);
  });
});
