/**
 * Exponential histograms kept per series beside the explicit buckets: only
 * for the families a mapping rule (or its defaults) asks for, or every
 * histogram family when an OTLP sink takes them; fed on every path a sample
 * can take (repeated lines, tag orders, value lists, sample rates, rule
 * scales, the HTTP API), and dropped with their series.
 */
import { describe, expect, it } from 'vitest';
import { aggregatorHarness } from '../support/aggregator-harness.js';
import type { AggregatorLimits, ExponentialMode } from '../../agent/aggregate/series-store.js';
import type { Series } from '../../agent/aggregate/series.js';
import { Mapper } from '../../agent/mapping/mapper.js';
import { parseMappingText } from '../../agent/mapping/mapping-config.js';
import { TIMER } from '../../agent/parse/metric-kind.js';

function setup(opts: { exponential?: ExponentialMode; mapping?: string; seriesTtlMs?: number; limits?: AggregatorLimits } = {}) {
  const h = aggregatorHarness({
    histogramBuckets: [10],
    exponential: opts.exponential,
    mapper: opts.mapping === undefined ? undefined : new Mapper(parseMappingText(opts.mapping, 'm.yaml')),
    seriesTtlMs: opts.seriesTtlMs,
    limits: opts.limits,
  });
  return { ...h, series: (family: string, i = 0): Series => h.seriesAt(family, i)! };
}

/** The observations an exponential histogram holds, summed over its buckets. */
function bucketTotal(s: Series): number {
  const h = s.expo!.toOtel();
  return h.zeroCount + h.positive.bucketCounts.reduce((a, b) => a + b, 0) + h.negative.bucketCounts.reduce((a, b) => a + b, 0);
}

/** The positive bucket holding `v`'s weight must have bounds (base^i, base^(i+1)] around it. */
function expectInBucket(s: Series, v: number): void {
  const h = s.expo!.toOtel();
  const base = 2 ** (2 ** -h.scale);
  const i = h.positive.bucketCounts.findIndex((c, k) => c > 0 && base ** (h.positive.offset + k) < v && v <= base ** (h.positive.offset + k + 1));
  expect(i, `${v} in a non-empty bucket at scale ${h.scale}`).toBeGreaterThanOrEqual(0);
}

const RULES = [
  'mappings:',
  '- match: checkout.*',
  '  name: checkout_seconds',
  '  histogram_options:',
  '    native_histogram_bucket_factor: 1.1',
  '    native_histogram_max_buckets: 40',
  '- match: payload.*',
  '  name: payload_bytes',
  '  scale: 1024',
  '  histogram_options:',
  '    native_histogram_max_buckets: 80',
  '- match: plain.*',
  '  name: plain_seconds',
  '',
].join('\n');

describe('exponential histograms in the aggregator', () => {
  it('keeps none unless asked: the default mode without rules, and mode off even with them', () => {
    const { send, families } = setup();
    send('lat:120|ms\nsize:5|h\nsize:7|d\nhits:1|c');
    for (const f of families().values()) {
      expect(f.exponential, f.name).toBeUndefined();
      for (const s of f.series) expect(s.expo, f.name).toBeNull();
    }
    const off = setup({ exponential: 'off', mapping: RULES });
    off.send('checkout.pay:120|ms');
    expect(off.families().get('checkout_seconds')!.exponential).toBeUndefined();
    expect(off.series('checkout_seconds').expo).toBeNull();
    expect(off.series('checkout_seconds').count).toBe(1);
  });

  it("keeps one for the families a rule asks for, at the rule's resolution, in mode rules", () => {
    const { send, families, series } = setup({ mapping: RULES });
    send('checkout.pay:120|ms\nplain.x:120|ms\nother:120|ms\npayload.up:3|h');
    expect(families().get('checkout_seconds')!.exponential).toEqual({ maxScale: 3, maxSize: 40, fromMapping: true });
    expect(series('checkout_seconds').expo).toMatchObject({ maxScale: 3, maxSize: 40 });
    expect(families().get('payload_bytes')!.exponential).toEqual({ maxScale: 3, maxSize: 80, fromMapping: true });
    expect(families().get('plain_seconds')!.exponential).toBeUndefined();
    expect(families().get('other_seconds')!.exponential).toBeUndefined();
    expect(series('plain_seconds').expo).toBeNull();
    // Timers in seconds, as the explicit buckets; the rule's scale applied first, as statsd_exporter does.
    expect(series('checkout_seconds').expo!.sum).toBeCloseTo(0.12, 12);
    expectInBucket(series('checkout_seconds'), 0.12);
    expect(series('payload_bytes').expo!.sum).toBe(3072);
    expectInBucket(series('payload_bytes'), 3072);
  });

  it("applies the mapping defaults' native options to unmapped observers, as statsd_exporter does", () => {
    const mapping = 'defaults:\n  histogram_options:\n    native_histogram_bucket_factor: 2\nmappings:\n- match: a.*\n  name: a_seconds\n';
    const { send, families, series } = setup({ mapping });
    send('lat:120|ms\nsize:5|h\nhits:1|c\ntemp:3|g\na.b:1|ms');
    expect(families().get('lat_seconds')!.exponential).toEqual({ maxScale: 0, maxSize: 256, fromMapping: true });
    expect(families().get('size')!.exponential).toEqual({ maxScale: 0, maxSize: 256, fromMapping: true });
    expect(families().get('a_seconds')!.exponential).toEqual({ maxScale: 0, maxSize: 256, fromMapping: true });
    expect(families().get('hits_total')!.exponential).toBeUndefined();
    expect(families().get('temp')!.exponential).toBeUndefined();
    expect(series('hits_total').expo).toBeNull();
    expect(series('size').expo!.count).toBe(1);
  });

  it('keeps one for every histogram family in mode all, at the OpenTelemetry defaults unless a rule says otherwise', () => {
    const { send, families, series } = setup({ exponential: 'all', mapping: RULES });
    send('lat:120|ms\nsize:5|h\nsize:-2|d\nsize:0|h\nhits:1|c\nusers:a|s\ntemp:1|g\ncheckout.pay:80|ms');
    expect(families().get('lat_seconds')!.exponential).toEqual({ maxScale: 20, maxSize: 160, fromMapping: false });
    expect(families().get('checkout_seconds')!.exponential).toEqual({ maxScale: 3, maxSize: 40, fromMapping: true });
    for (const name of ['hits_total', 'users', 'temp']) {
      expect(families().get(name)!.exponential, name).toBeUndefined();
      expect(series(name).expo, name).toBeNull();
    }
    const size = series('size').expo!.toOtel();
    expect(size).toMatchObject({ count: 3, sum: 3, zeroCount: 1, min: -2, max: 5 });
    expect(size.negative.bucketCounts.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('does not make summaries exponential, whatever the mode', () => {
    const mapping = 'mappings:\n- match: rpc.*\n  name: rpc_seconds\n  observer_type: summary\n';
    const { send, families, series } = setup({ exponential: 'all', mapping });
    send('rpc.get:10|ms');
    expect(families().get('rpc_seconds')!.type).toBe('summary');
    expect(families().get('rpc_seconds')!.exponential).toBeUndefined();
    expect(series('rpc_seconds').expo).toBeNull();
  });

  it('records every sample the explicit buckets get, on every path, with the same weights', () => {
    const { agg, send, series } = setup({ exponential: 'all' });
    // A new spelling, the same again (an alias-table hit), tags in another order, a sample rate, a value list.
    send('lat:100|ms|#a:1,b:2\nlat:200|ms|#a:1,b:2\nlat:300|ms|#b:2,a:1\nlat:400|ms|@0.5|#a:1,b:2\nlat:10:20:30|ms|#a:1,b:2');
    // More tag orders than a series keeps aliases for: the rest take the slow path every time.
    const keys = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}:v`);
    for (let i = 0; i < 20; i++) send(`wide:1|h|#${[...keys.slice(i), ...keys.slice(0, i)].join(',')}`);
    for (let i = 0; i < 20; i++) send(`wide:1|h|#${[...keys.slice(i), ...keys.slice(0, i)].join(',')}`);
    // The HTTP API's path.
    agg.recordSample(TIMER, 'lat', 500, { pairs: [['a', '1'], ['b', '2']], malformed: 0 });
    const lat = series('lat_seconds');
    expect(lat.count).toBe(9);
    expect(lat.expo!.count).toBe(9);
    expect(bucketTotal(lat)).toBe(9);
    expect(lat.expo!.sum).toBeCloseTo(lat.sum, 12);
    expect(lat.expo!.min).toBeCloseTo(0.01, 15);
    expect(lat.expo!.max).toBeCloseTo(0.5, 15);
    for (const v of [0.01, 0.1, 0.4, 0.5]) expectInBucket(lat, v);
    const wide = series('wide');
    expect(wide.count).toBe(40);
    expect(wide.expo!.count).toBe(40);
  });

  it('goes with its series when the series expires, and survivors keep theirs through the compaction', () => {
    const { send, advance, series, families, agg, aggregation } = setup({ exponential: 'all', seriesTtlMs: 30_000 });
    send('lat:100|ms|#pod:a\nlat:100|ms|#pod:b\nsize:4|h');
    for (let i = 0; i < 4; i++) {
      advance(10_000);
      send('lat:200|ms|#pod:b');
    }
    expect(aggregation.seriesExpired).toBe(2);
    expect(families().get('size')).toBeUndefined();
    expect(families().get('lat_seconds')!.series.map((s) => s.attributes.pod)).toEqual(['b']);
    expect(series('lat_seconds').expo!.count).toBe(5);
    // Renumbered routes still lead to the survivor's histogram; the returning series starts afresh.
    send('lat:300|ms|#pod:b\nlat:300|ms|#pod:a\nsize:8|h');
    const byPod = new Map(families().get('lat_seconds')!.series.map((s) => [s.attributes.pod, s]));
    expect(byPod.get('b')!.expo!.count).toBe(6);
    expect(byPod.get('a')!.expo!.count).toBe(1);
    expect(byPod.get('a')!.expo!.sum).toBeCloseTo(0.3, 12);
    expect(series('size').expo!.toOtel()).toMatchObject({ count: 1, sum: 8 });
    expect(agg.seriesCount).toBe(3);
  });

  it('creates none for a series refused by the cardinality limit', () => {
    const { send, families, aggregation } = setup({
      exponential: 'all',
      limits: { maxSeriesPerMetric: 2, maxSeries: 100, maxTags: 8, maxTagValueBytes: 64 },
    });
    send('lat:1|ms|#pod:a\nlat:1|ms|#pod:b\nlat:1|ms|#pod:c\nlat:1|ms|#pod:c');
    const f = families().get('lat_seconds')!;
    expect(f.series).toHaveLength(2);
    expect(aggregation.seriesDropped.get('cardinality')).toBe(2);
    expect(f.series.reduce((n, s) => n + s.expo!.count, 0)).toBe(2);
  });
});
