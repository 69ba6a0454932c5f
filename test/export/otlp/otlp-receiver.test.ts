/**
 * Self-test of the test OTLP receiver (test/support/otlp-receiver.ts): it
 * decodes the specification's own OTLP/JSON examples and the same data as
 * binary protobuf built by protobufjs (nothing of Tally's), refuses
 * malformed requests, and answers as scripted: faults, Retry-After, partial
 * success, and down (connection refused) until up again.
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT } from '../../support/agent-process.js';
import { logRecords, metricPoints, OTLP_PROTO_DIR, OtlpReceiver, otlpTypes } from '../../support/otlp-receiver.js';

const EXAMPLES = join(OTLP_PROTO_DIR, 'examples');
const PB = { 'content-type': 'application/x-protobuf' };
const JSON_TYPE = { 'content-type': 'application/json' };

let rx: OtlpReceiver;
beforeEach(async () => {
  rx = await OtlpReceiver.start();
});
afterEach(async () => {
  await rx.close();
});

async function example(name: 'metrics' | 'logs'): Promise<string> {
  return readFile(join(EXAMPLES, `${name}.json`), 'utf8');
}

function post(path: string, body: Uint8Array | string, headers: Record<string, string>): Promise<Response> {
  return fetch(rx.url + path, { method: 'POST', body, headers });
}

describe('test OTLP receiver', () => {
  it("reads OpenTelemetry's definitions from ../shared/otlp-proto, and the project holds no copy of them", () => {
    expect(OTLP_PROTO_DIR.startsWith(ROOT)).toBe(false);
    const copies = readdirSync(ROOT, { recursive: true, encoding: 'utf8' }).filter(
      (f) => !/^(node_modules|dist|\.git)\//.test(f) && (/\.proto$/.test(f) ? !f.endsWith('remote-write-1.0.proto') : /otlp-proto/.test(f)),
    );
    expect(copies).toEqual([]);
  });

  it('decodes the specification\'s OTLP/JSON metrics example, and the same request as binary protobuf alike', async () => {
    const json = await example('metrics');
    const res = await post('/v1/metrics', json, JSON_TYPE);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const types = await otlpTypes();
    const binary = types.metricsRequest.encode(types.metricsRequest.fromObject(JSON.parse(json))).finish();
    expect((await post('/v1/metrics', gzipSync(binary), { ...PB, 'content-encoding': 'gzip' })).status).toBe(200);

    const [fromJson, fromBinary] = rx.accepted('metrics');
    expect(fromJson!.encoding).toBe('json');
    expect(fromBinary!.encoding).toBe('protobuf');
    expect(fromBinary!.gzip).toBe(true);
    expect(fromBinary!.message).toEqual(fromJson!.message);

    const points = metricPoints(fromJson!.message);
    expect(points.map((p) => `${p.metric}:${p.kind}`)).toEqual([
      'my.counter:sum',
      'my.gauge:gauge',
      'my.histogram:histogram',
      'my.exponential.histogram:exponentialHistogram',
    ]);
    const counter = points[0]!;
    expect(counter).toMatchObject({ temporality: 1, isMonotonic: true, value: 5, attributes: { 'my.counter.attr': 'some value' } });
    expect(counter.resource).toEqual({ 'service.name': 'my.service' });
    expect(counter.timeUnixNano).toBe(1544712660300000000n);
    expect(points[2]!.value).toMatchObject({ count: 2, sum: 2, bucketCounts: [1, 1], explicitBounds: [1] });
  });

  it('decodes the specification\'s OTLP/JSON logs example', async () => {
    expect((await post('/v1/logs', await example('logs'), JSON_TYPE)).status).toBe(200);
    const [record] = logRecords(rx.accepted('logs')[0]!.message);
    expect(record).toMatchObject({
      body: 'Example log record',
      severityNumber: 10,
      severityText: 'Information',
      attributes: { 'string.attribute': 'some string', 'boolean.attribute': true, 'int.attribute': 10 },
    });
    expect(record!.observedTimeUnixNano).toBe(1544712660300000000n);
  });

  it('refuses what OTLP/JSON forbids (snake_case keys, enum names) and bodies it cannot decode, with a google.rpc.Status', async () => {
    const snake = (await example('metrics')).replace('"isMonotonic"', '"is_monotonic"');
    expect((await post('/v1/metrics', snake, JSON_TYPE)).status).toBe(400);
    const enumName = (await example('metrics')).replace('"aggregationTemporality": 1', '"aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA"');
    expect((await post('/v1/metrics', enumName, JSON_TYPE)).status).toBe(400);
    const garbage = await post('/v1/metrics', Buffer.from([0x0a, 0xff, 0xff, 0xff]), PB);
    expect(garbage.status).toBe(400);
    const status = (await otlpTypes()).status.decode(new Uint8Array(await garbage.arrayBuffer())) as unknown as { message: string };
    expect(status.message).toMatch(/cannot decode protobuf ExportMetricsServiceRequest/);
    expect((await post('/v1/traces', '{}', JSON_TYPE)).status).toBe(404);
    expect((await post('/v1/metrics', 'x', { 'content-type': 'text/plain' })).status).toBe(415);
    expect(rx.requests).toHaveLength(0);
    expect(rx.refused.map((r) => r.status)).toEqual([400, 400, 400, 404, 415]);
  });

  it('answers as scripted: a fault a number of times, then 200; Retry-After and Status message included', async () => {
    rx.respond({ status: 503, retryAfter: '7', message: 'overloaded' }, { times: 2 });
    rx.respond({ status: 429, retryAfter: 'Wed, 21 Oct 2037 07:28:00 GMT' }, { times: 1 });
    const types = await otlpTypes();
    const answers: Array<[number, string | null, string]> = [];
    for (let i = 0; i < 4; i++) {
      const res = await post('/v1/metrics', new Uint8Array(), PB);
      const body = new Uint8Array(await res.arrayBuffer());
      answers.push([res.status, res.headers.get('retry-after'), res.status === 200 ? '' : (types.status.decode(body) as unknown as { message: string }).message]);
    }
    expect(answers).toEqual([
      [503, '7', 'overloaded'],
      [503, '7', 'overloaded'],
      [429, 'Wed, 21 Oct 2037 07:28:00 GMT', 'answered 429 as told'],
      [200, null, ''],
    ]);
    // Every request was decoded and recorded with what it was answered.
    expect(rx.requests.map((r) => r.status)).toEqual([503, 503, 429, 200]);
    expect(rx.accepted()).toHaveLength(1);
  });

  it('answers a fault for a while, and partial success in the signal\'s own response message', async () => {
    rx.respond({ status: 503 }, { forMs: 150 });
    expect((await post('/v1/logs', '{}', JSON_TYPE)).status).toBe(503);
    await new Promise((r) => setTimeout(r, 200));
    expect((await post('/v1/logs', '{}', JSON_TYPE)).status).toBe(200);

    rx.respond({ status: 200, partialSuccess: { rejected: 3, errorMessage: 'bad points' } }, { times: 1 });
    const res = await post('/v1/metrics', new Uint8Array(), PB);
    const types = await otlpTypes();
    const decoded = types.metricsResponse.toObject(types.metricsResponse.decode(new Uint8Array(await res.arrayBuffer())), { longs: Number });
    expect(decoded).toEqual({ partialSuccess: { rejectedDataPoints: 3, errorMessage: 'bad points' } });
  });

  it('can be down (connection refused) and up again on the same port', async () => {
    const port = rx.port;
    await rx.down();
    const err = await post('/v1/metrics', new Uint8Array(), PB).then(
      () => undefined,
      (e: Error & { cause?: { code?: string } }) => e.cause?.code,
    );
    expect(err).toBe('ECONNREFUSED');
    await rx.up();
    expect(rx.port).toBe(port);
    expect((await post('/v1/metrics', new Uint8Array(), PB)).status).toBe(200);
    expect(await rx.waitForRequests(1, { accepted: true })).toHaveLength(1);
  });
});
