/**
 * The OTLP sink's encoding, end to end: statsd lines into the real
 * Aggregator, batches cut as the flush loop cuts them and encoded by the sink, sent with
 * its sender to the test receiver, decoded there with the OpenTelemetry
 * protobuf definitions. Checked for protobuf and JSON, gzip and not: names,
 * attributes, values, temporality, start and end times, resource attributes
 * (config over OTEL_RESOURCE_ATTRIBUTES over defaults), events as log
 * records, summaries, rounding of weighted counts, and splitting of a batch
 * too large for one request.
 */
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Aggregator } from '../../../agent/aggregate/aggregator.js';
import { takeMetricsSnapshot } from '../../../agent/export/metrics-snapshot.js';
import { RUN_SERIES } from '../../../agent/export/otlp/family-units.js';
import type { FlushSnapshot as OtlpSnapshot } from '../../../agent/export/sink.js';
import { otlpResource } from '../../../agent/export/otlp/otlp-resource.js';
import { createOtlpSink, type OtlpSink, type OtlpSinkOptions } from '../../../agent/export/otlp/otlp-sink.js';
import { Mapper } from '../../../agent/mapping/mapper.js';
import { parseMappingText } from '../../../agent/mapping/mapping-config.js';
import { StatsdParser } from '../../../agent/parse/statsd-line.js';
import { IngestCounters } from '../../../agent/telemetry/ingest-counters.js';
import { logRecords, metricPoints, OtlpReceiver, type FlatPoint, type ReceivedRequest } from '../../support/otlp-receiver.js';
import { countTurns } from '../../support/event-loop-turns.js';

const T0 = 1_700_000_000_000;
const ns = (ms: number) => BigInt(ms) * 1_000_000n;
const DELTA = 1;
const SUMMARY_RULE = [
  'mappings:',
  '- match: rpc.*',
  '  name: rpc_seconds',
  '  observer_type: summary',
  '  labels: { method: $1 }',
  '  summary_options: { quantiles: [{ quantile: 0.5, error: 0.001 }, { quantile: 0.99, error: 0.001 }], max_age: 20s, age_buckets: 2 }',
].join('\n');
const CUMULATIVE = 2;

/** The agent's aggregation with a hand-moved clock; flush() makes the batch the flush loop hands to sinks. */
function agent(mapping?: string) {
  let now = T0;
  const aggregator = new Aggregator({
    timerBuckets: [0.1, 1],
    histogramBuckets: [10],
    counters: new IngestCounters(),
    logger: pino({ level: 'silent' }),
    now: () => now,
    maxPendingEvents: 100,
    ...(mapping === undefined ? {} : { mapper: new Mapper(parseMappingText(mapping, 'm.yaml')), exponential: 'rules' as const }),
  });
  const parser = new StatsdParser();
  const resource = resourceFromAttributes({ 'service.name': 'tally-agent', 'service.version': '0.1.0' });
  return {
    at(ms: number) {
      now = ms;
    },
    send(lines: string) {
      parser.parsePacket(Buffer.from(lines), aggregator);
    },
    async flush(): Promise<OtlpSnapshot> {
      aggregator.flush();
      const families = takeMetricsSnapshot(aggregator, false, now);
      return { batchId: randomUUID(), timeMs: now, metrics: { resource, scopeMetrics: [] }, families, events: aggregator.takeEvents() };
    },
  };
}

let rx: OtlpReceiver;
let sink: OtlpSink | undefined;
beforeEach(async () => {
  rx = await OtlpReceiver.start();
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await sink?.close();
  sink = undefined;
  await rx.close();
});

function makeSink(opts: Partial<OtlpSinkOptions> = {}): OtlpSink {
  sink = createOtlpSink({
    name: 'otlp-test',
    endpoint: rx.url,
    encoding: 'protobuf',
    compression: 'none',
    temporality: 'delta',
    timeoutMs: 5000,
    version: '9.9.9',
    ...opts,
  });
  return sink;
}

/** Encodes a flush and delivers every request; each must be a plain 2xx. */
async function ship(s: OtlpSink, snapshot: OtlpSnapshot): Promise<number> {
  const requests = await s.encode(snapshot);
  for (const r of requests) expect(await s.send(r, new AbortController().signal)).toEqual({ kind: 'delivered', status: 200 });
  return requests.length;
}

function byKey(points: FlatPoint[]): Map<string, FlatPoint> {
  return new Map(points.map((p) => [`${p.metric}${JSON.stringify(p.attributes)}`, p]));
}

describe.each([
  { encoding: 'protobuf', compression: 'none' },
  { encoding: 'protobuf', compression: 'gzip' },
  { encoding: 'json', compression: 'none' },
  { encoding: 'json', compression: 'gzip' },
] as const)('OTLP round trip, $encoding, compression $compression', ({ encoding, compression }) => {
  it('sends delta sums, gauges and histograms, events as log records, under the configured resource', async () => {
    vi.stubEnv('OTEL_RESOURCE_ATTRIBUTES', 'deployment.environment.name=prod,service.name=from-env,team=a%2Cb');
    vi.stubEnv('OTEL_SERVICE_NAME', '');
    const resource = otlpResource({ version: '9.9.9', hostName: 'default-host', attributes: { 'service.name': 'checkout', 'host.name': 'box-1' } });
    const s = makeSink({ encoding, compression, resource, headers: { 'X-Api-Key': 'secret' } });
    const a = agent();
    a.send('logins:1|c\nlogins:2|c|#region:eu\ntemp:7|g\nlat:250|ms\nlat:50|ms');
    a.send('_e{10,9}:deploy.web|version 2|d:1700000003|#env:prod,team:web');
    a.at(T0 + 10_000);
    const first = await a.flush();
    expect(await ship(s, first)).toBe(2);
    a.at(T0 + 15_000);
    a.send('logins:3|c\nlat:2000|ms');
    a.send('_e{5,4}:login|anna');
    a.at(T0 + 20_000);
    const second = await a.flush();
    expect(await ship(s, second)).toBe(2);

    const metrics = rx.accepted('metrics');
    expect(metrics).toHaveLength(2);
    expect(rx.refused).toEqual([]);
    const req: ReceivedRequest = metrics[0]!;
    expect(req.path).toBe('/v1/metrics');
    expect(req.encoding).toBe(encoding);
    expect(req.gzip).toBe(compression === 'gzip');
    expect(req.headers['content-type']).toBe(encoding === 'json' ? 'application/json' : 'application/x-protobuf');
    expect(req.headers['content-encoding']).toBe(compression === 'gzip' ? 'gzip' : undefined);
    expect(req.headers['user-agent']).toBe('tally-agent/9.9.9');
    expect(req.headers['x-api-key']).toBe('secret');
    expect(req.headers['x-tally-batch-id']).toBe(first.batchId);
    expect(req.headers['x-tally-batch-part']).toBe('1/2');

    const p1 = byKey(metricPoints(metrics[0]!.message));
    // The event's own two metrics travel too: how often (a counter, named without `_total`) and when last.
    expect([...p1.keys()].sort()).toEqual([
      'deploy_web_last_seen_timestamp_seconds{"env":"prod","team":"web"}',
      'deploy_web{"env":"prod","team":"web"}',
      'lat_seconds{}',
      'logins{"region":"eu"}',
      'logins{}',
      'temp{}',
    ]);
    const logins = p1.get('logins{}')!;
    // The OTel name: `logins`, a monotonic sum; `_total` is the Prometheus exposition's suffix.
    expect(logins).toMatchObject({ kind: 'sum', isMonotonic: true, temporality: DELTA, value: 1, description: 'statsd counter logins_total' });
    expect(logins.startTimeUnixNano).toBe(ns(T0));
    expect(logins.timeUnixNano).toBe(ns(T0 + 10_000));
    expect(p1.get('logins{"region":"eu"}')!.value).toBe(2);
    expect(p1.get('temp{}')).toMatchObject({ kind: 'gauge', value: 7, timeUnixNano: ns(T0 + 10_000) });
    const lat = p1.get('lat_seconds{}')!;
    expect(lat).toMatchObject({ kind: 'histogram', unit: 's', temporality: DELTA });
    expect(lat.value).toMatchObject({ explicitBounds: [0.1, 1], bucketCounts: [1, 1, 0], count: 2, sum: 0.3 });
    expect(logins.scope).toEqual({ name: 'tally-agent', version: '9.9.9' });
    // Config over OTEL_RESOURCE_ATTRIBUTES over defaults; the snapshot's own resource underneath.
    expect(logins.resource).toEqual({
      'service.name': 'checkout',
      'service.version': '9.9.9',
      'host.name': 'box-1',
      'deployment.environment.name': 'prod',
      team: 'a,b',
    });

    const p2 = byKey(metricPoints(metrics[1]!.message));
    expect(p2.get('logins{}')).toMatchObject({ value: 3, startTimeUnixNano: ns(T0 + 10_000), timeUnixNano: ns(T0 + 20_000) });
    // Unchanged since the last batch: not sent at all.
    expect(p2.has('logins{"region":"eu"}')).toBe(false);
    // A delta of double sums carries their rounding: 2.3 - 0.3.
    expect(p2.get('lat_seconds{}')!.value).toMatchObject({ bucketCounts: [0, 0, 1], count: 1, sum: expect.closeTo(2, 12) });
    expect(p2.get('lat_seconds{}')!.startTimeUnixNano).toBe(ns(T0 + 10_000));
    expect(metrics[1]!.headers['x-tally-batch-id']).toBe(second.batchId);

    const logs = rx.accepted('logs');
    expect(logs.map((r) => r.headers['x-tally-batch-part'])).toEqual(['2/2', '2/2']);
    const [deploy] = logRecords(logs[0]!.message);
    expect(deploy).toMatchObject({
      eventName: 'deploy.web',
      body: 'version 2',
      attributes: { env: 'prod', team: 'web', 'event.name': 'deploy.web' },
      severityNumber: 9,
      severityText: 'INFO',
      timeUnixNano: 1_700_000_003_000_000_000n,
      observedTimeUnixNano: ns(T0 + 10_000),
    });
    expect(deploy!.resource['service.name']).toBe('checkout');
    const [login] = logRecords(logs[1]!.message);
    // No `d:` in the event: its time is when it arrived.
    expect(login).toMatchObject({ eventName: 'login', body: 'anna', attributes: { 'event.name': 'login' }, timeUnixNano: ns(T0 + 15_000) });
  });

  it('sends cumulative sums and histograms from the series start when the sink asks for cumulative', async () => {
    const s = makeSink({ encoding, compression, temporality: 'cumulative' });
    const a = agent();
    a.send('logins:1|c\nlat:250|ms');
    a.at(T0 + 10_000);
    await ship(s, await a.flush());
    a.send('logins:3|c\nlat:50|ms');
    a.at(T0 + 20_000);
    await ship(s, await a.flush());
    const p2 = byKey(metricPoints(rx.accepted('metrics')[1]!.message));
    expect(p2.get('logins{}')).toMatchObject({ temporality: CUMULATIVE, isMonotonic: true, value: 4, startTimeUnixNano: ns(T0), timeUnixNano: ns(T0 + 20_000) });
    expect(p2.get('lat_seconds{}')).toMatchObject({ temporality: CUMULATIVE, startTimeUnixNano: ns(T0) });
    expect(p2.get('lat_seconds{}')!.value).toMatchObject({ bucketCounts: [1, 1, 0], count: 2 });
  });

  it('sends summaries as OTLP Summary points (always cumulative, count rounded, empty quantiles left out)', async () => {
    const s = makeSink({ encoding, compression });
    const a = agent(SUMMARY_RULE);
    // Weighted 1/0.3 each: a count of 6.67, sent as 7.
    a.send('logins:1|c\nrpc.get:200|ms|@0.3\nrpc.get:900|ms|@0.3\nrpc.put:100|ms');
    a.at(T0 + 10_000);
    await ship(s, await a.flush());
    // Past max_age the put window is empty: its quantiles have no value, its count and sum stay.
    a.at(T0 + 35_000);
    a.send('rpc.get:300|ms|@0.3');
    a.at(T0 + 40_000);
    await ship(s, await a.flush());
    const [first, second] = rx.accepted('metrics').map((r) => byKey(metricPoints(r.message)));
    expect(first!.get('logins{}')!.value).toBe(1);
    const get = first!.get('rpc_seconds{"method":"get"}')!;
    expect(get).toMatchObject({ kind: 'summary', unit: 's', startTimeUnixNano: ns(T0), timeUnixNano: ns(T0 + 10_000) });
    expect(get.value).toMatchObject({ count: 7, sum: expect.closeTo(1.1 / 0.3, 9), quantileValues: [{ quantile: 0.5, value: expect.closeTo(0.2, 3) }, { quantile: 0.99, value: expect.closeTo(0.9, 3) }] });
    expect(get.resource['service.name']).toBe('tally-agent');
    expect(second!.get('rpc_seconds{"method":"get"}')).toMatchObject({ startTimeUnixNano: ns(T0), timeUnixNano: ns(T0 + 40_000), value: { count: 10, quantileValues: [{ value: expect.closeTo(0.3, 3) }, { value: expect.closeTo(0.3, 3) }] } });
    expect(second!.get('rpc_seconds{"method":"put"}')!.value).toMatchObject({ count: 1, sum: 0.1, quantileValues: [] });
  });

  it('sends exponential histograms (from the aggregate structure) with their scale, offsets and zero count, as deltas', async () => {
    const s = makeSink({ encoding, compression });
    const a = agent('mappings:\n- match: payload_bytes\n  name: payload_bytes\n  histogram_options:\n    native_histogram_max_buckets: 4\n');
    a.send(['0', '1', '2', '3', '-4'].map((v) => `payload_bytes:${v}|h`).join('\n'));
    a.at(T0 + 10_000);
    await ship(s, await a.flush());
    a.send('payload_bytes:100|h\npayload_bytes:200|h');
    a.at(T0 + 20_000);
    await ship(s, await a.flush());
    const [first, second] = rx.accepted('metrics').map((r) => metricPoints(r.message)[0]!);
    expect(first).toMatchObject({ kind: 'exponentialHistogram', temporality: DELTA });
    // Four buckets a side: 1, 2 and 3 fit at scale 0, i.e. (1/2, 1], (1, 2], (2, 4]; -4 is in (2, 4] of the negative side.
    expect(first!.value).toMatchObject({
      scale: 0,
      count: 5,
      zeroCount: 1,
      sum: 2,
      positive: { offset: -1, bucketCounts: [1, 1, 1] },
      negative: { offset: 1, bucketCounts: [1] },
    });
    // 100 and 200 push the range to scale -2 (buckets of 16x): the delta is taken there, only the moved bucket kept.
    expect(second!.value).toMatchObject({
      scale: -2,
      count: 2,
      zeroCount: 0,
      sum: 300,
      positive: { offset: 1, bucketCounts: [2] },
      negative: { offset: 0, bucketCounts: [] },
    });
    expect(second!.startTimeUnixNano).toBe(ns(T0 + 10_000));
  });
});

describe('OtlpEncoder', () => {
  it('makes no request for a flush with nothing in it, and none to /v1/logs when events are off', async () => {
    const a = agent();
    const s = makeSink({ events: false });
    expect(await s.encode(await a.flush())).toEqual([]);
    a.send('_e{5,4}:login|anna');
    // The event's two metrics still go; the record itself does not.
    expect((await s.encode(await a.flush())).map((r) => r.path)).toEqual(['/v1/metrics']);
  });

  it('rounds counts weighted by a sample rate to integers, keeping count equal to the sum of buckets', async () => {
    const s = makeSink({ temporality: 'cumulative' });
    const a = agent();
    // Weighted 1/0.3 each: buckets 3.33, 6.67 (2 lines), 0 → 3, 7, 0.
    a.send('lat:50|ms|@0.3\nlat:500|ms|@0.3\nlat:600|ms|@0.3');
    await ship(s, await a.flush());
    const [lat] = metricPoints(rx.accepted('metrics')[0]!.message);
    expect(lat!.value).toMatchObject({ bucketCounts: [3, 7, 0], count: 10 });
  });

  it('splits a batch past maxRequestBytes into several requests that together hold every point once', async () => {
    const s = makeSink({ maxRequestBytes: 700, compression: 'gzip' });
    const a = agent();
    for (let i = 0; i < 40; i++) a.send(`jobs:${i + 1}|c|#queue:q${i}`);
    a.send('temp:7|g');
    const snapshot = await a.flush();
    const n = await ship(s, snapshot);
    expect(n).toBeGreaterThan(3);
    const requests = rx.accepted('metrics');
    expect(requests.map((r) => r.headers['x-tally-batch-part'])).toEqual(Array.from({ length: n }, (_, i) => `${i + 1}/${n}`));
    for (const r of requests) expect(r.body.length).toBeLessThanOrEqual(700);
    const points = requests.flatMap((r) => metricPoints(r.message));
    expect(points).toHaveLength(41);
    const jobs = points.filter((p) => p.metric === 'jobs').map((p) => [p.attributes.queue, p.value]);
    expect(new Map(jobs as Array<[string, number]>)).toEqual(new Map(Array.from({ length: 40 }, (_, i) => [`q${i}`, i + 1])));
  });
});

describe('a large batch', () => {
  it('is encoded in pieces with a turn of the event loop before each, joined into requests within maxRequestBytes, every point once', async () => {
    const maxRequestBytes = 2 << 20;
    const s = makeSink({ compression: 'gzip', maxRequestBytes });
    const a = agent();
    const lines: string[] = [];
    for (let i = 0; i < 30_000; i++) lines.push(`wide${i % 3}.latency:${i % 997}|ms|#route:/r${i}`);
    for (let i = 0; i < lines.length; i += 500) a.send(lines.slice(i, i + 500).join('\n'));
    const snapshot = await a.flush();
    const { result: requests, turns } = await countTurns(() => s.encode(snapshot));
    expect(requests.length).toBeGreaterThan(1);
    const sizes = requests.map((r) => gunzipSync(r.body).length);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(maxRequestBytes);
    expect(turns).toBeGreaterThan(0);
    for (const r of requests) expect(await s.send(r, new AbortController().signal)).toEqual({ kind: 'delivered', status: 200 });
    const accepted = rx.accepted('metrics');
    // A piece is a request of its own (resource, scope, its metrics), cut at 256 KiB by an estimate that runs high (about 170 KB each here), joined several to a body.
    const pieces = accepted.map((r) => r.message.resourceMetrics?.length ?? 0);
    expect(Math.max(...pieces)).toBeGreaterThan(1);
    expect(pieces.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(Math.ceil(sizes.reduce((x, y) => x + y, 0) / (384 << 10)));
    const points = accepted.flatMap((r) => metricPoints(r.message));
    expect(points).toHaveLength(30_000);
    expect(new Set(points.map((p) => p.attributes.route)).size).toBe(30_000);
  });
});

describe('a delta sink on a batch of idle series', () => {
  it('sends nothing, and gives the event loop a turn at least every slice while it finds each series unchanged', async () => {
    const s = makeSink();
    const a = agent();
    // Under the default limit of series per metric (10,000).
    const n = 8 * 1024;
    for (let i = 0; i < n; i += 500) a.send(Array.from({ length: 500 }, (_, j) => `jobs:1|c|#queue:q${i + j}`).join('\n'));
    a.at(T0 + 10_000);
    expect((await s.encode(await a.flush())).length).toBeGreaterThan(0);
    a.at(T0 + 20_000);
    const idle = await a.flush();
    // A clock that moves a slice's worth at every look, so each run of series read is a slice.
    let t = 0;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => (t += 10));
    try {
      const { result, turns } = await countTurns(() => s.encode(idle));
      expect(result).toEqual([]);
      // One turn before each run of RUN_SERIES series, none of them with a point to send.
      expect(turns).toBeGreaterThanOrEqual(n / RUN_SERIES);
    } finally {
      clock.mockRestore();
    }
  });
});

describe('otlpResource', () => {
  it('takes defaults, then OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, then the config, each over the one before', () => {
    vi.stubEnv('OTEL_RESOURCE_ATTRIBUTES', '');
    vi.stubEnv('OTEL_SERVICE_NAME', '');
    expect({ ...otlpResource({ version: '1.2.3', hostName: 'h' }).attributes }).toEqual({ 'service.name': 'tally-agent', 'service.version': '1.2.3', 'host.name': 'h' });
    vi.stubEnv('OTEL_RESOURCE_ATTRIBUTES', 'service.name=env-svc,host.name=env-host,k8s.pod.name=p-1');
    expect({ ...otlpResource({ version: '1.2.3', hostName: 'h' }).attributes }).toEqual({
      'service.name': 'env-svc',
      'service.version': '1.2.3',
      'host.name': 'env-host',
      'k8s.pod.name': 'p-1',
    });
    vi.stubEnv('OTEL_SERVICE_NAME', 'named-svc');
    expect(otlpResource({ version: '1', hostName: 'h' }).attributes['service.name']).toBe('named-svc');
    const configured = otlpResource({ version: '1', hostName: 'h', attributes: { 'service.name': 'cfg', 'host.name': 'cfg-host' } });
    expect({ ...configured.attributes }).toMatchObject({ 'service.name': 'cfg', 'host.name': 'cfg-host', 'k8s.pod.name': 'p-1' });
  });

  it('ignores a malformed OTEL_RESOURCE_ATTRIBUTES whole, as the SDK specification asks', () => {
    vi.stubEnv('OTEL_SERVICE_NAME', '');
    vi.stubEnv('OTEL_RESOURCE_ATTRIBUTES', 'good=1,bad=x=y');
    expect({ ...otlpResource({ version: '1', hostName: 'h' }).attributes }).toEqual({ 'service.name': 'tally-agent', 'service.version': '1', 'host.name': 'h' });
  });
});
