/**
 * tally-agent/client over HTTP (POST /v1/collect) against a real agent:
 * flush() resolves once the agent has answered 2xx, a bad item is counted
 * and the rest land, a full buffer refuses calls visibly, and an agent
 * killed and restarted while calls are in flight loses none that close()
 * saw acknowledged.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client, type ClientOptions, type DropReason } from 'tally-agent/client';
import { freeTcpPort, startAgent, type AgentHandle } from '../support/agent-process.js';
import { findSample, parsePromText, sampleValue, samplesNamed } from '../support/prom-text.js';

let agent: AgentHandle;
const clients: Client[] = [];
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'tally-client-http-'));
  agent = await startAgent({ config: { spool: { dir: join(tmp, 'spool-main') } } });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close({ timeoutMs: 2000 }).catch(() => undefined)));
  await agent?.stop();
  await rm(tmp, { recursive: true, force: true });
});

function client(opts: ClientOptions = {}): Client {
  const c = createClient({ transport: 'http', url: `http://127.0.0.1:${agent.httpPort}`, environment: {}, ...opts });
  clients.push(c);
  return c;
}

const G = { service: 'web', version: '2.0.0', env: 'test' };

describe('tally-agent/client over HTTP', () => {
  it('lands every function; flush() resolves once the agent has acknowledged them', async () => {
    const c = client({ ...G, prefix: 'h.' });
    c.collect('checkout time', { s: 0.12 }, { route: '/cart' });
    c.collect('feature-used', 'Export PDF');
    c.collect('logins', 3);
    c.collect('slow op', 250, undefined, { unit: 'ms' });
    c.count('hits', 2, undefined, 0.5);
    c.gauge('temperature', -5.5);
    c.timer('render', { ms: 40 });
    c.histogram('payload', 512);
    c.distribution('spread', 3);
    c.event('export', 'csv');
    expect(() => c.time('fails', () => {
      throw new Error('x');
    })).toThrow('x');
    await c.time('works', async () => 1);
    await c.flush();
    // No polling: a 2xx means aggregated.
    const e = parsePromText(await agent.metricsText());
    expect(sampleValue(e, 'h_checkout_time_seconds_sum', { ...G, route: '/cart' })).toBeCloseTo(0.12, 9);
    expect(sampleValue(e, 'h_feature_used_total', { ...G, value: 'Export PDF' })).toBe(1);
    expect(findSample(e, 'h_feature_used_last_seen_timestamp_seconds', { ...G, value: 'Export PDF' })).toBeGreaterThan(0);
    expect(sampleValue(e, 'h_logins_total', G)).toBe(3);
    expect(sampleValue(e, 'h_slow_op_seconds_sum', G)).toBeCloseTo(0.25, 9);
    // Sampling is UDP's: over HTTP every call is sent as it is.
    expect(sampleValue(e, 'h_hits_total', G)).toBe(2);
    expect(sampleValue(e, 'h_temperature', G)).toBe(-5.5);
    expect(sampleValue(e, 'h_render_seconds_sum', G)).toBeCloseTo(0.04, 9);
    expect(sampleValue(e, 'h_payload_sum', G)).toBe(512);
    expect(sampleValue(e, 'h_spread_count', G)).toBe(1);
    expect(sampleValue(e, 'h_export_total', { ...G, value: 'csv' })).toBe(1);
    expect(sampleValue(e, 'h_fails_seconds_count', { ...G, outcome: 'error' })).toBe(1);
    expect(sampleValue(e, 'h_works_seconds_count', { ...G, outcome: 'ok' })).toBe(1);
    expect(c.stats()).toMatchObject({ transport: 'http', calls: 12, sent: 12, pending: 0 });
  });

  it('counts an item the agent refuses, and lands the others of its batch', async () => {
    const drops: Array<[DropReason, number]> = [];
    const c = client({ globalTags: false, onDrop: (r, n) => drops.push([r, n]) });
    c.count('batch mate', 1);
    c.count('too long tag', 1, { big: 'x'.repeat(5000) });
    c.count('batch mate', 1);
    await c.flush();
    const e = parsePromText(await agent.metricsText());
    expect(sampleValue(e, 'batch_mate_total')).toBe(2);
    expect(samplesNamed(e, 'too_long_tag_total')).toEqual([]);
    expect(c.stats()).toMatchObject({ sent: 2, pending: 0 });
    expect(c.stats().dropped.rejected).toBe(1);
    expect(drops).toEqual([['rejected', 1]]);
  });

  it('refuses calls past its bound while the agent is away, and says so', async () => {
    const port = await freeTcpPort();
    const drops: DropReason[] = [];
    const c = client({
      url: `http://127.0.0.1:${port}`,
      globalTags: false,
      onDrop: (r) => drops.push(r),
      http: { maxBufferedItems: 50, initialBackoffMs: 20, maxBackoffMs: 50 },
    });
    const taken = Array.from({ length: 60 }, (_, i) => c.count('held', i));
    expect(taken.filter(Boolean)).toHaveLength(50);
    expect(taken.slice(50)).toEqual(Array(10).fill(false));
    expect(c.stats()).toMatchObject({ pending: 50 });
    expect(c.stats().dropped.buffer_full).toBe(10);
    expect(drops).toEqual(Array(10).fill('buffer_full'));
    await expect(c.flush({ timeoutMs: 500 })).rejects.toThrow(/50 calls still unacknowledged/);
    expect(c.stats().retries).toBeGreaterThan(0);
    expect(c.stats().pending).toBe(50);
  });

  it('loses no acknowledged call when the agent is killed and restarted while calls are in flight', async () => {
    const port = await freeTcpPort();
    const config = {
      http: { port },
      spool: { dir: join(tmp, 'spool-restart') },
      // No flush while the test runs: the journal keeps every acknowledged request for the replay.
      aggregation: { flush_interval: '1h' },
    };
    let current = await startAgent({ config });
    const c = createClient({
      transport: 'http',
      url: `http://127.0.0.1:${port}`,
      globalTags: false,
      http: { initialBackoffMs: 20, maxBackoffMs: 200, flushIntervalMs: 2, maxBatchItems: 20 },
    });
    const TOTAL = 300;
    try {
      let i = 0;
      const send = async (n: number) => {
        for (const end = i + n; i < end; i++) {
          expect(c.count('restart calls', 1, { call: `c${i}` })).toBe(true);
          // No pause after a run's last call: it returns with those calls still unacknowledged, whatever the machine's speed.
          if (i % 10 === 9 && i + 1 < end) await new Promise((r) => setTimeout(r, 1));
        }
      };
      await send(100);
      // These were acknowledged by the first agent: only its journal can bring them back.
      await c.flush();
      expect(c.stats().sent).toBe(100);
      await send(50);
      // Killed with requests queued and in flight.
      expect(c.stats().pending).toBeGreaterThan(0);
      await current.crash();
      // Calls made while nothing listens wait in the client and are retried.
      await send(50);
      expect(c.stats().pending).toBeGreaterThan(0);
      current = await startAgent({ config });
      await send(TOTAL - 200);
      await c.close({ timeoutMs: 20_000 });
      const s = c.stats();
      expect(s).toMatchObject({ calls: TOTAL, sent: TOTAL, pending: 0 });
      expect(s.retries).toBeGreaterThan(0);
      const e = parsePromText(await current.metricsText());
      const missing: string[] = [];
      for (let k = 0; k < TOTAL; k++) {
        const v = findSample(e, 'restart_calls_total', { call: `c${k}` });
        if (v === undefined || v < 1) missing.push(`c${k}`);
      }
      expect(missing).toEqual([]);
    } finally {
      await c.close({ timeoutMs: 1000 }).catch(() => undefined);
      await current.stop();
    }
  }, 60_000);
});
