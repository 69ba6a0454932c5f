import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { RemoteWriteEncoder } from '../../../agent/export/remote-write/remote-write-encoder.js';
import { collectSummaries } from '../../../agent/export/summary-data.js';
import { summariesToPrometheusText } from '../../../agent/export/summary-text.js';
import { Mapper } from '../../../agent/mapping/mapper.js';
import { parseMappingText } from '../../../agent/mapping/mapping-config.js';
import { FIXTURES, decodeBody, exposedValues, exposition, pushedValues, rawSampleBits, seriesId, statsdPipeline } from './helpers.js';

const T0 = 1_700_000_000_000;
const BATCH_MS = 1_700_000_010_000;
const RESOURCE = resourceFromAttributes({ 'service.name': 'tally-agent', 'service.version': '0.1.0-test' });
const STALE_NAN = '7ff0000000000002';

function snapshot(metrics: ResourceMetrics, timeMs = BATCH_MS, batchId = 'batch-1') {
  return { batchId, timeMs, metrics, events: [] };
}

async function knownBatch(): Promise<ResourceMetrics> {
  const p = statsdPipeline({ resource: RESOURCE, now: () => T0 });
  p.send(readFileSync(join(FIXTURES, 'known-batch.statsd'), 'utf8'));
  return p.collect(BATCH_MS);
}

const HR = [1_700_000_000, 0] as [number, number];
const END = [1_700_000_010, 0] as [number, number];
const descriptor = (name: string) => ({ name, description: 'd', unit: '', valueType: ValueType.DOUBLE });
const pt = <T>(attributes: Record<string, unknown>, value: T) => ({ attributes: attributes as never, startTime: HR, endTime: END, value });

/** OpenTelemetry data the statsd path never makes, for the serializer's corners. */
function handMade(metrics: MetricData[], resource = { 'service.name': 'svc', 'host.name': 'h1', 'deployment.environment': '' }): ResourceMetrics {
  return { resource: resourceFromAttributes(resource), scopeMetrics: [{ scope: { name: 'test' }, metrics }] };
}

function sum(name: string, isMonotonic: boolean, points: ReturnType<typeof pt<number>>[]): MetricData {
  return { descriptor: descriptor(name), aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic, dataPoints: points };
}
function gauge(name: string, points: ReturnType<typeof pt<number>>[]): MetricData {
  return { descriptor: descriptor(name), aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints: points };
}

describe('RemoteWriteEncoder', () => {
  it('encodes a known batch: names, labels in order, values and the batch time, decoded with the spec proto', async () => {
    const requests = new RemoteWriteEncoder({ version: '0.1.0' }).encode(snapshot(await knownBatch()));
    expect(requests).toHaveLength(1);
    const series = decodeBody(requests[0]!.body);
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'known-batch.expected.json'), 'utf8')) as Array<{ labels: Array<[string, string]>; value: number }>;
    expect(series.map((s) => ({ labels: s.labels, value: s.samples.at(-1)!.value }))).toEqual(expected);
    for (const s of series) {
      const name = s.labels.find(([k]) => k === '__name__')![1];
      // Counters and histograms this encoder has not sent before start from 0 at their series' start.
      const counting = /_(total|bucket|count|sum)$/.test(name);
      expect(s.samples, name).toEqual([
        ...(counting ? [{ value: 0, timestamp: T0 }] : []),
        { value: expect.any(Number), timestamp: BATCH_MS },
      ]);
    }
  });

  it('starts a new counter or histogram series with a 0 at its start time, once, so increase() counts its first value', async () => {
    let clock = T0;
    const p = statsdPipeline({ resource: RESOURCE, now: () => clock });
    const encoder = new RemoteWriteEncoder({ version: '0' });
    p.send('feature:1|c\nlatency:120|ms\nmemory:5|g');
    clock = BATCH_MS;
    const first = decodeBody(encoder.encode(snapshot(await p.collect(clock)))[0]!.body);
    const samples = (series: typeof first, name: string) => series.find((s) => s.labels.some(([k, v]) => k === '__name__' && v === name))!.samples;
    expect(samples(first, 'feature_total')).toEqual([
      { value: 0, timestamp: T0 },
      { value: 1, timestamp: BATCH_MS },
    ]);
    expect(samples(first, 'latency_seconds_count')).toEqual([
      { value: 0, timestamp: T0 },
      { value: 1, timestamp: BATCH_MS },
    ]);
    expect(samples(first, 'memory')).toEqual([{ value: 5, timestamp: BATCH_MS }]);
    p.send('feature:1|c\nlate:1|c');
    clock = BATCH_MS + 10_000;
    const second = decodeBody(encoder.encode(snapshot(await p.collect(clock), clock, 'batch-2'))[0]!.body);
    expect(samples(second, 'feature_total')).toEqual([{ value: 2, timestamp: clock }]);
    expect(samples(second, 'late_total')).toEqual([
      { value: 0, timestamp: BATCH_MS },
      { value: 1, timestamp: clock },
    ]);
  });

  it("sends the spec's headers, the user agent, the batch id; path is the endpoint itself", async () => {
    const [request] = new RemoteWriteEncoder({ version: '1.2.3' }).encode(snapshot(await knownBatch(), BATCH_MS, '0b9f3c1e-batch'));
    expect(request!.path).toBe('');
    expect(request!.headers).toEqual({
      'Content-Encoding': 'snappy',
      'Content-Type': 'application/x-protobuf',
      'User-Agent': 'tally-agent/1.2.3',
      'X-Prometheus-Remote-Write-Version': '0.1.0',
      'x-tally-batch-id': '0b9f3c1e-batch',
      'x-tally-batch-part': '1/1',
    });
  });

  it('gives exactly the series and values /metrics shows for the same data', async () => {
    const rm = await knownBatch();
    const [request] = new RemoteWriteEncoder({ version: '0' }).encode(snapshot(rm));
    expect(pushedValues([request!.body])).toEqual(exposedValues(exposition(rm)));
  });

  it("follows the serializer's naming corners: suffixes, sanitizing, leading digits, non-string values, Infinity bounds, empty values", () => {
    const rm = handMade([
      sum('http.server-requests', true, [pt({ 'http.method': 'GET', empty: '', 'line\nbreak': 'a\nb "q" \\' }, 7)]),
      sum('jobs_total', true, [pt({}, 2)]),
      sum('in.flight', false, [pt({ pool: 'db' }, -3)]),
      gauge('9lives', [pt({ n: 3, on: true, list: ['a', 'b'] }, 0.25)]),
      {
        descriptor: descriptor('rpc.size'),
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: [pt({ svc: 'x' }, { buckets: { boundaries: [1e-7, 0.5, Infinity], counts: [1, 2, 3, 0] }, sum: 9.5, count: 6 })],
      },
    ]);
    const skipped: string[] = [];
    const [request] = new RemoteWriteEncoder({ version: '0', onSkipped: (m) => skipped.push(m) }).encode(snapshot(rm));
    const pushed = pushedValues([request!.body]);
    expect(pushed).toEqual(exposedValues(exposition(rm)));
    expect(skipped).toEqual([]);
    const ids = [...pushed.keys()];
    for (const id of [
      seriesId([['__name__', 'http_server_requests_total'], ['http_method', 'GET'], ['line_break', 'a\nb "q" \\']]),
      seriesId([['__name__', 'jobs_total']]),
      seriesId([['__name__', 'in_flight'], ['pool', 'db']]),
      seriesId([['__name__', '_9lives'], ['list', '["a","b"]'], ['n', '3'], ['on', 'true']]),
      seriesId([['__name__', 'rpc_size_bucket'], ['le', '1e-7'], ['svc', 'x']]),
      seriesId([['__name__', 'rpc_size_bucket'], ['le', '+Inf'], ['svc', 'x']]),
      seriesId([['__name__', 'target_info'], ['host_name', 'h1'], ['service_name', 'svc']]),
    ]) {
      expect(ids).toContain(id);
    }
    expect(pushed.get(seriesId([['__name__', 'rpc_size_bucket'], ['le', '+Inf'], ['svc', 'x']]))).toBe(6);
    expect(ids.filter((id) => id.includes('rpc_size_bucket'))).toHaveLength(3);
  });

  it('sends every label set sorted by name, with __name__, without repeats or empty values, in the valid charsets', async () => {
    const rm = await knownBatch();
    rm.scopeMetrics[0]!.metrics.push(gauge('zz', [pt({ 'a.b': '1', a_b: '2', B: 'upper', c: '' }, 1)]));
    const series = decodeBody(new RemoteWriteEncoder({ version: '0' }).encode(snapshot(rm))[0]!.body);
    for (const { labels } of series) {
      const names = labels.map(([n]) => n);
      expect(names).toEqual([...names].sort());
      expect(new Set(names).size).toBe(names.length);
      expect(names).toContain('__name__');
      for (const [name, value] of labels) {
        expect(name).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
        expect(value).not.toBe('');
      }
      expect(labels.find(([n]) => n === '__name__')![1]).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
    }
    // Two attributes that sanitize alike: the first is kept, as it comes first in the exposition.
    expect(series.find((s) => s.labels.some(([n, v]) => n === '__name__' && v === 'zz'))!.labels).toEqual([
      ['B', 'upper'],
      ['__name__', 'zz'],
      ['a_b', '1'],
    ]);
  });

  it('leaves out what /metrics cannot show, and a repeated series after its first', () => {
    const rm = handMade([
      gauge('dup', [pt({ k: 'v' }, 1)]),
      gauge('dup', [pt({ k: 'v' }, 2), pt({ k: 'w' }, 3)]),
      gauge('...', [pt({}, 4)]),
      gauge('target_info', [pt({ 'service.name': 'svc', 'host.name': 'h1' }, 5)]),
      {
        descriptor: descriptor('expo'),
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
        dataPoints: [pt({}, { count: 1, sum: 1, scale: 0, zeroCount: 0, positive: { offset: 0, bucketCounts: [1] }, negative: { offset: 0, bucketCounts: [] } })],
      },
    ]);
    const skipped: string[] = [];
    const [request] = new RemoteWriteEncoder({ version: '0', onSkipped: (m, why) => skipped.push(`${m}: ${why}`) }).encode(snapshot(rm));
    const pushed = pushedValues([request!.body]);
    expect(pushed).toEqual(
      new Map([
        [seriesId([['__name__', 'target_info'], ['host_name', 'h1'], ['service_name', 'svc']]), 1],
        [seriesId([['__name__', 'dup'], ['k', 'v']]), 1],
        [seriesId([['__name__', 'dup'], ['k', 'w']]), 3],
      ]),
    );
    expect(skipped).toEqual([
      'dup: a series of that name and labels came earlier in the batch',
      '...: its name has no character a Prometheus name may hold',
      'target_info: a series of that name and labels came earlier in the batch',
      'expo: data point type EXPONENTIAL_HISTOGRAM has no remote-write 1.0 form',
    ]);
  });

  it('makes no request for an empty snapshot, nor for one whose metrics have no points', () => {
    const encoder = new RemoteWriteEncoder({ version: '0' });
    expect(encoder.encode(snapshot({ resource: RESOURCE, scopeMetrics: [] }))).toEqual([]);
    expect(encoder.encode(snapshot({ resource: RESOURCE, scopeMetrics: [{ scope: { name: 's' }, metrics: [gauge('g', [])] }] }))).toEqual([]);
  });

  it('encodes a replayed batch to the same bytes', async () => {
    const rm = await knownBatch();
    const a = new RemoteWriteEncoder({ version: '0' }).encode(snapshot(rm));
    const b = new RemoteWriteEncoder({ version: '0' }).encode(snapshot(rm));
    expect(Buffer.from(a[0]!.body).equals(Buffer.from(b[0]!.body))).toBe(true);
  });

  it('splits a large batch into parts of at most maxSeriesPerRequest series, together the whole batch', async () => {
    const rm = await knownBatch();
    const whole = new RemoteWriteEncoder({ version: '0' }).encode(snapshot(rm));
    const parts = new RemoteWriteEncoder({ version: '0', maxSeriesPerRequest: 5 }).encode(snapshot(rm, BATCH_MS, 'b'));
    expect(parts).toHaveLength(4); // 16 series
    expect(parts.map((p) => p.headers['x-tally-batch-part'])).toEqual(['1/4', '2/4', '3/4', '4/4']);
    expect(parts.every((p) => p.headers['x-tally-batch-id'] === 'b')).toBe(true);
    expect(parts.map((p) => decodeBody(p.body).length)).toEqual([5, 5, 5, 1]);
    expect(pushedValues(parts.map((p) => p.body))).toEqual(pushedValues([whole[0]!.body]));
  });

  it('sends a stale marker (NaN 0x7ff0000000000002) once for each series a batch no longer holds', async () => {
    let clock = T0;
    const p = statsdPipeline({ resource: RESOURCE, now: () => clock, seriesTtlMs: 60_000 });
    const encoder = new RemoteWriteEncoder({ version: '0' });
    p.send('keep:1|g\ngone:1|c|#a:1\nlat:5|ms');
    p.aggregator.flush();
    const first = encoder.encode(snapshot(await p.collect(clock), clock));
    expect(decodeBody(first[0]!.body).length).toBe(1 + 1 + 1 + 2 + 4);
    // Only `keep` is sent again; the others pass their ttl and expire at the next flush.
    clock += 61_000;
    p.send('keep:2|g');
    p.aggregator.flush();
    const second = encoder.encode(snapshot(await p.collect(clock), clock));
    expect(second).toHaveLength(1);
    const series = decodeBody(second[0]!.body);
    const bits = rawSampleBits(second[0]!.body);
    const live = series.filter((_, i) => bits[i]![0] !== STALE_NAN);
    const stale = series.filter((_, i) => bits[i]![0] === STALE_NAN);
    expect(live.map((s) => seriesId(s.labels))).toEqual([
      seriesId([['__name__', 'target_info'], ['service_name', 'tally-agent'], ['service_version', '0.1.0-test']]),
      seriesId([['__name__', 'keep']]),
    ]);
    expect(live[1]!.samples[0]!.value).toBe(2);
    expect(stale.map((s) => seriesId(s.labels)).sort()).toEqual(
      [
        seriesId([['__name__', 'gone_total'], ['a', '1']]),
        seriesId([['__name__', 'lat_seconds_count']]),
        seriesId([['__name__', 'lat_seconds_sum']]),
        ...['0.05', '0.25', '1', '+Inf'].map((le) => seriesId([['__name__', 'lat_seconds_bucket'], ['le', le]])),
      ].sort(),
    );
    for (const s of stale) {
      expect(s.samples).toHaveLength(1);
      expect(s.samples[0]!.timestamp).toBe(clock);
      expect(Number.isNaN(s.samples[0]!.value)).toBe(true);
    }
    // Ordinary values are not NaN-patterned, and markers are not repeated.
    expect(bits.filter(([b]) => b === STALE_NAN)).toHaveLength(7);
    clock += 10_000;
    const third = encoder.encode(snapshot(await p.collect(clock), clock));
    expect(rawSampleBits(third[0]!.body).flat()).not.toContain(STALE_NAN);
    // When the last series goes, the batch is nothing but markers: one request still carries them.
    clock += 61_000;
    p.aggregator.flush();
    const last = encoder.encode(snapshot(await p.collect(clock), clock));
    expect(last).toHaveLength(1);
    expect(rawSampleBits(last[0]!.body).flat()).toEqual([STALE_NAN, STALE_NAN]);
    expect(encoder.encode(snapshot(await p.collect(clock + 1), clock + 1))).toEqual([]);
  });

  it('sends summaries, when the flush carries them, as summary-text.ts shows them on /metrics', () => {
    const mapper = new Mapper(
      parseMappingText(
        'mappings:\n- match: rpc.*\n  name: rpc_seconds\n  observer_type: summary\n  labels: { method: $1 }\n  summary_options:\n    quantiles:\n      - quantile: 0.5\n        error: 0.05\n      - quantile: 0.00001\n        error: 0.000001\n',
        'i.yaml',
      ),
    );
    const p = statsdPipeline({ resource: RESOURCE, now: () => T0, mapper });
    p.send('rpc.get:250|ms\nrpc.get:50|ms\nrpc.put:7|ms');
    const summaries = collectSummaries(p.aggregator, BATCH_MS);
    const rm: ResourceMetrics = { resource: RESOURCE, scopeMetrics: [] };
    const [request] = new RemoteWriteEncoder({ version: '0' }).encode({ ...snapshot(rm), summaries });
    const pushed = pushedValues([request!.body]);
    const shown = exposedValues(exposition(rm) + '\n' + summariesToPrometheusText(summaries));
    expect(pushed).toEqual(shown);
    expect(pushed.get(seriesId([['__name__', 'rpc_seconds'], ['method', 'get'], ['quantile', '1e-05']]))).toBeGreaterThan(0);
    expect(pushed.get(seriesId([['__name__', 'rpc_seconds_count'], ['method', 'get']]))).toBe(2);
  });

  it('adds external labels to every series that lacks them, and refuses invalid ones', async () => {
    const rm = await knownBatch();
    const [request] = new RemoteWriteEncoder({ version: '0', externalLabels: { instance: 'host-1', route: 'never-wins' } }).encode(snapshot(rm));
    const series = decodeBody(request!.body);
    for (const s of series) expect(s.labels).toContainEqual(['instance', 'host-1']);
    expect(series.filter((s) => s.labels.some(([n, v]) => n === 'route' && v === 'never-wins'))).toEqual(
      series.filter((s) => !s.labels.some(([n, v]) => n === 'route' && v !== 'never-wins')),
    );
    expect(series.find((s) => s.labels.some(([, v]) => v === 'checkout_requests_total'))!.labels).toEqual([
      ['__name__', 'checkout_requests_total'],
      ['instance', 'host-1'],
      ['method', 'GET'],
      ['route', '/cart'],
    ]);
    expect(() => new RemoteWriteEncoder({ version: '0', externalLabels: { __name__: 'x' } })).toThrow(/__name__/);
    expect(() => new RemoteWriteEncoder({ version: '0', externalLabels: { 'a-b': 'x' } })).toThrow(/a-b/);
    expect(() => new RemoteWriteEncoder({ version: '0', externalLabels: { a: '' } })).toThrow(/empty/);
    expect(() => new RemoteWriteEncoder({ version: '0', maxSeriesPerRequest: 0 })).toThrow(/maxSeriesPerRequest/);
  });

  it('encodes 10k histogram series in bounded time, and prints how long', async () => {
    const p = statsdPipeline({ resource: RESOURCE, now: () => T0, timerBuckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++) lines.push(`bench.latency:${i % 997}|ms|#route:/r${i},code:200`);
    for (let i = 0; i < lines.length; i += 500) p.send(lines.slice(i, i + 500).join('\n'));
    const rm = await p.collect(BATCH_MS);
    const encoder = new RemoteWriteEncoder({ version: '0' });
    encoder.encode(snapshot(rm)); // warm-up, and the stale memory a steady state has
    const t0 = performance.now();
    const requests = encoder.encode(snapshot(rm));
    const ms = performance.now() - t0;
    const bytes = requests.reduce((n, r) => n + r.body.length, 0);
    const series = 10_000 * (2 + 12) + 1;
    console.log(`remote-write encode: 10,000 histogram series (${series} remote-write series) in ${ms.toFixed(0)} ms, ${requests.length} requests, ${(bytes / 1e6).toFixed(2)} MB snappy`);
    expect(requests).toHaveLength(Math.ceil(series / 2000));
    expect(ms).toBeLessThan(5_000);
  });
});
