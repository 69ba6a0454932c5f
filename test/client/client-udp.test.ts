/**
 * tally-agent/client over UDP against a real agent: every function, tags,
 * sample rates, the prefix, global tags from the environment and from
 * package.json, runtime metrics under the names the dashboards use, and an
 * application that runs on, counting its drops, when no agent listens.
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, createClient, flush, type Client, type ClientOptions, type DropReason } from 'tally-agent/client';
import { ROOT, startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { familyType, findSample, parsePromText, sampleValue, type Exposition } from '../support/prom-text.js';

let agent: AgentHandle;
const clients: Client[] = [];
let tmp: string;

beforeAll(async () => {
  agent = await startAgent({ config: { http: { collect: { durable: false } } } });
  tmp = await mkdtemp(join(tmpdir(), 'tally-client-'));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await agent?.stop();
  await rm(tmp, { recursive: true, force: true });
});

function client(opts: ClientOptions = {}): Client {
  const c = createClient({ port: agent.udpPort, environment: {}, ...opts });
  clients.push(c);
  return c;
}

/** Polls /metrics until check passes (UDP lands asynchronously). */
async function metricsUntil(check: (e: Exposition) => void): Promise<Exposition> {
  return waitFor(async () => {
    const e = parsePromText(await agent.metricsText());
    check(e);
    return e;
  }, 5000);
}

const G = { service: 'fn', version: '1.0.0', env: 'test' };

describe('tally-agent/client over UDP', () => {
  it('lands every function as POST /v1/collect would', async () => {
    const c = client(G);
    expect(c.collect('checkout time', { s: 0.12 })).toBe(true);
    c.collect('checkout time', { ms: 80 });
    c.collect('slow op', 1.5, undefined, { unit: 's' });
    c.collect('feature-used', 'Export PDF');
    c.collect('feature-used', 'Export PDF');
    c.collect('feature-used', 'Import CSV');
    c.collect('logins', 3);
    c.count('hits');
    c.count('hits', 4);
    c.gauge('queue depth', 17);
    c.gauge('temperature', -5.5);
    c.timer('render', 250);
    c.timer('render', { s: 0.5 });
    c.histogram('payload', 512);
    c.distribution('spread', 3);
    c.event('export', 'csv');
    expect(c.time('work', () => 42)).toBe(42);
    await expect(c.time('async work', async () => 'done')).resolves.toBe('done');
    const f = c.timed('handler', function (this: { k: number }, a: number) {
      return this.k + a;
    });
    expect(f.call({ k: 1 }, 2)).toBe(3);
    const decorated = c.timed('method', { route: '/m' })(function (x: string) {
      return x.toUpperCase();
    });
    expect(decorated('a')).toBe('A');
    await c.flush();

    const before = Date.now() / 1000;
    const e = await metricsUntil((e) => expect(findSample(e, 'method_seconds_count', { ...G, route: '/m', outcome: 'ok' })).toBe(1));
    expect(sampleValue(e, 'checkout_time_seconds_count', G)).toBe(2);
    expect(sampleValue(e, 'checkout_time_seconds_sum', G)).toBeCloseTo(0.2, 9);
    expect(sampleValue(e, 'slow_op_seconds_sum', G)).toBeCloseTo(1.5, 9);
    expect(sampleValue(e, 'feature_used_total', { ...G, value: 'Export PDF' })).toBe(2);
    expect(sampleValue(e, 'feature_used_total', { ...G, value: 'Import CSV' })).toBe(1);
    expect(sampleValue(e, 'feature_used_last_seen_timestamp_seconds', { ...G, value: 'Export PDF' })).toBeGreaterThan(before - 60);
    expect(sampleValue(e, 'logins_total', G)).toBe(3);
    expect(sampleValue(e, 'hits_total', G)).toBe(5);
    expect(sampleValue(e, 'queue_depth', G)).toBe(17);
    expect(sampleValue(e, 'temperature', G)).toBe(-5.5);
    expect(sampleValue(e, 'render_seconds_count', G)).toBe(2);
    expect(sampleValue(e, 'render_seconds_sum', G)).toBeCloseTo(0.75, 9);
    expect(sampleValue(e, 'payload_sum', G)).toBe(512);
    expect(sampleValue(e, 'spread_count', G)).toBe(1);
    expect(sampleValue(e, 'export_total', { ...G, value: 'csv' })).toBe(1);
    expect(sampleValue(e, 'work_seconds_count', { ...G, outcome: 'ok' })).toBe(1);
    expect(sampleValue(e, 'async_work_seconds_count', { ...G, outcome: 'ok' })).toBe(1);
    expect(sampleValue(e, 'handler_seconds_count', { ...G, outcome: 'ok' })).toBe(1);
    expect(familyType(e, 'checkout_time_seconds')).toBe('histogram');
    expect(familyType(e, 'queue_depth')).toBe('gauge');
    // 20 calls; the negative gauge is two lines (set 0, then adjust).
    expect(c.stats()).toMatchObject({ transport: 'udp', calls: 20, sent: 21, pending: 0 });
    expect(Object.values(c.stats().dropped).every((n) => n === 0)).toBe(true);
  });

  it('time() on a throwing function rethrows and reports the duration with outcome=error', async () => {
    const c = client(G);
    const boom = new Error('boom');
    expect(() =>
      c.time('sync fail', () => {
        const until = performance.now() + 5;
        while (performance.now() < until);
        throw boom;
      }),
    ).toThrow(boom);
    const rejection = new TypeError('async boom');
    await expect(
      c.time('async fail', async () => {
        await new Promise((r) => setTimeout(r, 20));
        throw rejection;
      }),
    ).rejects.toBe(rejection);
    await c.flush();
    const e = await metricsUntil((e) => expect(findSample(e, 'async_fail_seconds_count', { ...G, outcome: 'error' })).toBe(1));
    expect(sampleValue(e, 'sync_fail_seconds_count', { ...G, outcome: 'error' })).toBe(1);
    // The time spent before the throw is what is reported.
    expect(sampleValue(e, 'sync_fail_seconds_sum', { ...G, outcome: 'error' })).toBeGreaterThanOrEqual(0.004);
    expect(sampleValue(e, 'async_fail_seconds_sum', { ...G, outcome: 'error' })).toBeGreaterThanOrEqual(0.015);
    expect(findSample(e, 'sync_fail_seconds_count', { ...G, outcome: 'ok' })).toBeUndefined();
  });

  it('sends call tags and a prefix, and a call tag wins over a global one', async () => {
    const c = client({ prefix: 'shop.', ...G });
    c.count('orders', 2, { route: '/cart', paid: true, attempt: 3 });
    c.count('orders', 1, { version: '1.5.0' });
    c.gauge('stock', 9, { sku: 'a,b|c' });
    await c.flush();
    const e = await metricsUntil((e) => expect(findSample(e, 'shop_stock', { ...G, sku: 'a_b_c' })).toBe(9));
    expect(sampleValue(e, 'shop_orders_total', { ...G, route: '/cart', paid: 'true', attempt: '3' })).toBe(2);
    expect(sampleValue(e, 'shop_orders_total', { ...G, version: '1.5.0' })).toBe(1);
  });

  it('samples counters and timers at their rate and the agent scales them back exactly', async () => {
    const counters = client({ globalTags: false, sampleRate: 0.5 });
    const timers = client({ globalTags: false });
    const gauges = client({ globalTags: false, sampleRate: 0.01 });
    for (let i = 0; i < 2000; i++) counters.count('sampled', 1);
    for (let i = 0; i < 400; i++) timers.timer('sampled timer', 10, undefined, 0.25);
    for (let i = 1; i <= 50; i++) gauges.gauge('unsampled gauge', i);
    expect(counters.count('bad rate', 1, undefined, 1.5)).toBe(false);
    await Promise.all([counters.flush(), timers.flush(), gauges.flush()]);
    const cs = counters.stats();
    const ts = timers.stats();
    expect(cs.sampledOut).toBeGreaterThan(0);
    expect(cs.sent).toBeGreaterThan(0);
    expect(cs.sampledOut + cs.sent).toBe(2000);
    expect(cs.dropped.invalid).toBe(1);
    expect(ts.sampledOut + ts.sent).toBe(400);
    const e = await metricsUntil((e) => expect(findSample(e, 'unsampled_gauge')).toBe(50));
    expect(sampleValue(e, 'sampled_total')).toBe(cs.sent * 2);
    expect(sampleValue(e, 'sampled_timer_seconds_count')).toBe(ts.sent * 4);
    expect(gauges.stats()).toMatchObject({ sampledOut: 0, sent: 50 });
  });

  it('takes service, version and env from the OpenTelemetry environment, then package.json, then options', async () => {
    const app = join(tmp, 'app');
    await mkdir(join(app, 'src', 'deep'), { recursive: true });
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'pkg-app', version: '3.1.4' }));
    const fromEnv = client({
      environment: {
        OTEL_SERVICE_NAME: 'env-svc',
        OTEL_RESOURCE_ATTRIBUTES: 'service.name=ignored,service.version=2.0.0,deployment.environment.name=staging%20eu',
      },
      packageDirs: [app],
    });
    const fromAttrs = client({ environment: { OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr-svc,deployment.environment=old-env' }, packageDirs: [app] });
    const fromPackage = client({ packageDirs: [join(app, 'src', 'deep')] });
    const fromOptions = client({ packageDirs: [app], service: 'opt-svc', env: 'prod', tags: { region: 'eu' } });
    // No package dirs: found from process.cwd(), which is this repository.
    const fromCwd = client({});
    for (const [c, name] of [
      [fromEnv, 'env'],
      [fromAttrs, 'attrs'],
      [fromPackage, 'package'],
      [fromOptions, 'options'],
      [fromCwd, 'cwd'],
    ] as const) {
      c.count('global tags', 1, { from: name });
    }
    await Promise.all(clients.map((c) => c.flush()));
    expect(fromCwd.globalTags).toEqual({ service: 'tally-agent', version: '0.1.0' });
    const e = await metricsUntil((e) => expect(findSample(e, 'global_tags_total', { from: 'cwd', service: 'tally-agent', version: '0.1.0' })).toBe(1));
    expect(sampleValue(e, 'global_tags_total', { from: 'env', service: 'env-svc', version: '2.0.0', env: 'staging eu' })).toBe(1);
    expect(sampleValue(e, 'global_tags_total', { from: 'attrs', service: 'attr-svc', version: '3.1.4', env: 'old-env' })).toBe(1);
    expect(sampleValue(e, 'global_tags_total', { from: 'package', service: 'pkg-app', version: '3.1.4' })).toBe(1);
    expect(sampleValue(e, 'global_tags_total', { from: 'options', service: 'opt-svc', version: '3.1.4', env: 'prod', region: 'eu' })).toBe(1);
  });

  it('needs no setup: collect() uses a default client from TALLY_HOST / TALLY_PORT', async () => {
    const saved = { host: process.env.TALLY_HOST, port: process.env.TALLY_PORT };
    process.env.TALLY_HOST = '127.0.0.1';
    process.env.TALLY_PORT = String(agent.udpPort);
    try {
      expect(collect('one liner', 'used')).toBe(true);
      expect(collect('one liner count', 2)).toBe(true);
      await flush();
    } finally {
      for (const [k, v] of [['TALLY_HOST', saved.host], ['TALLY_PORT', saved.port]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    const e = await metricsUntil((e) => expect(findSample(e, 'one_liner_count_total', { service: 'tally-agent', version: '0.1.0' })).toBe(2));
    expect(sampleValue(e, 'one_liner_total', { service: 'tally-agent', version: '0.1.0', value: 'used' })).toBe(1);
  });

  it('sends runtime metrics under the dashboards\' names, tagged with the global tags', async () => {
    const c = client({ service: 'rt', version: '7.0.0', runtime: { intervalMs: 200 } });
    const labels = { service: 'rt', version: '7.0.0' };
    // Work for the CPU and garbage for the GC.
    let keep: unknown[] = [];
    for (let i = 0; i < 200_000; i++) keep.push({ i, s: String(i) });
    keep = [];
    const e = await metricsUntil((e) => {
      expect(findSample(e, 'runtime_event_loop_delay_p99_seconds', labels)).toBeDefined();
      expect(findSample(e, 'runtime_cpu_seconds_total', labels)).toBeGreaterThan(0);
    });
    expect(sampleValue(e, 'runtime_memory_rss_bytes', labels)).toBeGreaterThan(10 * 1024 * 1024);
    expect(sampleValue(e, 'runtime_memory_heap_used_bytes', labels)).toBeGreaterThan(1024 * 1024);
    expect(sampleValue(e, 'runtime_event_loop_delay_p50_seconds', labels)).toBeGreaterThanOrEqual(0);
    expect(sampleValue(e, 'runtime_gc_seconds_total', labels)).toBeGreaterThanOrEqual(0);
    for (const [family, type] of [
      ['runtime_memory_rss_bytes', 'gauge'],
      ['runtime_memory_heap_used_bytes', 'gauge'],
      ['runtime_event_loop_delay_p50_seconds', 'gauge'],
      ['runtime_event_loop_delay_p99_seconds', 'gauge'],
      ['runtime_gc_seconds_total', 'counter'],
      ['runtime_cpu_seconds_total', 'counter'],
    ] as const) {
      expect(familyType(e, family.replace(/_total$/, '')) ?? familyType(e, family), family).toBe(type);
    }
    expect(keep).toEqual([]);
  });

  it('does not keep the application alive, and what it sent before exiting arrives', async () => {
    const script = `
      import { createClient } from 'tally-agent/client';
      const c = createClient({ port: ${agent.udpPort}, globalTags: false, runtime: { intervalMs: 100 } });
      c.count('exit check', 1);
    `;
    const started = Date.now();
    await new Promise<void>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeout: 10_000 }, (err) => (err ? reject(err) : resolve())),
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    await metricsUntil((e) => expect(findSample(e, 'exit_check_total')).toBe(1));
  });

  it('runs on when no agent listens, and counts the datagrams refused', async () => {
    const hole = createSocket('udp4');
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    const port = hole.address().port;
    await new Promise<void>((r) => hole.close(() => r()));
    const drops: DropReason[] = [];
    const c = createClient({ port, globalTags: false, onDrop: (reason) => drops.push(reason) });
    clients.push(c);
    for (let i = 0; i < 20; i++) {
      expect(c.count('nobody listens', 1)).toBe(true);
      await c.flush();
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => expect(c.stats().dropped.refused).toBeGreaterThanOrEqual(10), 5000);
    const s = c.stats();
    expect(s.calls).toBe(20);
    expect(s.sent + s.dropped.refused).toBe(20);
    expect(drops).toContain('refused');
  });

  it('refuses calls after close() and counts them', async () => {
    const c = client({ globalTags: false });
    await c.close();
    expect(c.count('late', 1)).toBe(false);
    expect(c.stats().dropped.closed).toBe(1);
  });
});
