/**
 * tally-agent/client over a Unix datagram socket (transport "unixgram")
 * against a real agent listening on statsd.unixgram: lines land in /metrics,
 * and an application runs on, counting its drops by reason, when no agent
 * reads the socket, when the agent's queue is full, and when unix-dgram
 * cannot be loaded at all.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client, type ClientOptions, type DropReason } from 'tally-agent/client';
import { loadMmsgAddon } from '../../agent/ingest/batch-receiver.js';
import { ROOT, startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { findSample, parsePromText, sampleValue, type Exposition } from '../support/prom-text.js';
import { skipLoudlyUnlessNode20InCI, unixDgramLoadError } from '../support/unix-dgram.js';

// The agent's listener needs its own addon, the client unix-dgram (as hot-shots' test in test/cli.test.ts).
const mmsg = loadMmsgAddon();
const cannot = unixDgramLoadError() ?? (mmsg instanceof Error ? mmsg.message : undefined);
skipLoudlyUnlessNode20InCI('the unixgram client test', cannot);

let agent: AgentHandle;
let dir: string;
let socketPath: string;
const clients: Client[] = [];

function client(opts: ClientOptions = {}): Client {
  const c = createClient({ transport: 'unixgram', path: socketPath, environment: {}, ...opts });
  clients.push(c);
  return c;
}

async function metricsUntil(check: (e: Exposition) => void): Promise<Exposition> {
  return waitFor(async () => {
    const e = parsePromText(await agent.metricsText());
    check(e);
    return e;
  }, 5000);
}

function run(script: string, cwd: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd, timeout: 10_000 }, (err, stdout, stderr) =>
      err ? reject(Object.assign(err, { stderr })) : resolve({ stdout, stderr }),
    ),
  );
}

const G = { service: 'ux', version: '2.0.0', env: 'test' };

describe.skipIf(cannot !== undefined)('tally-agent/client over a Unix datagram socket', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tally-client-ux-'));
    socketPath = join(dir, 'dsd.sock');
    agent = await startAgent({ config: { statsd: { unixgram: { enabled: true, path: socketPath } }, http: { collect: { durable: false } } } });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await agent?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('lands every kind of call in /metrics, batched into datagrams', async () => {
    const c = client(G);
    expect(c.collect('ux checkout', { s: 0.25 })).toBe(true);
    c.collect('ux feature', 'Export PDF');
    c.collect('ux feature', 'Export PDF');
    c.count('ux hits', 3, { route: '/a' });
    c.gauge('ux depth', 9);
    c.histogram('ux payload', 512);
    c.distribution('ux spread', 4);
    expect(c.time('ux work', () => 7)).toBe(7);
    // Enough lines for several 8 KiB datagrams.
    for (let i = 0; i < 2000; i++) c.count('ux many', 1, { i: i % 10 });
    await c.flush();
    const e = await metricsUntil((e) => expect(findSample(e, 'ux_work_seconds_count', { ...G, outcome: 'ok' })).toBe(1));
    expect(sampleValue(e, 'ux_checkout_seconds_sum', G)).toBeCloseTo(0.25, 9);
    expect(sampleValue(e, 'ux_feature_total', { ...G, value: 'Export PDF' })).toBe(2);
    expect(sampleValue(e, 'ux_hits_total', { ...G, route: '/a' })).toBe(3);
    expect(sampleValue(e, 'ux_depth', G)).toBe(9);
    expect(sampleValue(e, 'ux_payload_sum', G)).toBe(512);
    expect(sampleValue(e, 'ux_spread_count', G)).toBe(1);
    // A Unix datagram socket never loses silently: when the agent's queue is full (a loaded machine; Linux queues 10
    // datagrams by default) the client refuses rather than block, and counts the lines as buffer_full. So every
    // line either landed or was counted, and nothing else is dropped.
    const s = c.stats();
    expect(s).toMatchObject({ transport: 'unixgram', calls: 2008, pending: 0 });
    const { buffer_full: congested, ...others } = s.dropped;
    expect(Object.values(others).every((n) => n === 0), JSON.stringify(s.dropped)).toBe(true);
    expect(s.sent + congested).toBe(2008);
    expect(congested).toBeLessThan(2000);
    await metricsUntil((e) => {
      let landed = 0;
      for (let i = 0; i < 10; i++) landed += findSample(e, 'ux_many_total', { ...G, i: String(i) }) ?? 0;
      expect(landed).toBe(2000 - congested);
    });
    expect(s.packets).toBeGreaterThan(5);
    expect(s.packets).toBeLessThan(100);
    expect(sampleValue(e, 'tally_packets_received_total', { listener: 'unixgram' })).toBeGreaterThanOrEqual(1);
  });

  it('takes the transport and the socket from TALLY_TRANSPORT and TALLY_SOCKET', async () => {
    const c = createClient({ environment: { TALLY_TRANSPORT: 'unixgram', TALLY_SOCKET: socketPath }, globalTags: false });
    clients.push(c);
    expect(c.count('ux from env', 2)).toBe(true);
    await c.flush();
    await metricsUntil((e) => expect(findSample(e, 'ux_from_env_total')).toBe(2));
    expect(c.stats().transport).toBe('unixgram');
  });

  it('runs on when no agent reads the socket, and counts every call refused', async () => {
    const drops: Array<[DropReason, number, string | undefined]> = [];
    const missing = client({ path: join(dir, 'nobody.sock'), globalTags: false, onDrop: (reason, n, err) => drops.push([reason, n, (err as NodeJS.ErrnoException | undefined)?.code]) });
    // A socket file left behind by a process that is gone: ECONNREFUSED rather than ENOENT.
    const stalePath = join(dir, 'stale.sock');
    const unix = createRequire(import.meta.url)('unix-dgram') as { createSocket(t: string): { bind(p: string): void; close(): void } };
    const s = unix.createSocket('unix_dgram');
    s.bind(stalePath);
    s.close();
    const stale = client({ path: stalePath, globalTags: false });
    for (let i = 0; i < 50; i++) {
      expect(missing.count('ux nobody', 1)).toBe(true);
      expect(stale.count('ux nobody', 1)).toBe(true);
      if (i % 10 === 0) await Promise.all([missing.flush(), stale.flush()]);
    }
    await Promise.all([missing.flush(), stale.flush()]);
    expect(missing.stats()).toMatchObject({ calls: 50, sent: 0, pending: 0 });
    expect(missing.stats().dropped.refused).toBe(50);
    expect(stale.stats()).toMatchObject({ calls: 50, sent: 0, pending: 0 });
    expect(stale.stats().dropped.refused).toBe(50);
    await new Promise((r) => setImmediate(r));
    expect(drops.every(([reason, , code]) => reason === 'refused' && code === 'ENOENT')).toBe(true);
    expect(drops.reduce((sum, [, n]) => sum + n, 0)).toBe(50);
  });

  it('counts a full agent queue as buffer_full without blocking, and sends again once it drains', async () => {
    const c = client({ globalTags: false, unixgram: { maxDatagramBytes: 1024 } });
    process.kill(agent.pid, 'SIGSTOP');
    let elapsed: number;
    try {
      const t0 = performance.now();
      // Far more datagrams than a stopped reader's queue holds (net.unix.max_dgram_qlen, its receive buffer).
      for (let i = 0; i < 200_000; i++) c.count('ux flood', 1, { i: i % 100 });
      await c.flush();
      elapsed = performance.now() - t0;
    } finally {
      process.kill(agent.pid, 'SIGCONT');
    }
    const s = c.stats();
    expect(s.dropped.buffer_full).toBeGreaterThan(0);
    expect(s.sent + s.dropped.buffer_full).toBe(200_000);
    expect(elapsed).toBeLessThan(5000);
    await metricsUntil((e) => {
      let sum = 0;
      for (let i = 0; i < 100; i++) sum += findSample(e, 'ux_flood_total', { i: String(i) }) ?? 0;
      expect(sum).toBe(s.sent);
    });
    expect(c.count('ux after flood', 1)).toBe(true);
    await c.flush();
    await metricsUntil((e) => expect(findSample(e, 'ux_after_flood_total')).toBe(1));
  });

  it('finds the agent again after it restarted on the same path', async () => {
    const c = client({ globalTags: false });
    c.count('ux before restart', 1);
    await c.flush();
    await metricsUntil((e) => expect(findSample(e, 'ux_before_restart_total')).toBe(1));
    await agent.stop();
    c.count('ux while down', 1);
    await c.flush();
    expect(c.stats().dropped.refused).toBe(1);
    agent = await startAgent({ config: { statsd: { unixgram: { enabled: true, path: socketPath } }, http: { collect: { durable: false } } } });
    // Connecting is retried a second after it failed.
    await waitFor(async () => {
      c.count('ux after restart', 1);
      await c.flush();
      expect(c.stats().sent).toBeGreaterThanOrEqual(2);
    }, 5000);
    await metricsUntil((e) => expect(findSample(e, 'ux_after_restart_total')).toBeGreaterThanOrEqual(1));
  });

  it('does not keep the application alive, and what it sent before exiting arrives', async () => {
    const script = `
      import { createClient } from 'tally-agent/client';
      const c = createClient({ transport: 'unixgram', path: ${JSON.stringify(socketPath)}, globalTags: false, runtime: { intervalMs: 100 } });
      c.count('ux exit check', 1);
    `;
    const started = Date.now();
    await run(script, ROOT);
    expect(Date.now() - started).toBeLessThan(10_000);
    await metricsUntil((e) => expect(findSample(e, 'ux_exit_check_total')).toBe(1));
  });

  it('without unix-dgram, drops and counts every call and warns once', async () => {
    // The built client copied where neither it nor the application folder can find unix-dgram.
    const app = await mkdtemp(join(tmpdir(), 'tally-client-nodgram-'));
    try {
      await cp(join(ROOT, 'dist', 'client'), join(app, 'client'), { recursive: true });
      await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'nodgram', type: 'module' }));
      const script = `
        import { createClient } from './client/index.js';
        const drops = [];
        const a = createClient({ transport: 'unixgram', path: ${JSON.stringify(socketPath)}, globalTags: false, onDrop: (r, n) => drops.push(r) });
        const b = createClient({ transport: 'unixgram', path: ${JSON.stringify(socketPath)}, globalTags: false });
        const results = [a.count('x', 1), a.gauge('y', 2), b.count('x', 1)];
        await a.flush();
        await b.close();
        console.log(JSON.stringify({ results, a: a.stats(), b: b.stats(), drops }));
      `;
      const { stdout, stderr } = await run(script, app);
      const out = JSON.parse(stdout) as { results: boolean[]; a: { calls: number; sent: number; dropped: Record<string, number> }; b: { dropped: Record<string, number> }; drops: string[] };
      expect(out.results).toEqual([false, false, false]);
      expect(out.a).toMatchObject({ calls: 2, sent: 0 });
      expect(out.a.dropped.send_error).toBe(2);
      expect(out.b.dropped.send_error).toBe(1);
      expect(out.drops).toEqual(['send_error', 'send_error']);
      const warnings = stderr.split('\n').filter((l) => l.includes('TallyClientWarning'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/transport "unixgram" needs the package unix-dgram \(npm install unix-dgram\)/);
    } finally {
      await rm(app, { recursive: true, force: true });
    }
  });
});
