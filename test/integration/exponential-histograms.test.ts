/**
 * Exponential histograms through the built agent: a known sample set sent as
 * statsd timers over UDP arrives at an OTLP sink with `histograms:
 * exponential` as EXPONENTIAL_HISTOGRAM points (decoded with the
 * OpenTelemetry protos) whose count, sum, bucket totals, min and max are the
 * sample set's, and whose quantiles are within the scale's relative error of
 * the exact ones. A sink left explicit gets bucket histograms, except for the
 * family a mapping rule made exponential with statsd_exporter's
 * native_histogram_bucket_factor; /metrics keeps explicit buckets for all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { metricPoints, OtlpReceiver, type FlatPoint } from '../support/otlp-receiver.js';
import { familyType, parsePromText, sampleValue } from '../support/prom-text.js';
import { exactQuantile, loadLatenciesMs } from '../support/quantiles.js';

type Expo = { count: number; sum: number; scale: number; zeroCount: number; min: number; max: number; positive: { offset: number; bucketCounts: number[] }; negative: { bucketCounts: number[] } };

const CUMULATIVE = 2;
const DELTA = 1;

/** The q-quantile (nearest rank) read off exponential buckets: the geometric middle of the bucket holding that rank. */
function quantileOf(h: Expo, q: number): number {
  const rank = Math.max(1, Math.ceil(q * h.count));
  const base = 2 ** (2 ** -h.scale);
  let seen = h.zeroCount;
  for (let i = 0; i < h.positive.bucketCounts.length; i++) {
    seen += h.positive.bucketCounts[i]!;
    if (seen >= rank) return base ** (h.positive.offset + i + 0.5);
  }
  throw new Error(`rank ${rank} is past the ${seen} observations in the buckets`);
}

const total = (counts: number[]) => counts.reduce((a, b) => a + b, 0);

describe('exponential histograms to OTLP sinks, explicit buckets on /metrics', () => {
  const samplesMs = loadLatenciesMs();
  // One octave of the set: the rule's factor of 1.01 (scale 7, 128 buckets an octave) fits it within statsd_exporter's default 256.
  const ruledMs = samplesMs.filter((ms) => ms > 20 && ms <= 40);
  let exponential: OtlpReceiver;
  let explicit: OtlpReceiver;
  let agent: AgentHandle;

  beforeAll(async () => {
    exponential = await OtlpReceiver.start();
    explicit = await OtlpReceiver.start();
    agent = await startAgent({
      config: {
        aggregation: { flush_interval: '200ms' },
        mapping: { mappings: [{ match: 'ruled.*', name: 'ruled_seconds', histogram_options: { native_histogram_bucket_factor: 1.01 } }] },
        sinks: [
          { name: 'expo', type: 'otlp', endpoint: exponential.url, temporality: 'cumulative', histograms: 'exponential' },
          { name: 'buckets', type: 'otlp', endpoint: explicit.url },
        ],
      },
    });
    for (let i = 0; i < samplesMs.length; i += 50) {
      await agent.sendUdp(samplesMs.slice(i, i + 50).map((ms) => `checkout.latency:${ms}|ms|#route:/cart`).join('\n'));
    }
    for (let i = 0; i < ruledMs.length; i += 50) await agent.sendUdp(ruledMs.slice(i, i + 50).map((ms) => `ruled.pay:${ms}|ms`).join('\n'));
    // Every datagram arrived (loopback UDP can still drop under load; then this says so).
    await waitFor(async () => {
      const e = parsePromText(await agent.metricsText());
      expect(sampleValue(e, 'checkout_latency_seconds_count', { route: '/cart' })).toBe(samplesMs.length);
      expect(sampleValue(e, 'ruled_seconds_count')).toBe(ruledMs.length);
    }, 10_000);
  }, 30_000);

  afterAll(async () => {
    await agent?.stop();
    await exponential?.close();
    await explicit?.close();
  });

  /** The newest cumulative point of a metric at the exponential sink, once it holds every sample. */
  async function latestCumulative(metric: string, count: number): Promise<FlatPoint> {
    return waitFor(() => {
      const points = exponential.accepted('metrics').flatMap((r) => metricPoints(r.message)).filter((p) => p.metric === metric);
      const last = points[points.length - 1];
      expect((last?.value as Expo | undefined)?.count).toBe(count);
      return last!;
    }, 10_000);
  }

  it('sends timers as exponential histograms with the sample set\'s count, sum, buckets, min, max and quantiles', async () => {
    const point = await latestCumulative('checkout_latency_seconds', samplesMs.length);
    expect(point).toMatchObject({ kind: 'exponentialHistogram', temporality: CUMULATIVE, unit: 's', attributes: { route: '/cart' } });
    const h = point.value as Expo;
    const seconds = samplesMs.map((ms) => ms / 1000);
    expect(h.zeroCount).toBe(0);
    expect(total(h.negative.bucketCounts)).toBe(0);
    expect(total(h.positive.bucketCounts)).toBe(samplesMs.length);
    expect(h.sum).toBeCloseTo(seconds.reduce((a, b) => a + b, 0), 9);
    expect(h.min).toBe(Math.min(...seconds));
    expect(h.max).toBe(Math.max(...seconds));
    // 3.8 ms to 3.9 s is ten octaves: 160 buckets hold them at scale 3 (8 an octave), not 4.
    expect(h.scale).toBe(3);
    const relativeError = Math.sqrt(2 ** (2 ** -h.scale)) - 1;
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const exact = exactQuantile(seconds, q);
      expect(Math.abs(quantileOf(h, q) / exact - 1), `q${q}: ${quantileOf(h, q)} vs ${exact}`).toBeLessThanOrEqual(relativeError + 1e-12);
    }
  });

  it("makes the ruled family exponential for every OTLP sink, at the scale its bucket factor picks", async () => {
    const point = await latestCumulative('ruled_seconds', ruledMs.length);
    expect((point.value as Expo).scale).toBe(7);
    // The explicit sink: deltas, buckets for the unruled timer, exponential for the ruled one.
    const points = await waitFor(() => {
      const all = explicit.accepted('metrics').flatMap((r) => metricPoints(r.message));
      expect(all.filter((p) => p.metric === 'ruled_seconds').reduce((n, p) => n + (p.value as Expo).count, 0)).toBe(ruledMs.length);
      expect(all.filter((p) => p.metric === 'checkout_latency_seconds').reduce((n, p) => n + (p.value as { count: number }).count, 0)).toBe(samplesMs.length);
      return all;
    }, 10_000);
    const ruled = points.filter((p) => p.metric === 'ruled_seconds');
    const checkout = points.filter((p) => p.metric === 'checkout_latency_seconds');
    expect(new Set(ruled.map((p) => `${p.kind} ${p.temporality}`))).toEqual(new Set([`exponentialHistogram ${DELTA}`]));
    expect(new Set(checkout.map((p) => `${p.kind} ${p.temporality}`))).toEqual(new Set([`histogram ${DELTA}`]));
    for (const p of ruled) expect((p.value as Expo).scale).toBe(7);
    expect(ruled.reduce((n, p) => n + total((p.value as Expo).positive.bucketCounts), 0)).toBe(ruledMs.length);
    // The explicit form keeps aggregation.timer_buckets.
    expect(checkout.some((p) => ((p.value as { explicitBounds: number[] }).explicitBounds ?? []).includes(0.1076))).toBe(true);
  });

  it('still shows explicit buckets for both on /metrics', async () => {
    const e = parsePromText(await agent.metricsText());
    expect(familyType(e, 'checkout_latency_seconds')).toBe('histogram');
    expect(familyType(e, 'ruled_seconds')).toBe('histogram');
    const le = (name: string, bound: string, labels: Record<string, string> = {}) => sampleValue(e, `${name}_bucket`, { ...labels, le: bound });
    expect(le('checkout_latency_seconds', '+Inf', { route: '/cart' })).toBe(samplesMs.length);
    expect(le('checkout_latency_seconds', '0.1076', { route: '/cart' })).toBe(samplesMs.filter((ms) => ms / 1000 <= 0.1076).length);
    expect(le('ruled_seconds', '0.025')).toBe(ruledMs.filter((ms) => ms / 1000 <= 0.025).length);
    expect(le('ruled_seconds', '+Inf')).toBe(ruledMs.length);
  });
});
