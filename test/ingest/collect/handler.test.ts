/**
 * POST /v1/collect against a running agent: what each kind of request is
 * answered, what lands on /metrics, and that hostile or broken clients
 * neither crash the agent nor stop it serving good requests.
 */
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentHandle } from '../../support/agent-process.js';
import { findSample, sampleValue, sumSamples } from '../../support/prom-text.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: Record<string, unknown> | undefined;
}

interface PostOptions {
  contentType?: string;
  headers?: Record<string, string>;
  gzip?: boolean;
  path?: string;
  method?: string;
}

/** One request on a fresh connection; errors after a response (the agent closing early) are ignored. */
function post(port: number, body: string | Buffer, opts: PostOptions = {}): Promise<Reply> {
  const raw = typeof body === 'string' ? Buffer.from(body) : body;
  const payload = opts.gzip ? gzipSync(raw) : raw;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'POST',
        path: opts.path ?? '/v1/collect',
        agent: false,
        timeout: 5000,
        headers: {
          'content-type': opts.contentType ?? 'application/json',
          'content-length': String(payload.length),
          ...(opts.gzip ? { 'content-encoding': 'gzip' } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> | undefined;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode!, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Writes raw bytes on a socket and resolves with everything the agent sent back before closing (or after `waitMs`). */
function rawExchange(port: number, write: (sock: ReturnType<typeof connect>) => void, waitMs: number): Promise<{ text: string; closed: boolean; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const sock = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ text, closed: false, ms: Date.now() - t0 });
    }, waitMs);
    sock.on('connect', () => write(sock));
    sock.on('data', (d) => (text += d.toString('latin1')));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true, ms: Date.now() - t0 });
    });
    sock.on('timeout', () => reject(new Error('socket timeout')));
  });
}

const json = (v: unknown) => JSON.stringify(v);

describe('POST /v1/collect', () => {
  let agent: AgentHandle;
  let port: number;

  beforeAll(async () => {
    agent = await startAgent({
      config: {
        http: {
          headers_timeout: '500ms',
          request_timeout: '1s',
          collect: { max_body_bytes: 65536, max_items: 50, max_json_depth: 6 },
        },
        limits: { max_tags: 8 },
      },
    });
    port = agent.httpPort;
  });
  afterAll(async () => {
    await agent?.stop();
  });

  it('accepts one JSON object and answers 202 with the count', async () => {
    const r = await post(port, json({ name: 'hc single', value: 3, tags: { env: 'prod' } }));
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ accepted: 1 });
    expect(sampleValue(await agent.metricsText(), 'hc_single_total', { env: 'prod' })).toBe(3);
  });

  it('answers a client that half-closes after its request (nc -N): the journaled request gets its 202', async () => {
    const body = json({ name: 'hc half closed', value: 1 });
    const r = await rawExchange(
      port,
      (sock) => {
        sock.write(`POST /v1/collect HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        // Shut down our write side only, as nc -N does after stdin ends.
        sock.end();
      },
      5000,
    );
    expect(r.text).toMatch(/^HTTP\/1\.1 202 /);
    expect(r.text).toContain('{"accepted":1}');
    // And the connection is closed after the answer, not left open.
    expect(r.closed).toBe(true);
    expect(sampleValue(await agent.metricsText(), 'hc_half_closed_total')).toBe(1);
  });

  it('answers every request on a keep-alive connection with the same JSON headers', async () => {
    const agentPool = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const replies: Array<{ status: number; headers: Record<string, unknown>; text: string; socket: unknown }> = [];
      for (let i = 0; i < 5; i++) {
        replies.push(
          await new Promise((resolve, reject) => {
            const body = json(i % 2 ? [{ name: 'hc keepalive', value: 1 }, { name: 'hc keepalive', value: 1 }] : { name: 'hc keepalive', value: 1 });
            const req = request(
              { host: '127.0.0.1', port, method: 'POST', path: '/v1/collect', agent: agentPool, headers: { 'content-type': 'application/json' } },
              (res) => {
                let text = '';
                res.on('data', (c: Buffer) => (text += c.toString()));
                res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text, socket: res.socket }));
              },
            );
            req.on('error', reject);
            req.end(body);
          }),
        );
      }
      for (const [i, r] of replies.entries()) {
        expect(r.status).toBe(202);
        expect(r.text).toBe(`{"accepted":${i % 2 ? 2 : 1}}\n`);
        expect(r.headers['content-type']).toBe('application/json');
        expect(r.headers['cache-control']).toBe('no-store');
        expect(r.headers['content-length']).toBe(String(r.text.length));
        expect(r.headers.connection).toBe('keep-alive');
      }
      // One connection carried all five.
      expect(new Set(replies.map((r) => r.socket)).size).toBe(1);
      expect(sampleValue(await agent.metricsText(), 'hc_keepalive_total')).toBe(7);
    } finally {
      agentPool.destroy();
    }
  });

  it('accepts an array: the issue examples land as a timer in seconds and an event', async () => {
    const r = await post(
      port,
      json([
        { name: 'hc checkout time', value: 0.12, unit: 's', type: 'timer', tags: { version: '1.4.0' }, timestamp: '2026-11-22T10:00:00Z' },
        { name: 'hc-feature-used', value: 'Export PDF', timestamp: '2026-11-22T10:00:00Z' },
        { name: 'hc-feature-used', value: 'Export PDF', timestamp: 1700000000 },
        { name: 'hc gauge', value: 250, unit: 'ms', type: 'gauge' },
        { name: 'hc members', value: 'u1', type: 'set' },
      ]),
    );
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ accepted: 5 });
    const m = await agent.metricsText();
    expect(sampleValue(m, 'hc_checkout_time_seconds_count', { version: '1.4.0' })).toBe(1);
    expect(sampleValue(m, 'hc_checkout_time_seconds_sum', { version: '1.4.0' })).toBeCloseTo(0.12, 9);
    expect(sampleValue(m, 'hc_checkout_time_seconds_bucket', { version: '1.4.0', le: '0.1174' })).toBe(0);
    expect(sampleValue(m, 'hc_checkout_time_seconds_bucket', { version: '1.4.0', le: '0.128' })).toBe(1);
    expect(sampleValue(m, 'hc_feature_used_total', { value: 'Export PDF' })).toBe(2);
    // The later of the two timestamps, whatever the order they came in.
    expect(sampleValue(m, 'hc_feature_used_last_seen_timestamp_seconds', { value: 'Export PDF' })).toBe(Date.UTC(2026, 10, 22, 10) / 1000);
    expect(sampleValue(m, 'hc_gauge')).toBe(0.25);
  });

  it('a unitless or ms timer is milliseconds, as in statsd', async () => {
    expect((await post(port, json([{ name: 'hc ms', value: 40, type: 'timer' }, { name: 'hc ms', value: 60, unit: 'ms' }]))).status).toBe(202);
    expect(sampleValue(await agent.metricsText(), 'hc_ms_seconds_sum')).toBeCloseTo(0.1, 9);
  });

  it('answers 400 naming every bad item, and still lands the good ones', async () => {
    const before = await agent.metricsText();
    const r = await post(
      port,
      json([
        { name: 'hc mixed', value: 1 },
        { value: 1 },
        { name: 'hc mixed', value: 2 },
        { name: 'hc mixed', value: 'x', type: 'counter' },
        { name: 'hc mixed', value: 1, unit: 'parsecs!' },
        { name: 'hc mixed', value: 1, tags: { a: { b: 1 } } },
        { name: 'hc mixed', value: 1, timestamp: 'noon' },
        { name: 'hc mixed', value: 1, type: 'meter' },
      ]),
    );
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ error: 'bad_items', accepted: 2, rejected: 6 });
    expect((r.json!.errors as Array<{ index: number; reason: string }>).map((e) => [e.index, e.reason])).toEqual([
      [1, 'missing_name'],
      [3, 'bad_value'],
      [4, 'bad_unit'],
      [5, 'bad_tags'],
      [6, 'bad_timestamp'],
      [7, 'bad_type'],
    ]);
    expect(r.json!.message).toMatch(/2 were accepted/);
    const after = await agent.metricsText();
    expect(sampleValue(after, 'hc_mixed_total')).toBe(3);
    const rejected = (m: string) => sumSamples(m, 'tally_http_collect_items_total', { outcome: 'rejected' });
    expect(rejected(after) - rejected(before)).toBe(6);
    expect(sampleValue(after, 'tally_http_collect_items_total', { outcome: 'rejected', reason: 'bad_unit' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(after, 'tally_http_requests_total', { code: '400' })).toBeGreaterThanOrEqual(1);
  });

  it('rejects duplicate keys and integers past 2^53 per item', async () => {
    const body = `[{"name":"hc dup","value":1,"value":5},{"name":"hc big","value":9007199254740993},{"name":"hc ok","value":9007199254740991}]`;
    const r = await post(port, body);
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({
      accepted: 1,
      errors: [
        { index: 0, reason: 'duplicate_key' },
        { index: 1, reason: 'bad_value' },
      ],
    });
    const m = await agent.metricsText();
    expect(findSample(m, 'hc_dup_total')).toBeUndefined();
    expect(sampleValue(m, 'hc_ok_total')).toBe(9007199254740991);
  });

  it('takes statsd lines as text/plain, exactly as over UDP, naming bad lines by number', async () => {
    const ok = await post(port, 'hc.text:2|c|#env:a\nhc.text.lat:120|ms\n_e{9,6}:hc.deploy|v1.2.3\n', { contentType: 'text/plain; charset=utf-8' });
    expect(ok.status).toBe(202);
    expect(ok.json).toEqual({ accepted: 3 });
    const bad = await post(port, 'hc.text:1|c\r\nnot a line\r\nhc.text:x|c\r\nhc.text:1|c|#env:a', { contentType: 'text/plain' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ accepted: 2, rejected: 2 });
    expect((bad.json!.errors as Array<{ index: number }>).map((e) => e.index)).toEqual([1, 2]);
    const m = await agent.metricsText();
    expect(sampleValue(m, 'hc_text_total', { env: 'a' })).toBe(3);
    expect(sampleValue(m, 'hc_text_total')).toBe(1);
    expect(sampleValue(m, 'hc_text_lat_seconds_sum')).toBeCloseTo(0.12, 9);
    expect(sampleValue(m, 'hc_deploy_total')).toBe(1);
  });

  it('accepts gzip bodies', async () => {
    const r = await post(port, json({ name: 'hc gz', value: 7 }), { gzip: true });
    expect(r.status).toBe(202);
    expect(sampleValue(await agent.metricsText(), 'hc_gz_total')).toBe(7);
  });

  it('answers 413 past the body limit, plain or as a gzip bomb measured decoded', async () => {
    const big = json([{ name: 'hc big body', value: 1, tags: { pad: 'x'.repeat(70_000) } }]);
    const plain = await post(port, big);
    expect(plain.status).toBe(413);
    expect(plain.json).toMatchObject({ error: 'body_too_large' });
    // 10 MB of zeros gzip to about 10 kB: small on the wire, cut off once 64 KiB are inflated.
    const bomb = await post(port, Buffer.alloc(10 * 1024 * 1024, 0x20), { gzip: true });
    expect(bomb.status).toBe(413);
    expect(bomb.text).toMatch(/decompressed/);
    expect((await post(port, Buffer.from('not gzip'), { headers: { 'content-encoding': 'gzip' } })).json).toMatchObject({ error: 'bad_gzip' });
    expect(findSample(await agent.metricsText(), 'hc_big_body_total')).toBeUndefined();
  });

  it('answers 413 past max_items and 400 past max_json_depth', async () => {
    const many = await post(port, json(Array.from({ length: 51 }, () => ({ name: 'hc many', value: 1 }))));
    expect(many.status).toBe(413);
    expect(many.json).toMatchObject({ error: 'too_many_items' });
    const deep = await post(port, '['.repeat(30_000) + ']'.repeat(30_000));
    expect(deep.status).toBe(400);
    expect(deep.json).toMatchObject({ error: 'too_deep' });
    const fits = await post(port, json(Array.from({ length: 50 }, () => ({ name: 'hc many', value: 1 }))));
    expect(fits.status).toBe(202);
  });

  it('answers 415 for other content types and encodings, 405 for other methods', async () => {
    expect((await post(port, 'a=1', { contentType: 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await post(port, '{}', { contentType: 'application/json; charset=latin1' })).status).toBe(415);
    expect((await post(port, '{}', { headers: { 'content-encoding': 'br' } })).json).toMatchObject({ error: 'unsupported_encoding' });
    const get = await post(port, '', { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST, PUT');
    expect((await post(port, 'x', { contentType: 'application/json' })).json).toMatchObject({ error: 'bad_json' });
    expect((await post(port, Buffer.from([0x22, 0xff, 0x22]))).json).toMatchObject({ error: 'invalid_utf8' });
  });

  it('checks Host and Origin so a web page cannot reach it through DNS rebinding', async () => {
    const body = json({ name: 'hc host', value: 1 });
    const rebound = await post(port, body, { headers: { host: `evil.example:${port}` } });
    expect(rebound.status).toBe(421);
    expect(rebound.json).toMatchObject({ error: 'host_not_allowed' });
    expect((await post(port, body, { headers: { host: `127.0.0.1:${port + 1}` } })).status).toBe(421);
    expect((await post(port, body, { headers: { host: `localhost:${port}` } })).status).toBe(202);
    expect((await post(port, body, { headers: { host: `[::1]:${port}` } })).status).toBe(202);
    const page = await post(port, body, { headers: { origin: 'https://evil.example' }, contentType: 'text/plain' });
    expect(page.status).toBe(403);
    const m = await agent.metricsText();
    expect(sampleValue(m, 'tally_http_collect_request_errors_total', { reason: 'host_not_allowed' })).toBe(2);
    expect(sampleValue(m, 'tally_http_collect_request_errors_total', { reason: 'origin_not_allowed' })).toBe(1);
    expect(sampleValue(m, 'hc_host_total')).toBe(2);
  });

  it('holds /metrics to the same Host check (a rebound page could read every series); the probes answer any Host', async () => {
    const get = (path: string, host: string) => post(port, '', { method: 'GET', path, headers: { host } });
    const rebound = await get('/metrics', `evil.example:${port}`);
    expect(rebound.status).toBe(421);
    expect(rebound.text).not.toContain('tally_');
    expect((await get('/metrics', `localhost:${port}`)).status).toBe(200);
    expect((await get('/metrics', `127.0.0.1:${port}`)).status).toBe(200);
    expect((await get('/healthz', `evil.example:${port}`)).status).toBe(200);
    expect((await get('/readyz', `evil.example:${port}`)).status).toBe(200);
  });

  it('never reads bytes past Content-Length as body: they are a broken next request, answered 400', async () => {
    const body = json({ name: 'hc cl', value: 1 });
    const r = await rawExchange(
      port,
      (s) => s.write(`POST /v1/collect HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}garbage\r\n\r\n`),
      3000,
    );
    expect(r.closed).toBe(true);
    expect(r.text).toMatch(/HTTP\/1\.1 400/);
    expect(r.text).not.toMatch(/bad_json/);
    expect((await post(port, json({ name: 'hc cl', value: 1 }))).status).toBe(202);
    expect(sampleValue(await agent.metricsText(), 'hc_cl_total')).toBeLessThanOrEqual(2);
  });

  it('counts a client that goes away mid-body as aborted, and keeps serving', async () => {
    const before = findSample(await agent.metricsText(), 'tally_http_collect_request_errors_total', { reason: 'aborted' }) ?? 0;
    const head = `POST /v1/collect HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":`;
    for (const reset of [false, true]) {
      await new Promise<void>((resolve) => {
        const sock = connect(port, '127.0.0.1', () => {
          sock.write(head, () => setTimeout(() => (reset ? sock.resetAndDestroy() : sock.destroy()), 50));
        });
        sock.on('error', () => {});
        sock.on('close', () => resolve());
      });
    }
    expect((await post(port, json({ name: 'hc after abort', value: 1 }))).status).toBe(202);
    // The agent learns of the second hang-up when the kernel tells it; wait for that rather than guess how long.
    let m = await agent.metricsText();
    for (let deadline = Date.now() + 3000; (findSample(m, 'tally_http_collect_request_errors_total', { reason: 'aborted' }) ?? 0) < before + 2 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 20));
      m = await agent.metricsText();
    }
    expect(sampleValue(m, 'tally_http_collect_request_errors_total', { reason: 'aborted' })).toBe(before + 2);
    expect(sampleValue(m, 'hc_after_abort_total')).toBe(1);
  });

  it('cuts off a body shorter than Content-Length at the request timeout', async () => {
    const r = await rawExchange(
      port,
      (s) => s.write(`POST /v1/collect HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":`),
      5000,
    );
    expect(r.closed).toBe(true);
    expect(r.text).toMatch(/^HTTP\/1\.1 408/);
    expect(r.ms).toBeLessThan(4000);
  });

  it('cuts off a client that dribbles its headers at the headers timeout', async () => {
    let timer: NodeJS.Timeout | undefined;
    const r = await rawExchange(
      port,
      (s) => {
        s.write(`POST /v1/collect HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`);
        timer = setInterval(() => s.writable && s.write('X-Slow: 1\r\n'), 100);
      },
      5000,
    );
    clearInterval(timer);
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(4000);
  });

  it('survives random bodies, truncated and deep JSON and a 10 MB body, then still serves a good request', async () => {
    const good = json([{ name: 'hc fuzz', value: 1, tags: { k: 'v' } }]);
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
      fc.jsonValue({ maxDepth: 4 }).map((v) => json(v)),
      fc.tuple(fc.jsonValue({ maxDepth: 4 }), fc.nat()).map(([v, n]) => {
        const s = json(v);
        return s.slice(0, n % (s.length + 1));
      }),
      fc.nat({ max: 5000 }).map((n) => '['.repeat(n) + '{"a":'.repeat(n)),
      fc.constant(good.slice(0, -5)),
    );
    const type = fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8');
    await fc.assert(
      fc.asyncProperty(body, type, fc.boolean(), async (b, ct, gz) => {
        const r = await post(port, b, { contentType: ct, gzip: gz });
        expect([202, 400, 413]).toContain(r.status);
        expect(r.json, r.text).toBeDefined();
      }),
      { numRuns: 150 },
    );
    const huge = await post(port, Buffer.alloc(10 * 1024 * 1024, 0x5b)).catch((e: Error) => e);
    if (!(huge instanceof Error)) expect(huge.status).toBe(413);
    const r = await post(port, good);
    expect(r.status).toBe(202);
    expect(sampleValue(await agent.metricsText(), 'hc_fuzz_total', { k: 'v' })).toBe(1);
  });
});

describe('POST /v1/collect with a bearer token', () => {
  let agent: AgentHandle;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tally-token-'));
    await writeFile(join(dir, 'token'), 's3cret-token\n');
    agent = await startAgent({ config: { http: { collect: { bearer_token_file: join(dir, 'token') } } } });
  });
  afterAll(async () => {
    await agent?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 401 without the token or with a wrong one, and 202 with it', async () => {
    const body = json({ name: 'hc auth', value: 1 });
    const missing = await post(agent.httpPort, body);
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect((await post(agent.httpPort, body, { headers: { authorization: 'Bearer s3cret-tokem' } })).status).toBe(401);
    expect((await post(agent.httpPort, body, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(401);
    expect((await post(agent.httpPort, body, { headers: { authorization: 'Basic czNjcmV0LXRva2Vu' } })).status).toBe(401);
    expect((await post(agent.httpPort, body, { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(202);
    const m = await agent.metricsText();
    expect(sampleValue(m, 'hc_auth_total')).toBe(1);
    expect(sampleValue(m, 'tally_http_requests_total', { code: '401' })).toBe(4);
  });
});
