import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteWriteSender } from '../../../agent/export/remote-write/http-sender.js';
import { createRemoteWriteSink } from '../../../agent/export/remote-write/remote-write-sink.js';
import type { EncodedRequest } from '../../../agent/export/sink.js';
import { decodeBody, seriesId, statsdPipeline } from './helpers.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Receiver {
  url: string;
  received: Received[];
  /** TCP connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

const servers: Server[] = [];
const senders: RemoteWriteSender[] = [];

afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close()));
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise<void>((r) => s.close(() => r()));
    }),
  );
});

/** A node:http server on 127.0.0.1 and a free port that answers each request with `answer`. */
async function receiver(answer: (res: ServerResponse, r: Received) => void, path = '/api/v1/write'): Promise<Receiver> {
  const received: Received[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      received.push(r);
      answer(res, r);
    });
  });
  server.on('connection', () => connections++);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    connections: () => connections,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function sender(opts: Partial<ConstructorParameters<typeof RemoteWriteSender>[0]> & { url: string }): RemoteWriteSender {
  const s = new RemoteWriteSender({ timeoutMs: 5_000, ...opts });
  senders.push(s);
  return s;
}

const REQUEST: EncodedRequest = {
  path: '',
  headers: {
    'Content-Encoding': 'snappy',
    'Content-Type': 'application/x-protobuf',
    'User-Agent': 'tally-agent/9.9.9',
    'X-Prometheus-Remote-Write-Version': '0.1.0',
    'x-tally-batch-id': 'b-1',
    'x-tally-batch-part': '1/1',
  },
  body: new Uint8Array([1, 2, 3, 250, 0, 7]),
};

const NOW = Date.parse('2026-11-22T10:00:00Z');
const never = new AbortController().signal;

function reply(status: number, body = '', headers: Record<string, string> = {}) {
  return (res: ServerResponse) => {
    res.writeHead(status, headers);
    res.end(body);
  };
}

describe('RemoteWriteSender', () => {
  it('POSTs the stored request as it is, adding the configured headers and token, over kept-alive connections', async () => {
    const r = await receiver(reply(204), '/api/v1/write?tenant=a');
    const s = sender({ url: r.url, headers: { 'X-Scope-OrgID': 'team-a' }, bearerToken: 'tok' });
    for (let i = 0; i < 6; i++) expect(await s.send(REQUEST, never)).toEqual({ kind: 'delivered', status: 204 });
    expect(r.received).toHaveLength(6);
    const got = r.received[0]!;
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/api/v1/write?tenant=a');
    expect(got.headers).toMatchObject({
      'content-encoding': 'snappy',
      'content-type': 'application/x-protobuf',
      'user-agent': 'tally-agent/9.9.9',
      'x-prometheus-remote-write-version': '0.1.0',
      'x-tally-batch-id': 'b-1',
      'x-tally-batch-part': '1/1',
      'x-scope-orgid': 'team-a',
      authorization: 'Bearer tok',
      'content-length': '6',
    });
    expect([...got.body]).toEqual([...REQUEST.body]);
    // Six requests, one after another, over the pool's connections (2): none opened per request.
    expect(r.connections()).toBeLessThanOrEqual(2);
  });

  it('sends basic auth from the options or from credentials in the URL', async () => {
    const r = await receiver(reply(200));
    await sender({ url: r.url, basicAuth: { username: 'u', password: 'p:w' } }).send(REQUEST, never);
    await sender({ url: r.url.replace('http://', 'http://us%40er:s%20cret@') }).send(REQUEST, never);
    expect(r.received.map((x) => x.headers.authorization)).toEqual([
      `Basic ${Buffer.from('u:p:w').toString('base64')}`,
      `Basic ${Buffer.from('us@er:s cret').toString('base64')}`,
    ]);
  });

  it.each([
    [200, {}, '', { kind: 'delivered', status: 200 }],
    [204, {}, '', { kind: 'delivered', status: 204 }],
    [400, {}, 'out of order sample\nmore', { kind: 'permanent', status: 400, error: 'HTTP 400: out of order sample', responseBody: 'out of order sample\nmore' }],
    [404, {}, '404 page not found', { kind: 'permanent', status: 404, error: 'HTTP 404: 404 page not found', responseBody: '404 page not found' }],
    [413, { 'Retry-After': '5' }, '', { kind: 'permanent', status: 413, error: 'HTTP 413', responseBody: '' }],
    [429, { 'Retry-After': '7' }, 'slow down', { kind: 'retry', status: 429, error: 'HTTP 429: slow down', retryAfterMs: 7_000 }],
    [429, {}, '', { kind: 'retry', status: 429, error: 'HTTP 429' }],
    [500, {}, 'boom', { kind: 'retry', status: 500, error: 'HTTP 500: boom' }],
    [503, { 'Retry-After': 'Sun, 22 Nov 2026 10:01:30 GMT' }, '', { kind: 'retry', status: 503, error: 'HTTP 503', retryAfterMs: 90_000 }],
    [503, { 'Retry-After': 'soon' }, '', { kind: 'retry', status: 503, error: 'HTTP 503' }],
  ] as const)('classifies HTTP %i %j as the spec says', async (status, headers, body, expected) => {
    const r = await receiver(reply(status, body, headers));
    expect(await sender({ url: r.url, now: () => NOW }).send(REQUEST, never)).toEqual(expected);
  });

  it('does not follow a redirect, and names where it pointed', async () => {
    const r = await receiver(reply(308, '', { Location: 'https://elsewhere.example/api/v1/write' }));
    const outcome = await sender({ url: r.url }).send(REQUEST, never);
    expect(outcome).toMatchObject({ kind: 'permanent', status: 308 });
    expect(outcome.kind === 'permanent' && outcome.error).toMatch(/redirect to https:\/\/elsewhere\.example\/api\/v1\/write not followed/);
    expect(r.received).toHaveLength(1);
  });

  it('keeps only the first 4 KiB of a large error body', async () => {
    const big = 'x'.repeat(1_000_000);
    const r = await receiver(reply(400, big));
    const outcome = await sender({ url: r.url }).send(REQUEST, never);
    expect(outcome.kind).toBe('permanent');
    if (outcome.kind !== 'permanent') return;
    expect(outcome.responseBody).toBe(`${'x'.repeat(4096)}… (cut at 4096 bytes)`);
    expect(outcome.error.length).toBeLessThan(300);
  });

  it('retries when the connection is refused', async () => {
    const r = await receiver(reply(200));
    await r.close();
    const outcome = await sender({ url: r.url }).send(REQUEST, never);
    expect(outcome).toMatchObject({ kind: 'retry' });
    expect(outcome.kind === 'retry' && outcome.error).toMatch(/ECONNREFUSED/);
  });

  it('retries when no response comes within the timeout', async () => {
    const r = await receiver(() => undefined);
    const t0 = Date.now();
    const outcome = await sender({ url: r.url, timeoutMs: 300 }).send(REQUEST, never);
    expect(outcome).toEqual({ kind: 'retry', error: 'no response within 300 ms' });
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('gives up an attempt at once when the caller aborts, for a later retry', async () => {
    const r = await receiver(() => undefined);
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('agent stopping')), 100);
    const outcome = await sender({ url: r.url }).send(REQUEST, stop.signal);
    expect(outcome).toEqual({ kind: 'retry', error: 'aborted: agent stopping' });
  });

  it('refuses, at creation, headers the protocol owns and two kinds of credentials', () => {
    for (const h of ['Content-Type', 'content-encoding', 'User-Agent', 'X-Prometheus-Remote-Write-Version', 'X-Tally-Batch-Id', 'Host', 'Content-Length']) {
      expect(() => new RemoteWriteSender({ url: 'http://127.0.0.1:1/w', timeoutMs: 1000, headers: { [h]: 'x' } }), h).toThrow(new RegExp(h));
    }
    expect(() => new RemoteWriteSender({ url: 'http://127.0.0.1:1/w', timeoutMs: 1000, headers: { Authorization: 'x' }, bearerToken: 't' })).toThrow(/one of/);
    expect(() => new RemoteWriteSender({ url: 'http://u:p@127.0.0.1:1/w', timeoutMs: 1000, bearerToken: 't' })).toThrow(/one of/);
    expect(() => new RemoteWriteSender({ url: 'ftp://127.0.0.1/w', timeoutMs: 1000 })).toThrow(/http/);
    expect(() => new RemoteWriteSender({ url: 'http://127.0.0.1/w', timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});

describe('createRemoteWriteSink', () => {
  it('encodes a flush and delivers it: the receiver decodes what /metrics would show', async () => {
    const r = await receiver(reply(204));
    const sink = createRemoteWriteSink({ name: 'prom', url: r.url, timeoutMs: 5_000, version: '1.0.0', headers: { 'X-Scope-OrgID': 't' } });
    try {
      const p = statsdPipeline({ resource: resourceFromAttributes({ 'service.name': 'tally-agent' }), now: () => 1_700_000_000_000 });
      p.send('jobs:3|c|#queue:mail\nlat:12|ms');
      const requests = await sink.encode(await p.batch(1_700_000_001_000, 'batch-9'));
      expect(requests).toHaveLength(1);
      expect(await sink.send(requests[0]!, never)).toEqual({ kind: 'delivered', status: 204 });
      const got = r.received[0]!;
      expect(got.headers['x-tally-batch-id']).toBe('batch-9');
      expect(got.headers['x-scope-orgid']).toBe('t');
      const series = decodeBody(got.body);
      expect(series.map((s) => seriesId(s.labels))).toContain(seriesId([['__name__', 'jobs_total'], ['queue', 'mail']]));
      expect(series.find((s) => seriesId(s.labels) === seriesId([['__name__', 'jobs_total'], ['queue', 'mail']]))!.samples).toEqual([
        { value: 0, timestamp: 1_700_000_000_000 },
        { value: 3, timestamp: 1_700_000_001_000 },
      ]);
      expect(series).toHaveLength(1 + 1 + 2 + 4);
    } finally {
      await sink.close?.();
    }
  });
});
