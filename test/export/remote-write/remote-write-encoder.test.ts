import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { describe, expect, it } from 'vitest';
import { RemoteWriteEncoder } from '../../../agent/export/remote-write/remote-write-encoder.js';
import { summariesToPrometheusText } from '../../../agent/export/summary-text.js';
import { Mapper } from '../../../agent/mapping/mapper.js';
import { parseMappingText } from '../../../agent/mapping/mapping-config.js';
import { FIXTURES, decodeBody, exposedValues, exposition, pushedValues, rawSampleBits, seriesId, statsdPipeline } from './helpers.js';
import type { FlushSnapshot } from '../../../agent/export/sink.js';
import { countTurns } from '../../support/event-loop-turns.js';

const T0 = 1_700_000_000_000;
const BATCH_MS = 1_700_000_010_000;
const RESOURCE = resourceFromAttributes({ 'service.name': 'tally-agent', 'service.version': '0.1.0-test' });
const STALE_NAN = '7ff0000000000002';

async function knownBatch(batchId = 'batch-1'): Promise<FlushSnapshot> {
  const p = statsdPipeline({ resource: RESOURCE, now: () => T0 });
  p.send(readFileSync(join(FIXTURES, 'known-batch.statsd'), 'utf8'));
  return p.batch(BATCH_MS, batchId);
}

/** What /metrics shows for a batch: the families, then the summaries. */
function shown(batch: FlushSnapshot): Map<string, number> {
  return exposedValues(exposition(batch.metrics) + '\n' + summariesToPrometheusText(batch.summaries ?? []));
}

describe('RemoteWriteEncoder', () => {
  it('encodes a known batch: names, labels in order, values and the batch time, decoded with the spec proto', async () => {
    const requests = await new RemoteWriteEncoder({ version: '0.1.0' }).encode(await knownBatch());
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
    const first = decodeBody((await encoder.encode(await p.batch(clock)))[0]!.body);
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
    const second = decodeBody((await encoder.encode(await p.batch(clock, 'batch-2')))[0]!.body);
    expect(samples(second, 'feature_total')).toEqual([{ value: 2, timestamp: clock }]);
    expect(samples(second, 'late_total')).toEqual([
      { value: 0, timestamp: BATCH_MS },
      { value: 1, timestamp: clock },
    ]);
    // After an expiry compacts the family's series, the survivors are still known as sent, and a newcomer is not.
    clock += 10_000;
    p.send('late:1|c|#pod:b');
    const third = decodeBody((await encoder.encode(await p.batch(clock, 'batch-3')))[0]!.body);
    expect(samples(third, 'late_total')).toEqual([{ value: 1, timestamp: clock }]);
  });

  it("sends the spec's headers, the user agent, the batch id; path is the endpoint itself", async () => {
    const [request] = await new RemoteWriteEncoder({ version: '1.2.3' }).encode(await knownBatch('0b9f3c1e-batch'));
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
    const batch = await knownBatch();
    const [request] = await new RemoteWriteEncoder({ version: '0' }).encode(batch);
    expect(pushedValues([request!.body])).toEqual(shown(batch));
  });

  it("follows the exposition's naming corners: suffixes, sanitizing, leading digits, escapes, Infinity bounds, empty values", async () => {
    const p = statsdPipeline({
      resource: resourceFromAttributes({ 'service.name': 'svc', 'host.name': 'h1', 'deployment.environment': '' }),
      now: () => T0,
      timerBuckets: [1e-7, 0.5, Infinity],
    });
    p.send(
      [
        'http.server-requests:7|c|#http.method:GET,empty:,quoted:a "q" \\',
        'jobs_total:2|c',
        '9lives:0.25|g|#n:3',
        'rpc.size:0.0000001|ms|#svc:x',
        'rpc.size:100|ms|#svc:x',
        'rpc.size:900|ms|#svc:x',
      ].join('\n'),
    );
    const batch = await p.batch(BATCH_MS);
    const skipped: string[] = [];
    const [request] = await new RemoteWriteEncoder({ version: '0', onSkipped: (m) => skipped.push(m) }).encode(batch);
    const pushed = pushedValues([request!.body]);
    expect(pushed).toEqual(shown(batch));
    expect(skipped).toEqual([]);
    const ids = [...pushed.keys()];
    for (const id of [
      seriesId([['__name__', 'http_server_requests_total'], ['http_method', 'GET'], ['quoted', 'a "q" \\']]),
      seriesId([['__name__', 'jobs_total']]),
      seriesId([['__name__', '_9lives'], ['n', '3']]),
      seriesId([['__name__', 'rpc_size_seconds_bucket'], ['le', '1e-7'], ['svc', 'x']]),
      seriesId([['__name__', 'rpc_size_seconds_bucket'], ['le', '+Inf'], ['svc', 'x']]),
      seriesId([['__name__', 'target_info'], ['host_name', 'h1'], ['service_name', 'svc']]),
    ]) {
      expect(ids).toContain(id);
    }
    expect(pushed.get(seriesId([['__name__', 'rpc_size_seconds_bucket'], ['le', '+Inf'], ['svc', 'x']]))).toBe(3);
    // Bounds that end in Infinity have no extra overflow bucket.
    expect(ids.filter((id) => id.includes('rpc_size_seconds_bucket'))).toHaveLength(3);
  });

  it('sends every label set sorted by name, with __name__, without repeats or empty values, in the valid charsets', async () => {
    const p = statsdPipeline({ resource: RESOURCE, now: () => T0 });
    p.send(readFileSync(join(FIXTURES, 'known-batch.statsd'), 'utf8'));
    p.send('zz:1|g|#a.b:1,a_b:2,B:upper,c:,_9:nine');
    const batch = await p.batch(BATCH_MS);
    const series = decodeBody((await new RemoteWriteEncoder({ version: '0', externalLabels: { c: 'filled', instance: 'i' } }).encode(batch))[0]!.body);
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
    // Two tags that sanitize alike are one label, the later winning, as /metrics shows it; an empty one takes the external label's value.
    expect(series.find((s) => s.labels.some(([n, v]) => n === '__name__' && v === 'zz'))!.labels).toEqual([
      ['B', 'upper'],
      ['_9', 'nine'],
      ['__name__', 'zz'],
      ['a_b', '2'],
      ['c', 'filled'],
      ['instance', 'i'],
    ]);
  });

  it('leaves out what /metrics cannot show, and a repeated series after its first', async () => {
    const p = statsdPipeline({ resource: resourceFromAttributes({ 'service.name': 'svc', 'host.name': 'h1' }), now: () => T0 });
    // A histogram `dup` writes dup_count; a gauge of that name and the same labels repeats it. A gauge named target_info repeats the resource's.
    p.send(['dup:1|h|#k:v', 'dup_count:2|g|#k:v', 'dup_count:3|g|#k:w', '...:4|g', 'target_info:5|g|#service.name:svc,host.name:h1', 'target_info:6|g|#other:x'].join('\n'));
    const skipped: string[] = [];
    const [request] = await new RemoteWriteEncoder({ version: '0', onSkipped: (m, why) => skipped.push(`${m}: ${why}`) }).encode(await p.batch(BATCH_MS));
    const pushed = pushedValues([request!.body]);
    expect(pushed.get(seriesId([['__name__', 'target_info'], ['host_name', 'h1'], ['service_name', 'svc']]))).toBe(1);
    expect(pushed.get(seriesId([['__name__', 'target_info'], ['other', 'x']]))).toBe(6);
    expect(pushed.get(seriesId([['__name__', 'dup_count'], ['k', 'v']]))).toBe(1);
    expect(pushed.get(seriesId([['__name__', 'dup_count'], ['k', 'w']]))).toBe(3);
    expect([...pushed.keys()].filter((id) => id.includes('"_"'))).toEqual([]);
    expect(skipped).toEqual([
      'dup_count: a series of that name and labels came earlier in the batch',
      '_: its name has no character a Prometheus name may hold',
      'target_info: a series of that name and labels came earlier in the batch',
    ]);
  });

  it('makes no request for an empty snapshot, nor for one whose families have no series to show', async () => {
    const encoder = new RemoteWriteEncoder({ version: '0' });
    const p = statsdPipeline({ resource: RESOURCE, now: () => T0 });
    expect(await encoder.encode(await p.batch(BATCH_MS))).toEqual([]);
    // A set shows nothing until its first interval completes.
    p.send('visitors:alice|s');
    expect(await encoder.encode(await p.batch(BATCH_MS))).toEqual([]);
  });

  it('encodes a replayed batch to the same bytes', async () => {
    const a = await new RemoteWriteEncoder({ version: '0' }).encode(await knownBatch());
    const b = await new RemoteWriteEncoder({ version: '0' }).encode(await knownBatch());
    expect(Buffer.from(a[0]!.body).equals(Buffer.from(b[0]!.body))).toBe(true);
  });

  it('splits a large batch into parts of at most maxSeriesPerRequest series, together the whole batch', async () => {
    const whole = await new RemoteWriteEncoder({ version: '0' }).encode(await knownBatch());
    const parts = await new RemoteWriteEncoder({ version: '0', maxSeriesPerRequest: 5 }).encode(await knownBatch('b'));
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
    p.send('keep:1|g\ngone:1|c|#a:1\nstay:1|c|#a:2\nlat:5|ms');
    p.aggregator.flush();
    const first = await encoder.encode(await p.batch(clock));
    expect(decodeBody(first[0]!.body).length).toBe(1 + 1 + 2 + 2 + 4);
    // Only `keep` and one of the two `gone` series are sent again; the others pass their ttl and expire at the next flush.
    clock += 61_000;
    p.send('keep:2|g\nstay:1|c|#a:2');
    p.aggregator.flush();
    const second = await encoder.encode(await p.batch(clock));
    expect(second).toHaveLength(1);
    const series = decodeBody(second[0]!.body);
    const bits = rawSampleBits(second[0]!.body);
    const live = series.filter((_, i) => bits[i]![0] !== STALE_NAN);
    const stale = series.filter((_, i) => bits[i]![0] === STALE_NAN);
    expect(live.map((s) => seriesId(s.labels))).toEqual([
      seriesId([['__name__', 'target_info'], ['service_name', 'tally-agent'], ['service_version', '0.1.0-test']]),
      seriesId([['__name__', 'keep']]),
      seriesId([['__name__', 'stay_total'], ['a', '2']]),
    ]);
    expect(live[1]!.samples).toEqual([{ value: 2, timestamp: clock }]);
    // Sent before, so no 0 again though its family's series were compacted.
    expect(live[2]!.samples).toEqual([{ value: 2, timestamp: clock }]);
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
    const third = await encoder.encode(await p.batch(clock));
    expect(rawSampleBits(third[0]!.body).flat()).not.toContain(STALE_NAN);
    // When the last series goes, the batch is nothing but markers: one request still carries them.
    clock += 61_000;
    p.aggregator.flush();
    const last = await encoder.encode(await p.batch(clock));
    expect(last).toHaveLength(1);
    expect(rawSampleBits(last[0]!.body).flat()).toEqual([STALE_NAN, STALE_NAN]);
    expect(await encoder.encode(await p.batch(clock + 1))).toEqual([]);
  });

  it('sends summaries as summary-text.ts shows them on /metrics', async () => {
    const mapper = new Mapper(
      parseMappingText(
        'mappings:\n- match: rpc.*\n  name: rpc_seconds\n  observer_type: summary\n  labels: { method: $1 }\n  summary_options:\n    quantiles:\n      - quantile: 0.5\n        error: 0.05\n      - quantile: 0.00001\n        error: 0.000001\n',
        'i.yaml',
      ),
    );
    const p = statsdPipeline({ resource: RESOURCE, now: () => T0, mapper });
    p.send('rpc.get:250|ms\nrpc.get:50|ms\nrpc.put:7|ms');
    const batch = await p.batch(BATCH_MS);
    const [request] = await new RemoteWriteEncoder({ version: '0' }).encode(batch);
    const pushed = pushedValues([request!.body]);
    expect(pushed).toEqual(shown(batch));
    expect(pushed.get(seriesId([['__name__', 'rpc_seconds'], ['method', 'get'], ['quantile', '1e-05']]))).toBeGreaterThan(0);
    expect(pushed.get(seriesId([['__name__', 'rpc_seconds_count'], ['method', 'get']]))).toBe(2);
  });

  it('adds external labels to every series that lacks them, and refuses invalid ones', async () => {
    const [request] = await new RemoteWriteEncoder({ version: '0', externalLabels: { instance: 'host-1', route: 'never-wins' } }).encode(await knownBatch());
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

  it('writes labels and values past one-byte lengths and outside ASCII as the spec proto reads them', async () => {
    const p = statsdPipeline({ resource: RESOURCE, now: () => T0 });
    const long = 'x'.repeat(300);
    p.send(`wide:1.5|g|#note:${long},city:Zürich,emoji:📈,le:0\nbig:1e300|g`);
    const batch = await p.batch(BATCH_MS);
    const [request] = await new RemoteWriteEncoder({ version: '0' }).encode(batch);
    const pushed = pushedValues([request!.body]);
    expect(pushed).toEqual(shown(batch));
    expect(pushed.get(seriesId([['__name__', 'wide'], ['city', 'Zürich'], ['emoji', '📈'], ['le', '0'], ['note', long]]))).toBe(1.5);
    expect(pushed.get(seriesId([['__name__', 'big']]))).toBe(1e300);
  });

  it('yields to the event loop while it encodes a large flush', async () => {
    const p = statsdPipeline({ resource: RESOURCE, now: () => T0 });
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) lines.push(`wide.latency:${i % 997}|ms|#route:/r${i}`);
    for (let i = 0; i < lines.length; i += 500) p.send(lines.slice(i, i + 500).join('\n'));
    const batch = await p.batch(BATCH_MS);
    const { result: requests, turns } = await countTurns(() => new RemoteWriteEncoder({ version: '0', sliceMs: 1 }).encode(batch));
    expect(requests.length).toBeGreaterThan(1);
    expect(turns).toBeGreaterThan(2);
  });

  it('encodes 10k histogram series in bounded time, and prints how long', async () => {
    const p = statsdPipeline({ resource: RESOURCE, now: () => T0, timerBuckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++) lines.push(`bench.latency:${i % 997}|ms|#route:/r${i},code:200`);
    for (let i = 0; i < lines.length; i += 500) p.send(lines.slice(i, i + 500).join('\n'));
    const batch = await p.batch(BATCH_MS);
    const encoder = new RemoteWriteEncoder({ version: '0' });
    await encoder.encode(batch); // warm-up, and the stale memory a steady state has
    const t0 = performance.now();
    const requests = await encoder.encode(batch);
    const ms = performance.now() - t0;
    const bytes = requests.reduce((n, r) => n + r.body.length, 0);
    const series = 10_000 * (2 + 12) + 1;
    console.log(`remote-write encode: 10,000 histogram series (${series} remote-write series) in ${ms.toFixed(0)} ms, ${requests.length} requests, ${(bytes / 1e6).toFixed(2)} MB snappy`);
    expect(requests).toHaveLength(Math.ceil(series / 2000));
    expect(ms).toBeLessThan(5_000);
  });
});
