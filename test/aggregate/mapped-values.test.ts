import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { aggregatorHarness } from '../support/aggregator-harness.js';
import { DEFAULT_LIMITS, type AggregatorLimits } from '../../agent/aggregate/series-store.js';
import { Mapper } from '../../agent/mapping/mapper.js';
import { loadMappingFile, parseMappingText } from '../../agent/mapping/mapping-config.js';
import { COUNTER, TIMER } from '../../agent/parse/metric-kind.js';
import { loadLatenciesMs, quantileErrors } from '../support/quantiles.js';

// scale, help and observer_type: summary; shared with the mapper, export and end-to-end tests.
const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'mapping', 'fixtures', 'valid', 'scale-summary-help.yaml');

function setup(opts: { mapper?: Mapper; limits?: AggregatorLimits; seriesTtlMs?: number } = {}) {
  const h = aggregatorHarness({ mapper: opts.mapper ?? new Mapper(loadMappingFile(FIXTURE)), limits: opts.limits, seriesTtlMs: opts.seriesTtlMs });
  return { ...h, series: h.seriesWith };
}

describe('scale', () => {
  it('multiplies counters after the sample rate, as statsd_exporter does', () => {
    const { send, series } = setup();
    send('upload.kb:100|c\nupload.kb:200|c\nupload.kb:1|c|@0.5');
    // statsd_exporter's TestScaledMapping: 100 and 200 kB at scale 1024 read 300 × 1024.
    expect(series('upload_bytes_total')!.value).toBe(300 * 1024 + 2 * 1024);
  });

  it('multiplies gauges, their signed adjustments too', () => {
    const { send, series } = setup();
    send('mem.kb:10|g\nmem.kb:+2|g\nmem.kb:-1|g');
    expect(series('mem_bytes')!.value).toBe(11 * 1024);
    send('mem.kb:3|g');
    expect(series('mem_bytes')!.value).toBe(3 * 1024);
  });

  it('multiplies histogram and distribution samples before they are bucketed', () => {
    const { send, series, families } = setup();
    send('payload.a:5000|h\npayload.a:50000|d\npayload.a:500|h');
    const s = series('payload_kilobytes')!;
    expect(families().get('payload_kilobytes')!.bounds).toEqual([1, 10, 100]);
    expect(Array.from(s.bucketCounts)).toEqual([1, 1, 1, 0]);
    expect(s.sum).toBeCloseTo(55.5, 12);
  });

  it('multiplies timers after their conversion to seconds, and each sample of a value list', () => {
    const { send, series } = setup();
    send('db.query_us:1500000|ms\ndb.query_us:1000000:3000000|ms');
    const s = series('db_query_seconds')!;
    expect(s.count).toBe(3);
    // 1,500,000 "ms" is 1,500 s before scale 1e-6.
    expect(s.sum).toBeCloseTo((1500 + 1000 + 3000) * 1e-6, 15);
  });

  it('belongs to the spelling: two rules with different scales feed one series correctly, line after line', () => {
    const { send, series, agg } = setup();
    for (let i = 0; i < 3; i++) send('download.kb:1|c\ndownload.mb:1|c');
    expect(agg.seriesCount).toBe(1);
    expect(series('transfer_bytes_total')!.value).toBe(3 * 1024 + 3 * 1048576);
  });

  it('leaves unmapped lines that reach a scaled series unscaled', () => {
    const { send, series } = setup();
    send('mem.kb:2|g\nmem_bytes:5|g');
    expect(series('mem_bytes')!.value).toBe(5);
    send('mem.kb:2|g');
    expect(series('mem_bytes')!.value).toBe(2048);
  });

  it('does not touch sets: a member is not a value', () => {
    const { send, series, agg } = setup();
    send('visitors.home:alice|s\nvisitors.home:bob|s\nvisitors.home:alice|s');
    agg.flush();
    expect(series('visitors')!.lastIntervalCount).toBe(2);
  });

  it('applies to structured input (the HTTP API) as to lines', () => {
    const { agg, series } = setup();
    agg.recordSample(COUNTER, 'upload.kb', 2, { pairs: [], malformed: 0 });
    agg.recordSample(TIMER, 'db.query_us', 2_000_000, { pairs: [], malformed: 0 });
    expect(series('upload_bytes_total')!.value).toBe(2048);
    expect(series('db_query_seconds')!.sum).toBeCloseTo(0.002, 15);
  });

  it('refuses a counter a negative scale turns negative, and a value it pushes past the float range, counting each', () => {
    const mapper = new Mapper(
      parseMappingText('mappings:\n- match: neg.*\n  name: neg\n  scale: -1\n- match: huge.*\n  name: huge\n  scale: 1e300\n', 'i.yaml'),
    );
    const { send, series, counters, aggregation } = setup({ mapper });
    send('neg.a:5|c\nneg.a:0|c\nhuge.a:1e10|g\nhuge.a:2|g');
    expect(counters.parseErrors.get('negative_counter')).toBe(1);
    expect(counters.parseErrors.get('bad_value')).toBe(1);
    expect(series('neg_total')!.value).toBe(0);
    expect(series('huge')!.value).toBe(2e300);
    expect(counters.metricsReceived).toBe(4);
    expect(aggregation.metricsAggregated).toBe(2);
  });
});

describe('help', () => {
  it('is kept on the family the rule creates; other families keep no help (the default text)', () => {
    const { send, families } = setup();
    send('upload.kb:1|c\napi.home.latency:5|ms\nmem.kb:1|g');
    expect(families().get('upload_bytes_total')!.help).toBe('Bytes uploaded: "quoted", back\\slash and a line\nbreak');
    expect(families().get('api_latency_seconds')!.help).toBe('API latency by route');
    expect(families().get('mem_bytes')!.help).toBeUndefined();
  });
});

describe('observer_type: summary', () => {
  it('makes a summary family whose series keep sum and count and a quantile window', () => {
    const { send, families, series, now, aggregation } = setup();
    send('api.home.latency:100|ms\napi.home.latency:300|ms|@0.5\napi.cart.latency:7|ms');
    const f = families().get('api_latency_seconds')!;
    expect(f.type).toBe('summary');
    expect(f.unit).toBe('s');
    expect(f.summary!.quantiles).toEqual([0.5, 0.9, 0.99]);
    expect(f.summary).toMatchObject({ relativeAccuracy: 0.001, maxAgeMs: 600_000, ageBuckets: 5 });
    const home = series('api_latency_seconds', { route: 'home' })!;
    expect(home.count).toBe(3);
    expect(home.sum).toBeCloseTo(0.7, 12);
    const [p50, , p99] = home.summary!.quantileValues(now());
    expect(p50).toBeCloseTo(0.3, 3);
    expect(p99).toBeCloseTo(0.3, 3);
    expect(aggregation.metricsAggregated).toBe(3);
  });

  it('takes the rule window and quantiles', () => {
    const { send, families } = setup();
    send('db.query_us:5|ms');
    expect(families().get('db_query_seconds')!.summary).toMatchObject({ quantiles: [0.5, 0.99], maxAgeMs: 30_000, ageBuckets: 3 });
  });

  it('estimates the quantiles of a known sample set within the configured error', () => {
    const { send, series, now } = setup();
    const samples = loadLatenciesMs();
    for (let i = 0; i < samples.length; i += 50) {
      send(samples.slice(i, i + 50).map((ms) => `api.checkout.latency:${ms}|ms`).join('\n'));
    }
    const s = series('api_latency_seconds', { route: 'checkout' })!;
    expect(s.count).toBe(samples.length);
    const values = s.summary!.quantileValues(now());
    const seconds = samples.map((ms) => ms / 1000);
    [0.05, 0.01, 0.001].forEach((error, i) => {
      const { relative, rank } = quantileErrors(seconds, [0.5, 0.9, 0.99][i]!, values[i]!);
      expect(relative).toBeLessThanOrEqual(error);
      expect(rank).toBeLessThanOrEqual(error);
    });
  });

  it('counts a histogram and a summary of one name as a type conflict, whichever comes first', () => {
    const first = setup();
    first.send('clash.summary:1|ms\nclash.histogram:1|ms\nclash.histogram:1|ms');
    expect(first.families().get('clash')!.type).toBe('summary');
    expect(first.aggregation.metricsDropped.get('type_conflict')).toBe(2);
    const second = setup();
    second.send('clash.histogram:1|ms\nclash.summary:1|ms');
    expect(second.families().get('clash')!.type).toBe('histogram');
    expect(second.aggregation.metricsDropped.get('type_conflict')).toBe(1);
  });

  it('conflicts with an unmapped histogram of the same name too', () => {
    const { send, families, aggregation } = setup();
    send('api.x.latency:1|ms\napi_latency_seconds:1|ms');
    expect(families().get('api_latency_seconds')!.series).toHaveLength(1);
    expect(aggregation.metricsDropped.get('type_conflict')).toBe(1);
  });

  it('makes unmapped observers summaries when the defaults say so, as statsd_exporter does', () => {
    const mapper = new Mapper(parseMappingText('defaults:\n  observer_type: summary\n  summary_options:\n    max_age: 1m\nmappings: []\n', 'i.yaml'));
    const { send, families } = setup({ mapper });
    send('plain.latency:5|ms\nsize:3|h\nhits:1|c');
    expect(families().get('plain_latency_seconds')).toMatchObject({ type: 'summary', summary: { maxAgeMs: 60_000, ageBuckets: 5 } });
    expect(families().get('size')!.type).toBe('summary');
    expect(families().get('hits_total')!.type).toBe('counter');
  });

  it('renames a quantile tag, which the exposition needs for itself (and le on histograms)', () => {
    const { send, series } = setup();
    send('api.home.latency:5|ms|#quantile:high\npayload.a:5|h|#le:5');
    expect(series('api_latency_seconds', { exported_quantile: 'high', route: 'home' })).toBeDefined();
    expect(series('payload_kilobytes', { exported_le: '5' })).toBeDefined();
  });

  it('applies the cardinality limits to summary series', () => {
    const { send, families, aggregation } = setup({ limits: { ...DEFAULT_LIMITS, maxSeriesPerMetric: 2 } });
    send('api.a.latency:1|ms\napi.b.latency:1|ms\napi.c.latency:1|ms\napi.c.latency:1|ms');
    expect(families().get('api_latency_seconds')!.series).toHaveLength(2);
    expect(aggregation.seriesDropped.get('cardinality')).toBe(2);
  });

  it('expires idle summary and scaled series, keeps the others routed right, and starts a returning one afresh', () => {
    const { send, series, advance, agg, now, aggregation } = setup({ seriesTtlMs: 30_000 });
    send('api.old.latency:100|ms\nmem.kb:1|g\napi.busy.latency:5|ms\ndownload.kb:1|c');
    for (let i = 0; i < 4; i++) {
      advance(10_000);
      send('api.busy.latency:5|ms\ndownload.kb:1|c');
    }
    expect(aggregation.seriesExpired).toBe(2);
    expect(agg.seriesCount).toBe(2);
    expect(series('api_latency_seconds', { route: 'old' })).toBeUndefined();
    // The survivors' spellings were renumbered: still scaled, still summaries.
    expect(series('transfer_bytes_total')!.value).toBe(5 * 1024);
    expect(series('api_latency_seconds', { route: 'busy' })!.count).toBe(5);
    send('api.old.latency:200|ms\nmem.kb:2|g');
    const old = series('api_latency_seconds', { route: 'old' })!;
    expect(old.count).toBe(1);
    expect(old.summary!.quantileValues(now())[0]).toBeCloseTo(0.2, 3);
    expect(series('mem_bytes')!.value).toBe(2048);
  });
});
